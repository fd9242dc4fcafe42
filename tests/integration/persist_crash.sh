#!/usr/bin/env bash
# Crash test of persistent actors: a process with many persistent actors
# appending acknowledged events is killed with SIGKILL at a random moment,
# ROUNDS times in a row on the same data dir; after every kill a fresh
# process must open the store cleanly and recover every acknowledged event,
# in order, none duplicated (crashee verify checks all of it).
CRASHEE=${1:?usage: persist_crash.sh path/to/crashee [rounds] [actors]}
ROUNDS=${2:-100}
ACTORS=${3:-64}
. "$(dirname "$0")/lib.sh"

for ((r = 1; r <= ROUNDS; r++)); do
  "$CRASHEE" run "$T/data" "$ACTORS" "$T/acks" 2>"$T/run.err" &
  pid=$!; PIDS+=("$pid")
  # 20-300 ms: sometimes before, often in the middle of group commits
  sleep "0.$(printf '%03d' $((20 + RANDOM % 280)))"
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  if ! "$CRASHEE" verify "$T/data" "$ACTORS" "$T/acks" >"$T/verify.out" 2>&1; then
    cat "$T/run.err" "$T/verify.out" >&2
    die "round $r: verification failed"
  fi
done
tail -n 1 "$T/verify.out"
echo "persist_crash: $ROUNDS kills survived, $(wc -l <"$T/acks") acknowledged events checked"
