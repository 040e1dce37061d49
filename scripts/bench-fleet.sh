#!/usr/bin/env bash
# Agent ingest (issue 5): a release `mamori serve` over TLS holding a fleet of simulated agents
# (`mamori-bench fleet`), each signing its requests with its own device key: a command long poll
# held open, a heartbeat every 30 s, an activity bucket a minute — while commands are issued
# through the API at a steady rate. Reports the delivery time of the commands (API request to
# the agent's poll answer), heartbeat latency, and the server's CPU and memory. The simulated
# agents run on the same 2 cores and take their share of them.
#
#   bash scripts/bench-fleet.sh
#
# Knobs: BENCH_DEVICES [10000], BENCH_BACKENDS ["sqlite postgres"], BENCH_RAMP [60] s,
# BENCH_SECONDS [180] s measured, BENCH_COMMANDS [5] per second,
# BENCH_PG [postgres://postgres@127.0.0.1:5432/test] (a scratch database is made beside it).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib/local-server.sh"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DEVICES="${BENCH_DEVICES:-10000}"
BACKENDS="${BENCH_BACKENDS:-sqlite postgres}"
RAMP="${BENCH_RAMP:-60}"
SECS="${BENCH_SECONDS:-180}"
RATE="${BENCH_COMMANDS:-5}"
PG="${BENCH_PG:-postgres://postgres@127.0.0.1:5432/test}"
cargo build --release -p mamori -p mamori-bench >&2
# Every simulated agent holds a connection or two, and so does the server for each (this
# machine allows 20,000 open files a process: enough for 10,000 agents and a little more).
ulimit -n "$(ulimit -Hn)"
WORK="$(mktemp -d)"
SERVER=""; DB=""
cleanup() {
    [[ -n "$SERVER" ]] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null || true
    [[ -n "$DB" ]] && psql "$PG" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT
self_signed_cert "$WORK"
ticks=$(getconf CLK_TCK)
for backend in $BACKENDS; do
    data="$WORK/data-$backend"
    args=()
    if [[ "$backend" == postgres ]]; then
        DB="mamori_fleet_$$"
        psql "$PG" -qc "CREATE DATABASE $DB" >/dev/null
        args=(--database-url "${PG%/*}/$DB")
    fi
    target/release/mamori-bench fleet-setup --data-dir "$data" "${args[@]}" --devices "$DEVICES" --out "$WORK/fleet.txt"
    port=$(free_port)
    MAMORI_LOG=warn target/release/mamori serve --data-dir "$data" "${args[@]}" --listen "127.0.0.1:$port" \
        --tls-cert "$WORK/cert.pem" --tls-key "$WORK/key.pem" >"$WORK/server-$backend.log" 2>&1 &
    SERVER=$!
    wait_ready "$port"
    cpu() { awk '{print $14 + $15}' "/proc/$SERVER/stat"; }
    (sleep "$RAMP"; echo "$(cpu) $(date +%s.%N)" >"$WORK/cpu-start") &
    line=$(target/release/mamori-bench fleet --server "https://127.0.0.1:$port" --ca "$WORK/cert.pem" \
        --fleet "$WORK/fleet.txt" --ramp "$RAMP" --seconds "$SECS" --commands-per-sec "$RATE")
    end_cpu=$(cpu); end=$(date +%s.%N)
    read -r start_cpu start <"$WORK/cpu-start"
    hwm=$(awk '/VmHWM/ {print $2}' "/proc/$SERVER/status")
    share=$(python3 -c "print(f'{($end_cpu - $start_cpu) / $ticks / ($end - $start) * 100:.0f}')")
    echo "| $backend ${line#| } server CPU ${share} % of one core, peak RSS $((hwm / 1024)) MiB |"
    kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=""
    if [[ -n "$DB" ]]; then psql "$PG" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null; DB=""; fi
done
