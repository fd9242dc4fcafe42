/* engine.h - process instances: one persistent virtual actor per instance,
 * "wf/<instance id>", running a deployed definition (repo.h).
 *
 * An instance's journal holds only what came from outside, each event with
 * its wall-clock time: that it started (definition, version, variables,
 * business key, start event, parent) and what its waits answered (a job
 * completed or raised a BPMN error, a user task completed, a message was
 * delivered, a timer fired, a child instance ended). The state - where the
 * tokens are, the variables, the activity history - is computed by running
 * the model over those events, with "now" the time of the event applied,
 * so recovery is a replay through the same interpreter and timers' due
 * times come out the same. What the interpreter asks of the outside world
 * is idempotent by the wait's id "<instance>:<n>" (n numbers the waits in
 * the order the interpreter creates them, the same on every replay): jobs
 * (jobs/<topic>), user tasks (wftask/<key>), message subscriptions
 * (wfmsg/<name>) and child instances (wf/<instance>-c<n>) are sent again
 * until answered and again after a recovery; timers are armed again. Notes
 * from outside are acked only once what they caused is durable. Index
 * protocols: index.h. Journal format: journal.c. Inside: inst.h.
 *
 * Runs: none and message start events; none, terminate (ends its scope)
 * and error end events; tasks, manual tasks, none throw events; external
 * service and send tasks; user tasks; receive tasks; timer and message
 * intermediate catch events; timer (duration, date, cycle), message and
 * error boundary events, interrupting or not; exclusive, parallel and
 * inclusive gateways; embedded subprocesses; call activities (latest
 * version only) with camunda:in / out; camunda:inputOutput. A BPMN error
 * nothing catches fails the instance (or passes to a parent). Anything
 * else fails the instance with the element named (an incident) rather
 * than running wrongly. Timer start events are not run (docs).
 */
#ifndef TR_WF_ENGINE_H
#define TR_WF_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "troupe/troupe.h"

#define TR_WF_KIND "wf"

enum {
  /* {key, vars?: map, bk?, start?: element id of a start event, msg?: name
   * of the message of a message start event, parent?: the parent's wait id
   * (a call activity's: the child tells it TR_WF_CHILD_DONE when it ends),
   * version?: int (default: the latest)} -> {id, definition, version} once
   * started durably. Without start or msg: the process's none start event.
   * TR_EEXIST: started before. */
  TR_WF_START = 0x57460101,
  /* {} -> {id, definition, key, version, bk, state: "running"|"completed"|
   * "failed"|"terminated" (a child ended by a BPMN error it passed up),
   * vars: map, at: [element ids with a token], waits: [{id: wait id, kind:
   * "job"|"task"|"message"|"timer"|"call", act}], acts: [{id, act, type,
   * name, start, end (nil: running), canceled}] (the activity history),
   * error, history: "pending"|"started"|"ended" (what wfhist has for good),
   * parent: wait id or nil} */
  TR_WF_GET,
  TR_WF_REPLY,
  /* a note from a child instance to its parent (not an ask): {id: the
   * parent's wait id, from: "wf/<child>", vars: the child's variables,
   * error?: the code of a BPMN error nothing in the child caught}. The
   * parent acks with TR_WF_IDX_ACK {id} (index.h) to `from` once durable;
   * until then the child sends it again now and then and after restarts. */
  TR_WF_CHILD_DONE = 0x57460110,
  /* from a parent to its child (not an ask): {id: the parent's wait id,
   * from: "wf/<parent>"}: the call activity was interrupted; the child ends
   * (state "terminated"), cancelling its own waits, and acks with
   * TR_WF_IDX_ACK {id} to `from` once that is durable. The parent sends it
   * again until acked; an ended child acks at once. */
  TR_WF_CANCEL
};
/* These values are stored and travel between nodes: they never change. */

/* Registers the kinds of instances (hosted by nodes with roles). The
 * definitions (tr_wf_repo_register), job queues (tr_jobs_register) and
 * indexes (tr_wf_index_register, index.h) must be registered too; without
 * the indexes, instances keep retrying what they send them. */
int tr_wf_engine_register(tr_system *sys, uint32_t roles);

/* Starts an instance of the latest version of key with variables vars
 * (a msgpack map, or NULL) and business key bk (or NULL); the new
 * instance's id goes to id[0..cap). Blocks until it is durable: not on a
 * scheduler thread. TR_ENOENT: no such definition. */
int tr_wf_start(tr_system *sys, const char *key, const void *vars, size_t vars_len,
                const char *bk, char *id, size_t cap);

/* After a node starts: wakes the instances that were running (their
 * timers live in their journals and fire only once they are active again).
 * Asks the catalog for the keys and each key's history index, which wakes
 * its running instances on its first recovery in this process (wake.c). */
int tr_wf_wake_start(tr_system *sys);

#endif
