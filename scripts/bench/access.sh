#!/usr/bin/env bash
# Concurrent subscriber-access sessions: SESSIONS users each log in by caller ID and PIN over a
# call to the pilot number and listen to one AUDIO_SECONDS voice message (the speech of
# tests/interop/audio/message.ul, repeated, different per user). sipp places the calls (the
# signalling only, straight to the media server); examples/access_load.rs seeds the data
# directory beforehand and plays the callers' media ends: every phone presses its PIN as RFC 4733
# events, keeps all the RTP it receives and checks afterwards that it heard its whole message
# sample for sample, and reports the RTP pacing (RFC 3550 jitter, packet gaps). Reports umbox's
# CPU time and peak memory (VmHWM) and the machine's CPU use.
# Usage: scripts/bench/access.sh [sessions, default 500] [audio seconds, default 30]
#        [new calls per second, default 50]
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/bench/lib.sh
SESSIONS=${1:-500}
AUDIO_SECONDS=${2:-30}
RATE=${3:-50}
need sipp sip-tester

cargo build --release --quiet --bin umbox --example access_load
repo=$(pwd)
tmp=$(mktemp -d)
cleanup() {
    [ -n "${UMBOX_PID:-}" ] && kill "$UMBOX_PID" 2>/dev/null
    [ -n "${PHONES_PID:-}" ] && kill "$PHONES_PID" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
# Two RTP sockets per call on the server, one per phone, plus the SIP and store files.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

mkdir -p "$tmp/sipp"
target/release/examples/access_load seed "$tmp/data" "$SESSIONS" tests/interop/audio/message.ul "$AUDIO_SECONDS"
cat >"$tmp/umbox.toml" <<CONF
domains = ["example.test"]
[log]
level = "warn,umbox_um::voicemail=info"
[um]
max_calls = $(( SESSIONS + 100 ))
key_timeout_seconds = 2
CONF
rtp_last=$(( 40000 + 2 * SESSIONS + 399 ))
export NO_COLOR=1
start_umbox "$tmp/data" --config "$tmp/umbox.toml" --sip-router-port 0 --sip-media-port 0 \
    --rtp-ports "40000-$rtp_last"
media=$(sed 's/.* media=\([^ ]*\).*/\1/' <<<"$(grep '^umbox ready ' "$tmp/data.out")")

target/release/examples/access_load phones "$SESSIONS" tests/interop/audio/message.ul \
    "$AUDIO_SECONDS" "$tmp/sipp/calls.csv" >"$tmp/phones.out" 2>&1 &
PHONES_PID=$!
for _ in $(seq 1 100); do
    grep -q '^phones ready' "$tmp/phones.out" 2>/dev/null && break
    sleep 0.1
done

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
machine() { awk '/^cpu / {print $2+$3+$4+$6+$7+$8, $5}' /proc/stat; }
ticks_per_second=$(getconf CLK_TCK)
umbox_before=$(cpu_ticks "$UMBOX_PID")
read -r busy_before idle_before < <(machine)
started=$(date +%s.%N)

sipp_command=(sipp -sf "$repo/tests/interop/sipp/access.xml" -inf "$tmp/sipp/calls.csv"
    -m "$SESSIONS" -l "$SESSIONS" -r "$RATE" -i 127.0.0.1
    -timeout "$(( 3 * AUDIO_SECONDS + SESSIONS / RATE + 180 ))s" -timeout_error -nostdin
    -trace_err -error_file "$tmp/sipp/errors.log" -trace_stat -stf "$tmp/sipp/stat.csv" -fd 1
    "$media")
echo "umbox:  target/release/umbox serve --data <seeded> --config umbox.toml (max_calls $(( SESSIONS + 100 )), key_timeout_seconds 2) --sip-media-port 0 --rtp-ports 40000-$rtp_last"
echo "seed:   target/release/examples/access_load seed <data> $SESSIONS tests/interop/audio/message.ul $AUDIO_SECONDS"
echo "phones: target/release/examples/access_load phones $SESSIONS tests/interop/audio/message.ul $AUDIO_SECONDS calls.csv"
echo "sipp:   ${sipp_command[*]}"
echo "load:   $SESSIONS sessions at $RATE new calls/s; each logs in (PIN by RFC 4733), plays its ${AUDIO_SECONDS} s message, then idles to the goodbye"
set +e
(cd "$repo/tests/interop" && "${sipp_command[@]}" >"$tmp/sipp/screen.log" 2>&1)
sipp_status=$?
wait "$PHONES_PID"
phones_status=$?
PHONES_PID=
set -e
finished=$(date +%s.%N)
umbox_after=$(cpu_ticks "$UMBOX_PID")
read -r busy_after idle_after < <(machine)
peak_kib=$(peak_rss_kib "$UMBOX_PID")
kill -INT "$UMBOX_PID"
wait "$UMBOX_PID" || true
UMBOX_PID=

python3 - "$tmp" "$sipp_status" "$started" "$finished" "$umbox_before" "$umbox_after" \
    "$ticks_per_second" "$busy_before" "$idle_before" "$busy_after" "$idle_after" "$peak_kib" <<'PY'
import csv, sys
(tmp, status, started, finished, u0, u1, hz, b0, i0, b1, i1, peak) = sys.argv[1:]
wall = float(finished) - float(started)
cpu = (int(u1) - int(u0)) / int(hz)
busy, idle = int(b1) - int(b0), int(i1) - int(i0)
print(f"sipp exit status {status}; wall time {wall:.1f} s")
rows = list(csv.reader(open(f"{tmp}/sipp/stat.csv"), delimiter=";"))
if len(rows) > 1:
    last = dict(zip(rows[0], rows[-1]))
    column = rows[0].index("CurrentCall") if "CurrentCall" in rows[0] else None
    most = max((int(r[column]) for r in rows[1:] if column is not None and len(r) > column
                and r[column].isdigit()), default=0)
    print(f"sipp calls: {last.get('SuccessfulCall(C)')} successful, {last.get('FailedCall(C)')} "
          f"failed; at most {most} at once (sampled every second)")
print(f"umbox CPU: {cpu:.1f} s over {wall:.1f} s = {100 * cpu / wall:.0f}% of one core; "
      f"machine busy {100 * busy / max(1, busy + idle):.0f}% of 2 cores (phones and sipp included)")
print(f"umbox peak RSS (VmHWM): {int(peak) / 1024:.1f} MiB")
PY
grep -v '^phones ready' "$tmp/phones.out"
echo "phones exit status $phones_status"
