#!/usr/bin/env bash
# The README's main job: a local cluster on loopback — meridian-node processes (io_uring zone
# workers, metrics on :9100 and :9101) and a bot swarm playing on them — with a live dashboard of
# CCU, tick p50/p99, packets per second, bytes per client, prediction corrections and handoffs.
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
# 1 (default): a seamless world — zones 1 and 2 side by side (512 m each), one per worker, bots
# patrolling across the border (`cross-borders`), handed between the zones' workers by ticket without
# reconnecting (the dashboard counts handoffs, aborts and their kinds). 0: separate zones.
WORLD="${MERIDIAN_WORLD:-1}"
# One zone per worker by default (zone z runs on worker z mod workers); the swarm spreads over them.
ZONES="${MERIDIAN_ZONES:-1,2}"
# Players spawn over a disc of this radius around the zone's spawn point (0: all on one point).
SPAWN_RADIUS_M="${MERIDIAN_SPAWN_RADIUS_M:-300}"
# Misbehaving bots among them (garbage datagrams and messages, replayed packets, each this many), so
# the dashboard's "drops by reason" line shows the node refusing each kind under its own label.
BAD_BOTS="${MERIDIAN_BAD_BOTS:-2}"
# The cluster key nodes and the login API share, fresh per run.
KEY="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
BIN=target/release
# The XDP edge (1, default): as root, the node attaches its edge to the loopback interface (generic
# XDP: loopback has no native driver hook; a real deployment uses --xdp-mode native on its NIC) and
# every game datagram is validated, rate-limited and steered in the kernel. Not root, or the attach
# fails: the node runs without it, and says why. 0: never.
EDGE="${MERIDIAN_EDGE:-1}"
# 1 (default): the whole control plane — Postgres and etcd (throwaway, on free loopback ports), the
# zone assigner, the HTTPS login API, the node registered through etcd, bots logging in over HTTPS.
# 0: the standalone node and dev tokens minted with the cluster key (pure packet benchmarks).
CONTROL="${MERIDIAN_CONTROL:-1}"
AUTH_LISTEN="${MERIDIAN_AUTH_LISTEN:-127.0.0.1:8443}"
# With the control plane: the node's WebSocket gateway for browsers (WSS, a development certificate
# for localhost and this address), and the login API serving the browser client at /play/.
WS_LISTEN="${MERIDIAN_WS_LISTEN:-127.0.0.1:7443}"
WEB_ROOT=client/web
# With the control plane and the seamless world: two nodes (the second on :7778, metrics :9101), the
# assigner spreading zones 1 and 2 over them, so bots crossing the border are handed between nodes
# by ticket over the node link (committed by etcd's compare-and-swap). 1: one node.
NODES="${MERIDIAN_NODES:-2}"
LISTEN2="${MERIDIAN_LISTEN2:-127.0.0.1:7778}"
METRICS2="${MERIDIAN_METRICS2:-127.0.0.1:9101}"
WS_LISTEN2="${MERIDIAN_WS_LISTEN2:-127.0.0.1:7444}"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT INT TERM

# A node's metrics text ($1, default the first node's), without curl (bash's /dev/tcp).
metrics_text() {
  local at="${1:-$METRICS}"
  local host="${at%:*}" port="${at##*:}"
  exec 3<>"/dev/tcp/$host/$port" || return 1
  printf 'GET /metrics HTTP/1.0\r\nHost: %s\r\n\r\n' "$host" >&3
  cat <&3
  exec 3<&-
}

node_flags=(--zones "$ZONES")
bot_flags=(--zone-id "$ZONES")
world_flags=()
if [ "$WORLD" = 1 ]; then
  ZONES=1,2
  node_flags=(--zones "$ZONES")
  bot_flags=(--zone-id "$ZONES")
  world_flags=(--world-columns 2 --zone-size-m 512)
  MOVEMENT="${MERIDIAN_MOVEMENT:-cross-borders}"
  echo "world: zones 1 and 2 side by side, one per worker; bots cross the border (handoff by ticket)" >&2
fi
# The local swarm sends from one address (127.0.0.1): the edge's per-source limits are opened up
# for it (the defaults suit one player, or a small NAT, per address).
edge_flags=(--xdp-iface lo --xdp-mode skb --edge-source-pps 1000000 --edge-source-burst 100000
  --edge-request-pps 10000 --edge-request-burst 2000)
if [ "$EDGE" != 1 ]; then
  edge_flags=()
elif [ "$(id -u)" != 0 ]; then
  echo "edge: off — XDP needs root (run as root, or MERIDIAN_EDGE=0 to silence this)" >&2
  edge_flags=()
fi
if [ "$CONTROL" = 1 ]; then
  # dev-services keeps Postgres and etcd up while its stdin is open: the coprocess pipe closes when
  # this script ends, and they stop with it.
  coproc SERVICES { "$BIN/dev-services" 2>/tmp/meridian-services.log; }
  pids+=("$SERVICES_PID")
  read -r services <&"${SERVICES[0]}" || { echo "dev-services failed: see /tmp/meridian-services.log" >&2; exit 1; }
  ETCD="$(printf '%s' "$services" | sed -n 's/.*"etcd":"\([^"]*\)".*/\1/p')"
  DATABASE_URL="$(printf '%s' "$services" | sed -n 's/.*"postgres":"\([^"]*\)".*/\1/p')"
  # The economy's two shards (pick-ups, trades, checkpoints; cross-shard trades use 2PC).
  ECONOMY="$(printf '%s' "$services" | sed -n 's/.*"economy":\[\([^]]*\)\].*/\1/p' | tr -d '"')"
  REDIS="$(printf '%s' "$services" | sed -n 's/.*"redis":"\([^"]*\)".*/\1/p')"
  KAFKA="$(printf '%s' "$services" | sed -n 's/.*"kafka":"\([^"]*\)".*/\1/p')"
  echo "control plane: etcd $ETCD, postgres ($DATABASE_URL), login API https://$AUTH_LISTEN" >&2
  echo "economy: 2 Postgres shards; hot state: Redis $REDIS; event log: ${KAFKA:-off (no broker installed)}" >&2
  "$BIN/meridian-control" assigner --etcd "$ETCD" --zones "$ZONES" 2>/tmp/meridian-assigner.log &
  pids+=($!)
  CERT=/tmp/meridian-dev-cert.pem
  rm -f "$CERT"
  # The page's bundle is built by npm (infra/setup.sh), not by cargo: without it no /play/.
  web_flags=()
  if [ -f "$WEB_ROOT/dist/meridian.js" ]; then
    web_flags=(--web-root "$WEB_ROOT")
  else
    echo "browser client: off — $WEB_ROOT/dist/meridian.js missing (npm ci && npm run build in $WEB_ROOT)" >&2
  fi
  # A local swarm logs in from one address: the per-IP limit is opened up for it (the per-account
  # limit and the production argon2 cost stay).
  "$BIN/meridian-control" auth --listen "$AUTH_LISTEN" --database-url "$DATABASE_URL" --etcd "$ETCD" \
    --cluster-key-hex "$KEY" --jwt-secret-hex "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" \
    --dev-cert-out "$CERT" --ip-burst 100000 --ip-refill-ms 1 "${web_flags[@]}" 2>/tmp/meridian-auth.log &
  pids+=($!)
  # --zones: the world layout's tiles (the assigner decides which this node serves).
  node_flags=(--control "$ETCD" --node-id local-node --economy-shards "$ECONOMY" --zones "$ZONES")
  [ -n "$KAFKA" ] && node_flags+=(--kafka "$KAFKA")
  # Global chat across nodes, zone state saved and restored, session records.
  node_flags+=(--redis "$REDIS")
  # Browsers play over WSS; the node's etcd record carries the URL, play tickets name it.
  bot_flags=(--login "https://$AUTH_LISTEN" --login-ca "$CERT")
fi
# Nodes reach each other over the node link (tickets, ghosts, relayed datagrams); the registry
# carries each node's link address.
[ "$CONTROL" = 1 ] && [ "$WORLD" = 1 ] && node_flags+=(--link-listen 127.0.0.1:0)
[ "$CONTROL" = 1 ] && [ "$WORLD" = 1 ] || NODES=1

ws_flags=()
[ "$CONTROL" = 1 ] && ws_flags=(--ws-listen "$WS_LISTEN" --ws-dev-cert-out /tmp/meridian-ws-cert.pem)
start_node() {
  "$BIN/meridian-node" serve --listen "$LISTEN" --metrics-listen "$METRICS" --cluster-key-hex "$KEY" \
    "${node_flags[@]}" "${ws_flags[@]}" "${world_flags[@]}" "${edge_flags[@]}" --spawn-radius-m "$SPAWN_RADIUS_M" \
    --duration-s $((DURATION_S + 10)) 2>/tmp/meridian-node.log &
  NODE_PID=$!
  pids+=("$NODE_PID")
  for _ in $(seq 50); do
    "$BIN/meridian-node" probe "$LISTEN" --count 1 --timeout-ms 100 >/dev/null 2>&1 && return 0
    kill -0 "$NODE_PID" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
if ! start_node && [ "${#edge_flags[@]}" -gt 0 ]; then
  echo "edge: off — the node could not start behind it: $(grep -m1 -i 'error' /tmp/meridian-node.log)" >&2
  kill "$NODE_PID" 2>/dev/null || true
  edge_flags=()
  start_node
fi
if [ "${#edge_flags[@]}" -gt 0 ]; then
  echo "edge: on — XDP (generic) on lo, sk_reuseport steering over the workers; junk is dropped in the kernel" >&2
fi
dashboard_flags=(--metrics-url "http://$METRICS/metrics")
if [ "$NODES" = 2 ]; then
  # The second node: same cluster, its own address and gateway; loopback's XDP hook is the first
  # node's (its edge passes other ports), so this one runs without the edge and the nodes relay
  # for each other across a handoff.
  node_flags2=("${node_flags[@]}")
  for i in "${!node_flags2[@]}"; do
    [ "${node_flags2[$i]}" = local-node ] && node_flags2[$i]=local-node-2
  done
  "$BIN/meridian-node" serve --listen "$LISTEN2" --metrics-listen "$METRICS2" --cluster-key-hex "$KEY" \
    "${node_flags2[@]}" --ws-listen "$WS_LISTEN2" --ws-dev-cert-out /tmp/meridian-ws-cert-2.pem \
    "${world_flags[@]}" --spawn-radius-m "$SPAWN_RADIUS_M" \
    --duration-s $((DURATION_S + 10)) 2>/tmp/meridian-node-2.log &
  pids+=($!)
  dashboard_flags+=(--metrics-url "http://$METRICS2/metrics")
  echo "second node: $LISTEN2 (metrics $METRICS2); the assigner spreads zones 1 and 2 over both nodes" >&2
fi
"$BIN/meridian-node" probe "$LISTEN" --count 2 >&2
if [ "$CONTROL" = 1 ]; then
  # Wait for the assigner to give the nodes their zones (they tick) and for the login API's
  # certificate; with two nodes, until each ticks a zone (the assigner has spread them).
  for _ in $(seq 150); do
    [ -s "$CERT" ] && metrics_text 2>/dev/null | grep -q '^meridian_tick_duration_seconds_count' &&
      { [ "$NODES" = 1 ] || metrics_text "$METRICS2" 2>/dev/null | grep -q '^meridian_tick_duration_seconds_count'; } &&
      break
    sleep 0.1
  done
  [ -s "$CERT" ] || { echo "the login API did not start: see /tmp/meridian-auth.log" >&2; exit 1; }
  if [ "$NODES" = 2 ]; then
    echo "zones assigned: $(grep -c 'serving zone' /tmp/meridian-node.log) on the first node, $(grep -c 'serving zone' /tmp/meridian-node-2.log) on the second; bots log in over HTTPS and cross between the nodes" >&2
  else
    echo "zones assigned: $(grep -c 'serving zone' /tmp/meridian-node.log) on the node; bots log in over HTTPS" >&2
  fi
  # The operators' world map (read-only, served by the login API): an operator made on the command
  # line, as in production (the public register endpoint only makes players).
  OPERATOR_PASSWORD="${MERIDIAN_OPERATOR_PASSWORD:-operator-dev}"
  MERIDIAN_OPERATOR_PASSWORD="$OPERATOR_PASSWORD" "$BIN/meridian-control" operator --database-url "$DATABASE_URL" \
    --name operator >/dev/null 2>>/tmp/meridian-auth.log || echo "world map: making the operator failed (see /tmp/meridian-auth.log)" >&2
  echo "world map: https://$AUTH_LISTEN/operator/login (operator / $OPERATOR_PASSWORD; accept the dev certificate)" >&2
  if [ "${#web_flags[@]}" -gt 0 ]; then
    # Two development certificates: a browser asks about the page's, but never about a WebSocket's,
    # so the gateway's is accepted by opening its address once.
    echo "browser client: https://$AUTH_LISTEN/play/ (register, create a character, Play; accept the dev certificates of https://$AUTH_LISTEN/ and https://$WS_LISTEN/ first)" >&2
  fi
fi
"$BIN/bots" --server "$LISTEN" --cluster-key-hex "$KEY" --bots "$BOTS" "${bot_flags[@]}" \
  --garbage "$BAD_BOTS" --replay "$BAD_BOTS" \
  --duration-s "$DURATION_S" --movement "$MOVEMENT" --metrics-url "http://$METRICS/metrics" --report-s 1 --json 2>/tmp/meridian-bots.log |
  "$BIN/dashboard" "${dashboard_flags[@]}" "$@"
