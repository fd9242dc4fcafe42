#!/usr/bin/env bash
# A cluster of real troupe processes on loopback, formed from a seed list:
# every node sees every other up; a node killed with SIGKILL is marked down
# by every survivor and rejoins when restarted; a node stopped (SIGSTOP)
# for 2 s is not marked down; a node with another cluster secret is never
# admitted; SIGTERM leaves gracefully (leaving, then removed).
# Waits have deadlines (liveness bounds), never timing assertions.
TROUPE=${1:?usage: cluster.sh path/to/troupe N}
N=${2:-3}
. "$(dirname "$0")/lib.sh"

# ipc sockets in the scratch dir: no port another test could hold (tcp is
# covered by integration.remote and integration.tamper)
addr() { echo "ipc://$T/n$1.sock"; }
SEEDS=(--seed "$(addr 1)" --seed "$(addr 2)")
declare -A PID

"$TROUPE" init --data-dir "$T/n1" >/dev/null
for i in $(seq 2 "$N"); do
  mkdir -m 700 "$T/n$i"
  cp -p "$T/n1/cluster.secret" "$T/n$i/"
done

start() { # start I: node nI on its port, seeds n1 and n2, log in $T/nI.log (appended)
  local i=$1
  "$TROUPE" -d "$T/n$i" --node-name "n$i" -t 1 --cluster-listen "$(addr "$i")" \
    --console-listen "ipc://$T/c$i.sock" "${SEEDS[@]}" >>"$T/n$i.log" 2>&1 &
  PID[$i]=$!
  PIDS+=("$!")
}
ups() { grep -c "joining -> up" "$1" 2>/dev/null || true; }
# wait_count FILE PATTERN COUNT [SECONDS]: until PATTERN matches COUNT lines
wait_count() {
  local f=$1 pat=$2 want=$3 secs=${4:-30} i
  for ((i = 0; i < secs * 20; i++)); do
    [ "$(grep -cE "$pat" "$f" 2>/dev/null || true)" -ge "$want" ] && return 0
    sleep 0.05
  done
  for g in "$T"/*.log; do echo "--- $g:" >&2; cat "$g" >&2; done
  die "fewer than $want lines matching '$pat' in $f within ${secs}s"
}

# 1. form the cluster: every node sees the N-1 others up
for i in $(seq 1 "$N"); do start "$i"; done
for i in $(seq 1 "$N"); do wait_count "$T/n$i.log" "joining -> up" $((N - 1)); done

# 2. kill -9 the last node: every survivor marks it down
K=$N
kill -9 "${PID[$K]}"
for i in $(seq 1 $((N - 1))); do wait_for "$T/n$i.log" "\(n$K\) (up|suspect) -> (suspect|down)" 30; done
for i in $(seq 1 $((N - 1))); do wait_for "$T/n$i.log" "\(n$K\) .*-> down" 30; done

# 3. restart it: a new incarnation, up again everywhere
start "$K"
for i in $(seq 1 $((N - 1))); do wait_for "$T/n$i.log" "\(n$K\) restarted" 30; done
for i in $(seq 1 $((N - 1))); do wait_count "$T/n$i.log" "\(n$K\) joining -> up" 2; done
wait_count "$T/n$K.log" "joining -> up" $((2 * (N - 1)))

# 4. a 2 s stall is not a failure
S=2
before=$(cat "$T"/n*.log | grep -cE "\(n$S\) .*-> down" || true)
kill -STOP "${PID[$S]}"
sleep 2
kill -CONT "${PID[$S]}"
sleep 4
after=$(cat "$T"/n*.log | grep -cE "\(n$S\) .*-> down" || true)
[ "$before" = "$after" ] || die "n$S marked down after a 2 s stall"

# 5. a node with another secret is never admitted
"$TROUPE" init --data-dir "$T/bad" >/dev/null
"$TROUPE" -d "$T/bad" --node-name bad -t 1 --cluster-listen "$(addr 50)" \
  --console-listen "ipc://$T/cbad.sock" "${SEEDS[@]}" >"$T/bad.log" 2>&1 &
BAD=$!; PIDS+=("$BAD")
wait_for "$T/n1.log" "refused a link \\(incoming\\)" 30
sleep 2
grep -q "joined through" "$T/bad.log" && die "the node with another secret joined"
for i in $(seq 1 "$N"); do
  grep -q "(bad)" "$T/n$i.log" && die "n$i admitted the node with another secret"
done
kill -9 "$BAD"

# 6. SIGTERM: a graceful leave, seen as leaving then removed, exit 0
L=1
kill -TERM "${PID[$L]}"
wait_exit "${PID[$L]}"
[ "$EXIT_RC" = 0 ] || die "n$L exit status $EXIT_RC after SIGTERM"
for i in $(seq 2 "$N"); do wait_for "$T/n$i.log" "\(n$L\) .*-> (leaving|removed)" 30; done
for i in $(seq 2 "$N"); do
  grep -qE "\(n$L\) .*-> down" "$T/n$i.log" && die "n$i saw n$L down instead of leaving"
done
echo "ok: $N nodes"
