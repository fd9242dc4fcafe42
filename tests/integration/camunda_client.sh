#!/usr/bin/env bash
# A real Camunda client against the Camunda 7 REST API: one troupe daemon,
# and tests/clients/camunda/drive.js, which deploys order.bpmn over
# /engine-rest/deployment/create, starts 1,000 instances and works them
# with camunda-external-task-client-js (the version package-lock.json pins):
# typed variables, a BPMN error caught by a boundary event, failures with
# retries, locks left to expire. It checks every instance's outcome through
# the REST history. Needs node and npm (tools/setup.sh installs them): a
# machine without them fails this test rather than skipping it.
TROUPE=${1:?usage: camunda_client.sh path/to/troupe [instances]}
N=${2:-1000}
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/camunda_lib.sh"

need_node
start_troupe "$T/troupe.log" || die "troupe did not start"
rc=0
# drive.js has its own deadline (240 s); timeout is the backstop
timeout -k 5 300 node "$CLIENTS/drive.js" "http://127.0.0.1:$PORT/engine-rest" "$N" \
  >"$T/drive.out" 2>"$T/drive.err" || rc=$?
kill -0 "$TPID" 2>/dev/null || { rc=1; echo "troupe is gone" >>"$T/drive.out"; }
if [ "$rc" != 0 ] || ! grep -qx "ok $N" "$T/drive.out"; then
  echo "--- drive.js (exit $rc):" >&2; cat "$T/drive.out" >&2
  echo "--- drive.js stderr (last 40 lines):" >&2; tail -40 "$T/drive.err" >&2
  echo "--- troupe (last 40 lines):" >&2; tail -40 "$T/troupe.log" >&2
  die "the Camunda client run failed"
fi
tail -3 "$T/drive.err"
grep "^remark: " "$T/drive.out" || true # deviations from Camunda that are tolerated
kill -TERM "$TPID"
wait_exit "$TPID" 30
[ "$EXIT_RC" = 0 ] || die "troupe exited $EXIT_RC after SIGTERM"
echo "camunda_client: $N instances through camunda-external-task-client-js"
