#!/usr/bin/env bash
# The agent's own footprint (issue 5): a release `mamori-agent run` enrolled with a local
# release server over TLS, heartbeat every 30 s, inventory on start (real dpkg data), USB polled
# every 2 s, a command long poll held open — and its desktop helper (`mamori-agent session`) in an
# X session (Xvfb) where xdotool types and clicks now and then, for an operator on shift, so
# activity is collected and a bucket sent every minute — for BENCH_SECONDS (default 600).
# Reports each process's CPU time as a share of one core, and its resident memory (current and
# peak).
#
#   bash scripts/bench-agent.sh
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib/local-server.sh"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
SECONDS_TO_RUN="${BENCH_SECONDS:-600}"
cargo build --release -p mamori -p mamori-agent -p mamori-bench >&2
WORK="$(mktemp -d)"
SERVER=""; AGENT=""; HELPER=""; XVFB=""; TYPIST=""
cleanup() {
    for p in "$TYPIST" "$HELPER" "$AGENT" "$XVFB"; do [[ -n "$p" ]] && kill "$p" 2>/dev/null || true; done
    [[ -n "$SERVER" ]] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
start_agent_server release "$WORK"
target/release/mamori-agent enroll --server "https://127.0.0.1:$port" --token "$token" --ca "$WORK/cert.pem" \
    --state-dir "$WORK/agent" >&2
target/release/mamori-agent run --state-dir "$WORK/agent" --session-socket "$WORK/session.sock" \
    >"$WORK/agent.log" 2>&1 &
AGENT=$!
for d in $(seq 150 250); do [[ -e "/tmp/.X$d-lock" || -e "/tmp/.X11-unix/X$d" ]] || break; done
display=":$d"
Xvfb "$display" -noreset -nolisten tcp -screen 0 1024x768x24 >/dev/null 2>&1 &
XVFB=$!
for _ in $(seq 100); do [[ -e "/tmp/.X11-unix/X${display#:}" && -e "$WORK/session.sock" ]] && break; sleep 0.1; done
DISPLAY="$display" xmessage -name crmwin -title crm.example.co.jp "customer card" >/dev/null 2>&1 &
DISPLAY="$display" target/release/mamori-agent session --socket "$WORK/session.sock" >"$WORK/helper.log" 2>&1 &
HELPER=$!
# An operator at work: a burst of typing and a click every ten seconds.
(while sleep 10; do DISPLAY="$display" xdotool type --delay 30 "customer asks about the invoice" click 1 \
    >/dev/null 2>&1 || true; done) &
TYPIST=$!
ticks=$(getconf CLK_TCK)
for p in "$AGENT" "$HELPER"; do kill -0 "$p" 2>/dev/null || { echo "bench-agent: a process died:"; cat "$WORK/agent.log" "$WORK/helper.log"; exit 1; }; done
sleep 5 # the start (inventory) is part of the measure below, which begins here
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
start_agent=$(cpu "$AGENT"); start_helper=$(cpu "$HELPER"); start=$(date +%s.%N)
sleep "$SECONDS_TO_RUN"
end_agent=$(cpu "$AGENT"); end_helper=$(cpu "$HELPER"); end=$(date +%s.%N)
report() {
    local name=$1 pid=$2 c0=$3 c1=$4
    python3 - "$name" "$c0" "$c1" "$start" "$end" "$ticks" "$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")" \
        "$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")" <<'PY'
import sys
name = sys.argv[1]
c0, c1, t0, t1, hz, rss, hwm = map(float, sys.argv[2:])
share = (c1 - c0) / hz / (t1 - t0) * 100
print(f"| {name}, {t1 - t0:.0f} s | CPU {share:.3f} % of one core | RSS {rss/1024:.1f} MiB (peak {hwm/1024:.1f} MiB) |")
PY
}
report "agent service" "$AGENT" "$start_agent" "$end_agent"
report "desktop helper" "$HELPER" "$start_helper" "$end_helper"
echo "events still queued on the agent: $(find "$WORK/agent/queue" -name '*.json' | wc -l) (0: all delivered)"
