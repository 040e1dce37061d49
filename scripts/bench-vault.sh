#!/usr/bin/env bash
# Customer lookup benchmark (issue 4): POST /api/v1/customers/lookup by phone — blind index,
# unwrap the data key, decrypt, mask, audit entry committed — at 64 connections on 100,000
# customers, beside /healthz of the same server in the same run, with oha on loopback.
#
#   bash scripts/bench-vault.sh
#
# Knobs: BENCH_DURATION [15s], BENCH_CONNS [64], BENCH_CUSTOMERS [100000],
# BENCH_BACKENDS ["sqlite postgres"], BENCH_POSTGRES [postgres://postgres@127.0.0.1:5432/test].
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DURATION="${BENCH_DURATION:-15s}"
CONNS="${BENCH_CONNS:-64}"
CUSTOMERS="${BENCH_CUSTOMERS:-100000}"
BACKENDS="${BENCH_BACKENDS:-sqlite postgres}"
PG="${BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432/test}"
export PATH="$HOME/.cargo/bin:$PATH"
command -v oha >/dev/null || cargo install oha --locked
cargo build --release -p mamori -p mamori-bench >&2
mkdir -p target/bench
WORK="$(mktemp -d)"
SERVER=""
DB=""
cleanup() {
    [[ -n "$SERVER" ]] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null || true
    [[ -n "$DB" ]] && psql "$PG" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT
row() { # name json
    python3 - "$1" "$2" <<'PY'
import json, sys
d = json.load(open(sys.argv[2]))
s, lat = d["summary"], d["latencyPercentiles"]
codes = d.get("statusCodeDistribution", {})
print(f"| {sys.argv[1]} | {s['requestsPerSec']:,.0f} | {lat['p50']*1000:.2f} | {lat['p99']*1000:.2f} | {codes} |")
PY
}
echo "| run | req/s | p50 (ms) | p99 (ms) | status codes |"
echo "| --- | ---: | ---: | ---: | --- |"
for backend in $BACKENDS; do
    data="$WORK/$backend"
    args=()
    if [[ $backend == postgres ]]; then
        DB="mamori_vault_bench_$RANDOM$RANDOM"
        psql "$PG" -qc "CREATE DATABASE $DB" >/dev/null
        args=(--database-url "${PG%/*}/$DB")
    fi
    mapfile -t out < <(target/release/mamori-bench vault-setup --data-dir "$data" --customers "$CUSTOMERS" "${args[@]}")
    token="${out[0]}"; phone="${out[1]}"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    MAMORI_LOG=warn target/release/mamori serve --data-dir "$data" --listen "127.0.0.1:$port" "${args[@]}" >"$WORK/$backend.log" 2>&1 &
    SERVER=$!
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
    body="{\"phone\":\"$phone\",\"reason_code\":\"callback\",\"reason_text\":\"benchmark lookup\"}"
    oha -z 3s -c "$CONNS" --no-tui "http://127.0.0.1:$port/healthz" >/dev/null
    oha -z "$DURATION" -c "$CONNS" --no-tui --output-format json "http://127.0.0.1:$port/healthz" >"target/bench/vault-$backend-healthz.json"
    row "$backend /healthz" "target/bench/vault-$backend-healthz.json"
    oha -z 3s -c "$CONNS" --no-tui -m POST -T application/json -H "Authorization: Bearer $token" -d "$body" "http://127.0.0.1:$port/api/v1/customers/lookup" >/dev/null
    oha -z "$DURATION" -c "$CONNS" --no-tui --output-format json -m POST -T application/json -H "Authorization: Bearer $token" -d "$body" "http://127.0.0.1:$port/api/v1/customers/lookup" >"target/bench/vault-$backend-lookup.json"
    row "$backend lookup by phone" "target/bench/vault-$backend-lookup.json"
    kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=""
    if [[ -n "$DB" ]]; then psql "$PG" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null; DB=""; fi
done
