# lib.sh - helpers for integration tests that run real troupe processes.
# Each test sources this, gets a scratch dir ($T) that is removed on exit,
# and fails with a message through `die`. Waits have deadlines (liveness
# bounds), never timing assertions.
set -euo pipefail
# every daemon serves HTTP; tests run side by side, so any free port unless
# the test chose one
: "${TROUPE_HTTP_LISTEN:=127.0.0.1:0}"
export TROUPE_HTTP_LISTEN
T=$(mktemp -d "${TMPDIR:-/tmp}/troupe-it.XXXXXX")
PIDS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true; done
  rm -rf "$T"
}
trap cleanup EXIT
# die MESSAGE: fails the test, with the tail of every daemon log kept in $T
# (a sanitizer's report ends up there)
die() {
  echo "FAIL: $*" >&2
  local f
  for f in "$T"/*.log; do
    [ -f "$f" ] || continue
    echo "--- $f (last 60 lines):" >&2
    tail -60 "$f" >&2
  done
  exit 1
}
# wait_for FILE PATTERN [SECONDS]: until FILE has a line matching PATTERN
wait_for() {
  local f=$1 pat=$2 secs=${3:-30} i
  for ((i = 0; i < secs * 20; i++)); do
    grep -qE "$pat" "$f" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "--- $f:" >&2; cat "$f" >&2 || true
  die "no line matching '$pat' in $f within ${secs}s"
}
# wait_exit PID [SECONDS]: waits for PID (a child of this shell) to end and
# sets EXIT_RC to its status
wait_exit() {
  local pid=$1 secs=${2:-30} i
  for ((i = 0; i < secs * 20; i++)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      EXIT_RC=0
      wait "$pid" || EXIT_RC=$?
      return 0
    fi
    sleep 0.05
  done
  die "process $pid did not exit within ${secs}s"
}
