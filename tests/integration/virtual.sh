#!/usr/bin/env bash
# Virtual actors and remote spawn across real processes: three worker
# nodes and a driver (tests/cluster/vnode.c has the scenario: placement,
# a partition and its healing, kill -9, drain). ipc sockets in the scratch
# dir; the driver's waits have deadlines (liveness, not timing).
VNODE=${1:?usage: virtual.sh path/to/vnode}
. "$(dirname "$0")/lib.sh"

addr() { echo "ipc://$T/$1.sock"; }
"$VNODE" id "$T/a" >"$T/a.id" || die "identity"
for n in b c drv; do
  mkdir -m 700 "$T/$n"
  cp -p "$T/a/cluster.secret" "$T/$n/"
  "$VNODE" id "$T/$n" >"$T/$n.id" || die "identity"
done
for n in a b c; do
  "$VNODE" host "$T/$n" "$(addr "$n")" "$(addr a)" "$n" >"$T/$n.log" 2>&1 &
  PIDS+=("$!")
done
if ! "$VNODE" drive "$T/drv" "$(addr drv)" "$(addr a)" \
  "$(cat "$T/a.id")" "$(cat "$T/b.id")" "$(cat "$T/c.id")" >"$T/drv.log" 2>&1; then
  for g in "$T"/*.log; do echo "--- $g:" >&2; cat "$g" >&2; done
  die "the virtual actor scenario failed"
fi
grep "vnode:" "$T/drv.log"
echo "virtual actors: ok"
