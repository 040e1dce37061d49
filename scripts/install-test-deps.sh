#!/usr/bin/env bash
# Installs what the tests need beyond Rust: Debian's chromium (browser test), oathtool
# (an independent TOTP), postgresql-client (pg_dump, to check that a dump holds no customer
# plaintext), mingw-w64 and wine64 with Rust's x86_64-pc-windows-gnu target (the Windows agent,
# built and unit-tested under Wine), Xvfb, xdotool and x11-utils (the agent's desktop helper,
# tested in a real X session with typed keys and clicks), rsyslog with its RELP input (a real
# receiver for audit forwarding over RELP), python3-venv when Python cannot make a venv
# (scripts/test-openapi.sh installs schemathesis into one), a Japanese font (readable
# screenshots), poppler-utils (pdftotext and pdftoppm read the printed sheets back), p7zip-full
# (7z opens the encrypted customer exports), python3-aiosmtpd (the receiving SMTP server the mail
# relay's test relays to), and
# playwright-core and axe-core (the accessibility check) from npm. Idempotent: installs only
# what is missing, and downloads no browser build of its own (playwright-core drives Debian's
# /usr/bin/chromium).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

say() { printf 'install-test-deps: %s\n' "$*"; }

missing=()
dpkg-query -W -f='${Status}' chromium 2>/dev/null | grep -q 'ok installed' || missing+=(chromium)
dpkg-query -W -f='${Status}' oathtool 2>/dev/null | grep -q 'ok installed' || missing+=(oathtool)
command -v pg_dump >/dev/null || missing+=(postgresql-client)
command -v x86_64-w64-mingw32-gcc >/dev/null || missing+=(gcc-mingw-w64-x86-64)
[[ -x /usr/lib/wine/wine64 ]] || missing+=(wine64)
command -v Xvfb >/dev/null || missing+=(xvfb)
command -v xdotool >/dev/null || missing+=(xdotool)
command -v xmessage >/dev/null || missing+=(x11-utils)
command -v rsyslogd >/dev/null || missing+=(rsyslog)
[[ -e /usr/lib/x86_64-linux-gnu/rsyslog/imrelp.so ]] || missing+=(rsyslog-relp)
# Japanese glyphs for the console's screenshots (tests/browser/artifacts); without a CJK font
# Chromium draws boxes.
dpkg-query -W -f='${Status}' fonts-noto-cjk 2>/dev/null | grep -q 'ok installed' || missing+=(fonts-noto-cjk)
# pdftotext and pdftoppm: the printed sheets' tests (crates/documents) read their PDFs back.
command -v pdftotext >/dev/null && command -v pdftoppm >/dev/null || missing+=(poppler-utils)
# 7z: the customer export's test opens the AES-256 ZIP with the password, and not without.
command -v 7z >/dev/null || missing+=(p7zip-full)
# aiosmtpd for Debian's /usr/bin/python3: the real SMTP server the mail relay's test relays to.
/usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null || missing+=(python3-aiosmtpd)
# Debian's python3 makes a venv only with python3-venv (ensurepip); pyenv's has it built in.
python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)

if ((${#missing[@]} > 0)); then
    sudo=()
    if [[ $(id -u) -ne 0 ]]; then sudo=(sudo); fi
    say "installing Debian packages: ${missing[*]}"
    "${sudo[@]}" apt-get update -q
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends "${missing[@]}"
else
    say "chromium, oathtool, pg_dump, mingw-w64, wine64, Xvfb, xdotool, rsyslog, poppler-utils, 7z, aiosmtpd and python3-venv already installed"
fi

if ! rustup target list --installed 2>/dev/null | grep -qx x86_64-pc-windows-gnu; then
    say "adding Rust's x86_64-pc-windows-gnu target"
    rustup target add x86_64-pc-windows-gnu
fi

if [[ ! -x /usr/bin/chromium ]]; then
    say "error: /usr/bin/chromium not found after install" >&2
    exit 1
fi

browser_dir="$repo/tests/browser"
if [[ ! -d "$browser_dir/node_modules/playwright-core" || ! -d "$browser_dir/node_modules/axe-core" ]]; then
    cd "$browser_dir"
    # Never let playwright fetch a browser build: only Debian's chromium is used.
    export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
    if [[ -f package-lock.json ]]; then
        say "npm ci in tests/browser"
        npm ci --no-audit --no-fund
    else
        say "npm install in tests/browser (no lockfile yet)"
        npm install --no-audit --no-fund
    fi
else
    say "tests/browser/node_modules (playwright-core, axe-core) already installed"
fi

say "done ($(/usr/bin/chromium --version 2>/dev/null || echo 'chromium version unknown'))"
