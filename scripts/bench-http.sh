#!/usr/bin/env bash
# HTTP benchmark of the foundation: authenticated `GET /api/v1/me` against `GET /healthz` (the
# ceiling: same server, same middleware, no authentication and no database), on SQLite and on
# PostgreSQL, with oha on loopback at 64 concurrent connections.
#
#   bash scripts/bench-http.sh
#
# Environment knobs (all optional):
#   BENCH_DURATION   measured run per endpoint        [15s]
#   BENCH_WARMUP     warm-up run per endpoint         [3s]
#   BENCH_CONNS      concurrent connections           [64]
#   BENCH_BACKENDS   which backends, space-separated  ["sqlite postgres"]
#   PGHOST PGPORT PGUSER PGADMINDB   the PostgreSQL server used to create and drop a scratch
#                    database [127.0.0.1 5432 postgres test]
#
# Prints a Markdown table and writes oha's raw JSON (with the CPU seconds the server and
# PostgreSQL spent during each run added as "mamoriBench") and the table under target/bench/.
# oha runs on the same machine as the server and competes with it for CPU, so throughput varies
# from run to run; CPU per request is the steadier figure for comparing endpoints.
# Traffic goes to 127.0.0.1 only; every run is bounded in time; the servers it starts are
# stopped on exit, and the scratch PostgreSQL database is dropped.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
. scripts/lib/local-server.sh

DURATION="${BENCH_DURATION:-15s}"
WARMUP="${BENCH_WARMUP:-3s}"
CONNS="${BENCH_CONNS:-64}"
BACKENDS="${BENCH_BACKENDS:-sqlite postgres}"
PGHOST="${PGHOST:-127.0.0.1}"
PGPORT="${PGPORT:-5432}"
PGUSER="${PGUSER:-postgres}"
PGADMINDB="${PGADMINDB:-test}"
OUT="$ROOT/target/bench"
BIN="$ROOT/target/release/mamori"

die() { echo "bench-http: $*" >&2; exit 1; }
log() { echo "==> $*" >&2; }

for tool in curl python3; do
    command -v "$tool" >/dev/null || die "$tool is needed"
done

# --- 1. tools and the binary -------------------------------------------------------------------
export PATH="$HOME/.cargo/bin:$PATH"
if ! command -v oha >/dev/null; then
    log "installing oha (cargo install oha --locked)"
    cargo install oha --locked
fi
OHA_VERSION="$(oha --version)"
# oha >= 1.5 takes --output-format json; older releases only know -j/--json.
if oha --help 2>&1 | grep -q -- '--output-format'; then
    OHA_JSON=(--output-format json)
else
    OHA_JSON=(--json)
fi
log "using $OHA_VERSION"

log "building target/release/mamori"
cargo build --release -p mamori
[[ -x "$BIN" ]] || die "$BIN was not built"

mkdir -p "$OUT"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/mamori-bench.XXXXXX")"
SERVER_PID=""
PG_DB=""

stop_server() {
    if [[ -n "$SERVER_PID" ]]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=""
    fi
}

drop_pg_db() {
    if [[ -n "$PG_DB" ]]; then
        psql -q -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -d "$PGADMINDB" \
            -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null 2>&1 || true
        PG_DB=""
    fi
}

cleanup() {
    stop_server
    drop_pg_db
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- 2. a server per backend -------------------------------------------------------------------
# start_server NAME DATA_DIR [DATABASE_URL]  → sets SERVER_PID and BASE
start_server() {
    local name="$1" dir="$2" url="${3:-}"
    local port
    port="$(free_port)"
    BASE="http://127.0.0.1:$port"
    local args=(serve --demo --data-dir "$dir" --listen "127.0.0.1:$port")
    [[ -n "$url" ]] && args+=(--database-url "$url")
    log "[$name] starting mamori on $BASE"
    # The access log (one line per request, level info) stays on, as in a real deployment; it
    # goes to a file, not to a terminal.
    "$BIN" "${args[@]}" >"$WORK/$name.stdout" 2>"$WORK/$name.stderr" &
    SERVER_PID=$!
    local i
    for i in $(seq 1 300); do
        if [[ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/readyz" || true)" == 200 ]]; then
            return 0
        fi
        kill -0 "$SERVER_PID" 2>/dev/null || { tail -n 30 "$WORK/$name.stderr" >&2; die "[$name] the server exited"; }
        sleep 0.2
    done
    tail -n 30 "$WORK/$name.stderr" >&2
    die "[$name] /readyz did not answer 200 within 60 s"
}

# --- 3. credentials ----------------------------------------------------------------------------
# sign_in NAME → sets SESSION_COOKIE and TOKEN_SECRET
sign_in() {
    local name="$1" jar="$WORK/$1.cookies"
    demo_admin_sign_in "$BASE" "$BIN" "$jar" || die "[$name] signing in as the demo admin failed"
    TOKEN_SECRET="$(session_api_token "$BASE" "$jar" '["users.read"]')" || die "[$name] no API token"
    [[ -n "$TOKEN_SECRET" ]] || die "[$name] the token answer has no secret"

    # Both credentials must work before load is put on them.
    local via
    via="$(curl -sS -H "Authorization: Bearer $TOKEN_SECRET" "$BASE/api/v1/me" \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["authenticated_by"])')"
    [[ "$via" == api_token ]] || die "[$name] /api/v1/me with the token: authenticated_by=$via"
    via="$(curl -sS -H "Cookie: mamori_session=$SESSION_COOKIE" "$BASE/api/v1/me" \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["authenticated_by"])')"
    [[ "$via" == session ]] || die "[$name] /api/v1/me with the cookie: authenticated_by=$via"
}

# --- 4. load ----------------------------------------------------------------------------------
# CPU time (clock ticks, user + system) of the server, and of every PostgreSQL process.
server_ticks() { awk '{ print $14 + $15 }' "/proc/$SERVER_PID/stat"; }
db_ticks() {
    if [[ "$1" != postgres ]]; then echo 0; return; fi
    local pid total=0 t
    for pid in $(pgrep -x postgres || true); do
        t="$(awk '{ print $14 + $15 }' "/proc/$pid/stat" 2>/dev/null || echo 0)"
        total=$((total + t))
    done
    echo "$total"
}

# run_oha BACKEND CASE PATH [HEADER...]
run_oha() {
    local backend="$1" case="$2" path="$3"
    shift 3
    local headers=()
    local h
    for h in "$@"; do headers+=(-H "$h"); done
    log "[$backend] $case: warm-up $WARMUP, then $DURATION at $CONNS connections on $path"
    # -w lets requests in flight at the deadline finish, so none is counted as aborted.
    oha -z "$WARMUP" -w -c "$CONNS" --no-tui "${OHA_JSON[@]}" "${headers[@]}" "$BASE$path" >/dev/null
    local json="$OUT/$backend-$case.json"
    local srv0 db0 srv1 db1
    srv0="$(server_ticks)"
    db0="$(db_ticks "$backend")"
    oha -z "$DURATION" -w -c "$CONNS" --no-tui "${OHA_JSON[@]}" "${headers[@]}" "$BASE$path" >"$json"
    srv1="$(server_ticks)"
    db1="$(db_ticks "$backend")"
    # Every answer must be a 200; anything else (401, 5xx, connection errors) fails the run.
    # The CPU the server (and PostgreSQL) spent during the run is kept beside oha's report.
    python3 - "$json" "$backend" "$case" "$srv0" "$srv1" "$db0" "$db1" "$(getconf CLK_TCK)" <<'PY'
import json, sys
path, backend, case = sys.argv[1:4]
srv0, srv1, db0, db1, hz = (int(x) for x in sys.argv[4:9])
r = json.load(open(path))
r["mamoriBench"] = {
    "serverCpuSecs": (srv1 - srv0) / hz,
    "postgresCpuSecs": (db1 - db0) / hz if backend == "postgres" else None,
}
json.dump(r, open(path, "w"), indent=2)
codes = r.get("statusCodeDistribution", {})
errors = r.get("errorDistribution", {})
ok = codes.get("200", 0)
total = sum(codes.values())
if total == 0 or ok != total or errors:
    sys.exit(f"bench-http: [{backend}] {case}: not all answers were 200: "
             f"status codes {codes}, errors {errors}")
PY
}

SUMMARY_ROWS="$OUT/rows.tsv"
: >"$SUMMARY_ROWS"

bench_backend() {
    local backend="$1" dir="$WORK/$1-data" url=""
    mkdir -p "$dir"
    if [[ "$backend" == postgres ]]; then
        command -v psql >/dev/null || die "psql is needed for the PostgreSQL run"
        PG_DB="mamori_bench_$(python3 -c 'import secrets; print(secrets.token_hex(6))')"
        log "[$backend] creating database $PG_DB"
        psql -q -v ON_ERROR_STOP=1 -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -d "$PGADMINDB" \
            -c "CREATE DATABASE $PG_DB" >/dev/null
        url="postgres://$PGUSER@$PGHOST:$PGPORT/$PG_DB"
    fi
    start_server "$backend" "$dir" "$url"
    sign_in "$backend"
    run_oha "$backend" healthz /healthz
    run_oha "$backend" me-token /api/v1/me "Authorization: Bearer $TOKEN_SECRET"
    run_oha "$backend" me-cookie /api/v1/me "Cookie: mamori_session=$SESSION_COOKIE"
    printf '%s\n' "$backend" >>"$SUMMARY_ROWS"
    stop_server
    drop_pg_db
}

for backend in $BACKENDS; do
    case "$backend" in
        sqlite | postgres) bench_backend "$backend" ;;
        *) die "unknown backend '$backend' (sqlite, postgres)" ;;
    esac
done

# --- 5. the table -----------------------------------------------------------------------------
{
    echo "Machine: $(nproc) cores, $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n1), $(free -m | awk '/^Mem:/ {printf "%.1f", $2 / 1024}') GiB RAM"
    echo "Date: $(date -u +%Y-%m-%dT%H:%MZ); $OHA_VERSION; $CONNS connections, $DURATION per run after a $WARMUP warm-up"
    echo
    python3 - "$OUT" "$SUMMARY_ROWS" <<'PY'
import json, os, sys
out, rows = sys.argv[1:3]
names = {"healthz": "`GET /healthz` (ceiling)",
         "me-token": "`GET /api/v1/me`, bearer token",
         "me-cookie": "`GET /api/v1/me`, session cookie"}
print("| backend | request | req/s | p50 (ms) | p99 (ms) | 200s | of /healthz "
      "| server CPU per request (µs) | PostgreSQL CPU per request (µs) |")
print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for backend in open(rows).read().split():
    res = {c: json.load(open(os.path.join(out, f"{backend}-{c}.json"))) for c in names}
    ceiling = res["healthz"]["summary"]["requestsPerSec"]
    for c, label in names.items():
        r = res[c]
        rps = r["summary"]["requestsPerSec"]
        p = r["latencyPercentiles"]
        ok = r["statusCodeDistribution"].get("200", 0)
        ratio = "—" if c == "healthz" else f"{100 * rps / ceiling:.0f} %"
        cpu = r.get("mamoriBench", {})
        per = lambda secs: "—" if secs is None else f"{1e6 * secs / max(ok, 1):.0f}"
        print(f"| {backend} | {label} | {rps:,.0f} | {p['p50'] * 1000:.2f} | {p['p99'] * 1000:.2f} "
              f"| {ok:,} | {ratio} | {per(cpu.get('serverCpuSecs'))} | {per(cpu.get('postgresCpuSecs'))} |")
PY
} | tee "$OUT/summary.md"
echo
echo "Raw oha JSON: $OUT/{sqlite,postgres}-{healthz,me-token,me-cookie}.json" >&2
