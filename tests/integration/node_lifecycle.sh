#!/usr/bin/env bash
# The troupe binary: flags, start with embedded defaults, ordered stop on
# SIGTERM and SIGINT with exit 0.
TROUPE=${1:?usage: node_lifecycle.sh path/to/troupe}
# any free port: tests may run side by side
export TROUPE_CLUSTER_LISTEN=tcp://127.0.0.1:0
. "$(dirname "$0")/lib.sh"

"$TROUPE" --version | grep -qE '^troupe [0-9]+\.[0-9]+\.[0-9]+$' || die "--version"
"$TROUPE" --help | grep -q 'usage: troupe' || die "--help"
rc=0; "$TROUPE" --no-such-flag 2>"$T/err" || rc=$?
[ "$rc" = 2 ] || die "unknown flag: exit $rc, want 2"
grep -q "unknown option '--no-such-flag'" "$T/err" || die "unknown flag message"
rc=0; "$TROUPE" --threads nope 2>/dev/null || rc=$?
[ "$rc" = 2 ] || die "bad --threads value: exit $rc, want 2"
rc=0; "$TROUPE" stray 2>/dev/null || rc=$?
[ "$rc" = 2 ] || die "stray argument: exit $rc, want 2"

for sig in TERM INT; do
  ( cd "$T" && exec "$TROUPE" ) >"$T/out.$sig" 2>&1 &
  pid=$!; PIDS+=("$pid")
  wait_for "$T/out.$sig" 'node [0-9a-f]{16} up: .*schedulers, data dir .*/troupe-data'
  [ -d "$T/troupe-data" ] || die "no data dir created"
  kill -"$sig" "$pid"
  wait_exit "$pid"
  [ "$EXIT_RC" = 0 ] || die "exit status $EXIT_RC after SIG$sig"
  grep -q 'stopped' "$T/out.$sig" || die "no 'stopped' line after SIG$sig"
  [ "$(grep -cE 'node [0-9a-f]{16} up' "$T/out.$sig")" = 1 ] || die "more than one 'up' line"
done

# keys: created on first start (0600), kept across restarts
for f in node.key cluster.secret admin.key; do
  [ "$(stat -c %a "$T/troupe-data/$f")" = 600 ] || die "$f is not mode 0600"
done
id1=$(grep -oE 'node [0-9a-f]{16} up' "$T/out.TERM")
id2=$(grep -oE 'node [0-9a-f]{16} up' "$T/out.INT")
[ "$id1" = "$id2" ] || die "node id changed across restarts: $id1 / $id2"

# troupe init: a fresh dir gets every key; a second init refuses
"$TROUPE" --data-dir "$T/fresh" init >"$T/init.out" || die "init failed"
grep -q 'cluster.secret' "$T/init.out" || die "init: no explanation printed"
for f in node.key node.pub cluster.secret admin.key; do [ -f "$T/fresh/$f" ] || die "init: no $f"; done
rc=0; "$TROUPE" --data-dir "$T/fresh" init >/dev/null 2>"$T/init2.err" || rc=$?
[ "$rc" = 1 ] || die "second init: exit $rc, want 1"
grep -q 'already exists' "$T/init2.err" || die "second init: no clear message"
# a loose secret is refused
chmod 644 "$T/fresh/cluster.secret"
rc=0; "$TROUPE" --data-dir "$T/fresh" >"$T/loose" 2>&1 || rc=$?
[ "$rc" = 1 ] || die "loose secret: exit $rc, want 1"
grep -q 'chmod 600' "$T/loose" || die "loose secret: no clear message"

# a second node on the same data dir is refused while the first runs
( cd "$T" && exec "$TROUPE" ) >"$T/first" 2>&1 &
pid=$!; PIDS+=("$pid")
wait_for "$T/first" 'node [0-9a-f]{16} up'
rc=0; ( cd "$T" && exec "$TROUPE" ) >"$T/second" 2>&1 || rc=$?
[ "$rc" = 1 ] || die "second node on one data dir: exit $rc, want 1"
grep -q 'cannot start the node' "$T/second" || die "second node: no clear message"
kill -TERM "$pid"; wait_exit "$pid"
[ "$EXIT_RC" = 0 ] || die "first node: exit $EXIT_RC"

# an unusable data dir is a clear error, not a crash
touch "$T/file"
rc=0; "$TROUPE" --data-dir "$T/file" >"$T/bad" 2>&1 || rc=$?
[ "$rc" = 1 ] || die "data dir on a file: exit $rc, want 1"
grep -q 'cannot use data dir' "$T/bad" || die "data dir error message"
# configuration: defaults < YAML file < TROUPE_* < flags, as troupe config shows it
printf 'threads: 3\nnode_name: "from-yaml"\nseeds: ["tcp://127.0.0.1:7500"]\n' >"$T/troupe.yaml"
out=$(TROUPE_CONFIG="$T/troupe.yaml" TROUPE_NODE_NAME=from-env "$TROUPE" config --threads 5)
echo "$out" | grep -q '^threads: 5$' || die "config: flag did not win: $out"
echo "$out" | grep -q '^node_name: "from-env"$' || die "config: env did not beat the file"
echo "$out" | grep -q 'tcp://127.0.0.1:7500' || die "config: file not read"
printf 'threads: lots\n' >"$T/bad.yaml"
rc=0; "$TROUPE" --config "$T/bad.yaml" config >/dev/null 2>"$T/bad.err" || rc=$?
[ "$rc" = 2 ] || die "bad config file: exit $rc, want 2"
grep -q 'bad.yaml:1:' "$T/bad.err" || die "bad config file: no line in the message"
echo "node_lifecycle: ok"
