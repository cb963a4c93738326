#!/usr/bin/env bash
# Incremental build time after a one-line edit of one source file: `cargo build` of the umbox
# binary (or the cargo command given) in the dev profile with a warm target directory, RUNS
# times. Each run appends a different `const _: u32 = N;` to FILE (an edit the compiler must check
# and code-generate, unlike a bare touch, which incremental compilation sees through); the file is
# restored at the end. Prints wall, user and system seconds per run. Run from the root of the
# checkout to measure (any revision).
#
# Usage: scripts/bench/incremental-build.sh FILE [RUNS, default 3] [CARGO ARGS…, default build]
# e.g. `… crates/ews/src/ops/oof.rs 3 test -p umbox-ews --lib --no-run` for the unit-test loop.
set -euo pipefail
file=$1
runs=${2:-3}
shift $(( $# < 2 ? $# : 2 ))
[ $# -gt 0 ] || set -- build
[ -f "$file" ] || { echo "incremental-build.sh: no file $file" >&2; exit 1; }
saved=$(mktemp)
cp -p "$file" "$saved"
trap 'cp -p "$saved" "$file"; rm -f "$saved"' EXIT
cargo "$@" --quiet
for run in $(seq "$runs"); do
    cp -p "$saved" "$file"
    printf '\nconst _: u32 = %d;\n' "$run" >> "$file"
    /usr/bin/time -f "run $run: %e s wall, %U s user, %S s sys" cargo "$@" --quiet
done
