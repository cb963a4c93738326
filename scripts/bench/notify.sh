#!/usr/bin/env bash
# EWS notifications: commit→arrival latency of NewMailEvents on streaming subscriptions (1,000 and
# 10,000 subscriptions, 200 per user and connection), resident memory per subscription, and
# GetEvents requests/s with 1,000 pull subscriptions. Everything runs in the benchmark process
# (benches/notify.rs): umbox's HTTPS surface on loopback and hyper+rustls clients, so both share the
# machine's cores. Each run is bounded by its arguments.
# Usage: scripts/bench/notify.sh [seconds per latency run, default 20] [messages/s, default 20]
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_PER_RUN=${1:-20}
RATE=${2:-20}

cargo bench --bench notify --no-run --quiet
bench=$(ls -t target/release/deps/notify-* | grep -v '\.d$' | head -1)
echo "# $bench latency 1000 $SECONDS_PER_RUN $RATE"
"$bench" latency 1000 "$SECONDS_PER_RUN" "$RATE"
echo "# $bench latency 10000 $SECONDS_PER_RUN $RATE"
"$bench" latency 10000 "$SECONDS_PER_RUN" "$RATE"
echo "# $bench pull 1000 10 16"
"$bench" pull 1000 10 16
