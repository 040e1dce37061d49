# Sourced by the scripts that run a local Mamori server over TLS for an agent.

# A self-signed certificate for 127.0.0.1 and localhost: $1/cert.pem and $1/key.pem.
self_signed_cert() {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=localhost \
        -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" -addext "basicConstraints=critical,CA:FALSE" \
        -keyout "$1/key.pem" -out "$1/cert.pem" 2>/dev/null
}

# A TCP port free on loopback now.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Waits up to 20 s for the server on port $1 to be ready.
wait_ready() {
    for _ in $(seq 100); do
        curl -sfk "https://127.0.0.1:$1/readyz" >/dev/null && return 0
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
