#!/usr/bin/env bash
# Capacity on this machine, bots included: for each CCU step, a fresh node (io_uring, one worker per
# core) and a bot swarm on loopback for DURATION_S; prints the dashboard's final JSON summary per
# step (tick p50/p99 over the last interval, packets/s, bytes per client) and the bots' final report.
# Then the raw loopback ceiling (sendmmsg→recvmmsg) in the same run, to express the packet rate as a
# fraction of it.  Usage: perf/capacity.sh [CCU ...]   (default: 1000 2000 3000 5000)
# Env: DURATION_S (20), ZONES (the node's zones and the swarm's, default "1,2": one per worker),
# BOT_THREADS (2), SPAWN_RADIUS_M (0). A CCU step passes when the node's tick p99 < 50 ms and
# "stalls" is 0 (no bot went 250 ms without a snapshot) with every bot connected. Needs the release
# binaries (cargo build --release -p meridian-node -p meridian-perf) and curl.
set -euo pipefail
cd "$(dirname "$0")/.."
ulimit -n 65536 2>/dev/null || true  # one socket per bot
BIN=target/release
DURATION_S="${DURATION_S:-20}"
ZONES="${ZONES:-1,2}"
# 0: every bot spawns on the zone's one spawn point and the swarm stays a world-boss crowd (each
# client sees 128 entities); 400: spread over the 1 km map (about 20 visible each at 1,000/zone).
SPAWN_RADIUS_M="${SPAWN_RADIUS_M:-0}"
BOT_THREADS="${BOT_THREADS:-2}"
KEY="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
steps=("$@")
[ ${#steps[@]} -gt 0 ] || steps=(1000 2000 3000 5000)
for ccu in "${steps[@]}"; do
  "$BIN/meridian-node" serve --listen 127.0.0.1:7777 --metrics-listen 127.0.0.1:9100 \
    --cluster-key-hex "$KEY" --zones "$ZONES" --spawn-radius-m "$SPAWN_RADIUS_M" --duration-s $((DURATION_S + 30)) >"/tmp/capacity-node-$ccu.log" 2>&1 &
  node=$!
  sleep 0.5
  "$BIN/bots" --cluster-key-hex "$KEY" --bots "$ccu" --zone-id "$ZONES" --threads "$BOT_THREADS" \
    --duration-s "$DURATION_S" --ramp-per-s 1000 \
    --metrics-url http://127.0.0.1:9100/metrics --report-s 2 --json 2>/dev/null |
    tee "/tmp/capacity-bots-$ccu.jsonl" |
    "$BIN/dashboard" --headless --interval-s 2 | tail -n 1 | sed "s/^/ccu=$ccu node: /"
  grep '"final"' "/tmp/capacity-bots-$ccu.jsonl" | sed "s/^/ccu=$ccu bots: /"
  # Whole-run figures from the node itself (ramp included): datagrams in/out per second and the
  # tick duration p99 over every tick of every zone (cumulative histogram, bucket upper bound).
  curl -s http://127.0.0.1:9100/metrics | awk -v ccu="$ccu" -v secs="$DURATION_S" '
    /^meridian_packets_in_total/ { pin += $NF }
    /^meridian_packets_out_total/ { pout += $NF }
    /^meridian_tick_duration_seconds_bucket/ { match($0, /le="[^"]+"/); le = substr($0, RSTART + 4, RLENGTH - 5); b[le] += $NF }
    /^meridian_tick_duration_seconds_count/ { n += $NF }
    /^meridian_zone_events_total.*event="tick_shedding"/ { shed += $NF }
    /^meridian_zone_events_total.*event="snapshot_skipped_shedding"/ { skipped += $NF }
    END {
      p99 = "none"; best = 1e18
      for (le in b) { v = (le == "+Inf") ? 1e17 : le + 0; if (b[le] >= 0.99 * n && v < best) { best = v; p99 = le } }
      printf "ccu=%s node_run: pps_in=%.0f pps_out=%.0f pps_total=%.0f ticks=%d tick_p99_le=%s s zone_ticks_shedding=%d snapshots_skipped_shedding=%d\n", ccu, pin / secs, pout / secs, (pin + pout) / secs, n, p99, shed, skipped
    }'
  # The node's own CPU time (user + system, clock ticks → s), for the per-CCU cost model.
  awk -v ccu="$ccu" -v hz="$(getconf CLK_TCK)" '{ printf "ccu=%s node_cpu_s=%.2f\n", ccu, ($14 + $15) / hz }' "/proc/$node/stat"
  kill "$node" 2>/dev/null; wait "$node" 2>/dev/null || true
  sleep 1
done
"$BIN/io_cost" --ceiling --seconds 5
