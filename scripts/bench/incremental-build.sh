#!/usr/bin/env bash
# Incremental build time of the umbox binary after touching one source file: `cargo build` (dev
# profile) with a warm target directory, RUNS times, each after `touch FILE`. Prints wall, user and
# system seconds per run. Run from the root of the checkout to measure (any revision).
#
# Usage: scripts/bench/incremental-build.sh FILE [RUNS, default 3]
set -euo pipefail
file=$1
runs=${2:-3}
[ -f "$file" ] || { echo "incremental-build.sh: no file $file" >&2; exit 1; }
cargo build --quiet
for run in $(seq "$runs"); do
    touch "$file"
    /usr/bin/time -f "run $run: %e s wall, %U s user, %S s sys" cargo build --quiet
done
