#!/bin/sh
# Regenerates the planus output in control-fbs/src/ from fbs/*.fbs. The generated files are committed
# so the normal build needs no extra binary; run this after editing a schema.
# Needs planus-cli (`cargo install planus-cli --version 1.3.0`); keep it in step with the `planus`
# runtime version in control-fbs/Cargo.toml.
set -eu
cd "$(dirname "$0")"
planus rust -o control-fbs/src/control_generated.rs fbs/control.fbs
planus rust -o control-fbs/src/bench_snapshot_generated.rs fbs/bench_snapshot.fbs
planus rust -o control-fbs/src/zone_state_generated.rs fbs/zone_state.fbs
echo "wrote control-fbs/src/control_generated.rs control-fbs/src/bench_snapshot_generated.rs"
echo "wrote control-fbs/src/zone_state_generated.rs"
