#!/usr/bin/env bash
# http.sh - requests/s of the troupe daemon's HTTP server for a small GET,
# beside nginx (Debian package) serving the same bytes as a static file, in
# the same run, with the same wrk (Debian package) settings, one after the
# other: troupe first, then nginx.
#
#   bench/http.sh TROUPE_BIN SECONDS CONNECTIONS WRK_THREADS
#
# troupe: build/tools/troupe/troupe on a fresh data dir with --threads
# TROUPE_THREADS (2), GET /healthz (a ~90-byte JSON body, answered on the
# connection's own thread). nginx: /usr/sbin/nginx as a non-daemon with a
# temporary prefix and config, worker_processes HT_NGINX_WORKERS (2: as many
# as troupe's schedulers), access log off, keep-alive without a request limit
# (troupe has none), the body fetched from troupe's /healthz written to a file
# served at the same path with the same content type.
#
# Pinning (HT_PIN): none (default: wrk and the server share both cores, as the
# scheduler pleases), split (server on CPU 0, wrk on CPU 1), same (all on
# both CPUs 0-1, explicitly). The server and wrk share 2 cores in every case.
#
# Prints (stdout):
#   peer=troupe bench=http path=/healthz body_bytes=.. conns=.. wrk_threads=.. pin=..
#     req_per_s=.. p50_ms=.. p99_ms=.. errors=..
#   peer=nginx bench=http ... (the same fields)
#   peer=troupe bench=http_vs_nginx pin=.. ratio=.. (troupe / nginx req/s)
set -euo pipefail

BIN=${1:?troupe binary}
SECS=${2:-10}
CONNS=${3:-64}
WT=${4:-2}
PIN=${HT_PIN:-none}
NGINX=${NGINX:-/usr/sbin/nginx}
NGINX_WORKERS=${HT_NGINX_WORKERS:-2}
TPORT=${HT_TROUPE_PORT:-47381}
NPORT=${HT_NGINX_PORT:-47382}
CPORT=${HT_CLUSTER_PORT:-47383}
KPORT=${HT_CONSOLE_PORT:-47384}

command -v wrk > /dev/null || { echo "http.sh: wrk is not installed (apt-get install wrk)" >&2; exit 1; }
[ -x "$NGINX" ] || { echo "http.sh: no $NGINX (apt-get install nginx-light)" >&2; exit 1; }

case "$PIN" in
  none) SRV=() WRK=() ;;
  split) SRV=(taskset -c 0) WRK=(taskset -c 1) ;;
  same) SRV=(taskset -c 0-1) WRK=(taskset -c 0-1) ;;
  *) echo "http.sh: HT_PIN is none, split or same" >&2; exit 2 ;;
esac

TMP=$(mktemp -d /tmp/troupe-bench-http.XXXXXX)
SPID=""
cleanup() {
  if [ -n "$SPID" ]; then kill "$SPID" 2> /dev/null || true; wait "$SPID" 2> /dev/null || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT

# wait_http URL: until it answers (10 s)
wait_http() {
  local i
  for ((i = 0; i < 200; i++)); do
    curl -fsS -o /dev/null "$1" 2> /dev/null && return 0
    sleep 0.05
  done
  echo "http.sh: $1 does not answer" >&2
  return 1
}

# run_wrk PEER URL: one wrk run, one peer= line
run_wrk() {
  local peer=$1 url=$2 out
  out=$("${WRK[@]}" wrk -t"$WT" -c"$CONNS" -d"${SECS}s" --latency "$url" 2>&1) || {
    echo "$out" >&2
    return 1
  }
  echo "$out" >&2
  awk -v peer="$peer" -v conns="$CONNS" -v wt="$WT" -v pin="$PIN" -v bytes="$BYTES" -v path="$PATH_" '
    function ms(s) {
      if (s ~ /us$/) return substr(s, 1, length(s) - 2) / 1000
      if (s ~ /ms$/) return substr(s, 1, length(s) - 2) + 0
      if (s ~ /s$/) return substr(s, 1, length(s) - 1) * 1000
      return s + 0
    }
    /Requests\/sec:/ { rps = $2 }
    $1 == "50%" { p50 = ms($2) }
    $1 == "99%" { p99 = ms($2) }
    /Non-2xx or 3xx responses:/ { err += $NF }
    /Socket errors:/ { for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) err += $i + 0 }
    END {
      if (rps == "") exit 1
      printf "peer=%s bench=http path=%s body_bytes=%d conns=%d wrk_threads=%d pin=%s req_per_s=%.1f p50_ms=%.3f p99_ms=%.3f errors=%d\n",
        peer, path, bytes, conns, wt, pin, rps, p50, p99, err
    }' <<< "$out"
}

# ---- troupe
PATH_=/healthz
mkdir -p "$TMP/data"
"${SRV[@]}" "$BIN" --data-dir "$TMP/data" --threads "${TROUPE_THREADS:-2}" --log-level warn \
  --cluster-listen "tcp://127.0.0.1:$CPORT" --console-listen "tcp://127.0.0.1:$KPORT" \
  --http-listen "127.0.0.1:$TPORT" > "$TMP/troupe.log" 2>&1 &
SPID=$!
wait_http "http://127.0.0.1:$TPORT$PATH_" || { cat "$TMP/troupe.log" >&2; exit 1; }
curl -fsS -o "$TMP/body" "http://127.0.0.1:$TPORT$PATH_"
BYTES=$(stat -c %s "$TMP/body")
curl -sS -D - -o /dev/null "http://127.0.0.1:$TPORT$PATH_" | sed 's/^/[troupe headers] /' >&2
T_LINE=$(run_wrk troupe "http://127.0.0.1:$TPORT$PATH_")
kill "$SPID"; wait "$SPID" 2> /dev/null || true; SPID=""
echo "$T_LINE"

# ---- nginx, the same bytes as a file
mkdir -p "$TMP/nginx/logs" "$TMP/nginx/html" "$TMP/nginx/tmp"
chmod 755 "$TMP" "$TMP/nginx" "$TMP/nginx/html"  # workers may run as another user (nginx started by root)
cp "$TMP/body" "$TMP/nginx/html/healthz"
chmod 644 "$TMP/nginx/html/healthz"
cat > "$TMP/nginx/nginx.conf" << EOF
worker_processes $NGINX_WORKERS;
daemon off;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  server_tokens off;
  keepalive_requests 100000000;
  keepalive_timeout 60s;
  open_file_cache max=64 inactive=60s;  # nginx at its best for one small file
  open_file_cache_valid 60s;
  client_body_temp_path $TMP/nginx/tmp/body;
  proxy_temp_path $TMP/nginx/tmp/proxy;
  fastcgi_temp_path $TMP/nginx/tmp/fastcgi;
  uwsgi_temp_path $TMP/nginx/tmp/uwsgi;
  scgi_temp_path $TMP/nginx/tmp/scgi;
  server {
    listen 127.0.0.1:$NPORT;
    root $TMP/nginx/html;
    location = /healthz { default_type application/json; etag off; }
  }
}
EOF
"${SRV[@]}" "$NGINX" -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" > "$TMP/nginx.log" 2>&1 &
SPID=$!
wait_http "http://127.0.0.1:$NPORT$PATH_" || { cat "$TMP/nginx.log" "$TMP/nginx/logs/error.log" >&2; exit 1; }
cmp -s "$TMP/body" <(curl -fsS "http://127.0.0.1:$NPORT$PATH_") || { echo "http.sh: nginx serves other bytes" >&2; exit 1; }
curl -sS -D - -o /dev/null "http://127.0.0.1:$NPORT$PATH_" | sed 's/^/[nginx headers] /' >&2
N_LINE=$(run_wrk nginx "http://127.0.0.1:$NPORT$PATH_")
kill "$SPID"; wait "$SPID" 2> /dev/null || true; SPID=""
echo "$N_LINE"

awk -v t="$T_LINE" -v n="$N_LINE" -v pin="$PIN" 'BEGIN {
  match(t, /req_per_s=[0-9.]+/); tr = substr(t, RSTART + 10, RLENGTH - 10)
  match(n, /req_per_s=[0-9.]+/); nr = substr(n, RSTART + 10, RLENGTH - 10)
  if (nr > 0) printf "peer=troupe bench=http_vs_nginx pin=%s ratio=%.3f\n", pin, tr / nr
}'
