#!/usr/bin/env bash
# events.sh - bench=events as issue 6 names it: one line with the bus's
# durable ingest and the notifier's fan-out latency, from two programs run
# one after the other (each in its own fresh data dir):
#
#   bench/events.sh BUILD_DIR SECS BATCH WINDOW SUBS RATE WS_SECS BURST
#
#  - bench_events ingest SECS BATCH WINDOW: events/s stored durably (SYNC),
#    bulk and single asks, one live subscriber in process (sub_*);
#  - bench_events_ws SUBS RATE WS_SECS BURST 1 0: SUBS WebSocket subscribers
#    on the real (durable) bus, each following its own business key, fed
#    the engine's messages; a burst of BURST events (deliveries_per_s), then
#    RATE events/s for WS_SECS s (p50_ms, p99_ms: engine event -> client).
#
# Prints (stdout), the ingest line's fields first, then the fan-out's:
#   peer=troupe bench=events ingest_per_s=.. ingest_single_per_s=.. ...
#     deliveries_per_s=.. p50_ms=.. p99_ms=.. fanout_subs=.. rate=..
#     harness_ceiling_per_s=.. ok=yes|no
# The other fan-out modes (some or all subscribers unfiltered, the
# in-memory bus) are bench=events_ws. Exit status: 0, or 1 if either
# program failed or printed no result.
set -euo pipefail
B=${1:?build dir}
ING=$("$B/bench/bench_events" ingest "${2:-5}" "${3:-1000}" "${4:-8}" | grep '^peer=troupe bench=events ' | head -1) || true
WS=$("$B/bench/bench_events_ws" "${5:-1000}" "${6:-10000}" "${7:-3}" "${8:-2000}" 1 0 |
  grep '^peer=troupe bench=events ' | head -1) || true
[ -n "$ING" ] && [ -n "$WS" ] || { echo "events.sh: no result from $([ -n "$ING" ] && echo bench_events_ws || echo bench_events)" >&2; exit 1; }
# the fan-out's fields that the ingest line does not have; subs -> fanout_subs
# (subs, unfiltered and bus would make this line a group of events_ws's)
EXTRA=$(tr ' ' '\n' <<<"$WS" | awk -F= '
  $1 == "deliveries_per_s" || $1 == "p50_ms" || $1 == "p99_ms" || $1 == "rate" ||
  $1 == "harness_ceiling_per_s" || $1 == "ok" { printf " %s", $0 }
  $1 == "subs" { printf " fanout_subs=%s", $2 }
  $1 == "secs" { printf " fanout_secs=%s", $2 }')
echo "$ING$EXTRA"
grep -q ' ok=yes' <<<"$EXTRA"
