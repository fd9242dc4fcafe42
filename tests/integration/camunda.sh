#!/usr/bin/env bash
# The Camunda 7 REST API of a real daemon, endpoint by endpoint, with curl:
# deployments (multipart, duplicate filtering, a model with errors), process
# definitions, starting instances, runtime instances and their variables,
# external tasks through their whole life (fetch, long poll, lock, extend,
# unlock, failure with retries, an incident and its resolution, complete
# once), history, user tasks (lists by assignee and candidates, claim,
# form variables, complete), message correlation (to a waiting instance,
# starting one, mismatches), and malformed requests of every kind with
# Camunda's error shape.
# Outcomes only; waits have deadlines.
TROUPE=${1:?usage: camunda.sh path/to/troupe models-dir}
MODELS=${2:?usage: camunda.sh path/to/troupe models-dir}
export TROUPE_CLUSTER_LISTEN=tcp://127.0.0.1:0 TROUPE_CONSOLE_LISTEN=tcp://127.0.0.1:0
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || die "curl is needed (tools/setup.sh installs it)"

"$TROUPE" -d "$T/n" -t 2 >"$T/n.log" 2>&1 &
PIDS+=("$!")
wait_for "$T/n.log" 'node [0-9a-f]{16} up: .*http 127\.0\.0\.1:[0-9]+'
PORT=$(grep -oE 'http 127\.0\.0\.1:[0-9]+' "$T/n.log" | head -1 | cut -d: -f2)
B="http://127.0.0.1:$PORT/engine-rest"

# call METHOD PATH [JSON]: sets CODE and BODY
call() {
  local args=(-s -m 40 -o "$T/body" -w '%{http_code}' -X "$1")
  [ $# -ge 3 ] && args+=(-H 'Content-Type: application/json' --data-binary "$3")
  CODE=$(curl "${args[@]}" "$B$2") || die "curl $1 $2 failed"
  BODY=$(cat "$T/body")
}
# want CODE [PATTERN]: the last call answered CODE with a body matching PATTERN
want() {
  [ "$CODE" = "$1" ] || die "wanted $1, got $CODE: $BODY"
  [ $# -lt 2 ] || grep -qE -- "$2" <<<"$BODY" || die "wanted '$2' in: $BODY"
}
ERR='^\{"type":"[A-Za-z]+","message":"[^"]+"'
deploy() { # deploy FILE [extra curl args]: sets CODE and BODY
  local f=$1; shift
  CODE=$(curl -s -m 40 -o "$T/body" -w '%{http_code}' -F deployment-name=it -F "$@" \
    -F "data=@$f" "$B/deployment/create") || die "deploy $f"
  BODY=$(cat "$T/body")
}

# ---- probes
call GET /engine; want 200 '^\[\{"name":"default"\}\]$'
call GET /version; want 200 '"version":"7\.'

# ---- deployments
deploy "$MODELS/approve.bpmn" enable-duplicate-filtering=true
want 200 '"deployedProcessDefinitions":\{"approve:1:[0-9a-f]+":\{"id":"approve:1:'
DEF=$(grep -oE '"approve:1:[0-9a-f]+"' <<<"$BODY" | head -1 | tr -d '"')
DEP=$(grep -oE '"id":"[0-9a-f-]{36}"' <<<"$BODY" | head -1 | cut -d'"' -f4)
deploy "$MODELS/approve.bpmn" enable-duplicate-filtering=true
want 200 "\"id\":\"$DEP\".*\"deployedProcessDefinitions\":null" # the existing deployment
printf '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"><bpmn:process id="p" isExecutable="true"><bpmn:sequenceFlow id="f" sourceRef="nowhere" targetRef="x"/></bpmn:process></bpmn:definitions>' >"$T/bad.bpmn"
deploy "$T/bad.bpmn" enable-duplicate-filtering=false
want 400 '^\{"type":"ParseException","message":.*"details":\{"bad\.bpmn":\{"errors":\[\{'
CODE=$(curl -s -o "$T/body" -w '%{http_code}' -H 'Content-Type: application/json' -d '{}' "$B/deployment/create")
BODY=$(cat "$T/body"); want 400 "$ERR"
CODE=$(curl -s -o "$T/body" -w '%{http_code}' -H 'Content-Type: multipart/form-data; boundary=zz' \
  --data-binary $'--zz\r\nContent-Disposition: form-data; name="x"\r\n\r\nunterminated' "$B/deployment/create")
BODY=$(cat "$T/body"); want 400 'multipart body is malformed'
CODE=$(curl -s -o "$T/body" -w '%{http_code}' -F deployment-name=empty "$B/deployment/create")
BODY=$(cat "$T/body"); want 400 'at least one resource'

# ---- definitions
call GET /process-definition; want 200 "\"id\":\"$DEF\",\"key\":\"approve\""
call GET "/process-definition?key=approve&latestVersion=true"; want 200 '"version":1'
call GET "/process-definition?key=nope"; want 200 '^\[\]$'
call GET /process-definition/count; want 200 '^\{"count":1\}$'
call GET "/process-definition?maxResults=0"; want 200 '^\[\]$'
call GET "/process-definition?firstResult=x"; want 400 "$ERR"
call GET /process-definition/key/approve; want 200 "\"id\":\"$DEF\""
call GET "/process-definition/$DEF"; want 200 '"key":"approve"'
call GET "/process-definition/$DEF/xml"; want 200 '"bpmn20Xml":"<\?xml'
call GET /process-definition/key/nope; want 404 'No matching process definition with key: nope'
call GET "/process-definition/approve:1:0000"; want 404 "$ERR"
call GET "/process-definition/garbage"; want 404 "$ERR"

# ---- starting instances
call POST /process-definition/key/approve/start \
  '{"variables":{"amount":{"value":500,"type":"Integer"},"who":{"value":"ann"}},"businessKey":"o-1"}'
want 200 '"id":"[0-9a-f]{32}".*"businessKey":"o-1"'
PI=$(grep -oE '"id":"[0-9a-f]{32}"' <<<"$BODY" | cut -d'"' -f4)
call POST "/process-definition/$DEF/start" '{"variables":{"amount":{"value":5,"type":"Long"}}}'
want 200 "\"definitionId\":\"$DEF\""
PI2=$(grep -oE '"id":"[0-9a-f]{32}"' <<<"$BODY" | cut -d'"' -f4)
call POST /process-definition/key/nope/start '{}'; want 404 "$ERR"
call POST /process-definition/key/approve/start '{"variables":{"amount":{"value":"x","type":"Integer"}}}'
want 400 'Cannot convert value'
call POST /process-definition/key/approve/start '{"businessKey":7}'; want 400 "$ERR"
call POST /process-definition/key/approve/start '[1]'; want 400 'must be a JSON object'
call POST /process-definition/key/approve/start '{"a":1,"a":2}'; want 400 'not valid JSON'

# ---- runtime instances
call GET "/process-instance/$PI"; want 200 "\"id\":\"$PI\".*\"businessKey\":\"o-1\",.*\"ended\":false"
call GET "/process-instance/$PI/variables"; want 200 '"amount":\{"type":"Integer","value":500'
call GET "/process-instance/$PI/variables/who"; want 200 '^\{"type":"String","value":"ann"'
call GET "/process-instance/$PI/variables/nope"; want 404 "$ERR"
call GET /process-instance/0123456789abcdef0123456789abcdef; want 404 'does not exist'

# ---- external tasks
F='{"workerId":"w1","maxTasks":10,"topics":[{"topicName":"score","lockDuration":60000,"variables":["amount"]}]}'
call POST /external-task/fetchAndLock "$F"; want 200 '"topicName":"score"'
[ "$(grep -o '"topicName":"score"' <<<"$BODY" | wc -l)" = 2 ] || die "wanted 2 score tasks: $BODY"
grep -q '"who"' <<<"$BODY" && die "only the variables asked for: $BODY"
T1=$(grep -oE '"id":"[0-9a-f]+-score"' <<<"$BODY" | sed -n 1p | cut -d'"' -f4)
T2=$(grep -oE '"id":"[0-9a-f]+-score"' <<<"$BODY" | sed -n 2p | cut -d'"' -f4)
call POST /external-task/fetchAndLock "$F"; want 200 '^\[\]$'  # both locked
call GET "/external-task/$T1"; want 200 "\"lockExpirationTime\":\"20.*\"processDefinitionId\":\"$DEF\",\"processDefinitionKey\":\"approve\".*\"workerId\":\"w1\""
call GET "/external-task?topicName=score"; want 200 "\"id\":\"$T1\""
call GET /external-task; want 400 topicName
call POST "/external-task/$T1/complete" '{"workerId":"w2"}'; want 500 'not locked by the given worker'
call POST "/external-task/$T1/extendLock" '{"workerId":"w1","newDuration":120000}'; want 204
call POST "/external-task/$T1/extendLock" '{"workerId":"w1"}'; want 400 newDuration
call POST "/external-task/$T2/unlock"; want 204
call POST "/external-task/$T2/lock" '{"workerId":"w9","lockDuration":60000}'; want 204
call POST "/external-task/$T2/lock" '{"workerId":"w1","lockDuration":60000}'; want 400 'locked by another worker'
# a failure with retries left comes back after its timeout; with none it is an incident
call POST "/external-task/$T2/failure" '{"workerId":"w9","errorMessage":"down","retries":1,"retryTimeout":200}'
want 204
G='{"workerId":"w3","maxTasks":5,"asyncResponseTimeout":20000,"topics":[{"topicName":"score","lockDuration":60000}]}'
call POST /external-task/fetchAndLock "$G"; want 200 "\"errorMessage\":\"down\".*\"id\":\"$T2\".*\"retries\":1"
call POST "/external-task/$T2/failure" '{"workerId":"w3","errorMessage":"dead","retries":0}'; want 204
call GET "/external-task/$T2"; want 200 '"retries":0'
call POST /external-task/fetchAndLock '{"workerId":"w3","maxTasks":5,"asyncResponseTimeout":300,"topics":[{"topicName":"score","lockDuration":60000}]}'
want 200 '^\[\]$'
call PUT "/external-task/$T2/retries" '{"retries":2}'; want 204
call POST /external-task/fetchAndLock "$G"; want 200 "\"id\":\"$T2\""
# complete with variables, once: the instance goes on (score 10 < 50 and amount 500: review)
call POST "/external-task/$T1/complete" '{"workerId":"w1","variables":{"score":{"value":10,"type":"Integer"}}}'
want 204
call POST "/external-task/$T1/complete" '{"workerId":"w1"}'; want 404 'does not exist'
call POST "/external-task/$T2/complete" '{"workerId":"w3","variables":{"score":{"value":99,"type":"Integer"}}}'
want 204
# a long poll across topics answered by the first that has work
call POST /external-task/fetchAndLock '{"workerId":"w4","maxTasks":5,"asyncResponseTimeout":20000,"topics":[{"topicName":"mail","lockDuration":60000},{"topicName":"review","lockDuration":60000}]}'
want 200 '"topicName":"(review|mail)"'
# the remaining tasks, until both instances end
for round in $(seq 1 20); do
  call POST /external-task/fetchAndLock '{"workerId":"w5","maxTasks":10,"asyncResponseTimeout":2000,"topics":[{"topicName":"review","lockDuration":60000},{"topicName":"pay","lockDuration":60000},{"topicName":"mail","lockDuration":60000}]}'
  want 200
  for id in $(grep -oE '"id":"[0-9a-f]+-(review|pay|mail)"' <<<"$BODY" | cut -d'"' -f4); do
    call POST "/external-task/$id/complete" '{"workerId":"w5"}'; want 204
  done
  # tasks w4 holds: w4 completes them
  for tp in review mail pay; do
    call GET "/external-task?topicName=$tp"
    for id in $(grep -oE "\"id\":\"[0-9a-f]+-$tp\"[^}]*\"workerId\":\"w4\"" <<<"$BODY" | grep -oE "[0-9a-f]+-$tp"); do
      call POST "/external-task/$id/complete" '{"workerId":"w4"}'; want 204
    done
  done
  call GET "/process-instance/$PI"; c1=$CODE
  call GET "/process-instance/$PI2"; c2=$CODE
  [ "$c1" = 404 ] && [ "$c2" = 404 ] && break
done
[ "$c1" = 404 ] && [ "$c2" = 404 ] || die "the instances did not end"

# ---- history of the two instances that ended
call GET "/history/process-instance?processDefinitionKey=approve&finished=true"
want 200 "\"id\":\"$PI\".*\"state\":\"COMPLETED\""
call GET "/history/process-instance/count?processDefinitionKey=approve"; want 200 '^\{"count":2\}$'
call GET "/history/process-instance/count"; want 200 '^\{"count":2\}$'
call GET "/history/process-instance/count?unfinished=true"; want 200 '^\{"count":0\}$'
call GET "/history/process-instance?businessKey=o-1"; want 200 "\"businessKey\":\"o-1\".*\"endTime\":\"20"
call GET "/history/process-instance?maxResults=1&firstResult=1"
[ "$(grep -o '"processDefinitionKey"' <<<"$BODY" | wc -l)" = 1 ] || die "one per page: $BODY"
# processInstanceIds filters before the page and the count are taken
call GET "/history/process-instance?processInstanceIds=$PI2&maxResults=1"; want 200 "\"id\":\"$PI2\""
call GET "/history/process-instance/count?processInstanceIds=$PI2"; want 200 '^\{"count":1\}$'
call GET "/history/process-instance/$PI"; want 200 '"durationInMillis":[0-9]+'
call GET "/history/activity-instance?processInstanceId=$PI"; want 200 '"activityId":"Score".*"activityType"'
call GET "/history/process-instance?startedAfter=yesterday"; want 400 "$ERR"
call GET "/history/process-instance/0123456789abcdef0123456789abcdef"; want 404 "$ERR"

# ---- user tasks: list by assignee and candidates, claim, form variables, complete
deploy "$MODELS/usertask.bpmn" enable-duplicate-filtering=false; want 200 '"key":"ut"'
call POST /process-definition/key/ut/start '{"variables":{"manager":{"value":"mary"}},"businessKey":"leave-1"}'
want 200
UPI=$(grep -oE '"id":"[0-9a-f]{32}"' <<<"$BODY" | cut -d'"' -f4)
for i in $(seq 1 100); do
  call GET "/task?processInstanceId=$UPI"; grep -q '"id"' <<<"$BODY" && break; sleep 0.1
done
want 200 '"name":"Approve leave","assignee":"mary".*"priority":70.*"taskDefinitionKey":"Approve"'
TID=$(grep -oE '"id":"[0-9a-f]{32}:[0-9]+"' <<<"$BODY" | head -1 | cut -d'"' -f4)
[ -n "$TID" ] || die "no task id: $BODY"
call GET "/task?assignee=mary"; want 200 "\"id\":\"$TID\""
call GET "/task?processDefinitionKey=ut&assignee=bob"; want 200 '^\[\]$'
call GET "/task/count?processDefinitionKey=ut"; want 200 '^\{"count":1\}$'
call GET "/task/$TID"; want 200 '"formKey":"embedded:app:forms/approve.html"'
call GET "/task/$TID/form-variables"; want 200 '"approved":\{"type":"Boolean","value":false'
call POST "/task/$TID/unclaim"; want 204
call GET "/task?candidateUser=alice"; want 200 "\"id\":\"$TID\""
call GET "/task?candidateGroup=hr&unassigned=true"; want 200 "\"id\":\"$TID\""
call POST "/task/$TID/claim" '{"userId":"alice"}'; want 204
call POST "/task/$TID/claim" '{"userId":"bob"}'; want 500 'TaskAlreadyClaimedException'
call POST "/task/$TID/claim" '{}'; want 400 userId
call POST "/task/$TID/complete" '{"variables":{"approved":{"value":"maybe","type":"Boolean"}}}'; want 400 "$ERR"
call POST "/task/$TID/complete" '{"variables":{"approved":{"value":true,"type":"Boolean"}}}'; want 204
call GET "/task/nocolon"; want 404 "$ERR"
call GET "/task/0123456789abcdef0123456789abcdef:9"; want 404 "$ERR"
for i in $(seq 1 100); do
  call GET "/process-instance/$UPI"; [ "$CODE" = 404 ] && break; sleep 0.1
done
[ "$CODE" = 404 ] || die "the user task's instance did not end"
call GET "/history/process-instance/$UPI"; want 200 '"state":"COMPLETED"'

# ---- messages: correlate to a waiting instance, start one by message, mismatches
deploy "$MODELS/message.bpmn" enable-duplicate-filtering=false; want 200 '"key":"msg"'
call POST /process-definition/key/msg/start '{"businessKey":"ord-7"}'; want 200
MPI=$(grep -oE '"id":"[0-9a-f]{32}"' <<<"$BODY" | cut -d'"' -f4)
for i in $(seq 1 100); do
  call POST /message '{"messageName":"Paid","businessKey":"ord-7","resultEnabled":true}'
  [ "$CODE" = 200 ] && break; sleep 0.1
done
want 200 "\"resultType\":\"Execution\".*\"processInstanceId\":\"$MPI\""
call POST /message '{"messageName":"Paid","businessKey":"ord-7"}'; want 400 MismatchingMessageCorrelationException
call POST /message '{"messageName":"Order","businessKey":"ord-8","resultEnabled":true}'
want 200 '"resultType":"ProcessDefinition"'
for i in $(seq 1 100); do
  call POST /message '{"messageName":"Shipped","all":true}'; [ "$CODE" = 204 ] && break; sleep 0.1
done
want 204
call POST /message '{"businessKey":"x"}'; want 400 messageName
call POST /message '{"messageName":"Paid","tenantId":"t1"}'; want 400 'not supported'
call POST /message '{"messageName":"Paid","processVariables":{"a":{"value":1,"type":"Nope"}}}'; want 400 "$ERR"
for i in $(seq 1 100); do
  call GET "/process-instance/$MPI"; [ "$CODE" = 404 ] && break; sleep 0.1
done
[ "$CODE" = 404 ] || die "the message instance did not end"
call GET "/process-instance?processDefinitionKey=msg"; want 200

# ---- malformed requests to external tasks
call POST /external-task/fetchAndLock '{"maxTasks":1}'; want 400 workerId
call POST /external-task/fetchAndLock '{"workerId":"w","maxTasks":-1}'; want 400 maxTasks
call POST /external-task/fetchAndLock '{"workerId":"w","maxTasks":1,"topics":[{"topicName":"x"}]}'; want 400 lockDuration
call POST /external-task/fetchAndLock '{"workerId":"w","maxTasks":1,"topics":[{"topicName":"x","lockDuration":1,"businessKey":"b"}]}'
want 400 'not supported'
call POST /external-task/fetchAndLock '{"workerId":"w","maxTasks":1,"topics":{}}'; want 400 "$ERR"
call POST /external-task/fetchAndLock ''; want 400 'JSON body is required'
call POST /external-task/nodash/complete '{"workerId":"w"}'; want 404 "$ERR"
call POST /external-task/1-score/failure '{"workerId":"w","retries":-1}'; want 400 retries
call POST /external-task/1-score/bpmnError '{"workerId":"w"}'; want 400 errorCode
call PUT /external-task/1-score/retries '{"retries":"x"}'; want 400 retries
call GET /nope; want 404 "$ERR"
call DELETE /engine; want 405 "$ERR"
call GET '/process-definition?key=%zz'; want 400 "$ERR"
echo "camunda: every endpoint answered as Camunda's would"
