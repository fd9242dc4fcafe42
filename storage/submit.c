/* submit.c - the submitting side of the writer: a lock-free LIFO that any
 * thread pushes requests onto (one compare-and-swap), the wake-up of a
 * sleeping writer, and the blocking tr_store_write. */
#include "storage/internal.h"

static void wake(tr_store *s) {
  if (atomic_exchange(&s->sleeping, 0)) {
    pthread_mutex_lock(&s->wake_mu);
    pthread_cond_signal(&s->wake_cv);
    pthread_mutex_unlock(&s->wake_mu);
  }
}

int tr_store_submit(tr_store *s, tr_store_req *req) {
  if (!s || !req) return TR_EINVAL;
  if (s->read_only) return TR_EPERM;
  uint32_t n;
  tr_store_op *ops = st_req_ops(req, &n);
  if (n == 0 || n > (1u << 24)) return TR_EINVAL;
  for (uint32_t i = 0; i < n; i++) {
    int rc = st_op_check(s, &ops[i]);
    if (rc) return rc;
  }
  /* closing is checked after announcing ourselves: the writer exits only
   * when it has seen closing set and no submitter in flight */
  atomic_fetch_add(&s->submitting, 1);
  if (atomic_load(&s->closing)) {
    atomic_fetch_sub(&s->submitting, 1);
    return TR_ESTOPPED;
  }
  req->status = 0;
  req->flags_ = 0;
  tr_store_req *head = atomic_load(&s->inbox);
  do req->next_ = head;
  while (!atomic_compare_exchange_weak(&s->inbox, &head, req));
  if (atomic_load(&s->sleeping)) wake(s);
  atomic_fetch_sub(&s->submitting, 1);
  return 0;
}

typedef struct {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool done;
  int status;
} waiter;

static void waiter_done(void *arg, int status) {
  waiter *w = arg;
  pthread_mutex_lock(&w->mu);
  w->status = status;
  w->done = true;
  pthread_cond_signal(&w->cv);
  pthread_mutex_unlock(&w->mu);
}

int tr_store_write(tr_store *s, tr_store_op *ops, uint32_t n) {
  if (!s || !ops || n == 0) return TR_EINVAL;
  if (s->thread_started && pthread_equal(pthread_self(), s->thread)) return TR_EDEADLK;
  if (st_gate_held(s)) return TR_EDEADLK;
  waiter w = {.done = false};
  pthread_mutex_init(&w.mu, NULL);
  pthread_cond_init(&w.cv, NULL);
  tr_store_req r = {.ops = ops, .n_ops = n, .done = waiter_done, .arg = &w};
  int rc = tr_store_submit(s, &r);
  if (rc == 0) {
    pthread_mutex_lock(&w.mu);
    while (!w.done) pthread_cond_wait(&w.cv, &w.mu);
    pthread_mutex_unlock(&w.mu);
    rc = w.status;
  }
  pthread_mutex_destroy(&w.mu);
  pthread_cond_destroy(&w.cv);
  return rc;
}
