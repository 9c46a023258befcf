#!/usr/bin/env bash
# Global chat fan-out across two nodes: a Redis (Debian's redis-server, fresh, on a free port), two
# meridian-nodes sharing it (`--redis`, different zones and ports), and one bot swarm per node with
# real UDP clients. SENDERS bots per swarm each send a global chat line stamped with the wall clock
# every INTERVAL_MS; every bot on both nodes records send→hear latency of every stamped line it
# hears (one machine, one clock). Prints each swarm's final report (global chat: sent, heard,
# refused, latency p50/p99/max) and the expected deliveries (sent × listeners).
# Usage: perf/chat_fanout.sh   Env: BOTS (per node, 1000), SENDERS (per node, 10), INTERVAL_MS
# (2000), DURATION_S (40). Needs release binaries: cargo build --release -p meridian-node -p meridian-perf
set -euo pipefail
cd "$(dirname "$0")/.."
ulimit -n 65536 2>/dev/null || true  # one socket per bot
BIN=target/release
BOTS="${BOTS:-1000}"
SENDERS="${SENDERS:-10}"
INTERVAL_MS="${INTERVAL_MS:-2000}"
DURATION_S="${DURATION_S:-40}"
KEY="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
work="$(mktemp -d)"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
redis_port="$(free_port)"
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" >"$work/redis.log" 2>&1 &
redis=$!
pids=("$redis")
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
start_node() { # name game-port metrics-port zone
  "$BIN/meridian-node" serve --listen "127.0.0.1:$2" --metrics-listen "127.0.0.1:$3" --cluster-key-hex "$KEY" \
    --zones "$4" --workers 1 --spawn-radius-m 400 --node-id "$1" --redis "redis://127.0.0.1:$redis_port" \
    --duration-s $((DURATION_S + 30)) >"$work/$1.log" 2>&1 &
  pids+=("$!")
}
port_a="$(free_port)"; port_b="$(free_port)"; metrics_a="$(free_port)"; metrics_b="$(free_port)"
start_node chat-a "$port_a" "$metrics_a" 1
start_node chat-b "$port_b" "$metrics_b" 2
sleep 1
swarm() { # game-port metrics-port zone session-base
  "$BIN/bots" --server "127.0.0.1:$1" --cluster-key-hex "$KEY" --bots "$BOTS" --zone-id "$3" --threads 1 \
    --duration-s "$DURATION_S" --ramp-per-s 500 --session-base "$4" --metrics-url "http://127.0.0.1:$2/metrics" \
    --global-chat-senders "$SENDERS" --global-chat-interval-ms "$INTERVAL_MS" --report-s 10 --json 2>/dev/null |
    grep '"final"'
}
swarm "$port_a" "$metrics_a" 1 1000000 >"$work/a.json" &
a=$!
swarm "$port_b" "$metrics_b" 2 2000000 >"$work/b.json" &
b=$!
wait "$a" "$b"
for side in a b; do
  python3 - "$work/$side.json" "$side" "$BOTS" <<'PY'
import json, sys
report = json.loads(open(sys.argv[1]).read().splitlines()[-1])
chat = report["global_chat"]
print(f"node {sys.argv[2]}: ccu {report['ccu']}/{sys.argv[3]} tick_p99_s {report['server_tick_p99_s']} "
      f"global chat sent {chat['sent']} heard {chat['heard']} refused {chat['refused']} "
      f"latency p50 {chat['p50_us']} us p99 {chat['p99_us']} us max {chat['max_us']} us")
PY
done
python3 - "$work/a.json" "$work/b.json" "$BOTS" <<'PY'
import json, sys
a, b = (json.loads(open(p).read().splitlines()[-1])["global_chat"] for p in sys.argv[1:3])
listeners = 2 * int(sys.argv[3])
sent, heard = a["sent"] + b["sent"], a["heard"] + b["heard"]
print(f"both: sent {sent} lines, heard {heard} of at most {sent * listeners} (sent × {listeners} listeners; "
      f"lines sent in the last second or before a listener joined are not heard by it)")
PY
