#!/usr/bin/env bash
# Handoffs on a real node: zones 1 and 2 side by side (512 m each, one per worker: every crossing goes
# by ticket between workers), BOTS bots patrolling across the whole world (`cross-borders`) for
# DURATION_S. Prints the bots' final report (CCU, stalls = snapshot gaps > 250 ms, the longest gap:
# an upper bound of every handoff's pause as the client saw it), the node's handoffs by outcome,
# handoffs per second and the tick p99 (whole run, histogram bucket bound).
# Usage: perf/handoff_rate.sh   Env: BOTS (2000), DURATION_S (40), SPAWN_RADIUS_M (400). The bots predict in
# the zone default 1,024 m map, which two 512 m zones tile exactly.
# Needs release binaries: cargo build --release -p meridian-node -p meridian-perf
set -euo pipefail
cd "$(dirname "$0")/.."
ulimit -n 65536 2>/dev/null || true
BIN=target/release
BOTS="${BOTS:-2000}"
DURATION_S="${DURATION_S:-40}"
SPAWN_RADIUS_M="${SPAWN_RADIUS_M:-400}"
KEY="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port="$(free_port)"; metrics="$(free_port)"
"$BIN/meridian-node" serve --listen "127.0.0.1:$port" --metrics-listen "127.0.0.1:$metrics" --cluster-key-hex "$KEY" \
  --workers 2 --zones 1,2 --world-columns 2 --zone-size-m 512 --spawn-radius-m "$SPAWN_RADIUS_M" \
  --duration-s $((DURATION_S + 30)) >/tmp/handoff-rate-node.log 2>&1 &
node=$!
trap 'kill $node 2>/dev/null || true' EXIT
sleep 0.5
"$BIN/bots" --server "127.0.0.1:$port" --cluster-key-hex "$KEY" --bots "$BOTS" --zone-id 1,2 --threads 2 \
  --duration-s "$DURATION_S" --ramp-per-s 1000 --movement cross-borders \
  --metrics-url "http://127.0.0.1:$metrics/metrics" --report-s 10 --json 2>/dev/null | grep '"final"'
curl -s "http://127.0.0.1:$metrics/metrics" | awk -v secs="$DURATION_S" '
  /^meridian_handoffs_total/ { match($0, /outcome="[^"]+"/); o = substr($0, RSTART + 9, RLENGTH - 10); h[o] += $NF }
  /^meridian_tick_duration_seconds_bucket/ { match($0, /le="[^"]+"/); le = substr($0, RSTART + 4, RLENGTH - 5); b[le] += $NF }
  /^meridian_tick_duration_seconds_count/ { n += $NF }
  END {
    for (o in h) printf "handoffs{%s} = %d\n", o, h[o]
    printf "handoffs/s (across_committed over the run) = %.1f\n", h["across_committed"] / secs
    p99 = "none"; best = 1e18
    for (le in b) { v = (le == "+Inf") ? 1e17 : le + 0; if (b[le] >= 0.99 * n && v < best) { best = v; p99 = le } }
    printf "tick p99 (whole run, bucket bound) <= %s s over %d ticks\n", p99, n
  }'
