#!/usr/bin/env bash
# Timers are durable across a restart: instances wait on a 3 s timer, the
# daemon is killed with SIGKILL, restarted on the same data, and with
# nothing else reaching them every instance's timer fires and it completes
# (the history indexes wake the instances they know as running on their
# first recovery, which the node's waker or the first query brings about:
# actors/workflow/wake.c). Waits have deadlines; no timing assertions.
TROUPE=${1:?usage: camunda_timer.sh path/to/troupe}
N=${2:-5}
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/camunda_lib.sh"
command -v curl >/dev/null || die "curl is needed (tools/setup.sh installs it)"

cat >"$T/wait.bpmn" <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="Definitions_wait" targetNamespace="http://bpmn.io/schema/bpmn" exporter="Camunda Modeler" exporterVersion="5.17.0">
  <bpmn:process id="wait" name="Wait a little" isExecutable="true">
    <bpmn:startEvent id="Start"><bpmn:outgoing>F1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Later" />
    <bpmn:intermediateCatchEvent id="Later" name="3 s later">
      <bpmn:incoming>F1</bpmn:incoming><bpmn:outgoing>F2</bpmn:outgoing>
      <bpmn:timerEventDefinition id="TED_1"><bpmn:timeDuration xsi:type="bpmn:tFormalExpression">PT3S</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="F2" sourceRef="Later" targetRef="End" />
    <bpmn:endEvent id="End"><bpmn:incoming>F2</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>
XML

start_troupe "$T/n1.log"
B="http://127.0.0.1:$PORT/engine-rest"
curl -fsS -m 30 -F deployment-name=wait -F "data=@$T/wait.bpmn" "$B/deployment/create" >/dev/null \
  || die "deploy failed"
for i in $(seq 1 "$N"); do
  curl -fsS -m 30 -H 'Content-Type: application/json' -d "{\"businessKey\":\"w-$i\"}" \
    "$B/process-definition/key/wait/start" >/dev/null || die "start $i failed"
done
# at once: an answered start of an instance that may wait on a timer means
# its history record is durable too (the node wakes what the indexes know)
kill -9 "$TPID"
wait "$TPID" 2>/dev/null || true
start_troupe "$T/n2.log" "$PORT"
# nothing touches the instances: their timers alone must end them
for i in $(seq 1 600); do
  c=$(curl -fsS -m 10 "$B/history/process-instance/count?processDefinitionKey=wait&finished=true" || true)
  [ "$c" = "{\"count\":$N}" ] && break
  sleep 0.1
done
[ "$c" = "{\"count\":$N}" ] || { tail -20 "$T/n2.log" >&2; die "after the restart $c of $N timers fired"; }
echo "camunda_timer: $N timers fired after a kill -9 and a restart"
