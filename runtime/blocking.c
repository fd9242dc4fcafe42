/* blocking.c - see blocking.h. A mutex/condvar queue is right here: jobs are
 * slow by definition, so the queue is never the bottleneck. */
#include "blocking.h"

#include <stdlib.h>
#include <string.h>

typedef struct job {
  struct job *next;
  tr_blocking_fn fn;
  void *arg;
  tr_ref to;
  uint32_t type;
  int system; /* result goes to the system mailbox (runtime's own jobs) */
  uint64_t id;
} job;

struct tr_blocking {
  tr_system *sys;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  job *head, *tail;
  int stopping;
  uint32_t nthreads;
  pthread_t *threads;
};

int tr_buf_append(tr_buf *b, const void *data, size_t len) {
  if (!b || (len && !data)) return TR_EINVAL;
  if (b->len + len > TR_BUF_MAX) return TR_ETOOBIG;
  if (b->len + len > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + len) cap *= 2;
    uint8_t *d = realloc(b->data, cap);
    if (!d) return TR_ENOMEM;
    b->data = d;
    b->cap = cap;
  }
  if (len) memcpy(b->data + b->len, data, len);
  b->len += len;
  return 0;
}

static void run_job(tr_blocking *bp, job *j) {
  tr_buf out = {0};
  int rc = j->fn(j->arg, &out);
  tr_system *sys = bp->sys;
  tr_mnode *n = rc < 0 ? NULL : tr_msg_new(sys, TR_REF_NONE, j->type, 0, j->id, out.data, out.len);
  /* a result too big to copy is still an answer: the submitter may be
   * keeping something until it hears of the job */
  if (!n) n = tr_msg_new(sys, TR_REF_NONE, j->type, TR_MSG_F_FAILED, j->id, NULL, 0);
  free(out.data);
  if (n) {
    tr_external_enter(sys);
    tr_deliver(sys, j->to, n, j->system);
    tr_external_exit(sys);
  }
  free(j);
}

static void *thread_main(void *arg) {
  tr_blocking *bp = arg;
  pthread_mutex_lock(&bp->lock);
  for (;;) {
    while (!bp->head && !bp->stopping) pthread_cond_wait(&bp->cond, &bp->lock);
    job *j = bp->head;
    if (!j) break; /* stopping and drained */
    bp->head = j->next;
    if (!bp->head) bp->tail = NULL;
    pthread_mutex_unlock(&bp->lock);
    run_job(bp, j);
    pthread_mutex_lock(&bp->lock);
  }
  pthread_mutex_unlock(&bp->lock);
  return NULL;
}

tr_blocking *tr_blocking_new(tr_system *sys, uint32_t threads) {
  tr_blocking *bp = calloc(1, sizeof *bp);
  if (!bp) return NULL;
  bp->sys = sys;
  pthread_mutex_init(&bp->lock, NULL);
  pthread_cond_init(&bp->cond, NULL);
  bp->threads = calloc(threads, sizeof *bp->threads);
  if (!bp->threads) {
    free(bp);
    return NULL;
  }
  for (uint32_t i = 0; i < threads; i++) {
    if (pthread_create(&bp->threads[i], NULL, thread_main, bp) != 0) break;
    bp->nthreads++;
  }
  return bp;
}

void tr_blocking_free(tr_blocking *bp) {
  if (!bp) return;
  pthread_mutex_lock(&bp->lock);
  bp->stopping = 1;
  pthread_cond_broadcast(&bp->cond);
  pthread_mutex_unlock(&bp->lock);
  for (uint32_t i = 0; i < bp->nthreads; i++) pthread_join(bp->threads[i], NULL);
  free(bp->threads);
  pthread_mutex_destroy(&bp->lock);
  pthread_cond_destroy(&bp->cond);
  free(bp);
}

int tr_blocking_run(tr_system *sys, tr_ref to, tr_blocking_fn fn, void *arg, uint32_t type,
                    int system, uint64_t *id) {
  tr_blocking *bp = sys->blocking;
  job *j = malloc(sizeof *j);
  if (!j) return TR_ENOMEM;
  j->next = NULL;
  j->fn = fn;
  j->arg = arg;
  j->to = to;
  j->type = type;
  j->system = system;
  j->id = tr_next_id(sys);
  uint64_t jid = j->id; /* once queued, j is the pool's: it may run and be freed at once */
  pthread_mutex_lock(&bp->lock);
  if (bp->stopping) {
    pthread_mutex_unlock(&bp->lock);
    free(j);
    return TR_ESTOPPED;
  }
  if (bp->tail)
    bp->tail->next = j;
  else
    bp->head = j;
  bp->tail = j;
  pthread_cond_signal(&bp->cond);
  pthread_mutex_unlock(&bp->lock);
  if (id) *id = jid;
  return 0;
}

int tr_blocking_submit(tr_ctx *ctx, tr_blocking_fn fn, void *arg, uint32_t type, uint64_t *id) {
  if (!ctx || !fn || type >= TR_MSG_SYSTEM) return TR_EINVAL;
  return tr_blocking_run(tr_actor_system(ctx), tr_actor_self(ctx), fn, arg, type, 0, id);
}
