#!/usr/bin/env bash
# FindItem on the Inbox, the 100 newest (IdOnly + Subject, DateTimeReceived, IsRead; sorted by
# DateTimeReceived descending), over TLS with keep-alive, at several folder sizes: umbox against
# nginx serving the very same response bytes as a static file over TLS with the same certificate,
# in the same run, with wrk; and umbox's RSS after each size.
# The mailbox is filled before the server starts by the store's `fill` example
# (MailStore::apply_batch, 1,000 items per transaction).
# Usage: scripts/bench/find-item.sh [seconds per run, default 10] [connections, default 32] [sizes…]
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/bench/lib.sh
SECONDS_PER_RUN=${1:-10}
CONNECTIONS=${2:-32}
shift $(( $# > 2 ? 2 : $# ))
if [ $# -gt 0 ]; then SIZES=("$@"); else SIZES=(1000 10000 100000); fi
need wrk wrk
need nginx nginx

cargo build --release --quiet
cargo build --release --quiet -p umbox-store --example fill
tmp=$(mktemp -d)
cleanup() {
    [ -n "${NGINX_PID:-}" ] && kill "$NGINX_PID" 2>/dev/null
    [ -n "${UMBOX_PID:-}" ] && kill "$UMBOX_PID" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

cat >"$tmp/request.xml" <<'XML'
<?xml version="1.0" encoding="utf-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"
    xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"
    xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages">
  <soap:Header><t:RequestServerVersion Version="Exchange2016"/></soap:Header>
  <soap:Body>
    <m:FindItem Traversal="Shallow">
      <m:ItemShape>
        <t:BaseShape>IdOnly</t:BaseShape>
        <t:AdditionalProperties>
          <t:FieldURI FieldURI="item:Subject"/>
          <t:FieldURI FieldURI="item:DateTimeReceived"/>
          <t:FieldURI FieldURI="message:IsRead"/>
        </t:AdditionalProperties>
      </m:ItemShape>
      <m:IndexedPageItemView MaxEntriesReturned="100" Offset="0" BasePoint="Beginning"/>
      <m:SortOrder>
        <t:FieldOrder Order="Descending"><t:FieldURI FieldURI="item:DateTimeReceived"/></t:FieldOrder>
      </m:SortOrder>
      <m:ParentFolderIds><t:DistinguishedFolderId Id="inbox"/></m:ParentFolderIds>
    </m:FindItem>
  </soap:Body>
</soap:Envelope>
XML
auth="Basic $(printf 'alice@example.test:demo-alice' | base64 -w0)"
wrk_post "$tmp/post.lua" "$tmp/request.xml" "$auth"
run() { # URL -> requests/s
    wrk_rate "$tmp/post.lua" "$CONNECTIONS" "$SECONDS_PER_RUN" "$1"
}

echo "machine: $(nproc) CPUs, $(awk '/MemTotal/ {print $2}' /proc/meminfo) KiB; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "command: wrk -t1 -c$CONNECTIONS -d${SECONDS_PER_RUN}s -s post.lua URL (POST FindItem, Basic auth, TLS keep-alive)"
nginx_port=$(free_port)
mkdir -p "$tmp/nginx/html/EWS" "$tmp/nginx/logs"
for size in "${SIZES[@]}"; do
    data="$tmp/data-$size"
    target/release/examples/fill "$data" alice@example.test "$size"
    start_umbox "$data"
    curl -sSk -H "Authorization: $auth" -H 'Content-Type: text/xml; charset=utf-8' \
        --data-binary @"$tmp/request.xml" "https://$UMBOX_HTTPS/EWS/Exchange.asmx" -o "$tmp/response-$size.xml"
    listed=$(grep -o '<t:Message>' "$tmp/response-$size.xml" | wc -l)
    expected=$(( size < 100 ? size : 100 ))
    if [ "$listed" -ne "$expected" ] || ! grep -q "TotalItemsInView=\"$size\"" "$tmp/response-$size.xml"; then
        echo "umbox did not list the $expected newest of $size" >&2; head -c 2000 "$tmp/response-$size.xml" >&2; exit 1
    fi
    newest=$(grep -o '<t:Subject>[^<]*' "$tmp/response-$size.xml" | head -1 | sed 's/<t:Subject>//')
    cp "$tmp/response-$size.xml" "$tmp/nginx/html/EWS/Exchange.asmx"
    if [ -z "${NGINX_PID:-}" ]; then
        cat >"$tmp/nginx/nginx.conf" <<CONF
worker_processes 2;
daemon off;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/logs/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$nginx_port ssl;
        ssl_certificate $data/tls/cert.pem;
        ssl_certificate_key $data/tls/key.pem;
        root $tmp/nginx/html;
        default_type text/xml;
        location = /EWS/Exchange.asmx { error_page 405 =200 \$uri; }
    }
}
CONF
        nginx -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" &
        NGINX_PID=$!
        for _ in $(seq 1 50); do curl -sk -o /dev/null "https://127.0.0.1:$nginx_port/" && break; sleep 0.1; done
    fi
    echo "== $size items: response $(wc -c <"$tmp/response-$size.xml") bytes, newest \"$newest\", umbox RSS before load $(awk '/^VmRSS:/ {print $2}' "/proc/$UMBOX_PID/status") KiB"
    # The machine is shared: alternate the two servers and report every pair and the median ratio.
    ratios=()
    for pair in 1 2 3; do
        umbox_rps=$(run "https://$UMBOX_HTTPS/EWS/Exchange.asmx")
        nginx_rps=$(run "https://127.0.0.1:$nginx_port/EWS/Exchange.asmx")
        ratio=$(python3 -c "print(f'{$umbox_rps/$nginx_rps:.2f}')")
        ratios+=("$ratio")
        echo "pair $pair: umbox $umbox_rps requests/s, nginx $nginx_rps requests/s, ratio $ratio"
    done
    median=$(printf '%s\n' "${ratios[@]}" | sort -n | sed -n 2p)
    echo "$size items: median ratio umbox/nginx $median; umbox RSS $(awk '/^VmRSS:/ {print $2}' "/proc/$UMBOX_PID/status") KiB, peak $(peak_rss_kib "$UMBOX_PID") KiB; load average $(cut -d' ' -f1-3 /proc/loadavg)"
    kill "$UMBOX_PID"; wait "$UMBOX_PID" 2>/dev/null || true; UMBOX_PID=
    rm -rf "$data"
done
