#!/usr/bin/env bash
# External tasks across real processes: a troupe daemon (engine: it hosts
# the queue), two example workers (their own processes, role worker, joined
# through the seed list) and a driver that creates jobs and checks every
# result. At half-way a worker is killed with SIGKILL and so is the engine,
# which is then restarted on the same data: every job is still done once,
# with the right result, and the queue ends empty. Waits have deadlines.
USAGE="usage: jobs.sh path/to/troupe path/to/example_worker path/to/jobdriver"
TROUPE=${1:?$USAGE}
WORKER=${2:?$USAGE}
DRIVER=${3:?$USAGE}
N=${4:-200}
. "$(dirname "$0")/lib.sh"

addr() { echo "ipc://$T/$1.sock"; }
"$TROUPE" init --data-dir "$T/e" >/dev/null
for n in w1 w2 d; do
  mkdir -m 700 "$T/$n"
  cp -p "$T/e/cluster.secret" "$T/$n/"
done
engine() {
  "$TROUPE" -d "$T/e" --node-name engine --roles engine -t 1 --cluster-listen "$(addr e)" \
    --console-listen "ipc://$T/ec.sock" --seed "$(addr e)" >>"$T/e.log" 2>&1 &
  EPID=$!
  PIDS+=("$EPID")
}
engine
export TROUPE_WORKER_LOCK_MS=2000 TROUPE_WORKER_RENEW_MS=500 TROUPE_WORKER_WORK_MS=20
for w in w1 w2; do
  "$WORKER" "$T/$w" "$(addr "$w")" "$(addr e)" demo "$w" >"$T/$w.log" 2>&1 &
  PIDS+=("$!")
  eval "${w}PID=$!"
done
"$DRIVER" "$T/d" "$(addr d)" "$(addr e)" "$N" >"$T/d.out" 2>"$T/d.log" &
DPID=$!
PIDS+=("$DPID")
wait_for "$T/d.out" "^half" 120
kill -9 "$w1PID"
kill -9 "$EPID"
wait "$EPID" 2>/dev/null || true
engine
wait_exit "$DPID" 200
grep -q "recovered\|restarted" "$T/d.log" "$T/w2.log" 2>/dev/null || true
if [ "$EXIT_RC" != 0 ] || ! grep -q "^ok" "$T/d.out"; then
  for g in "$T"/*.log; do echo "--- $g:" >&2; tail -40 "$g" >&2; done
  die "jobs were lost or done wrong (driver exit $EXIT_RC)"
fi
echo "jobs: $N done once each across a worker and an engine kill -9"
