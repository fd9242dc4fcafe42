/* index.h - the engine's indexes: user tasks, message subscriptions and
 * history, each a persistent virtual actor beside the instances (engine.h).
 *
 * An instance is the truth about its own tokens; the indexes answer the
 * questions that span instances (which tasks may Mary work on? which
 * instance waits for message "paid" with business key 42? which instances
 * of "order" finished yesterday?). They are sharded by what a query names
 * first, so that no one actor sees every instance:
 *
 *   wftask/<definition key>   the open user tasks of one process key
 *   wfmsg/<message name>      who waits for a message of that name
 *   wfhist/<definition key>   the instances of one process key, running
 *                             and finished, with their activities
 *
 * A query over every key (a task list by assignee alone) asks each key's
 * actor (keys from the repository, repo.h) and merges.
 *
 * Delivery follows the job queues' pattern (troupe/jobs.h): a request is an
 * ask answered once its effect is durable; what an index must tell an
 * instance (a task completed, a message correlated) is an outbox note sent
 * again after a restart and every 30 s until the instance acks it, and the
 * instance takes a repeated note as the same. Registrations from an
 * instance (create a task, subscribe to a message) are idempotent by their
 * id, so an instance re-sends them after its own recovery without harm.
 *
 * Ids: the instance numbers every wait state (a job, a user task, a message
 * or timer wait) in the order its interpreter creates them, the same on
 * every replay; the wait's id is "<instance id>:<n>". A user task's id is
 * its wait id.
 *
 * All payloads are msgpack maps with the keys below; replies are
 * TR_WF_IDX_REPLY {ok: true, ...} or {ok: false, code: TR_E*, error: text}
 * (tr_pack_error / tr_reply_status in troupe/codec.h). Times are ms since
 * the epoch. The type values are stored and travel between nodes: they
 * never change; new ones go at the end.
 */
#ifndef TR_WF_INDEX_H
#define TR_WF_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "troupe/troupe.h"

#define TR_WF_TASK_KIND "wftask"
#define TR_WF_MSG_KIND "wfmsg"
#define TR_WF_HIST_KIND "wfhist"

enum {
  /* ---- wftask/<key>: user tasks ----
   * A task: {id, pi, def, key, act, name, assignee (nil: none),
   * cand_users: [str], cand_groups: [str], form_key, due, follow_up,
   * priority: int, bk, created, vars (the instance's variables when the
   * task was created: the form's values), fields: [{id, label, type,
   * default}] (camunda:formData)} */
  TR_WFT_CREATE = 0x57460201, /* from an instance: a task (as above) -> {ok}; an id
                                 already known (open or done) answers ok again.
                                 "Done" is remembered for the last 10,000 ids that
                                 ended and every id whose note is unacked. Required:
                                 id, pi; defaults: strings "", lists [], due and
                                 follow_up nil, priority 50, created now, vars {},
                                 fields []; key is always the actor's key */
  TR_WFT_LIST,                /* {assignee?, candidate_user?, candidate_group?,
                                 candidate_groups?: [str], include_assigned?: bool,
                                 pi?, act?, unassigned?: bool, bk?} -> {ok, tasks:
                                 [task]} in
                                 creation order; every given filter must hold;
                                 candidate_user / _group also match tasks assigned to
                                 nobody whose candidates name them. Decided here:
                                 candidate_user, candidate_group and candidate_groups
                                 ([str], a user's groups) together are one filter, "a
                                 candidate for": the user OR one of the groups is
                                 named (Camunda forbids combining them; this is how
                                 the REST layer asks for a user with groups). Like
                                 Camunda, a candidate filter sees only unassigned
                                 tasks unless include_assigned?: bool is true */
  TR_WFT_GET,                 /* {id} -> {ok, task}; TR_ENOENT when not open */
  TR_WFT_CLAIM,               /* {id, user} -> {ok}; TR_EBUSY when another user holds
                                 it (Camunda: TaskAlreadyClaimedException); the
                                 holder claiming again is ok */
  TR_WFT_UNCLAIM,             /* {id} -> {ok} (assignee nil) */
  TR_WFT_COMPLETE,            /* {id, vars?} -> {ok} once the completion is durable in
                                 the index; the task leaves the open set and the
                                 instance gets TR_WF_TASK_DONE (outbox) */
  TR_WFT_CANCEL,              /* from an instance: {id} -> {ok}: the task's token left
                                 another way (a boundary event, terminate); no note.
                                 An unknown or ended id answers ok too */

  /* ---- wfmsg/<name>: message subscriptions ----
   * A subscription: an instance's wait {id: wait id, pi, key, bk, corr: map
   * (the instance's variables when it subscribed, for correlation keys)}, or
   * a message start event {start: definition key} registered by a
   * deployment. */
  TR_WFM_SUBSCRIBE = 0x57460301, /* {id, pi, key, bk, corr?} -> {ok}; idempotent
                                    (key, bk default ""; an id already correlated
                                    or canceled answers ok and stays out) */
  TR_WFM_CANCEL,                 /* {id} -> {ok}; idempotent */
  TR_WFM_START_ADD,              /* {key} -> {ok}: the latest version of key has a
                                    message start event of this name (tr_wf_deploy
                                    sends it). Never removed yet; with several keys
                                    the one registered last starts (Camunda refuses
                                    two definitions with one message start name) */
  TR_WFM_CORRELATE,              /* {bk?, corr?: map (values that must equal the
                                    subscription's), vars?: map, all?: bool,
                                    start_bk?} -> {ok, matched: [{pi, id?, started?:
                                    bool}]}. One waiting subscription matches (more
                                    than one without `all`: TR_EEXIST, none and no
                                    start event: TR_ENOENT); a match leaves the set
                                    and its instance gets TR_WF_MSG_DELIVER (outbox).
                                    With no waiting match and a start event, a new
                                    instance of that key starts (tr_wf_start's
                                    protocol, vars and bk) */
                                 /* Decided here: pi?: str narrows to one instance;
                                    the subscription's corr entry and the request's
                                    must be equal as msgpack values (1 == 1.0, maps
                                    regardless of key order); a start asks wf/<new
                                    32-hex id> TR_WF_START {key, vars?, bk: start_bk
                                    or bk, msg: the message name} and answers once
                                    the instance answers (its error code if it
                                    fails, TR_ETIMEDOUT after 30 s). A correlation
                                    that started an instance is not journaled:
                                    retried after a lost answer it may start a
                                    second one */

  /* ---- wfhist/<key>: instances and their activities ----
   * An instance record: {pi, def, key, version, bk, state:
   * "running"|"completed"|"failed"|"terminated", start, end (nil while
   * running), error, acts: [{id, act, type, name, start, end, canceled}]} */
  TR_WFH_STARTED = 0x57460401, /* from an instance: {pi, def, key, version, bk, start}
                                  -> {ok}; idempotent (sent again on recovery) */
  TR_WFH_ENDED,                /* from an instance: {pi, state, end, error?, acts} ->
                                  {ok}; idempotent (the first end stays). An end of
                                  an instance never started here makes a record
                                  (start 0). Retention: the newest
                                  tr_wf_hist_keep() finished records per key */
  TR_WFH_LIST,                 /* {state?: "running"|"finished"|..., bk?, pi?,
                                  started_after?, started_before?, finished_after?,
                                  finished_before?, first?, max?} -> {ok, instances:
                                  [record], count} (count: all that matched).
                                  Decided here: start order; time bounds inclusive
                                  (Camunda's); "finished" = any state but running;
                                  max defaults to 1,000 and is at most 10,000 (0:
                                  only the count) */
  TR_WFH_GET,                  /* {pi} -> {ok, instance: record} */

  TR_WF_IDX_REPLY,

  /* ---- notes from the indexes to an instance (wf/<pi>), not asks ----
   * The instance acks each with TR_WF_IDX_ACK {id} to the sender's name
   * (`from` in the note) once what it caused is durable. */
  TR_WF_TASK_DONE = 0x57460501, /* {id: wait id, from, vars?} */
  TR_WF_MSG_DELIVER,            /* {id: wait id, from, name, vars?} */
  TR_WF_IDX_ACK,                /* {id}; as an ask, answered {ok} (unknown ids too) */

  /* ---- engine events (tr_wf_emit), to the target name ----
   * {type, time: ms, data: map}; sent, not asked, at most once */
  TR_WF_EVENT = 0x57460601
};

/* Finished instance records kept per process key (newest first). */
#define TR_WF_HIST_KEEP 100000
/* The process-wide retention (0 = 1); tests lower it. */
void tr_wf_hist_keep_set(size_t n);
size_t tr_wf_hist_keep(void);

/* Asks <kind>/<key> (tr_wf_index_name) from inside an actor: data[0..len)
 * (a msgpack map, copied) as request type; the answer arrives as
 * TR_WF_IDX_REPLY (or TR_MSG_TIMEOUT) with *corr. For the REST layer and
 * the instances: every request is an ask, nothing here blocks. */
int tr_wf_index_ask(tr_ctx *ctx, const char *kind, const char *key, uint32_t type,
                    const void *data, size_t len, uint32_t timeout_ms, uint64_t *corr);

/* Decodes an index's answer (TR_WF_IDX_REPLY): 0 if ok, else its code;
 * TR_ETIMEDOUT for a TR_MSG_TIMEOUT, TR_EPROTO for anything else. *body
 * (optional) gets a cursor over the reply map, borrowed from reply. */
int tr_wf_idx_reply_status(const tr_msg *reply, tr_unpack *body);

/* Registers the three kinds (hosted by nodes with roles; 0 = any). */
int tr_wf_index_register(tr_system *sys, uint32_t roles);

/* The index actors' names: "<kind>/<key or message name>" into buf
 * (the caller's, cap bytes). TR_EINVAL when kind is not one of the three
 * or the key does not make a valid virtual name (or does not fit). */
int tr_wf_index_name(const char *kind, const char *key, char *buf, size_t cap);

/* ---- engine events ----
 * What happens in the engine is published as an event (the events issue
 * carries them to clients): type is one of "process.started",
 * "process.completed", "task.created", "task.completed", "job.created",
 * "job.completed", "incident.created"; data a msgpack map (borrowed,
 * copied) with at least pi, key and bk. Until an event bus is registered
 * on the system this only counts them. Never blocks; never fails the
 * caller (a lost event is counted). */
void tr_wf_emit(tr_ctx *ctx, const char *type, const void *data, size_t len);
/* Where events go: a virtual name ("events/engine") or "" for nowhere
 * (copied; an invalid name is nowhere). One per process, whatever sys:
 * the engine's kinds are too. */
void tr_wf_emit_target(tr_system *sys, const char *name);
/* Events emitted, and of those the ones that could not be sent (no ctx, no
 * such kind, no memory). Who emits what: the task index emits
 * task.created (a new task, not a repeated creation) and task.completed;
 * the instances emit the process.*, job.* and incident.* events. */
uint64_t tr_wf_emit_count(void);
uint64_t tr_wf_emit_lost(void);

#endif
