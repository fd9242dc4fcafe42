#!/usr/bin/env bash
# Real clients from npm against the events notifier: tests/clients/events/
# drive.js with ws and eventsource (pinned by package-lock.json): many
# subscribers at once, filters, bad subscribe messages, reconnect and
# resume (WebSocket from=, SSE Last-Event-ID) with no gap or duplicate, a
# slow consumer cut off while another client gets everything.
#   events_client.sh path/to/notify_server   (the notifier over the fake bus)
#   events_client.sh path/to/troupe          (the daemon, with the real bus)
#   events_client.sh path/to/troupe engine.js
#     (the engine's own events: instances worked through the Camunda REST
#     API, many subscribers, filters, drops and resumes, each client checked
#     against the warehouse; tests/clients/events/engine.js says what)
# Needs node and npm: a machine without them fails this test.
BIN=${1:?usage: events_client.sh path/to/notify_server-or-troupe [drive.js|engine.js]}
SCRIPT=${2:-drive.js}
. "$(dirname "$0")/lib.sh"
CLIENTS=$(cd "$(dirname "$0")/../clients/events" && pwd)
command -v node >/dev/null 2>&1 || die "node is not installed (tools/setup.sh deps installs nodejs and npm)"
command -v npm >/dev/null 2>&1 || die "npm is not installed (tools/setup.sh deps installs nodejs and npm)"
if [ ! -f "$CLIENTS/node_modules/.package-lock.json" ] ||
   [ "$CLIENTS/package-lock.json" -nt "$CLIENTS/node_modules/.package-lock.json" ]; then
  flock "$CLIENTS" bash -c '
    cd "$1"
    if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
      npm ci --no-audit --no-fund >&2
    fi' _ "$CLIENTS" || die "npm ci in $CLIENTS failed"
fi

if [ "$(basename "$BIN")" = troupe ]; then
  TROUPE=$BIN
  EVENTS_CLIENTS=$CLIENTS
  . "$(dirname "$0")/camunda_lib.sh" # (it sets CLIENTS to its own client dir)
  CLIENTS=$EVENTS_CLIENTS
  start_troupe "$T/server.log" || die "troupe did not start"
  SPID=$TPID
else
  # the fake-bus server runs until its stdin closes: a fifo held open here
  mkfifo "$T/in"
  "$BIN" 127.0.0.1:0 <"$T/in" >"$T/server.log" 2>&1 &
  SPID=$!
  PIDS+=("$SPID")
  exec 7>"$T/in"
  wait_for "$T/server.log" '^listening ' 10
  PORT=$(grep -oE '127\.0\.0\.1:[0-9]+' "$T/server.log" | head -1 | cut -d: -f2)
fi
rc=0
timeout -k 5 280 node "$CLIENTS/$SCRIPT" "http://127.0.0.1:$PORT" >"$T/drive.out" 2>"$T/drive.err" || rc=$?
kill -0 "$SPID" 2>/dev/null || { rc=1; echo "the server is gone" >>"$T/drive.out"; }
if [ "$rc" != 0 ] || ! grep -qx ok "$T/drive.out"; then
  echo "--- $SCRIPT (exit $rc):" >&2; cat "$T/drive.out" >&2
  echo "--- $SCRIPT stderr (last 40 lines):" >&2; tail -40 "$T/drive.err" >&2
  echo "--- server (last 40 lines):" >&2; tail -40 "$T/server.log" >&2
  die "the npm client run failed"
fi
cat "$T/drive.err"
echo "events_client: $SCRIPT with ws and eventsource against $(basename "$BIN")"
