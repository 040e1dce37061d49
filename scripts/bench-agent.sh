#!/usr/bin/env bash
# The agent's own footprint (issue 5): a release `mamori-agent run` enrolled with a local
# release server over TLS, heartbeat every 30 s, inventory on start (real dpkg data), USB polled
# every 2 s, a command long poll held open — for BENCH_SECONDS (default 600). Reports the
# agent's CPU time as a share of one core, and its resident memory (current and peak).
#
#   bash scripts/bench-agent.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
SECONDS_TO_RUN="${BENCH_SECONDS:-600}"
cargo build --release -p mamori -p mamori-agent -p mamori-bench >&2
WORK="$(mktemp -d)"
SERVER=""; AGENT=""
cleanup() {
    [[ -n "$AGENT" ]] && kill "$AGENT" 2>/dev/null || true
    [[ -n "$SERVER" ]] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=localhost \
    -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" -addext "basicConstraints=critical,CA:FALSE" -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
token="$(target/release/mamori-bench agent-setup --data-dir "$WORK/data")"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
MAMORI_LOG=warn target/release/mamori serve --data-dir "$WORK/data" --listen "127.0.0.1:$port" \
    --tls-cert "$WORK/cert.pem" --tls-key "$WORK/key.pem" >"$WORK/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 100); do curl -sfk "https://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
target/release/mamori-agent enroll --server "https://127.0.0.1:$port" --token "$token" --ca "$WORK/cert.pem" \
    --state-dir "$WORK/agent" >&2
target/release/mamori-agent run --state-dir "$WORK/agent" >"$WORK/agent.log" 2>&1 &
AGENT=$!
ticks=$(getconf CLK_TCK)
sleep 5 # the start (inventory) is part of the measure below, which begins here
cpu() { awk '{print $14 + $15}' "/proc/$AGENT/stat"; }
start_cpu=$(cpu); start=$(date +%s.%N)
sleep "$SECONDS_TO_RUN"
end_cpu=$(cpu); end=$(date +%s.%N)
rss=$(awk '/VmRSS/ {print $2}' "/proc/$AGENT/status"); hwm=$(awk '/VmHWM/ {print $2}' "/proc/$AGENT/status")
python3 - "$start_cpu" "$end_cpu" "$start" "$end" "$ticks" "$rss" "$hwm" <<'PY'
import sys
c0, c1, t0, t1, hz, rss, hwm = map(float, sys.argv[1:])
share = (c1 - c0) / hz / (t1 - t0) * 100
print(f"| agent, {t1 - t0:.0f} s | CPU {share:.3f} % of one core | RSS {rss/1024:.1f} MiB (peak {hwm/1024:.1f} MiB) |")
PY
