#!/usr/bin/env bash
# Load test of the SIP call router: sipp sends INVITE (pilot 1999, Diversion 1001), expects the
# 302, and sends the ACK (tests/interop/sipp/router_redirect.xml), first against umbox's router,
# then against kamailio configured to answer the same INVITEs with the same 302 (stateful, via
# tm, so it also keeps each transaction until the ACK). Both get the same sipp rate, call count
# and concurrency cap, and every run ends by itself. Prints the exact commands, each server's
# transactions per second (INVITE/302/ACK calls completed per second of sipp's run), the
# failures, and the umbox/kamailio ratio (goal >= 0.5). Results go to docs/PERFORMANCE.md by hand.
#
# Usage: scripts/bench/sip-router.sh
# Environment (defaults in brackets):
#   SIPP_RATE [2000]     calls per second sipp offers
#   SIPP_CALLS [50000]   calls per run
#   SIPP_LIMIT [2000]    most calls in flight at once
#   UMBOX_BIN            umbox binary [target/release/umbox, built with cargo --release]
#   UMBOX_SIP_PORT [25060], KAMAILIO_PORT [25070]   loopback ports for the two servers
#   KAMAILIO_CHILDREN    kamailio UDP worker processes [number of CPUs, as tokio's workers]
#
# umbox must start its router from `umbox serve --sip-router-port N` (see docs/PERFORMANCE.md for
# what `serve` has to do); the script stops with exit status 2 when the binary cannot.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
rate=${SIPP_RATE:-2000}
calls=${SIPP_CALLS:-50000}
limit=${SIPP_LIMIT:-2000}
umbox_port=${UMBOX_SIP_PORT:-25060}
kamailio_port=${KAMAILIO_PORT:-25070}
children=${KAMAILIO_CHILDREN:-$(nproc)}
scenario="$root/tests/interop/sipp/router_redirect.xml"
work=$(mktemp -d)
pids=()

cleanup() {
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

say() { printf '%s\n' "$*" >&2; }

need() {
    command -v "$1" >/dev/null && return
    say "installing $2"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$2" >/dev/null
}

need sipp sip-tester
need kamailio kamailio

if [ -z "${UMBOX_BIN:-}" ]; then
    say "building umbox (release)"
    (cd "$root" && cargo build --release --quiet --bin umbox)
    UMBOX_BIN="$root/target/release/umbox"
fi
if ! "$UMBOX_BIN" serve --help | grep -q -- '--sip-router-port'; then
    say "$UMBOX_BIN serve has no --sip-router-port: the SIP router is not wired into serve yet"
    exit 2
fi

udp_bound() { ss -uln | grep -q "127.0.0.1:$1 "; }

for port in "$umbox_port" "$kamailio_port"; do
    if udp_bound "$port"; then
        say "udp 127.0.0.1:$port is taken; set UMBOX_SIP_PORT / KAMAILIO_PORT"
        exit 1
    fi
done

# Waits (bounded) until process $2 listens on UDP 127.0.0.1:$1.
wait_udp() {
    for _ in $(seq 100); do
        kill -0 "$2" 2>/dev/null || { say "server exited; its output is above"; return 1; }
        udp_bound "$1" && return 0
        sleep 0.1
    done
    say "nothing listens on udp 127.0.0.1:$1"
    return 1
}

# Runs the scenario against 127.0.0.1:$2 and prints "<successful> <failed> <seconds>".
run_sipp() {
    local name=$1 port=$2
    local command=(sipp -sf "$scenario" -t u1 -i 127.0.0.1 -r "$rate" -rp 1000 -m "$calls"
        -l "$limit" -timeout 300s -timeout_error -nostdin -trace_err
        -error_file "$work/$name-errors.log" "127.0.0.1:$port")
    say "+ ${command[*]}"
    "${command[@]}" >"$work/$name.screen" 2>&1 || true
    # The last statistics screen: cumulative counts, and the run's start and end as epoch
    # seconds (the third tab-separated field of the Start Time and Current Time rows).
    awk -F'|' '
        /Successful call/ { gsub(/ /, "", $3); ok = $3 }
        /Failed call/     { gsub(/ /, "", $3); failed = $3 }
        /Start Time/      { split($2, t, "\t"); start = t[3] }
        /Current Time/    { split($2, t, "\t"); end = t[3] }
        END { printf "%d %d %.3f\n", ok, failed, end - start }' "$work/$name.screen"
}

say "== umbox router on udp 127.0.0.1:$umbox_port"
umbox_command=("$UMBOX_BIN" serve --demo --data "$work/umbox-data" --bind 127.0.0.1
    --https-port 0 --http-port 0 --dns-port 0 --sip-router-port "$umbox_port")
say "+ UMBOX_LOG=warn ${umbox_command[*]}"
UMBOX_LOG=warn "${umbox_command[@]}" >"$work/umbox.out" &
pids+=($!)
wait_udp "$umbox_port" "${pids[0]}"
read -r umbox_ok umbox_failed umbox_secs < <(run_sipp umbox "$umbox_port")
kill "${pids[0]}" 2>/dev/null || say "umbox had exited before the end of its run"

say "== kamailio $(kamailio -v | head -1 | awk '{print $3}') on udp 127.0.0.1:$kamailio_port, $children children"
cat >"$work/kamailio.cfg" <<EOF
#!KAMAILIO
# Answers every INVITE with the router's 302 through a tm transaction (absorbs the ACK).
debug=1
log_stderror=yes
fork=yes
children=$children
auto_aliases=no
listen=udp:127.0.0.1:$kamailio_port
mpath="$(dirname "$(find /usr/lib -name tm.so -path '*kamailio/modules*' | head -1)")/"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "textops.so"
loadmodule "pv.so"

request_route {
    if (is_method("ACK")) {
        t_check_trans();
        exit;
    }
    if (is_method("INVITE")) {
        if (!t_newtran()) {
            sl_reply_error();
            exit;
        }
        append_to_reply("Contact: <sip:1001@127.0.0.1:5062>\r\n");
        t_reply("302", "Moved Temporarily");
        exit;
    }
    sl_send_reply("405", "Method Not Allowed");
}
EOF
# -m: shared memory (MB), where tm keeps transactions; 64 runs out near 2000 calls/s.
kamailio_command=(kamailio -DD -E -f "$work/kamailio.cfg" -m 512 -M 16 -P "$work/kamailio.pid")
say "+ ${kamailio_command[*]}"
"${kamailio_command[@]}" >"$work/kamailio.log" 2>&1 &
pids+=($!)
wait_udp "$kamailio_port" "${pids[1]}"
read -r kam_ok kam_failed kam_secs < <(run_sipp kamailio "$kamailio_port")

awk -v uo="$umbox_ok" -v uf="$umbox_failed" -v us="$umbox_secs" \
    -v ko="$kam_ok" -v kf="$kam_failed" -v ks="$kam_secs" \
    -v rate="$rate" -v calls="$calls" -v limit="$limit" '
    BEGIN {
        ut = us > 0 ? uo / us : 0
        kt = ks > 0 ? ko / ks : 0
        printf "offered: %d calls at %d/s, at most %d in flight\n", calls, rate, limit
        printf "umbox:    %6d ok %6d failed in %8.3f s = %8.1f transactions/s\n", uo, uf, us, ut
        printf "kamailio: %6d ok %6d failed in %8.3f s = %8.1f transactions/s\n", ko, kf, ks, kt
        printf "ratio umbox/kamailio: %.2f (goal >= 0.5)\n", (kt > 0 ? ut / kt : 0)
    }'
