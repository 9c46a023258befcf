#!/usr/bin/env bash
# The README's main job: a local cluster on loopback — one meridian-node (io_uring zone workers,
# metrics on :9100) and a bot swarm playing on it — with a live dashboard of CCU, tick p50/p99,
# packets per second, bytes per client and prediction corrections.
#
#   MERIDIAN_BOTS=500 MERIDIAN_DURATION_S=60 ./infra/run-local.sh            # terminal UI
#   ./infra/run-local.sh --headless                                          # lines + JSON summary
set -euo pipefail
cd "$(dirname "$0")/.."
LISTEN="${MERIDIAN_LISTEN:-127.0.0.1:7777}"
METRICS="${MERIDIAN_METRICS:-127.0.0.1:9100}"
BOTS="${MERIDIAN_BOTS:-200}"
DURATION_S="${MERIDIAN_DURATION_S:-30}"
MOVEMENT="${MERIDIAN_MOVEMENT:-random-walk}"
# One zone per worker by default (zone z runs on worker z mod workers); the swarm spreads over them.
ZONES="${MERIDIAN_ZONES:-1,2}"
# Players spawn over a disc of this radius around the zone's spawn point (0: all on one point).
SPAWN_RADIUS_M="${MERIDIAN_SPAWN_RADIUS_M:-300}"
# Misbehaving bots among them (garbage datagrams and messages, replayed packets, each this many), so
# the dashboard's "drops by reason" line shows the node refusing each kind under its own label.
BAD_BOTS="${MERIDIAN_BAD_BOTS:-2}"
# A development cluster key, fresh per run (the control plane issues real tokens later).
KEY="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
BIN=target/release

"$BIN/meridian-node" serve --listen "$LISTEN" --metrics-listen "$METRICS" --cluster-key-hex "$KEY" \
  --zones "$ZONES" --spawn-radius-m "$SPAWN_RADIUS_M" --duration-s $((DURATION_S + 10)) 2>/tmp/meridian-node.log &
node_pid=$!
trap 'kill "$node_pid" 2>/dev/null; wait "$node_pid" 2>/dev/null' EXIT INT TERM
for _ in $(seq 50); do
  "$BIN/meridian-node" probe "$LISTEN" --count 1 --timeout-ms 100 >/dev/null 2>&1 && break
  sleep 0.1
done
"$BIN/meridian-node" probe "$LISTEN" --count 2 >&2
"$BIN/bots" --server "$LISTEN" --cluster-key-hex "$KEY" --bots "$BOTS" --zone-id "$ZONES" \
  --garbage "$BAD_BOTS" --replay "$BAD_BOTS" \
  --duration-s "$DURATION_S" --movement "$MOVEMENT" --metrics-url "http://$METRICS/metrics" --report-s 1 --json 2>/tmp/meridian-bots.log |
  "$BIN/dashboard" --metrics-url "http://$METRICS/metrics" "$@"
