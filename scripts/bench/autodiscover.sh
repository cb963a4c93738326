#!/usr/bin/env bash
# POX Autodiscover requests/s over TLS with keep-alive: umbox against nginx serving the very same
# response bytes as a static file over TLS with the same certificate, in the same run, with wrk.
# Usage: scripts/bench/autodiscover.sh [seconds per run, default 10] [connections, default 32]
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/bench/lib.sh
SECONDS_PER_RUN=${1:-10}
CONNECTIONS=${2:-32}
need wrk wrk
need nginx nginx

cargo build --release --quiet
tmp=$(mktemp -d)
cleanup() {
    [ -n "${NGINX_PID:-}" ] && kill "$NGINX_PID" 2>/dev/null
    [ -n "${UMBOX_PID:-}" ] && kill "$UMBOX_PID" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

start_umbox "$tmp/data"
request=fixtures/autodiscover/ok/pox_settings_alice/request.xml
auth="Basic $(printf 'alice@example.test:demo-alice' | base64 -w0)"
curl -sSk -H "Authorization: $auth" -H 'Content-Type: text/xml' --data-binary @"$request" \
    "https://$UMBOX_HTTPS/autodiscover/autodiscover.xml" -o "$tmp/response.xml"
grep -q '<EwsUrl>' "$tmp/response.xml" || { echo "umbox gave no settings" >&2; cat "$tmp/response.xml" >&2; exit 1; }

# nginx: same bytes, same certificate, TLS, keep-alive; POST answered from the static file.
mkdir -p "$tmp/nginx/html/autodiscover" "$tmp/nginx/logs"
cp "$tmp/response.xml" "$tmp/nginx/html/autodiscover/autodiscover.xml"
nginx_port=$(free_port)
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
        ssl_certificate $tmp/data/tls/cert.pem;
        ssl_certificate_key $tmp/data/tls/key.pem;
        root $tmp/nginx/html;
        default_type text/xml;
        location = /autodiscover/autodiscover.xml { error_page 405 =200 \$uri; }
    }
}
CONF
nginx -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" &
NGINX_PID=$!
for _ in $(seq 1 50); do curl -sk -o /dev/null "https://127.0.0.1:$nginx_port/" && break; sleep 0.1; done

wrk_post "$tmp/post.lua" "$request" "$auth"
run() { # URL -> requests/s
    wrk_rate "$tmp/post.lua" "$CONNECTIONS" "$SECONDS_PER_RUN" "$1"
}
echo "command: wrk -t1 -c$CONNECTIONS -d${SECONDS_PER_RUN}s -s post.lua URL (POST $request, Basic auth, TLS keep-alive)"
# The machine is shared: alternate the two servers and report every pair and the median ratio.
ratios=()
for pair in 1 2 3; do
    umbox_rps=$(run "https://$UMBOX_HTTPS/autodiscover/autodiscover.xml")
    nginx_rps=$(run "https://127.0.0.1:$nginx_port/autodiscover/autodiscover.xml")
    ratio=$(python3 -c "print(f'{$umbox_rps/$nginx_rps:.2f}')")
    ratios+=("$ratio")
    echo "pair $pair: umbox $umbox_rps requests/s, nginx $nginx_rps requests/s, ratio $ratio"
done
median=$(printf '%s\n' "${ratios[@]}" | sort -n | sed -n 2p)
echo "median ratio umbox/nginx: $median"
echo "umbox peak RSS: $(peak_rss_kib "$UMBOX_PID") KiB"
