#!/usr/bin/env bash
# Builds the Windows agent (x86_64-pc-windows-gnu, Debian's mingw-w64) and runs its unit tests
# under Debian's Wine, prints the inventory the agent collects under Wine (which collectors
# work there and which report a gap), then enrols the Windows agent under Wine with a real
# Mamori server over TLS (pinned to its certificate) and has it report once, and registers and
# removes its Windows service. scripts/install-test-deps.sh installs the tools.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib/local-server.sh"
cd "$(dirname "${BASH_SOURCE[0]}")/.."
TARGET=x86_64-pc-windows-gnu
OUT="target/$TARGET/debug"
WINE=/usr/lib/wine/wine64
export WINEDEBUG=-all WINEPREFIX="${WINEPREFIX:-$PWD/target/wine-prefix}"
cargo clippy -p mamori-agent --target "$TARGET" -- -D warnings
cargo build -p mamori-agent --target "$TARGET"
cargo test -p mamori-agent --bins --target "$TARGET" --no-run
# Wine 8.0 has no bcryptprimitives.dll; a stand-in goes next to the executables (test only).
mkdir -p "$OUT/deps"
x86_64-w64-mingw32-gcc -shared -O2 -o "$OUT/bcryptprimitives.dll" \
    crates/agent/wine/bcryptprimitives.c crates/agent/wine/bcryptprimitives.def -lbcrypt
cp "$OUT/bcryptprimitives.dll" "$OUT/deps/"
CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER="$WINE" cargo test -p mamori-agent --bins --target "$TARGET"
echo "--- the Windows agent's inventory under Wine (gaps are listed under \"unavailable\"):"
"$WINE" "$OUT/mamori-agent.exe" inventory | python3 -c '
import json, sys
inv = json.load(sys.stdin)
print(json.dumps({k: v for k, v in inv.items() if k != "software"}, indent=1, ensure_ascii=False))
print("software entries:", len(inv["software"]))'

echo "--- the Windows agent under Wine against a real server over TLS:"
# The flags of scripts/test.sh's build: nothing to compile after it.
cargo build --workspace --bins --tests
scratch_for_server
start_agent_server debug "$WORK"
# The Windows agent keeps its state in C:\ProgramData\Mamori\agent of the Wine prefix: a fresh one.
rm -rf "$WINEPREFIX/drive_c/ProgramData/Mamori"
"$WINE" "$OUT/mamori-agent.exe" enroll --server "https://127.0.0.1:$port" --token "$token" --ca "Z:$WORK/cert.pem"
out="$("$WINE" "$OUT/mamori-agent.exe" run --once)"
echo "$out"
[[ "$out" == reported\ to* ]] || { echo "the Windows agent did not report" >&2; exit 1; }
"$WINE" "$OUT/mamori-agent.exe" service install
"$WINE" "$OUT/mamori-agent.exe" service uninstall
rm -rf "$WINEPREFIX/drive_c/ProgramData/Mamori"
