#!/usr/bin/env bash
# Audit-log benchmarks (issue 3): append throughput on SQLite and PostgreSQL at 1 and 64
# concurrent writers — through group commit (reads) and a transaction per entry (changes) —
# each beside its ceiling (the same appends with no hashing), then verification of a
# 1,000,000-entry bundle beside raw SHA-256 over the same bytes.
#
#   bash scripts/bench-audit.sh
#
# Knobs: BENCH_SECONDS per append run [10], BENCH_VERIFY_ENTRIES [1000000],
# BENCH_POSTGRES (server to create scratch databases on) [postgres://postgres@127.0.0.1:5432/test].
# Prints one line per run and writes them to target/bench/audit.txt.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
SECONDS_PER_RUN="${BENCH_SECONDS:-10}"
ENTRIES="${BENCH_VERIFY_ENTRIES:-1000000}"
PG="${BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432/test}"
mkdir -p target/bench
cargo build --release -p mamori-bench >&2
BIN=target/release/mamori-bench
{
    echo "date: $(date -u +%Y-%m-%dT%H:%MZ); $(nproc) cores; ${SECONDS_PER_RUN}s per append run"
    for backend in sqlite postgres; do
        for path in grouped per-transaction; do
            for writers in 1 64; do
                "$BIN" append --backend "$backend" --path "$path" --writers "$writers" --seconds "$SECONDS_PER_RUN" --postgres "$PG"
                "$BIN" append --backend "$backend" --path "$path" --writers "$writers" --seconds "$SECONDS_PER_RUN" --postgres "$PG" --no-hashing
            done
        done
    done
    "$BIN" verify --entries "$ENTRIES"
} | tee target/bench/audit.txt
