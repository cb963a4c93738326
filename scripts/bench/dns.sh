#!/usr/bin/env bash
# Authoritative DNS queries/s over UDP: umbox against Knot DNS (knotd) serving the very same
# example.test records, in the same run, with dnsperf. The knot zone file is written from umbox's own
# answers, so both servers hold identical data (SOA, NS, A/AAAA, the Autodiscover and SIP SRVs).
# umbox runs twice: with the CLI's default log filter, and with hickory's per-request info lines off.
# Usage: scripts/bench/dns.sh [seconds per run, default 10] [dnsperf clients, default 4]
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_PER_RUN=${1:-10}
CLIENTS=${2:-4}

need() { # CMD PACKAGE: install PACKAGE with apt when CMD is missing.
    command -v "$1" >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
}
need dig dnsutils
need dnsperf dnsperf
need knotd knot

free_port() { # a port free for both UDP and TCP on 127.0.0.1, below the ephemeral range so that
    # the port-0 listeners umbox binds before its DNS port can never take it
    python3 - <<'PY'
import random, socket
low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
for _ in range(50):
    port = random.randrange(10000, low)
    try:
        for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
            with socket.socket(socket.AF_INET, kind) as s:
                s.bind(("127.0.0.1", port))
    except OSError:
        continue
    print(port)
    break
PY
}

cargo build --release --quiet 2>/dev/null || cargo build --release
tmp=$(mktemp -d)
UMBOX_PID=
KNOT_PID=
stop_umbox() {
    if [ -n "$UMBOX_PID" ]; then kill "$UMBOX_PID" 2>/dev/null || true; wait "$UMBOX_PID" 2>/dev/null || true; fi
    UMBOX_PID=
}
cleanup() {
    stop_umbox
    if [ -n "$KNOT_PID" ]; then kill "$KNOT_PID" 2>/dev/null || true; wait "$KNOT_PID" 2>/dev/null || true; fi
    rm -rf "$tmp"
}
trap cleanup EXIT

# wait_for_dns PORT PID LOG: until the server at PORT answers example.test SOA (at most 10 s).
wait_for_dns() {
    local _
    for _ in $(seq 1 100); do
        if dig @127.0.0.1 -p "$1" +time=1 +tries=1 +short example.test SOA 2>/dev/null | grep -q '^mail\.'; then return 0; fi
        if ! kill -0 "$2" 2>/dev/null; then cat "$3" >&2; echo "server on port $1 exited" >&2; exit 1; fi
        sleep 0.1
    done
    cat "$3" >&2; echo "server on port $1 never answered" >&2; exit 1
}

# Response rate limiting off: dnsperf's whole load comes from one address, and knot runs without
# its rrl module, so both do the same work.
printf 'domains = ["example.test"]\n[dns]\nresponses_per_second = 0\n' >"$tmp/umbox.toml"

# start_umbox NAME [VAR=VALUE…]: umbox serve in demo mode with its DNS on a fresh port.
start_umbox() {
    local name=$1; shift
    UMBOX_PORT=$(free_port)
    UMBOX_CMD="target/release/umbox serve --demo --config $tmp/umbox.toml --data $tmp/$name --bind 127.0.0.1 --https-port 0 --http-port 0 --dns-port $UMBOX_PORT"
    env "$@" $UMBOX_CMD >"$tmp/$name.out" 2>"$tmp/$name.err" &
    UMBOX_PID=$!
    wait_for_dns "$UMBOX_PORT" "$UMBOX_PID" "$tmp/$name.err"
}

start_umbox umbox-default

# Knot gets umbox's records verbatim (presentation format, absolute names).
mkdir -p "$tmp/knot"
{
    echo '$TTL 300'
    for q in "example.test SOA" "example.test NS" "example.test A" "example.test AAAA" \
        "autodiscover.example.test A" "autodiscover.example.test AAAA" \
        "mail.example.test A" "mail.example.test AAAA" \
        "_autodiscover._tcp.example.test SRV" "_sip._udp.example.test SRV" \
        "_sip._tcp.example.test SRV" "_sips._tcp.example.test SRV"; do
        # shellcheck disable=SC2086
        dig @127.0.0.1 -p "$UMBOX_PORT" +norecurse +noall +answer $q
    done
} >"$tmp/knot/example.test.zone"
KNOT_PORT=$(free_port)
cat >"$tmp/knot/knot.conf" <<CONF
server:
    rundir: "$tmp/knot"
    listen: 127.0.0.1@$KNOT_PORT
log:
  - target: stderr
    any: warning
database:
    storage: "$tmp/knot"
template:
  - id: default
    storage: "$tmp/knot"
zone:
  - domain: example.test
    file: "$tmp/knot/example.test.zone"
CONF
KNOT_CMD="knotd -c $tmp/knot/knot.conf"
$KNOT_CMD 2>"$tmp/knot/knotd.err" &
KNOT_PID=$!
wait_for_dns "$KNOT_PORT" "$KNOT_PID" "$tmp/knot/knotd.err"

# Both servers must give the same answers to the benchmark queries.
printf '%s\n' '_autodiscover._tcp.example.test SRV' 'autodiscover.example.test A' >"$tmp/queries"
while read -r name type; do
    a=$(dig @127.0.0.1 -p "$UMBOX_PORT" +norecurse +noall +answer +additional "$name" "$type" | sort)
    b=$(dig @127.0.0.1 -p "$KNOT_PORT" +norecurse +noall +answer +additional "$name" "$type" | sort)
    if [ "$a" != "$b" ]; then
        printf 'umbox and knot differ for %s %s:\n--- umbox\n%s\n--- knot\n%s\n' "$name" "$type" "$a" "$b" >&2
        exit 1
    fi
done <"$tmp/queries"

DNSPERF="dnsperf -s 127.0.0.1 -d $tmp/queries -l $SECONDS_PER_RUN -c $CLIENTS -T 1 -q 100"
run() { # PORT PID LOG LABEL: one dnsperf run; prints a summary line and sets QPS
    local out lost codes
    out=$($DNSPERF -p "$1" 2>&1)
    if ! kill -0 "$2" 2>/dev/null; then
        grep -v hickory_server "$3" | tail -20 >&2; echo "$4 exited during the run" >&2; exit 1
    fi
    QPS=$(awk '/Queries per second:/ {print $4}' <<<"$out")
    lost=$(awk '/Queries lost:/ {print $3, $4}' <<<"$out")
    codes=$(awk '/Response codes:/ {sub(/.*Response codes: */, ""); print}' <<<"$out")
    [ -n "$QPS" ] || { echo "$out" >&2; exit 1; }
    printf '%-44s %10s q/s  lost %s  rcodes %s\n' "$4" "$QPS" "$lost" "$codes"
}

echo "queries ($tmp/queries): $(paste -sd';' "$tmp/queries")"
echo "umbox:   $UMBOX_CMD"
echo "knot:    $KNOT_CMD   (knotd $(knotd -V | awk '{print $NF}'), zone written from umbox's answers)"
echo "dnsperf: $DNSPERF -p PORT"
run "$UMBOX_PORT" "$UMBOX_PID" "$tmp/umbox-default.err" "umbox (default log filter: info)"
umbox_default=$QPS
rss_default=$(awk '/^VmHWM:/ {print $2}' "/proc/$UMBOX_PID/status")
stop_umbox

start_umbox umbox-quiet UMBOX_LOG=info,hickory_server=warn
run "$UMBOX_PORT" "$UMBOX_PID" "$tmp/umbox-quiet.err" "umbox (UMBOX_LOG=info,hickory_server=warn)"
umbox_quiet=$QPS
rss_quiet=$(awk '/^VmHWM:/ {print $2}' "/proc/$UMBOX_PID/status")

run "$KNOT_PORT" "$KNOT_PID" "$tmp/knot/knotd.err" "knot"
knot=$QPS
ratio() { python3 -c "print(f'{$1/$2:.2f}')"; }
echo "ratio umbox/knot (default log filter): $(ratio "$umbox_default" "$knot")"
echo "ratio umbox/knot (hickory_server=warn): $(ratio "$umbox_quiet" "$knot")"
echo "umbox peak RSS (VmHWM): ${rss_default} KiB default filter, ${rss_quiet} KiB hickory_server=warn"
