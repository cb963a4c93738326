# Shared helpers for the load benchmarks: start umbox in demo mode on free ports and read its
# ready line, pick free ports, report memory, drive wrk with a POST. Sourced, not run.

# free_port: prints a free TCP/UDP port on 127.0.0.1.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_umbox DATA_DIR [extra serve args…]: starts target/release/umbox (or $UMBOX_BIN, another
# build to compare with), sets UMBOX_PID and UMBOX_HTTPS / UMBOX_HTTP / UMBOX_DNS from its ready line.
start_umbox() {
    local data=$1; shift
    "${UMBOX_BIN:-target/release/umbox}" serve --demo --data "$data" --bind 127.0.0.1 \
        --https-port 0 --http-port 0 --dns-port 0 "$@" >"$data.out" 2>"$data.err" &
    UMBOX_PID=$!
    local i
    for i in $(seq 1 100); do
        if grep -q '^umbox ready ' "$data.out" 2>/dev/null; then break; fi
        if ! kill -0 "$UMBOX_PID" 2>/dev/null; then cat "$data.err" >&2; echo "umbox did not start" >&2; exit 1; fi
        sleep 0.1
    done
    local ready
    ready=$(grep '^umbox ready ' "$data.out")
    UMBOX_HTTPS=$(sed 's/.*https=\([^ ]*\).*/\1/' <<<"$ready")
    UMBOX_HTTP=$(sed 's/.* http=\([^ ]*\).*/\1/' <<<"$ready")
    UMBOX_DNS=$(sed 's/.*dns=\([^ ]*\).*/\1/' <<<"$ready")
}

# peak_rss_kib PID: the process's peak resident set size in KiB.
peak_rss_kib() {
    awk '/^VmHWM:/ {print $2}' "/proc/$1/status"
}

# wrk_post LUA REQUEST AUTHORIZATION: writes the wrk script LUA, which POSTs the file REQUEST as
# text/xml with that Authorization header.
wrk_post() {
    cat >"$1" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "text/xml; charset=utf-8"
wrk.headers["Authorization"] = "$3"
local f = io.open("$2", "rb")
wrk.body = f:read("*a")
f:close()
LUA
}

# wrk_rate LUA CONNECTIONS SECONDS URL: requests per second of one wrk thread running LUA.
wrk_rate() {
    wrk -t1 -c"$2" -d"$3s" -s "$1" "$4" | awk '/^Requests\/sec:/ {print $2}'
}

# need CMD PACKAGE: installs PACKAGE with apt when CMD is missing.
need() {
    if ! command -v "$1" >/dev/null; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
    fi
}
