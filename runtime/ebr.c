/* ebr.c - see ebr.h. Classic three-epoch scheme (Fraser). */
#include "ebr.h"

#include <stdlib.h>

void tr_ebr_init(tr_ebr *e) {
  atomic_init(&e->epoch, 2);
  atomic_init(&e->recs, NULL);
}

void tr_ebr_destroy(tr_ebr *e) {
  tr_ebr_rec *r = atomic_load(&e->recs);
  while (r) {
    tr_ebr_rec *n = r->next;
    free(r);
    r = n;
  }
  atomic_store(&e->recs, NULL);
}

tr_ebr_rec *tr_ebr_rec_acquire(tr_ebr *e) {
  for (tr_ebr_rec *r = atomic_load(&e->recs); r; r = r->next) {
    int expect = 0;
    if (atomic_compare_exchange_strong(&r->in_use, &expect, 1)) return r;
  }
  tr_ebr_rec *r = calloc(1, sizeof *r);
  if (!r) return NULL;
  atomic_init(&r->in_use, 1);
  atomic_init(&r->local, 0);
  tr_ebr_rec *head = atomic_load(&e->recs);
  do {
    r->next = head;
  } while (!atomic_compare_exchange_weak(&e->recs, &head, r));
  return r;
}

void tr_ebr_rec_release(tr_ebr_rec *r) {
  atomic_store(&r->local, 0);
  r->depth = 0;
  atomic_store(&r->in_use, 0);
}

void tr_ebr_enter(tr_ebr *e, tr_ebr_rec *r) {
  if (r->depth++ > 0) return;
  /* seq_cst store: later loads of shared pointers may not move above it */
  atomic_store(&r->local, (atomic_load_explicit(&e->epoch, memory_order_relaxed) << 1) | 1);
  atomic_thread_fence(memory_order_seq_cst);
}

void tr_ebr_exit(tr_ebr_rec *r) {
  if (--r->depth > 0) return;
  atomic_store_explicit(&r->local, 0, memory_order_release);
}

void tr_ebr_quiescent(tr_ebr *e, tr_ebr_rec *r) {
  uint64_t ep = atomic_load_explicit(&e->epoch, memory_order_relaxed);
  uint64_t cur = atomic_load_explicit(&r->local, memory_order_relaxed);
  if (cur == ((ep << 1) | 1)) return; /* nothing new to announce */
  atomic_store(&r->local, (ep << 1) | 1);
  atomic_thread_fence(memory_order_seq_cst);
}

void tr_ebr_offline(tr_ebr_rec *r) { atomic_store_explicit(&r->local, 0, memory_order_release); }

void tr_ebr_retire(tr_ebr *e, tr_ebr_limbo *l, tr_ebr_node *n, tr_ebr_free_fn fn, void *arg) {
  uint64_t ep = atomic_load(&e->epoch);
  unsigned b = (unsigned)(ep % 3);
  if (l->bucket[b] && l->bucket_epoch[b] != ep) {
    /* stale bucket from epoch ep-3 or older: safe, since ep >= its epoch + 2 */
    tr_ebr_node *x = l->bucket[b];
    l->bucket[b] = NULL;
    while (x) {
      tr_ebr_node *nx = x->next;
      x->fn(x, x->arg);
      l->count--;
      x = nx;
    }
  }
  n->fn = fn;
  n->arg = arg;
  n->next = l->bucket[b];
  l->bucket[b] = n;
  l->bucket_epoch[b] = ep;
  l->count++;
}

static int try_advance(tr_ebr *e, uint64_t ep) {
  for (tr_ebr_rec *r = atomic_load(&e->recs); r; r = r->next) {
    uint64_t v = atomic_load(&r->local);
    if ((v & 1) && (v >> 1) != ep) return 0;
  }
  uint64_t expect = ep;
  atomic_compare_exchange_strong(&e->epoch, &expect, ep + 1);
  return 1;
}

uint64_t tr_ebr_collect(tr_ebr *e, tr_ebr_limbo *l) {
  if (!l->count) return 0;
  uint64_t ep = atomic_load(&e->epoch);
  if (try_advance(e, ep)) ep = atomic_load(&e->epoch);
  uint64_t freed = 0;
  for (unsigned b = 0; b < 3; b++) {
    if (!l->bucket[b] || l->bucket_epoch[b] + 2 > ep) continue;
    tr_ebr_node *x = l->bucket[b];
    l->bucket[b] = NULL;
    while (x) {
      tr_ebr_node *nx = x->next;
      x->fn(x, x->arg);
      freed++;
      x = nx;
    }
  }
  l->count -= freed;
  return freed;
}

void tr_ebr_drain(tr_ebr_limbo *l) {
  for (unsigned b = 0; b < 3; b++) {
    tr_ebr_node *x = l->bucket[b];
    l->bucket[b] = NULL;
    while (x) {
      tr_ebr_node *nx = x->next;
      x->fn(x, x->arg);
      x = nx;
    }
  }
  l->count = 0;
}
