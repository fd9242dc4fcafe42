/* troupe/jobs.h - durable job queues (external tasks), and how workers talk
 * to them.
 *
 * Every topic is one persistent virtual actor, "jobs/<topic>", whose state
 * is the journal of what happened to its jobs: created, locked, completed,
 * failed, ... A job is handed to one worker at a time under a lock that
 * expires; a job whose lock expired is available again; completion is
 * accepted once, from the worker holding the lock. Every request is
 * answered only after its effect is durable, and whoever created a job
 * (a process instance, by virtual name) is told when it completes, fails
 * for good (an incident) or raises a BPMN error.
 *
 * Workers either fetch-and-lock (an ask, answered when jobs are available
 * or after the long-poll wait, like Camunda's fetchAndLock) or subscribe:
 * the queue then pushes TR_JOB_PUSH messages to the subscriber, locked to
 * it, up to `max` in flight.
 *
 * All payloads are msgpack maps (troupe/codec.h), with the keys below.
 * Replies are TR_JOB_REPLY: {ok: true, ...} or {ok: false, code: TR_E*,
 * error: text}. Ownership: every function copies what it is given.
 */
#ifndef TROUPE_JOBS_H
#define TROUPE_JOBS_H

#include <stddef.h>
#include <stdint.h>

#include "actor.h"
#include "codec.h"
#include "system.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TR_JOB_KIND "jobs"
#define TR_JOB_TOPIC_MAX 200 /* bytes of a topic name */
#define TR_JOB_ID_MAX 255    /* bytes of a job id: "<hex seq>-<topic>" */

enum {
  /* requests to jobs/<topic> (asks; sender = who is answered) */
  TR_JOB_CREATE = 0x4A000001, /* {key?, vars?, retries?, notify? | notify_ref?, pi?,
                                 act?, bk?, dk?, did?} -> {ok, id}. dk, did: the
                                 creator's process definition key and id. notify: a virtual name of a
                                 kind the queue's node knows (a process instance);
                                 notify_ref: [node, id] of any actor. key: a retried
                                 creation with the same key is the same job */
  TR_JOB_FETCH,               /* {worker, max, lock_ms, wait_ms?} -> {ok, jobs: [job]} */
  TR_JOB_COMPLETE,            /* {id, worker, vars?} -> {ok} */
  TR_JOB_FAIL,                /* {id, worker, retries, retry_ms?, error?, details?} -> {ok} */
  TR_JOB_BPMN_ERROR,          /* {id, worker, code, message?, vars?} -> {ok} */
  TR_JOB_EXTEND,              /* {id, worker, lock_ms} -> {ok} */
  TR_JOB_UNLOCK,              /* {id} -> {ok} */
  TR_JOB_SET_RETRIES,         /* {id, retries} -> {ok}: resolves an incident when > 0 */
  TR_JOB_SUBSCRIBE,           /* {worker, max, lock_ms, lease_ms?} -> {ok}; then
                                 TR_JOB_PUSH. A lease (default 30 s): renew it by
                                 subscribing again, or it lapses */
  TR_JOB_UNSUBSCRIBE,         /* {worker} -> {ok} */
  TR_JOB_LIST,                /* {first?, max?} -> {ok, more, jobs: [job]}: the visible
                                 jobs in creation order from the first-th (0), at most
                                 max, and at most ~8 MiB of them (at least one) */
  /* answers */
  TR_JOB_REPLY,
  /* to a subscriber: one job, locked to it (a job map) */
  TR_JOB_PUSH,
  /* to the job's notify name (not asks): {id, topic, key, vars?} / {id, topic,
   * key, code, message, vars?} / {id, topic, key, error}; key: the creation's */
  TR_JOB_DONE,
  TR_JOB_ERROR,
  TR_JOB_INCIDENT,
  /* from the creator, after TR_JOB_DONE or TR_JOB_ERROR: {id}. Until it comes
   * the queue keeps the note and sends it again after a restart and every
   * 30 s, so a creator hears of every outcome at least once (and must take
   * a repeated one as the same). An ask is answered {ok}. */
  TR_JOB_ACK,
  /* {id, worker, lock_ms} -> {ok}: locks one job by id (Camunda's
   * external-task lock); TR_EPERM when another worker holds it */
  TR_JOB_LOCK,
  /* {id} -> {ok, job}: one job that is not finished, else TR_ENOENT */
  TR_JOB_GET,
  /* {key} or {id} -> {ok}: the job is withdrawn (its activity was left
   * another way: a boundary event, a terminate); a worker's later
   * completion gets TR_ENOENT and the creator hears nothing. Unknown or
   * finished: ok (a repeat is the same) */
  TR_JOB_CANCEL
};
/* The values above are stored in journals and travel between nodes: they
 * never change; new ones go at the end. */

/* A job, as fetch, list and push give it:
 *   {id, topic, vars (the creator's msgpack value, or nil), retries (-1: not
 *    set yet), pi, act, bk, dk, did, state: "available"|"locked"|"retry"|"incident",
 *    worker, lock_until (ms since the epoch), error, created (ms)} */

/* The topic of a job id the queue made ("<hex>-<topic>") into buf. */
int tr_job_id_topic(const char *id, char *buf, size_t cap);

/* Registers the jobs kind on sys (every node that sends to queues or hosts
 * them; hosts are the nodes with `roles`, 0 = any). Needs a data dir. */
int tr_jobs_register(tr_system *sys, uint32_t roles);

/* The queue's virtual name for topic into buf ("jobs/<topic>"). TR_EINVAL
 * for an empty or over-long topic or one with control bytes. */
int tr_job_queue_name(const char *topic, char *buf, size_t cap);

/* Decodes a TR_JOB_REPLY: 0 if ok, else its code (TR_EPROTO if malformed).
 * *body (optional) gets the reply map to read more keys from. */
int tr_job_reply_status(const tr_msg *reply, tr_unpack *body);

/* Worker helpers (inside an actor): subscribe to topic with at most max
 * jobs in flight, each locked for lock_ms; complete a pushed job (its id
 * from the TR_JOB_PUSH map) with optional msgpack vars. The replies arrive
 * as TR_JOB_REPLY with the returned corr. */
int tr_job_subscribe(tr_ctx *ctx, const char *topic, const char *worker, uint32_t max,
                     uint32_t lock_ms, uint64_t *corr);
int tr_job_complete(tr_ctx *ctx, const char *topic, const char *id, const char *worker,
                    const void *vars, size_t vars_len, uint64_t *corr);

#ifdef __cplusplus
}
#endif
#endif
