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

typedef struct jq_job {
  struct jq_job *next, *prev; /* creation order */
  struct jq_job *hnext;       /* id hash chain */
  char id[TR_JOB_ID_MAX + 1];
  char key[TR_JOB_ID_MAX + 1]; /* creator's dedupe key, or "" */
  int state;
  int64_t retries;            /* -1: not set yet (Camunda's null) */
  uint64_t until_ms;          /* lock end (locked) or when it is retried (retry) */
  char worker[64];
  int pushed;                 /* locked to a subscriber: counts in its in-flight */
  char *notify, *pi, *act, *bk, *error;
  uint8_t *vars;              /* the creator's msgpack value, or NULL */
  size_t vars_len;
  uint8_t *note;              /* finished: what the creator is told (outbox) */
  size_t note_len;
  uint32_t note_type;         /* TR_JOB_DONE or TR_JOB_ERROR */
  uint64_t created_ms;
} jq_job;

typedef struct jq {
  char topic[TR_JOB_TOPIC_MAX + 1];
  jq_job *head, *tail;
  jq_job **hb;
  size_t nb, count;
} jq;

int jq_init(jq *q, const char *topic);
void jq_free(jq *q);
jq_job *jq_find(jq *q, const char *id, size_t len);
jq_job *jq_find_key(jq *q, const char *key, size_t len);
/* Adds a job (its strings copied); NULL if out of memory. */
jq_job *jq_add(jq *q, const char *id, size_t id_len);
void jq_remove(jq *q, jq_job *j);
/* Whether j is still a job for workers and lists (not finished). */
int jq_visible(const jq_job *j);
/* Whether j can be handed out at now (an expired lock or a due retry). */
int jq_available(const jq_job *j, uint64_t now_ms);
/* The earliest moment something changes by itself (a lock expires, a retry
 * comes due) after now, or 0 if nothing does. */
uint64_t jq_next_change(const jq *q, uint64_t now_ms);

/* Events: the journal's records, [kind, ...] msgpack arrays. */
enum {
  EV_CREATE = 1, EV_LOCK, EV_DONE, EV_FAIL, EV_BERR, EV_EXTEND, EV_UNLOCK, EV_RETRIES,
  EV_STATE, /* snapshots only: a job's whole mutable state */
  EV_FORGET /* the creator acknowledged a finished job's note */
};

/* The creation event of a job (strings "" when absent; vars NULL if none). */
int jq_pack_create(tr_pack *pk, const char *id, const char *key, const void *vars,
                   size_t vars_len, int64_t retries, const char *const strs[4],
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

#endif
