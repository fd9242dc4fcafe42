/* queue.h - the state of one job queue (a topic) and the pure operations
 * on it: no messages, no journal. queue.c (the actor) turns requests into
 * events, appends them, and applies them through here, so recovery and live
 * requests change the state by the very same code. */
#ifndef TR_JOBS_QUEUE_H
#define TR_JOBS_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "troupe/jobs.h"

enum {
  J_AVAILABLE = 0, J_LOCKED, J_RETRY, J_INCIDENT,
  J_FINISHED /* completed or BPMN error; kept until its creator acks the note */
};

enum { JQ_STRS = 6 }; /* the creation's strings: notify, pi, act, bk, dk, did */

typedef struct jq_job {
  struct jq_job *next, *prev; /* creation order */
  struct jq_job *hnext;       /* id hash chain */
  struct jq_job *knext;       /* dedupe key hash chain (jobs with a key) */
  struct jq_job *fnext, *fprev; /* the finished list (notes waiting for an ack) */
  uint64_t seq;               /* creation order as a number: the available set's key */
  size_t apos, tpos;          /* 1 + index in q->avail / q->timed, 0 when not in it */
  int counted;                /* counted in its worker's in-flight (q->wk) */
  char id[TR_JOB_ID_MAX + 1];
  char key[TR_JOB_ID_MAX + 1]; /* creator's dedupe key, or "" */
  int state;
  int64_t retries;            /* -1: not set yet (Camunda's null) */
  uint64_t until_ms;          /* lock end (locked) or when it is retried (retry) */
  char worker[64];
  int pushed;                 /* locked to a subscriber: counts in its in-flight */
  char *notify, *pi, *act, *bk, *error;
  char *dk, *did;             /* the creator's process definition key and id, or NULL */
  uint8_t *vars;              /* the creator's msgpack value, or NULL */
  size_t vars_len;
  uint8_t *note;              /* finished: what the creator is told (outbox) */
  size_t note_len;
  uint32_t note_type;         /* TR_JOB_DONE or TR_JOB_ERROR */
  uint64_t created_ms;
} jq_job;

/* A binary min-heap of jobs that knows each job's place in it (apos or
 * tpos), so a job whose state changes leaves it in O(log n) and no stale
 * entry is ever left behind. */
typedef struct jq_heap {
  jq_job **a;
  size_t n, cap;
  int by_time; /* key: until_ms (the timed heap) or seq (the available set) */
} jq_heap;

/* Pushed jobs whose lock runs, per worker: a subscriber's in-flight. */
typedef struct jq_worker {
  char name[64];
  uint32_t n;
} jq_worker;

/* Every operation a message needs is O(1) or O(log n) in the jobs held:
 * besides the creation-order list (snapshots, lists) the queue keeps
 *  - hash indexes by id and by dedupe key;
 *  - avail: the jobs available at `clock`, oldest (lowest seq) first;
 *  - timed: locked and retrying jobs whose until_ms is after `clock`,
 *    earliest first; jq_advance moves the due ones into avail;
 *  - the finished jobs (notes not acked yet) in their own list;
 *  - per worker, how many pushed jobs it holds locked.
 * Each job is in exactly the structures its state and `clock` put it in;
 * jq_apply takes a job out of them before an event changes it and puts it
 * back after (unplace/place in state.c). */
typedef struct jq {
  char topic[TR_JOB_TOPIC_MAX + 1];
  jq_job *head, *tail;
  jq_job **hb, **kb;          /* id and key buckets, nb of each */
  size_t nb, count;
  uint64_t seq;               /* the next job's creation number */
  uint64_t clock;             /* the time avail and timed are sorted for */
  jq_heap avail, timed;
  jq_job *fhead, *ftail;      /* finished, in the order they finished */
  size_t nfinished;
  jq_worker *wk;
  size_t nwk, capwk;
} jq;

int jq_init(jq *q, const char *topic);
void jq_free(jq *q);
jq_job *jq_find(jq *q, const char *id, size_t len);
/* The oldest job with this dedupe key ("" finds none). */
jq_job *jq_find_key(jq *q, const char *key, size_t len);
/* Adds an available job, newest in creation order; NULL if out of memory. */
jq_job *jq_add(jq *q, const char *id, size_t id_len);
/* Gives j (which has none yet) its dedupe key and indexes it. */
int jq_set_key(jq *q, jq_job *j, const char *key, size_t len);
void jq_remove(jq *q, jq_job *j);
/* Whether j is still a job for workers and lists (not finished). */
int jq_visible(const jq_job *j);
/* Whether j can be handed out at now (an expired lock or a due retry). */
int jq_available(const jq_job *j, uint64_t now_ms);

/* Brings the time-driven indexes up to now: locks that expired and retries
 * that came due by then join the available set (O(k log n) for k of
 * them). Time never runs backwards for a queue: a now before the last one
 * counts as the last one (a lock that expired stays expired if the wall
 * clock steps back). Returns the queue's time, max(now, every earlier now);
 * the functions below advance first and answer for that time. */
uint64_t jq_advance(jq *q, uint64_t now_ms);
/* The earliest moment something changes by itself (a lock expires, a retry
 * comes due) after now, or 0 if nothing does. O(log n). */
uint64_t jq_next_change(jq *q, uint64_t now_ms);
/* How many jobs can be handed out now. O(1) after the advance. */
size_t jq_available_count(jq *q, uint64_t now_ms);
/* The oldest job that can be handed out now, or NULL. Locking it (or any
 * other change that makes it unavailable) takes it out of the set, so
 * fetches take the first n in O(n log n). */
jq_job *jq_first_available(jq *q, uint64_t now_ms);
/* How many pushed jobs worker holds with a running lock. O(workers). */
uint32_t jq_inflight(jq *q, const char *worker, uint64_t now_ms);
/* Checks the indexes' own invariants (heap order and positions, list
 * links, counts): 0 or TR_ECORRUPT. O(n); for tests. */
int jq_check(const jq *q);

/* Events: the journal's records, [kind, ...] msgpack arrays. */
enum {
  EV_CREATE = 1, EV_LOCK, EV_DONE, EV_FAIL, EV_BERR, EV_EXTEND, EV_UNLOCK, EV_RETRIES,
  EV_STATE, /* snapshots only: a job's whole mutable state */
  EV_FORGET /* the creator acknowledged a finished job's note */
};

/* The creation event of a job (strings "" when absent; vars NULL if none). */
/* strs: notify, pi, act, bk, dk, did ("" or NULL when absent). Without a
 * dk or did the event has the first format's 10 fields, else 12. */
int jq_pack_create(tr_pack *pk, const char *id, const char *key, const void *vars,
                   size_t vars_len, int64_t retries, const char *const strs[JQ_STRS],
                   uint64_t created_ms);

/* A snapshot: every job as its creation event and an EV_STATE event, in
 * order, as one msgpack array (restore = jq_apply of each). */
int jq_snapshot(const jq *q, tr_pack *pk);
int jq_restore(jq *q, const void *data, size_t len);

/* Applies one event. TR_ECORRUPT for one that does not fit the state (it
 * is skipped by the caller's recovery, never half-applied). */
int jq_apply(jq *q, const void *ev, size_t len);

/* Packs a job as fetch/list/push show it. */
int jq_pack_job(tr_pack *pk, const jq *q, const jq_job *j, uint64_t now_ms);
/* An upper bound of the bytes jq_pack_job writes for j. */
size_t jq_job_size(const jq *q, const jq_job *j);

#endif
