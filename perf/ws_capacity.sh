#!/usr/bin/env bash
# WebSocket sessions one node holds beside a UDP swarm: for each step N, a fresh node (one worker
# per core, zones 1 and 2, its WSS gateway with a development certificate), UDP_BOTS UDP bots
# (`bots`) and N SDK clients over WSS (`ws_bots`: one packet per binary message, as the browser
# client). ws_bots prints one JSON line per step: the node's tick p50/p99 over a MEASURE_S window
# once every WebSocket client is placed, the sessions the node holds, gateway drops, and the
# driver's late-input share (above ~1%: the driver, not the node, is the limit).
#   Usage: perf/ws_capacity.sh [N ...]   (default: 250 500 1000)
# Env: UDP_BOTS (1000), MEASURE_S (15), SPAWN_RADIUS_M (300), WS_THREADS (1). Needs the release
# binaries (cargo build --release -p meridian-node -p meridian-perf).
set -euo pipefail
cd "$(dirname "$0")/.."
ulimit -n 65536 2>/dev/null || true  # one socket per bot
BIN=target/release
UDP_BOTS="${UDP_BOTS:-1000}"
MEASURE_S="${MEASURE_S:-15}"
SPAWN_RADIUS_M="${SPAWN_RADIUS_M:-300}"
WS_THREADS="${WS_THREADS:-1}"
KEY="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
CERT=/tmp/ws-capacity-cert.pem
steps=("$@")
[ ${#steps[@]} -gt 0 ] || steps=(250 500 1000)
for n in "${steps[@]}"; do
  rm -f "$CERT"
  # Every WebSocket client connects from 127.0.0.1: the per-address limit is opened up for it.
  "$BIN/meridian-node" serve --listen 127.0.0.1:7777 --metrics-listen 127.0.0.1:9100 \
    --cluster-key-hex "$KEY" --zones 1,2 --spawn-radius-m "$SPAWN_RADIUS_M" --duration-s 300 \
    --ws-listen 127.0.0.1:7443 --ws-dev-cert-out "$CERT" --ws-connections-per-ip 1000000 \
    >"/tmp/ws-capacity-node-$n.log" 2>&1 &
  node=$!
  for _ in $(seq 50); do [ -s "$CERT" ] && break; sleep 0.1; done
  "$BIN/bots" --cluster-key-hex "$KEY" --bots "$UDP_BOTS" --zone-id 1,2 --threads 1 \
    --duration-s 240 --ramp-per-s 1000 >/dev/null 2>"/tmp/ws-capacity-bots-$n.log" &
  bots=$!
  sleep 3
  "$BIN/ws_bots" --bots "$n" --gateway 127.0.0.1:7443 --ca "$CERT" --server 127.0.0.1:7777 \
    --cluster-key-hex "$KEY" --zone-id 1,2 --threads "$WS_THREADS" --measure-s "$MEASURE_S" \
    --metrics-url http://127.0.0.1:9100/metrics 2>"/tmp/ws-capacity-ws-$n.log" | sed "s/^/udp=$UDP_BOTS ws=$n: /" || true
  kill "$bots" "$node" 2>/dev/null || true
  wait "$bots" "$node" 2>/dev/null || true
  sleep 1
done
