#!/usr/bin/env bash
# Load test of the SIP call router: sipp sends INVITE (pilot 1999, Diversion 1001), expects the
# 302, and sends the ACK with the INVITE's branch (tests/interop/sipp/router_redirect.xml), against
# umbox's router and against kamailio answering the same INVITEs with a stateless 302
# (`sl_send_reply`, dropping the ACK). Both servers are started once and driven in turn, pass
# after pass (umbox, kamailio, umbox, ...), so a change in the machine's load hits both alike.
# Each pass, per server: a burst, a second burst right after it, then single calls one after
# another (each given one second) until one succeeds, which says how long after the second burst
# the server answers normally again. Prints the exact commands, each burst's completed
# INVITE/302/ACK calls per second of sipp's run and failed calls, the recovery time, the load
# average before each burst, the CPU time each server used for its first burst (all its
# processes, from /proc) and the umbox/kamailio ratios of the first bursts (rate goal >= 1.0).
# sipp runs on one CPU and each server on the other (taskset; both servers alike): sipp, one
# thread, bounds the rate, and left to the scheduler it shared its CPU with the server's threads
# to a varying degree from burst to burst. Every burst ends by itself (-m). Results go to
# docs/PERFORMANCE.md by hand.
#
# Usage: scripts/bench/sip-router.sh
# Environment (defaults in brackets):
#   SIPP_RATE [20000]    calls per second sipp offers
#   SIPP_CALLS [160000]  calls per burst
#   SIPP_LIMIT [5000]    most calls in flight at once
#   PASSES [3]           passes per server
#   UMBOX_BIN            umbox binary [target/release/umbox, built with cargo --release]
#   UMBOX_SIP_PORT [25060], KAMAILIO_PORT [25070]   loopback ports for the two servers
#   KAMAILIO_CHILDREN    kamailio UDP worker processes [number of CPUs, as tokio's workers]
#   SIPP_CPUS [0], SERVER_CPUS [1, or all but 0 on more CPUs]   taskset CPU lists
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
rate=${SIPP_RATE:-20000}
calls=${SIPP_CALLS:-160000}
limit=${SIPP_LIMIT:-5000}
passes=${PASSES:-3}
umbox_port=${UMBOX_SIP_PORT:-25060}
kamailio_port=${KAMAILIO_PORT:-25070}
children=${KAMAILIO_CHILDREN:-$(nproc)}
sipp_cpus=${SIPP_CPUS:-0}
server_cpus=${SERVER_CPUS:-1-$(($(nproc) - 1))}
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

# Runs a burst against 127.0.0.1:$2 and prints "<successful> <failed> <seconds> <answered not
# 302>" (the last counts the failed calls that got another answer, a 503, rather than none).
run_sipp() {
    local name=$1 port=$2
    local command=(taskset -c "$sipp_cpus" sipp -sf "$scenario" -t u1 -i 127.0.0.1 -r "$rate" -rp 1000 -m "$calls"
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
        /302 <-/          { split($1, f, " "); other = f[6] }
        END { printf "%d %d %.3f %d\n", ok, failed, end - start, other }' "$work/$name.screen"
}

# Single calls against 127.0.0.1:$1, one after another, each given one second, until one
# succeeds; prints the seconds from $2 (epoch seconds) to that success, or "never" after 60 s.
recovery() {
    local port=$1 since=$2 now
    while true; do
        if sipp -sf "$scenario" -t u1 -i 127.0.0.1 -m 1 -l 1 -timeout 1s -timeout_error \
            -nostdin "127.0.0.1:$port" >/dev/null 2>&1; then
            now=$(date +%s.%N)
            awk -v a="$since" -v b="$now" 'BEGIN { printf "%.2f\n", b - a }'
            return
        fi
        now=$(date +%s.%N)
        if awk -v a="$since" -v b="$now" 'BEGIN { exit !(b - a > 60) }'; then
            echo never
            return
        fi
    done
}

load() { cut -d' ' -f1 /proc/loadavg; }

say "== umbox router on udp 127.0.0.1:$umbox_port"
umbox_command=(taskset -c "$server_cpus" "$UMBOX_BIN" serve --demo --data "$work/umbox-data" --bind 127.0.0.1
    --https-port 0 --http-port 0 --dns-port 0 --admin-port 0 --sip-media-port 0
    --sip-router-port "$umbox_port")
say "+ UMBOX_LOG=warn ${umbox_command[*]}"
UMBOX_LOG=warn "${umbox_command[@]}" >"$work/umbox.out" &
pids+=($!)
wait_udp "$umbox_port" "${pids[0]}"

say "== kamailio $(kamailio -v | head -1 | awk '{print $3}') on udp 127.0.0.1:$kamailio_port, $children children"
cat >"$work/kamailio.cfg" <<CONFIG
#!KAMAILIO
# Answers every INVITE with the router's 302 statelessly (RFC 3261 §8.2.7); drops the ACK.
debug=1
log_stderror=yes
fork=yes
children=$children
auto_aliases=no
listen=udp:127.0.0.1:$kamailio_port
mpath="$(dirname "$(find /usr/lib -name sl.so -path '*kamailio/modules*' | head -1)")/"
loadmodule "sl.so"
loadmodule "textops.so"

request_route {
    if (is_method("ACK")) {
        exit;
    }
    if (is_method("INVITE")) {
        append_to_reply("Contact: <sip:1001@127.0.0.1:5062>\r\n");
        sl_send_reply("302", "Moved Temporarily");
        exit;
    }
    sl_send_reply("405", "Method Not Allowed");
}
CONFIG
kamailio_command=(taskset -c "$server_cpus" kamailio -DD -E -f "$work/kamailio.cfg" -m 64 -M 16 -P "$work/kamailio.pid")
say "+ ${kamailio_command[*]}"
"${kamailio_command[@]}" >"$work/kamailio.log" 2>&1 &
pids+=($!)
wait_udp "$kamailio_port" "${pids[1]}"

# cpu_seconds PID...: user + system CPU time the processes have used so far (threads included).
cpu_seconds() {
    local pid
    for pid in "$@"; do cat "/proc/$pid/stat"; done |
        awk -v tick="$(getconf CLK_TCK)" '{ t += $14 + $15 } END { printf "%.2f", t / tick }'
}

# server_pids NAME: the server's processes (kamailio's workers are children of its main process).
server_pids() {
    if [ "$1" = umbox ]; then
        echo "${pids[0]}"
    else
        echo "${pids[1]}" $(pgrep -P "${pids[1]}")
    fi
}

say "offered: $calls calls per burst at $rate/s, at most $limit in flight; $passes passes"
printf '%-8s %4s %6s | %-34s | %-34s | %s\n' server pass load1m \
    "first burst ok/failed not-302 tx/s" "second burst ok/failed not-302 tx/s" \
    "single call ok after (s) | first burst CPU (s)"
for pass in $(seq "$passes"); do
    for server in umbox kamailio; do
        port=$umbox_port
        [ "$server" = kamailio ] && port=$kamailio_port
        before=$(load)
        # shellcheck disable=SC2046 # one word per process id
        cpu_before=$(cpu_seconds $(server_pids "$server"))
        read -r ok1 failed1 secs1 other1 < <(run_sipp "$server-$pass-a" "$port")
        # shellcheck disable=SC2046
        cpu1=$(awk -v a="$cpu_before" -v b="$(cpu_seconds $(server_pids "$server"))" 'BEGIN { printf "%.2f", b - a }')
        read -r ok2 failed2 secs2 other2 < <(run_sipp "$server-$pass-b" "$port")
        back=$(recovery "$port" "$(date +%s.%N)")
        awk -v s="$server" -v p="$pass" -v l="$before" -v o1="$ok1" -v f1="$failed1" \
            -v t1="$secs1" -v x1="$other1" -v o2="$ok2" -v f2="$failed2" -v t2="$secs2" \
            -v x2="$other2" -v r="$back" -v c="$cpu1" 'BEGIN {
            printf "%-8s %4d %6s | %7d / %6d %6d %9.1f | %7d / %6d %6d %9.1f | %s | %s\n",
                s, p, l, o1, f1, x1, (t1 > 0 ? o1 / t1 : 0),
                o2, f2, x2, (t2 > 0 ? o2 / t2 : 0), r, c
        }' | tee -a "$work/results"
    done
done
kill -0 "${pids[0]}" 2>/dev/null || say "umbox exited before the end: $(cat "$work/umbox.out")"

# The ratios of the first bursts, pass by pass (field 9 is the first burst's tx/s, the last
# field its CPU seconds).
awk '
    { rate[$1, $2] = $9; cpu[$1, $2] = $NF }
    END {
        for (p = 1; (("umbox", p) in rate); p++) {
            k = rate["kamailio", p]
            printf "pass %d: ratio umbox/kamailio (first burst) %.2f (goal >= 1.0); CPU used %.2f\n", p,
                (k > 0 ? rate["umbox", p] / k : 0),
                (cpu["kamailio", p] > 0 ? cpu["umbox", p] / cpu["kamailio", p] : 0)
        }
    }' "$work/results"
