#!/usr/bin/env bash
# wfhttp.sh - the workflow benchmark with HTTP workers: starts the troupe
# daemon on a fresh data dir (sync durability, --threads TROUPE_THREADS),
# runs bench_wfhttp against its Camunda REST API, stops the daemon.
#
#   bench/wfhttp.sh BUILD_DIR N STARTERS WORKERS LAT_SECS
#
# Prints bench_wfhttp's line; when /engine-rest is not on the daemon, the
# driver prints `... workers=http skipped=engine-rest-404` (and says why on
# stderr). Ports: WFH_PORT (47391) for HTTP, +2 and +3 for cluster and console.
set -euo pipefail
BUILD=${1:?build dir}
N=${2:-20000}
STARTERS=${3:-16}
WORKERS=${4:-4}
LAT=${5:-3}
PORT=${WFH_PORT:-47391}
TMP=$(mktemp -d /tmp/troupe-bench-wfhttp.XXXXXX)
DPID=""
# shellcheck disable=SC2317  # cleanup is called by the trap
cleanup() {
  if [ -n "$DPID" ]; then kill "$DPID" 2> /dev/null || true; wait "$DPID" 2> /dev/null || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT
"$BUILD/tools/troupe/troupe" --data-dir "$TMP/data" --threads "${TROUPE_THREADS:-2}" \
  --durability sync --log-level warn --http-max-body 4M \
  --cluster-listen "tcp://127.0.0.1:$((PORT + 2))" --console-listen "tcp://127.0.0.1:$((PORT + 3))" \
  --http-listen "127.0.0.1:$PORT" > "$TMP/troupe.log" 2>&1 &
DPID=$!
for ((i = 0; i < 200; i++)); do
  curl -fsS -o /dev/null "http://127.0.0.1:$PORT/healthz" 2> /dev/null && break
  sleep 0.05
done
rc=0
"$BUILD/bench/bench_wfhttp" 127.0.0.1 "$PORT" "$N" "$STARTERS" "$WORKERS" "$LAT" || rc=$?
if [ $rc -ne 0 ]; then tail -n 20 "$TMP/troupe.log" >&2; fi
exit $rc
