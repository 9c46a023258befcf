#!/usr/bin/env bash
# The main job, as far as it exists today: start a local meridian-node on loopback (one io_uring UDP
# worker per core, SO_REUSEPORT), check that every probe is answered, and keep serving until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
LISTEN="${MERIDIAN_LISTEN:-127.0.0.1:7777}"
NODE=target/release/meridian-node

"$NODE" serve --listen "$LISTEN" &
node_pid=$!
trap 'kill "$node_pid" 2>/dev/null; wait "$node_pid" 2>/dev/null' EXIT INT TERM
sleep 0.5
"$NODE" probe "$LISTEN" --count 8
echo "meridian-node (pid $node_pid) is serving on udp://$LISTEN; probe it with: $NODE probe $LISTEN"
echo "Ctrl-C to stop."
wait "$node_pid"
