/* mailbox.h - lock-free multi-producer, single-consumer message queue.
 *
 * Intrusive, 16 bytes per queue and no stub node: `tail` points at the link
 * field that the next producer fills (the last node's `next`, or `head` when
 * the queue is empty). A push is one exchange plus one store; a pop is a few
 * plain loads. A push that exchanged the tail but has not linked its node yet
 * makes the queue look "not ready" to the consumer for a few instructions;
 * the consumer then reports the queue non-empty and retries later, it never
 * waits for the producer.
 */
#ifndef TR_MAILBOX_H
#define TR_MAILBOX_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "troupe/actor.h"

/* A message as the runtime holds it: link, then the public part. */
typedef struct tr_mnode {
  _Atomic(struct tr_mnode *) next;
  tr_msg m;
} tr_mnode;

#define TR_MNODE_HDR (offsetof(tr_mnode, m) + offsetof(tr_msg, data))

static inline tr_mnode *tr_mnode_of(const tr_msg *m) {
  return (tr_mnode *)((char *)m - offsetof(tr_mnode, m));
}

typedef struct tr_mbox {
  _Atomic(tr_mnode *) head;
  _Atomic(_Atomic(tr_mnode *) *) tail;
} tr_mbox;

static inline void tr_mbox_init(tr_mbox *q) {
  atomic_init(&q->head, NULL);
  atomic_init(&q->tail, &q->head);
}

static inline void tr_mbox_push(tr_mbox *q, tr_mnode *n) {
  atomic_store_explicit(&n->next, NULL, memory_order_relaxed);
  _Atomic(tr_mnode *) *prev = atomic_exchange_explicit(&q->tail, &n->next, memory_order_acq_rel);
  atomic_store_explicit(prev, n, memory_order_release);
}

/* Pushes a chain first..last (linked through next) with one exchange. */
static inline void tr_mbox_push_chain(tr_mbox *q, tr_mnode *first, tr_mnode *last) {
  atomic_store_explicit(&last->next, NULL, memory_order_relaxed);
  _Atomic(tr_mnode *) *prev = atomic_exchange_explicit(&q->tail, &last->next, memory_order_acq_rel);
  atomic_store_explicit(prev, first, memory_order_release);
}

/* True if a message is queued or being queued. Consumer side. */
static inline int tr_mbox_nonempty(tr_mbox *q) {
  return atomic_load_explicit(&q->tail, memory_order_acquire) != &q->head;
}

/* Pops the oldest message, or NULL when empty or not ready yet. Consumer only. */
static inline tr_mnode *tr_mbox_pop(tr_mbox *q) {
  tr_mnode *n = atomic_load_explicit(&q->head, memory_order_acquire);
  if (!n) return NULL;
  tr_mnode *next = atomic_load_explicit(&n->next, memory_order_acquire);
  if (next) {
    atomic_store_explicit(&q->head, next, memory_order_relaxed);
    return n;
  }
  /* n looks like the last node: empty the queue, then try to point the tail
   * back at head. If a producer got in first it links n->next soon: put n
   * back and let the caller retry. */
  atomic_store_explicit(&q->head, NULL, memory_order_relaxed);
  _Atomic(tr_mnode *) *expect = &n->next;
  if (atomic_compare_exchange_strong_explicit(&q->tail, &expect, &q->head, memory_order_acq_rel,
                                              memory_order_acquire))
    return n;
  next = atomic_load_explicit(&n->next, memory_order_acquire);
  if (next) {
    atomic_store_explicit(&q->head, next, memory_order_relaxed);
    return n;
  }
  atomic_store_explicit(&q->head, n, memory_order_relaxed);
  return NULL;
}

#endif
