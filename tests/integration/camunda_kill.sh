#!/usr/bin/env bash
# The Camunda 7 REST API across a kill -9 of the engine: 1,000 instances of
# a one-task process (tests/clients/camunda/work.bpmn) started over
# /engine-rest, two camunda-external-task-client-js workers completing the
# tasks and logging every answer (kill_worker.js). After 300 accepted
# completions the workers hold their next tasks, the daemon is killed with
# SIGKILL and restarted on the same data dir and port, and the workers go
# on. Then every instance must be finished exactly once: one accepted
# completion per instance (or one whose answer died with the daemon, the
# task then gone: 404), a second completion answered 404, nothing running,
# nothing lost. Needs node and npm (tools/setup.sh installs them); waits
# have deadlines.
TROUPE=${1:?usage: camunda_kill.sh path/to/troupe [instances]}
N=${2:-1000}
HOLD=${3:-300}
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/camunda_lib.sh"

show() {
  for f in "$T"/*.log "$T"/*.out "$T"/*.err; do
    [ -f "$f" ] && { echo "--- $f (last 30 lines):" >&2; tail -30 "$f" >&2; }
  done
}
fail() { show; die "$*"; }

need_node
start_troupe "$T/troupe1.log"
BASE="http://127.0.0.1:$PORT/engine-rest"
timeout -k 5 120 node "$CLIENTS/kill_worker.js" start "$BASE" "$N" >"$T/start.out" 2>&1 ||
  fail "deploying and starting $N instances failed"

touch "$T/work.log"
timeout -k 5 330 node "$CLIENTS/kill_worker.js" work "$BASE" "$N" "$T/work.log" "$T/go" "$HOLD" \
  >"$T/work.out" 2>"$T/work.err" &
WPID=$!
PIDS+=("$WPID")

# mid-run: once HOLD completions were accepted (the workers then hold theirs)
for ((i = 0; ; i++)); do
  [ "$(grep -c '^204 ' "$T/work.log")" -ge "$HOLD" ] && break
  kill -0 "$WPID" 2>/dev/null || fail "the worker exited before $HOLD completions"
  [ "$i" -lt 2400 ] || fail "fewer than $HOLD completions within 120s"
  sleep 0.05
done
kill -9 "$TPID"
wait "$TPID" 2>/dev/null || true
echo "killed troupe after $(grep -c '^204 ' "$T/work.log") completions"

# the same data dir and port (the workers know one URL); the port was ours a
# moment ago, so it is free unless something else took it in between
for attempt in 1 2 3 4 5; do
  start_troupe "$T/troupe2.$attempt.log" "$PORT" && break
  grep -q "cannot serve HTTP" "$T/troupe2.$attempt.log" || fail "the restarted troupe exited"
  [ "$attempt" -lt 5 ] || fail "port $PORT stayed taken after the kill"
  sleep 1
done
touch "$T/go"
echo "restarted troupe on port $PORT; workers go on"

wait_exit "$WPID" 340
if [ "$EXIT_RC" != 0 ] || ! grep -q "^ok $N" "$T/work.out"; then
  fail "kill_worker.js exit $EXIT_RC: jobs lost or done twice across the kill -9"
fi
kill -0 "$TPID" 2>/dev/null || fail "troupe is gone"
cat "$T/work.out"
kill -TERM "$TPID"
wait_exit "$TPID" 30
[ "$EXIT_RC" = 0 ] || fail "troupe exited $EXIT_RC after SIGTERM"
echo "camunda_kill: $N instances, each completed once across a kill -9"
