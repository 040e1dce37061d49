#!/usr/bin/env bash
# The ISMS registers (issue 17): with 10,000 assets, 1,000 risks and 500 vendors, the asset
# list (its first page, the largest page, a deep page, a filtered page and a text search), the
# vendor list, the risk list with its heat maps and the Annex A SoA (JSON API, and the console
# pages of assets, vendors, SoA and evidence), timed one request at a time; then from a role
# change to the live evidence showing it. On SQLite (a fresh data directory) and PostgreSQL (a scratch database `mamori_bench_…`,
# made and dropped by `mamori-bench isms`). See docs/BENCHMARKS.md.
#
#   bash scripts/bench-isms.sh
#   BENCH_BACKENDS=sqlite BENCH_ROUNDS=40 bash scripts/bench-isms.sh
#
# Knobs: BENCH_BACKENDS ["sqlite postgres"], BENCH_ASSETS [10000], BENCH_RISKS [1000],
# BENCH_VENDORS [500], BENCH_ROUNDS [100] (requests per endpoint after one to warm up), BENCH_SAMPLES [20] (role
# changes timed to the evidence), BENCH_PG [postgres://postgres@127.0.0.1:5432/test] (scratch
# databases are made beside it).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BACKENDS="${BENCH_BACKENDS:-sqlite postgres}"
ASSETS="${BENCH_ASSETS:-10000}"
RISKS="${BENCH_RISKS:-1000}"
VENDORS="${BENCH_VENDORS:-500}"
ROUNDS="${BENCH_ROUNDS:-100}"
SAMPLES="${BENCH_SAMPLES:-20}"
PG="${BENCH_PG:-postgres://postgres@127.0.0.1:5432/test}"
BENCH=target/release/mamori-bench
cargo build --release -p mamori-bench >&2

for backend in $BACKENDS; do
    "$BENCH" isms --backend "$backend" --assets "$ASSETS" --risks "$RISKS" --vendors "$VENDORS" --rounds "$ROUNDS" \
        --evidence-samples "$SAMPLES" --postgres "$PG"
done
