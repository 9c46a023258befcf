#!/usr/bin/env bash
# Capacity on this machine, bots included: for each CCU step, a fresh node (io_uring, one worker per
# core) and a bot swarm on loopback for DURATION_S; prints the dashboard's final JSON summary per
# step (tick p50/p99 over the last interval, packets/s, bytes per client) and the bots' final report.
# Then the raw loopback ceiling (sendmmsg→recvmmsg) in the same run, to express the packet rate as a
# fraction of it.  Usage: perf/capacity.sh [CCU ...]   (default: 1000 2000 3000 5000)
# Env: DURATION_S (20), ZONES (the node's zones and the swarm's, default "1,2": one per worker),
# BOT_THREADS (2). A CCU step passes when the node's tick p99 < 50 ms and "stalls" is 0 (no bot
# went 250 ms without a snapshot) with every bot connected.
set -euo pipefail
cd "$(dirname "$0")/.."
ulimit -n 65536 2>/dev/null || true  # one socket per bot
BIN=target/release
DURATION_S="${DURATION_S:-20}"
ZONES="${ZONES:-1,2}"
BOT_THREADS="${BOT_THREADS:-2}"
KEY="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
steps=("$@")
[ ${#steps[@]} -gt 0 ] || steps=(1000 2000 3000 5000)
for ccu in "${steps[@]}"; do
  "$BIN/meridian-node" serve --listen 127.0.0.1:7777 --metrics-listen 127.0.0.1:9100 \
    --cluster-key-hex "$KEY" --zones "$ZONES" --duration-s $((DURATION_S + 30)) 2>/dev/null &
  node=$!
  sleep 0.5
  "$BIN/bots" --cluster-key-hex "$KEY" --bots "$ccu" --zone-id "$ZONES" --threads "$BOT_THREADS" \
    --duration-s "$DURATION_S" --ramp-per-s 1000 \
    --metrics-url http://127.0.0.1:9100/metrics --report-s 2 --json 2>/dev/null |
    tee "/tmp/capacity-bots-$ccu.jsonl" |
    "$BIN/dashboard" --headless --interval-s 2 | tail -n 1 | sed "s/^/ccu=$ccu node: /"
  grep '"final"' "/tmp/capacity-bots-$ccu.jsonl" | sed "s/^/ccu=$ccu bots: /"
  kill "$node" 2>/dev/null; wait "$node" 2>/dev/null || true
  sleep 1
done
"$BIN/io_cost" --ceiling --seconds 5
