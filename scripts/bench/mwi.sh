#!/usr/bin/env bash
# Message waiting (RFC 3842 over RFC 6665): memory per held subscription and commit -> NOTIFY
# latency. Everything runs in the benchmark process (benches/mwi.rs): the server `umbox serve`
# runs, wired by server::Builder on loopback, and one gateway client on a UDP socket that holds
# SUBSCRIPTIONS subscriptions (one per user, sent at 1 000 SUBSCRIBEs/s) and answers every NOTIFY.
# A writer then delivers MESSAGES voice messages (one per user, RATE a second) through
# MailStore::apply and the client times each commit -> NOTIFY ("yes") pair. Every wait is bounded.
# Usage: scripts/bench/mwi.sh [subscriptions, default 10000] [messages, default 1000] [messages/s, default 100]
set -euo pipefail
cd "$(dirname "$0")/../.."
SUBSCRIPTIONS=${1:-10000}
MESSAGES=${2:-1000}
RATE=${3:-100}

cargo bench --bench mwi --no-run --quiet
bench=$(ls -t target/release/deps/mwi-* | grep -v '\.d$' | head -1)
echo "# $bench mwi $SUBSCRIPTIONS $MESSAGES $RATE"
"$bench" mwi "$SUBSCRIPTIONS" "$MESSAGES" "$RATE"
