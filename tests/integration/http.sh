#!/usr/bin/env bash
# The daemon's HTTP server over loopback: the probes, keep-alive,
# pipelining, a request in single bytes, limits and malformed requests
# (431, 413, 400 with a JSON body), a slowloris cut off with 408, auth on
# and off, and a graceful drain on SIGTERM with a request in flight.
# Outcomes only; waits have deadlines (liveness bounds).
TROUPE=${1:?usage: http.sh path/to/troupe path/to/httpc}
HTTPC=${2:?usage: http.sh path/to/troupe path/to/httpc}
export TROUPE_CLUSTER_LISTEN=tcp://127.0.0.1:0 TROUPE_CONSOLE_LISTEN=tcp://127.0.0.1:0
. "$(dirname "$0")/lib.sh"

PORT=
start() { # start NAME [flags...]: a daemon on a free port; sets PID and PORT
  local name=$1; shift
  "$TROUPE" -d "$T/$name" -t 2 --http-header-timeout-ms 500 --http-max-body 1K "$@" \
    >"$T/$name.log" 2>&1 &
  PID=$!
  PIDS+=("$PID")
  wait_for "$T/$name.log" 'node [0-9a-f]{16} up: .*http 127\.0\.0\.1:[0-9]+'
  PORT=$(grep -oE 'http 127\.0\.0\.1:[0-9]+' "$T/$name.log" | head -1 | cut -d: -f2)
}
# expect OUT PATTERN: a line of OUT matches
expect() { grep -qE -- "$2" <<<"$1" || die "wanted '$2' in: $1"; }

start a
GET=$'GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n'
out=$("$HTTPC" "$PORT" "$GET") || die "healthz: $out"
expect "$out" '^status=200 closed=0 body=\{"status":"ok","node":"[0-9a-f]{16}"'
out=$("$HTTPC" "$PORT" $'GET /readyz HTTP/1.1\r\n\r\n') || die "readyz"
expect "$out" '^status=200 .*"status":"ready"'

# keep-alive: three requests one after another on one connection
out=$("$HTTPC" "$PORT" "$GET" "$GET" $'GET /readyz HTTP/1.1\r\n\r\n') || die "keep-alive: $out"
[ "$(grep -c '^status=200 closed=0' <<<"$out")" = 3 ] || die "keep-alive: $out"
# pipelining: three in one write, answered in order, the last one closes
out=$("$HTTPC" -n 3 "$PORT" "$GET"$'GET /nope HTTP/1.1\r\n\r\nGET /readyz HTTP/1.1\r\nConnection: close\r\n\r\n') \
  || die "pipelining: $out"
expect "$(sed -n 1p <<<"$out")" '^status=200 closed=0 .*"ok"'
expect "$(sed -n 2p <<<"$out")" '^status=404 closed=0 body=\{"type":"NotFoundException","message":'
expect "$(sed -n 3p <<<"$out")" '^status=200 closed=1 .*"ready"'
# a request one byte per write
out=$("$HTTPC" -1 "$PORT" "$GET") || die "bytewise: $out"
expect "$out" '^status=200 '
# HTTP/1.0 without keep-alive: answered, then closed
out=$("$HTTPC" "$PORT" $'GET /healthz HTTP/1.0\r\n\r\n') || die "1.0: $out"
expect "$out" '^status=200 closed=1'

# malformed and oversize: a 4xx with {"type","message"}, then close
big=$(head -c 20000 /dev/zero | tr '\0' a)
out=$("$HTTPC" "$PORT" $'GET /healthz HTTP/1.1\r\nX-Big: '"$big"$'\r\n\r\n') || die "431: $out"
expect "$out" '^status=431 closed=1 body=\{"type":"HeaderFieldsTooLargeException","message":"[^"]+"\}$'
body=$(head -c 2000 /dev/zero | tr '\0' b)
out=$("$HTTPC" "$PORT" $'POST /healthz HTTP/1.1\r\nContent-Length: 2000\r\n\r\n'"$body") || die "413: $out"
expect "$out" '^status=413 closed=1 body=\{"type":"PayloadTooLargeException"'
out=$("$HTTPC" "$PORT" $'GET / HTTP/1.1 extra\r\n\r\n') || die "400: $out"
expect "$out" '^status=400 closed=1 body=\{"type":"InvalidRequestException","message":"[^"]+"\}$'
out=$("$HTTPC" "$PORT" $'\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03') || die "tls: $out"
expect "$out" '^status=400 closed=1'
# slowloris: headers that never end (the daemon was given 500 ms)
out=$("$HTTPC" "$PORT" $'GET /healthz HTTP/1.1\r\nX-Slow: 1\r\n') || die "slowloris: $out"
expect "$out" '^status=408 closed=1 body=\{"type":"RequestTimeoutException"'
# ... and a connection that never sends anything is closed
out=$("$HTTPC" "$PORT" "") || die "silent: $out"
expect "$out" '^eof$'

# graceful drain on SIGTERM: an idle connection closes, a request half
# received when the signal comes is finished and answered, the node exits 0
rm -f "$T/go"
"$HTTPC" -p "$T/go" "$PORT" "$GET"$'POST /healthz HTTP/1.1\r\nContent-Length: 4\r\n\r\nab' 'cd' \
  >"$T/drain.out" 2>&1 &
client=$!
"$HTTPC" -p "$T/go" "$PORT" "$GET" "" >"$T/idle.out" 2>&1 &
idle=$!
wait_for "$T/drain.out" '^ready$'
wait_for "$T/idle.out" '^ready$'
kill -TERM "$PID"
wait_for "$T/a.log" 'SIGTERM'
touch "$T/go"
wait "$client" || die "drain client: $(cat "$T/drain.out")"
expect "$(cat "$T/drain.out")" '^status=405 .*MethodNotAllowedException'
wait "$idle" || die "idle client: $(cat "$T/idle.out")"
expect "$(cat "$T/idle.out")" '^eof$'
wait_exit "$PID"
[ "$EXIT_RC" = 0 ] || die "exit status $EXIT_RC after SIGTERM"
grep -q 'stopped' "$T/a.log" || die "no 'stopped' line"

# auth: probes stay public; everything else wants the token (401 with
# WWW-Authenticate), and a wrong one is refused
TROUPE_HTTP_AUTH=bearer:tok123 start b
out=$("$HTTPC" "$PORT" "$GET") || die "auth probe"
expect "$out" '^status=200 '
out=$("$HTTPC" "$PORT" $'GET /engine-rest/x HTTP/1.1\r\n\r\n') || die "auth none"
expect "$out" '^status=401 closed=0 body=\{"type":"AuthenticationException"'
out=$("$HTTPC" "$PORT" $'GET /engine-rest/x HTTP/1.1\r\nAuthorization: Bearer nope\r\n\r\n') || die "auth bad"
expect "$out" '^status=401 '
out=$("$HTTPC" "$PORT" $'GET /engine-rest/x HTTP/1.1\r\nAuthorization: Bearer tok123\r\n\r\n') || die "auth ok"
expect "$out" '^status=404 '
"$TROUPE" --http-auth basic:u:p config | grep -q 'http_auth: "<hidden>"' || die "secret printed"
kill -TERM "$PID"; wait_exit "$PID"
[ "$EXIT_RC" = 0 ] || die "exit status $EXIT_RC (auth node)"

# the address is taken: a clear error and exit 1
start c
rc=0; "$TROUPE" -d "$T/d" --http-listen "127.0.0.1:$PORT" >"$T/d.log" 2>&1 || rc=$?
[ "$rc" = 1 ] || die "second node on one HTTP port: exit $rc, want 1"
grep -q "cannot serve HTTP on 127.0.0.1:$PORT" "$T/d.log" || die "no clear message: $(cat "$T/d.log")"
kill -TERM "$PID"; wait_exit "$PID"
echo "http: all passed"
