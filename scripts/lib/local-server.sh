# Sourced by the scripts that run a local Mamori server over TLS for an agent.

# A self-signed certificate for 127.0.0.1 and localhost: $1/cert.pem and $1/key.pem.
self_signed_cert() {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=localhost \
        -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" -addext "basicConstraints=critical,CA:FALSE" \
        -keyout "$1/key.pem" -out "$1/cert.pem" 2>/dev/null
}

# Stops the server whose pid is in SERVER, if one was started.
stop_server() {
    [[ -n "${SERVER:-}" ]] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null || true
}

# A scratch directory in WORK and no server yet (SERVER=""); at exit the server is stopped and
# the directory removed.
scratch_for_server() {
    WORK="$(mktemp -d)"
    SERVER=""
    trap 'stop_server; rm -rf "$WORK"' EXIT
}

# A TCP port free on loopback now.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Waits up to 20 s for the server on port $1 to be ready, over https (or the scheme $2).
wait_ready() {
    for _ in $(seq 100); do
        curl -sfk "${2:-https}://127.0.0.1:$1/readyz" >/dev/null && return 0
        sleep 0.2
    done
    echo "the server on port $1 did not become ready" >&2
    return 1
}

# Starts `mamori serve` over TLS on a fresh data directory in $2 with an enrolment token made by
# `mamori-bench agent-setup`, the binaries taken from target/$1 (debug or release). Sets `token`
# (for `mamori-agent enroll`), `port` and `SERVER` (the pid, for the caller's cleanup); the
# certificate is $2/cert.pem and the log $2/server.log.
start_agent_server() {
    self_signed_cert "$2"
    token="$("target/$1/mamori-bench" agent-setup --data-dir "$2/data")"
    port=$(free_port)
    MAMORI_LOG=warn "target/$1/mamori" serve --data-dir "$2/data" --listen "127.0.0.1:$port" \
        --tls-cert "$2/cert.pem" --tls-key "$2/key.pem" >"$2/server.log" 2>&1 &
    SERVER=$!
    wait_ready "$port"
}

# The value of the first <input name="_csrf" value="..."> in the page on stdin.
hidden_csrf() {
    python3 -c '
import re, sys
html = sys.stdin.read()
for tag in re.findall(r"<input[^>]*>", html):
    if re.search(r"name=\"_csrf\"", tag):
        m = re.search(r"value=\"([^\"]*)\"", tag)
        if m:
            print(m.group(1)); break
'
}

# The value of cookie $2 in the curl cookie jar $1.
jar_cookie() {
    awk -v n="$2" '($6 == n) { v = $7 } END { if (v != "") print v }' "$1"
}

# Signs in to a `serve --demo` server at base URL $1 as demo-admin01, with the demo password and
# the TOTP code of the mamori binary $2 (`demo-totp`), keeping cookies in the jar $3. Sets
# SESSION_COOKIE and SESSION_CSRF (the session's CSRF token, for cookie-authenticated API calls).
demo_admin_sign_in() {
    local base="$1" bin="$2" jar="$3" page csrf status code
    rm -f "$jar"
    page="$(curl -sS -c "$jar" -b "$jar" "$base/signin")"
    csrf="$(hidden_csrf <<<"$page")"
    [[ -n "$csrf" ]] || csrf="$(jar_cookie "$jar" mamori_csrf)"
    [[ -n "$csrf" ]] || { echo "no CSRF token on /signin" >&2; return 1; }
    status="$(curl -sS -o /dev/null -w '%{http_code} %{redirect_url}' -c "$jar" -b "$jar" \
        -H 'Content-Type: application/x-www-form-urlencoded' \
        --data-urlencode "_csrf=$csrf" --data-urlencode "username=demo-admin01" \
        --data-urlencode "password=mamori-demo-2026" "$base/signin")"
    [[ "$status" == "303 "*"/signin/totp" ]] ||
        { echo "POST /signin answered '$status', expected 303 to /signin/totp" >&2; return 1; }
    page="$(curl -sS -c "$jar" -b "$jar" "$base/signin/totp")"
    csrf="$(hidden_csrf <<<"$page")"
    [[ -n "$csrf" ]] || { echo "no CSRF token on /signin/totp" >&2; return 1; }
    code="$("$bin" demo-totp)"
    status="$(curl -sS -o /dev/null -w '%{http_code} %{redirect_url}' -c "$jar" -b "$jar" \
        -H 'Content-Type: application/x-www-form-urlencoded' \
        --data-urlencode "_csrf=$csrf" --data-urlencode "code=$code" "$base/signin/totp")"
    [[ "$status" == "303 "*"/dashboard" ]] ||
        { echo "POST /signin/totp answered '$status', expected 303 to /dashboard" >&2; return 1; }
    SESSION_COOKIE="$(jar_cookie "$jar" mamori_session)"
    [[ -n "$SESSION_COOKIE" ]] || { echo "no mamori_session cookie after sign-in" >&2; return 1; }
    # The second factor may rotate the session; its CSRF token is on every signed-in page.
    page="$(curl -sS -c "$jar" -b "$jar" "$base/dashboard")"
    SESSION_CSRF="$(hidden_csrf <<<"$page")"
    [[ -n "$SESSION_CSRF" ]] || { echo "no session CSRF token on /dashboard" >&2; return 1; }
}

# Prints a new day-long API token of the session demo_admin_sign_in opened (server $1, jar $2)
# with the permissions of the JSON array $3.
session_api_token() {
    local base="$1" jar="$2" body status
    body="$(mktemp)"
    status="$(curl -sS -o "$body" -w '%{http_code}' -c "$jar" -b "$jar" \
        -H "X-CSRF-Token: $SESSION_CSRF" -H 'Content-Type: application/json' \
        -d "{\"name\":\"script\",\"permissions\":$3,\"expires_in_days\":1}" "$base/api/v1/tokens")"
    [[ "$status" == 201 ]] ||
        { cat "$body" >&2; rm -f "$body"; echo "POST /api/v1/tokens answered $status, expected 201" >&2; return 1; }
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["secret"])' "$body"
    rm -f "$body"
}
