#!/usr/bin/env bash
# Detection (issue 16): the detectors' throughput, a normal day's false positives, and the time
# from an insider's burst to the alert and to the lock at their PC — alone, and on a server that
# also holds the agent fleet of scripts/bench-fleet.sh (8,000 agents here). See docs/BENCHMARKS.md.
#
#   bash scripts/bench-detect.sh                     # everything (about 40 minutes)
#   BENCH_STAGES="day replay" bash scripts/bench-detect.sh
#
# Stages (BENCH_STAGES, default "day replay latency fleet"):
#   day      `mamori-bench detect-day`, 40 seats, seeds 1–3, without and with shared numbers
#   replay   `mamori-bench detect-replay`: the pure detector over 1,000,000 entries, then the
#            runner over them from SQLite and PostgreSQL
#   latency  `mamori-bench detect-latency` alone: 2,000 on-call lookups/s, 50 bursts
#   fleet    the same while `mamori-bench fleet` runs 8,000 agents against the same server (TLS)
#
# Knobs: BENCH_BACKENDS ["sqlite postgres"], BENCH_ENTRIES [1000000], BENCH_SAMPLES [50],
# BENCH_RATE [2000], BENCH_DEVICES [8000], BENCH_RAMP [60],
# BENCH_PG [postgres://postgres@127.0.0.1:5432/test] (scratch databases are made beside it).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib/local-server.sh"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
STAGES="${BENCH_STAGES:-day replay latency fleet}"
BACKENDS="${BENCH_BACKENDS:-sqlite postgres}"
ENTRIES="${BENCH_ENTRIES:-1000000}"
SAMPLES="${BENCH_SAMPLES:-50}"
RATE="${BENCH_RATE:-2000}"
# 10,000 agents exhaust the 20,000 open files a process this machine allows (docs/BENCHMARKS.md).
DEVICES="${BENCH_DEVICES:-8000}"
RAMP="${BENCH_RAMP:-60}"
PG="${BENCH_PG:-postgres://postgres@127.0.0.1:5432/test}"
BENCH=target/release/mamori-bench
cargo build --release -p mamori-bench >&2
has() { [[ " $STAGES " == *" $1 "* ]]; }

if has day; then
    for shared in 0 0.01 0.02 0.05; do
        for seed in 1 2 3; do
            "$BENCH" detect-day --seats 40 --seed "$seed" --shared-numbers "$shared"
        done
    done
fi

if has replay; then
    "$BENCH" detect-replay --entries "$ENTRIES"
    for backend in $BACKENDS; do
        "$BENCH" detect-replay --entries "$ENTRIES" --backend "$backend" --postgres "$PG" | grep -v '^detect-replay (a)'
    done
fi

if has latency; then
    for backend in $BACKENDS; do
        "$BENCH" detect-latency --backend "$backend" --samples "$SAMPLES" --rate "$RATE" --warmup 15 --postgres "$PG"
    done
fi

if has fleet; then
    # Every simulated agent holds a connection or two, and so does the server for each.
    ulimit -n "$(ulimit -Hn)"
    WORK="$(mktemp -d)"
    LATENCY=""; FLEET=""; DB=""
    cleanup() {
        [[ -n "$FLEET" ]] && kill "$FLEET" 2>/dev/null || true
        [[ -n "$LATENCY" ]] && kill "$LATENCY" 2>/dev/null || true
        wait 2>/dev/null || true
        [[ -n "$DB" ]] && psql "$PG" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
        rm -rf "$WORK"
    }
    trap cleanup EXIT
    self_signed_cert "$WORK"
    # The bursts start once the fleet has ramped up; the fleet runs until they are done.
    warmup=$((RAMP + 30))
    fleet_secs=$((SAMPLES * 4 + 90))
    for backend in $BACKENDS; do
        data="$WORK/data-$backend"
        args=()
        if [[ "$backend" == postgres ]]; then
            DB="mamori_detect_$$"
            psql "$PG" -qc "CREATE DATABASE $DB" >/dev/null
            args=(--database-url "${PG%/*}/$DB")
        fi
        "$BENCH" fleet-setup --data-dir "$data" "${args[@]}" --devices "$DEVICES" --out "$WORK/fleet.txt"
        port=$(free_port)
        "$BENCH" detect-latency --data-dir "$data" "${args[@]}" --listen "127.0.0.1:$port" \
            --tls-cert "$WORK/cert.pem" --tls-key "$WORK/key.pem" --samples "$SAMPLES" --rate "$RATE" \
            --warmup "$warmup" --hold-until "$WORK/fleet-done" >"$WORK/latency.txt" &
        LATENCY=$!
        wait_ready "$port"
        "$BENCH" fleet --server "https://127.0.0.1:$port" --ca "$WORK/cert.pem" --fleet "$WORK/fleet.txt" \
            --ramp "$RAMP" --seconds "$fleet_secs" >"$WORK/fleet-line.txt" &
        FLEET=$!
        # The server keeps serving (and the background keeps looking up) until the fleet is done.
        wait "$FLEET"; FLEET=""
        touch "$WORK/fleet-done"
        wait "$LATENCY"; LATENCY=""
        rm -f "$WORK/fleet-done"
        echo "with the fleet of $DEVICES agents: $(cat "$WORK/latency.txt")"
        echo "the fleet meanwhile: $(cat "$WORK/fleet-line.txt")"
        if [[ -n "$DB" ]]; then psql "$PG" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null; DB=""; fi
    done
fi
