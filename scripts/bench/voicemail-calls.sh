#!/usr/bin/env bash
# Concurrent voicemail deposits: sipp as the gateway places CALLS calls to pilot 1999 forwarded
# from extension 1001 (Diversion), each following the router's 302 to the media server,
# streaming AUDIO_SECONDS of µ-law (tests/interop/audio/message.ul repeated) after the greeting,
# then hanging up. Reports umbox's CPU time and peak memory (VmHWM), the machine's CPU use, the
# call setup time (sipp response time 1: router INVITE to the media server's 200), how the calls
# ended, and how many stored voice messages hold exactly the audio sent (read back from the store
# after umbox stops, by examples/voicemail_audit.rs).
# Usage: scripts/bench/voicemail-calls.sh [calls, default 100] [audio seconds, default 30]
#        [new calls per second, default 20]
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/bench/lib.sh
CALLS=${1:-100}
AUDIO_SECONDS=${2:-30}
RATE=${3:-20}
need sipp sip-tester
need sox sox

cargo build --release --quiet --bin umbox --example voicemail_audit
repo=$(pwd)
tmp=$(mktemp -d)
cleanup() {
    [ -n "${UMBOX_PID:-}" ] && kill "$UMBOX_PID" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
# Two RTP sockets per call, plus the SIP and store files.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

# Alice answers with a 0.3 s greeting of her own, so the audio sipp sends after 2.5 s all falls
# after the beep.
mkdir -p "$tmp/data/greetings" "$tmp/sipp/audio"
sox -n -r 8000 -c 1 -b 16 -e signed "$tmp/data/greetings/alice@example.test.wav" synth 0.3 sine 440 vol 0.3
loops=$(( (AUDIO_SECONDS * 8000 + 42079) / 42080 ))
for _ in $(seq "$loops"); do cat tests/interop/audio/message.ul; done >"$tmp/sipp/audio/load.ul"
audio_bytes=$(stat -c %s "$tmp/sipp/audio/load.ul")
stream_ms=$(( audio_bytes / 8 + 1000 ))
cat >"$tmp/umbox.toml" <<CONF
domains = ["example.test"]
[log]
level = "warn,umbox_um::voicemail=info"
[um]
max_calls = $(( CALLS + 100 ))
CONF
rtp_last=$(( 40000 + 2 * CALLS + 399 ))
# Plain log lines, so the summary lines can be read below.
export NO_COLOR=1
start_umbox "$tmp/data" --config "$tmp/umbox.toml" --sip-router-port 0 --sip-media-port 0 \
    --rtp-ports "40000-$rtp_last"
router=$(sed 's/.* sip=\([^ ]*\).*/\1/' <<<"$(grep '^umbox ready ' "$tmp/data.out")")

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
machine() { awk '/^cpu / {print $2+$3+$4+$6+$7+$8, $5}' /proc/stat; }
ticks_per_second=$(getconf CLK_TCK)
umbox_before=$(cpu_ticks "$UMBOX_PID")
read -r busy_before idle_before < <(machine)
started=$(date +%s.%N)

sipp_command=(sipp -sf "$repo/tests/interop/sipp/voicemail_load.xml"
    -key mailbox 1001 -key caller +14255550102
    -set greeting_ms 2500 -set stream_ms "$stream_ms"
    -m "$CALLS" -l "$CALLS" -r "$RATE" -i 127.0.0.1
    -timeout "$(( AUDIO_SECONDS + CALLS / RATE + 120 ))s" -timeout_error -nostdin
    -trace_err -error_file "$tmp/sipp/errors.log"
    -trace_rtt -rtt_freq 1 -trace_stat -stf "$tmp/sipp/stat.csv" -fd 1
    "$router")
echo "umbox:  target/release/umbox serve --demo --config umbox.toml --sip-router-port 0 --sip-media-port 0 --rtp-ports 40000-$rtp_last"
echo "sipp:   (cd <dir with audio/load.ul> && ${sipp_command[*]})"
echo "calls:  $CALLS at $RATE/s, ${audio_bytes} bytes (${stream_ms} ms with the tail) of PCMU each"
set +e
(cd "$tmp/sipp" && "${sipp_command[@]}" >"$tmp/sipp/screen.log" 2>&1)
sipp_status=$?
set -e

# Every call writes its message after its BYE; wait for the last summary line (at most 60 s).
for _ in $(seq 1 600); do
    ended=$(grep -c 'call ended outcome=' "$tmp/data.err" || true)
    [ "$ended" -ge "$CALLS" ] && break
    sleep 0.1
done
finished=$(date +%s.%N)
umbox_after=$(cpu_ticks "$UMBOX_PID")
read -r busy_after idle_after < <(machine)
peak_kib=$(peak_rss_kib "$UMBOX_PID")
kill -INT "$UMBOX_PID"
wait "$UMBOX_PID" || true
UMBOX_PID=

python3 - "$tmp" "$sipp_status" "$started" "$finished" "$umbox_before" "$umbox_after" \
    "$ticks_per_second" "$busy_before" "$idle_before" "$busy_after" "$idle_after" "$peak_kib" <<'PY'
import csv, glob, re, sys
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
times = []
for path in glob.glob(f"{tmp}/sipp/*_rtt.csv"):
    for line in open(path):
        fields = line.strip().split(";")
        if len(fields) >= 3 and fields[2] == "1":
            try:
                times.append(float(fields[1]))
            except ValueError:
                pass
times.sort()
if times:
    pick = lambda q: times[min(len(times) - 1, int(q * len(times)))]
    print(f"call setup (router INVITE -> media 200), ms: p50 {pick(0.5):.1f}, p95 {pick(0.95):.1f}, "
          f"p99 {pick(0.99):.1f}, max {times[-1]:.1f} over {len(times)} calls")
print(f"umbox CPU: {cpu:.1f} s over {wall:.1f} s = {100 * cpu / wall:.0f}% of one core; "
      f"machine busy {100 * busy / max(1, busy + idle):.0f}% of 2 cores")
print(f"umbox peak RSS (VmHWM): {int(peak) / 1024:.1f} MiB")
outcomes, ends, lost = {}, {}, 0
for line in open(f"{tmp}/data.err"):
    if "call ended outcome=" not in line:
        continue
    m = re.search(r'outcome="([^"]+)"', line)
    outcomes[m.group(1) if m else "?"] = outcomes.get(m.group(1) if m else "?", 0) + 1
    m = re.search(r'ended="([^"]+)"', line)
    if m:
        ends[m.group(1)] = ends.get(m.group(1), 0) + 1
    m = re.search(r" lost=(\d+)", line)
    if m:
        lost += int(m.group(1))
print(f"umbox outcomes: {outcomes}; recordings ended by: {ends}; packets lost: {lost}")
PY
target/release/examples/voicemail_audit "$tmp/data" "$tmp/sipp/audio/load.ul" alice@example.test
