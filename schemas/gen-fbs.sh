#!/bin/sh
# Regenerates control-fbs/src/control_generated.rs from fbs/control.fbs. The generated file is committed so the
# normal build needs no extra binary; run this after editing the schema.
# Needs planus-cli (`cargo install planus-cli --version 1.3.0`); keep it in step with the `planus`
# runtime version in Cargo.toml.
set -eu
cd "$(dirname "$0")"
planus rust -o control-fbs/src/control_generated.rs fbs/control.fbs
echo "wrote control-fbs/src/control_generated.rs"
