#!/usr/bin/env bash
# troupectl against a live two-node cluster of troupe daemons: status,
# nodes, actors (--json and tables), a wrong key (exit 4), an unreachable
# node (exit 3), a bad command (exit 2), an unknown actor (exit 1), drain
# seen by the other node, and leave through the console (the node exits
# cleanly and the other sees it removed). Waits have deadlines.
USAGE="usage: console.sh path/to/troupe path/to/troupectl path/to/jget"
TROUPE=${1:?$USAGE}
CTL=${2:?$USAGE}
JGET=${3:?$USAGE} # prints the values at a JSON path: the --json output is parsed
. "$(dirname "$0")/lib.sh"

"$TROUPE" init --data-dir "$T/n1" >/dev/null
mkdir -m 700 "$T/n2"
cp -p "$T/n1/cluster.secret" "$T/n1/admin.key" "$T/n2/"
declare -A PID
for i in 1 2; do
  "$TROUPE" -d "$T/n$i" --node-name "n$i" -t 1 --cluster-listen "ipc://$T/n$i.sock" \
    --console-listen "ipc://$T/c$i.sock" --seed "ipc://$T/n1.sock" >"$T/n$i.log" 2>&1 &
  PID[$i]=$!
  PIDS+=("$!")
done
export TROUPE_ADMIN_KEY_FILE="$T/n1/admin.key"
ctl() { "$CTL" --node "ipc://$T/c$1.sock" "${@:2}"; }
# expect RC CMD...: runs CMD, checks its exit code
expect() {
  local want=$1 rc=0
  shift
  "$@" >"$T/out" 2>"$T/err" || rc=$?
  [ "$rc" = "$want" ] || { cat "$T/out" "$T/err" >&2; die "'$*' exited $rc, want $want"; }
}
# jq_is WANT PATH: the last command's --json output has WANT at PATH
jq_is() {
  local got
  got=$("$JGET" "$2" <"$T/out") || { cat "$T/out" >&2; die "no $2 in the JSON"; }
  [ "$got" = "$1" ] || { cat "$T/out" >&2; die "$2 is '$got', want '$1'"; }
}
# until n1 sees both nodes up
for ((i = 0; i < 600; i++)); do
  n=$(ctl 1 nodes --json 2>/dev/null | "$JGET" '.nodes[*].state' 2>/dev/null | grep -cx up || true)
  [ "$n" -ge 2 ] && break
  sleep 0.05
done
[ "$n" -ge 2 ] || die "the console never showed two nodes up"

expect 0 ctl 1 status
grep -q "n1" "$T/out" || die "status does not name the node"
expect 0 ctl 1 status --json
jq_is n1 .name
jq_is up .state
jq_is false .draining
expect 0 ctl 1 nodes --json
jq_is "n1
n2" '.nodes[*].name'
jq_is "true
false" '.nodes[*].self'
expect 0 ctl 1 nodes
grep -q "n2" "$T/out" || die "the nodes table does not list n2"
expect 0 ctl 1 actors --json
"$JGET" '.actors[*].behavior' <"$T/out" | grep -qx tr.directory ||
  die "actors does not list the directory"
expect 0 ctl 2 actors
expect 1 ctl 1 actor 999999 --json
"$JGET" .error <"$T/out" >/dev/null || die "a failed --json command prints no error"
expect 1 ctl 1 actor 999999
expect 2 ctl 1 frobnicate
head -c 32 /dev/urandom | base64 >"$T/wrong.key"
chmod 600 "$T/wrong.key"
expect 4 "$CTL" --node "ipc://$T/c1.sock" --key "$T/wrong.key" status
expect 3 "$CTL" --node "ipc://$T/nobody.sock" --timeout 500 status

# drain n2: n1 sees it
expect 0 ctl 2 drain
drains() { ctl 1 nodes --json 2>/dev/null | "$JGET" '.nodes[1].draining' 2>/dev/null || true; }
for ((i = 0; i < 600; i++)); do
  [ "$(drains)" = true ] && break
  sleep 0.05
done
[ "$(drains)" = true ] || die "n1 never saw n2 draining"
expect 0 ctl 2 drain off
expect 0 ctl 2 status --json
jq_is false .draining

# leave through the console: n2 exits 0, n1 sees it removed
expect 0 ctl 2 leave
wait_exit "${PID[2]}" 30
[ "$EXIT_RC" = 0 ] || die "n2 exited $EXIT_RC after leave"
wait_for "$T/n1.log" "\(n2\) leaving -> removed|\(n2\) .* -> removed" 30
echo "console: ok"
