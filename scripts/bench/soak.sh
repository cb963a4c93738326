#!/usr/bin/env bash
# Soak: SECONDS (default an hour) of mixed load on the release build — voicemail deposits by
# sipp, EWS clients creating, reading, marking and deleting items, streaming subscriptions —
# then checks that nothing was lost and that memory stayed flat (examples/soak.rs says how).
# Leaves DATA_DIR (default a new temporary directory) with soak.csv (RSS, threads, descriptors
# and load average every 10 s), sipp-stat.csv and umbox.log.
# Usage: scripts/bench/soak.sh [SECONDS, default 3600] [DATA_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/bench/lib.sh
need sipp sip-tester
need curl curl
cargo build --release --quiet --bin umbox --example soak
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
exec target/release/examples/soak "${1:-3600}" ${2:+"$2"}
