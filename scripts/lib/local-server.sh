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
