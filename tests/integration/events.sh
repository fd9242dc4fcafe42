#!/usr/bin/env bash
# The event bus and warehouse on a real daemon: the engine's events appear
# (an instance started through the Camunda REST API), custom events by
# POST /events with their ids and clean 400s, /warehouse queries, counts,
# distinct values, funnel and retention, `troupectl events` as a table,
# as JSON lines and with --follow picking up new events, and a kill -9
# while pi and bk index entries are held back (queries after the restart).
# Outcomes only; waits have deadlines.
USAGE="usage: events.sh path/to/troupe path/to/troupectl models-dir"
TROUPE=${1:?$USAGE}
CTL=${2:?$USAGE}
MODELS=${3:?$USAGE}
export TROUPE_CLUSTER_LISTEN=tcp://127.0.0.1:0
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || die "curl is needed (tools/setup.sh installs it)"

"$TROUPE" -d "$T/n" -t 2 --console-listen "ipc://$T/c.sock" >"$T/n.log" 2>&1 &
PIDS+=("$!")
wait_for "$T/n.log" 'node [0-9a-f]{16} up: .*http 127\.0\.0\.1:[0-9]+'
PORT=$(grep -oE 'http 127\.0\.0\.1:[0-9]+' "$T/n.log" | head -1 | cut -d: -f2)
H="http://127.0.0.1:$PORT"
export TROUPE_ADMIN_KEY_FILE="$T/n/admin.key"
ctl() { "$CTL" --node "ipc://$T/c.sock" "$@"; }

# call METHOD PATH [JSON]: sets CODE and BODY
call() {
  local args=(-s -m 40 -o "$T/body" -w '%{http_code}' -X "$1")
  [ $# -ge 3 ] && args+=(-H 'Content-Type: application/json' --data-binary "$3")
  CODE=$(curl "${args[@]}" "$H$2") || die "curl $1 $2 failed"
  BODY=$(cat "$T/body")
}
want() {
  [ "$CODE" = "$1" ] || die "wanted $1, got $CODE: $BODY"
  [ $# -lt 2 ] || grep -qE -- "$2" <<<"$BODY" || die "wanted '$2' in: $BODY"
}
# want_soon PATH PATTERN: GET PATH until its answer matches (30 s), then want 200
want_soon() {
  local i
  for ((i = 0; i < 600; i++)); do
    call GET "$1"
    grep -qE -- "$2" <<<"$BODY" && break
    sleep 0.05
  done
  want 200 "$2"
}
ERR='^\{"type":"[A-Za-z]+","message":"[^"]+"'

# ---- engine events: deploy, start an instance with a business key
CODE=$(curl -s -m 40 -o "$T/body" -w '%{http_code}' -F deployment-name=it \
  -F "data=@$MODELS/approve.bpmn" "$H/engine-rest/deployment/create") || die "deploy"
[ "$CODE" = 200 ] || die "deploy: $CODE $(cat "$T/body")"
call POST /engine-rest/process-definition/key/approve/start \
  '{"variables":{"amount":{"value":500,"type":"Integer"},"who":{"value":"ann"}},"businessKey":"ev-1"}'
want 200 '"businessKey":"ev-1"'
PI=$(grep -oE '"id":"[0-9a-f]{32}"' <<<"$BODY" | head -1 | cut -d'"' -f4)
want_soon "/warehouse/events?topic=engine&pi=$PI" "\"type\":\"process.started\".*\"pi\":\"$PI\""
grep -q '"bk":"ev-1"' <<<"$BODY" || die "the engine's event has no bk: $BODY"
call GET "/warehouse/events?bk=ev-1"; want 200 '"id":"engine:[0-9]+"'
call GET "/warehouse/counts?bucket=minute&type=process.started"
want 200 '"buckets":\[\{"start":"[0-9T:.-]+Z","start_ms":[0-9]+,"count":1,"type":"process.started"\}\]'

# ---- custom events
call POST /events '{"type":"quest.progress","bk":"u1","attrs":{"user":"u1"},"data":{"step":1}}'
want 201 '^\{"id":"custom:1","seq":1,"topic":"custom"\}$'
call POST /events '{"topic":"custom","type":"quest.done","bk":"u1","attrs":{"user":"u1"}}'
want 201 '"id":"custom:2"'
call POST /events '{"type":"quest.progress","bk":"u2","attrs":{"user":"u2"}}'
want 201 '"id":"custom:3"'
call POST /events '{"bk":"u1"}'; want 400 "$ERR"
call POST /events '{"type":"x","typo":1}'; want 400 'unknown event field'
call POST /events '{"type":"x","topic":"a/b"}'; want 400 'topic'
call POST /events 'not json'; want 400 'not valid JSON'
call POST /events '[]'; want 400 'JSON object'
call GET /events/nope; [ "$CODE" != 200 ] || die "GET /events/nope answered 200"

# ---- queries
call GET "/warehouse/events?topic=custom"
want 200 '"seq":1.*"seq":2.*"seq":3.*"more":false'
call GET "/warehouse/events?topic=custom&max=2"; want 200 '"more":true'
call GET "/warehouse/events?topic=custom&after=custom:2"; want 200 '^\{"events":\[\{[^]]*"seq":3'
call GET "/warehouse/events?topic=custom&type=quest.done"; want 200 '"seq":2,'
call GET "/warehouse/events?topic=custom&from=2000-01-01T00:00:00Z&to=2000-01-02T00:00:00Z"
want 200 '"events":\[\]'
call GET "/warehouse/events?topic=custom&attrs.user=u2"; want 200 '^\{"events":\[\{[^]]*"seq":3,[^]]*\],"more":false'
call GET "/warehouse/events?topic=custom&max=0"; want 400 "$ERR"
call GET "/warehouse/events?topic=custom&from=yesterday"; want 400 'from must be'
call GET "/warehouse/counts?topic=custom&bucket=day"
want 200 '"count":2,"type":"quest.progress"'
call GET "/warehouse/counts?topic=custom&bucket=fortnight"; want 400 'bucket must be'
call GET "/warehouse/distinct?topic=custom&bucket=hour&of=attrs.user"; want 200 '"count":2\}\]'
call GET "/warehouse/distinct?topic=custom&bucket=hour&of=attrs.user&type=quest.done"
want 200 '"count":1\}\]'
call GET "/warehouse/distinct?topic=custom&bucket=hour"; want 400 'of is required'
call POST /warehouse/funnel '{"topic":"custom","steps":["quest.progress","quest.done"],"by":"bk"}'
want 200 '^\{"steps":\[\{"type":"quest.progress","count":2\},\{"type":"quest.done","count":1\}\]'
call POST /warehouse/funnel '{"topic":"custom","steps":[],"by":"bk"}'; want 400 'steps'
call GET "/warehouse/retention?topic=custom"; want 200 '"events":3,.*"first":1,"last":3'
call PUT "/warehouse/retention?topic=custom" '{"max_bytes":-1}'; want 400 'max_bytes'
call PUT "/warehouse/retention?topic=custom" '{"max_age_ms":604800000}'; want 200 '"ok":true'
call GET "/warehouse/retention?topic=custom"; want 200 '"max_age_ms":604800000'
call DELETE "/warehouse/events"; want 405 "$ERR"

# ---- troupectl events
ctl events --topic custom >"$T/out" || die "troupectl events: $(cat "$T/out")"
grep -qE '^ID +TIME +TYPE' "$T/out" || die "no table header: $(cat "$T/out")"
[ "$(grep -c 'quest\.' "$T/out")" = 3 ] || die "wanted 3 events: $(cat "$T/out")"
ctl events --topic custom --type quest.done --json >"$T/out" || die "troupectl events --json"
[ "$(wc -l <"$T/out")" = 1 ] && grep -q '"type":"quest.done"' "$T/out" || die "json: $(cat "$T/out")"
ctl events --bk ev-1 --json | grep -q '"type":"process.started"' || die "engine events via troupectl"
rc=0; ctl events --topic 'a/b' >/dev/null 2>&1 || rc=$?
[ "$rc" = 1 ] || die "a bad topic exited $rc, want 1"
rc=0; ctl events --follow --json --frobnicate >/dev/null 2>&1 || rc=$?
[ "$rc" = 2 ] || die "a bad option exited $rc, want 2"

# --follow: prints what is stored, then the new ones
ctl events --topic custom --follow --json >"$T/follow" 2>"$T/follow.err" &
FPID=$!
PIDS+=("$FPID")
wait_for "$T/follow" '"id":3,'
call POST /events '{"type":"late.one"}'; want 201 '"custom:4"'
call POST /events '{"type":"late.two"}'; want 201 '"custom:5"'
wait_for "$T/follow" '"type":"late.two"'
kill "$FPID" 2>/dev/null || true
[ "$(grep -c '"type":"late.one"' "$T/follow")" = 1 ] || die "follow printed late.one not once"
ids=$(grep -oE '"id":[0-9]+' "$T/follow" | cut -d: -f2 | tr '\n' ' ')
[ "$ids" = "1 2 3 4 5 " ] || die "follow printed ids '$ids'"
# ---- kill -9 while pi and bk index entries are held back (they are
# written up to a second after their events): after the restart, queries
# by bk and pi find every answered event once, before and after the
# entries are written. 300 events on one keep-alive connection.
N=300
for ((i = 1; i <= N; i++)); do
  printf 'url = "%s/events"\nheader = "Content-Type: application/json"\n' "$H"
  printf 'data = "{\\"topic\\":\\"crash\\",\\"type\\":\\"x\\",\\"bk\\":\\"k%d\\",\\"pi\\":\\"p%d\\"}"\n' \
    $((i % 6)) $((i % 10))
  printf 'write-out = "\\n%%{http_code}\\n"\n'
  if [ "$i" -lt "$N" ]; then echo next; fi
done >"$T/burst.curl"
curl -s -m 60 -K "$T/burst.curl" >"$T/burst.out" || die "the burst failed"
[ "$(grep -c '^201$' "$T/burst.out")" = "$N" ] || die "not all $N answered 201: $(sort "$T/burst.out" | uniq -c | head)"
seqs=$(grep -oE '"seq":[0-9]+' "$T/burst.out" | cut -d: -f2 | tr '\n' ' ')
[ "$seqs" = "$(seq -s ' ' 1 $N) " ] || die "ids out of order: $seqs"
kill -9 "${PIDS[0]}"
wait "${PIDS[0]}" 2>/dev/null || true
"$TROUPE" -d "$T/n" -t 2 --console-listen "ipc://$T/c2.sock" >"$T/n2.log" 2>&1 &
PIDS+=("$!")
wait_for "$T/n2.log" 'node [0-9a-f]{16} up: .*http 127\.0\.0\.1:[0-9]+'
PORT=$(grep -oE 'http 127\.0\.0\.1:[0-9]+' "$T/n2.log" | head -1 | cut -d: -f2)
H="http://127.0.0.1:$PORT"
# check_key FIELD VALUE K MOD WHEN: the query by FIELD=VALUE gives exactly
# the events i with i % MOD == K, in order
check_key() {
  local exp got i
  exp=$(for ((i = $3 ? $3 : $4; i <= N; i += $4)); do printf '%d ' "$i"; done)
  call GET "/warehouse/events?topic=crash&$1=$2&max=10000"; want 200
  got=$(grep -oE '"seq":[0-9]+' <<<"$BODY" | cut -d: -f2 | tr '\n' ' ')
  [ "$got" = "$exp" ] || die "$1 $2 ($5): got '$got', want '$exp'"
}
check_keys() {
  local k
  for k in 0 1 2 3 4 5; do check_key bk "k$k" "$k" 6 "$1"; done
  for k in 0 3 9; do check_key pi "p$k" "$k" 10 "$1"; done
}
check_keys "just after the restart"
want_soon "/warehouse/retention?topic=crash" "\"last\":$N,\"indexed\":$N"
check_keys "once the entries are written"
echo "events: ok"
