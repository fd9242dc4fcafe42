/* msg.c - message allocation and local delivery.
 *
 * The send path is the hottest code in troupe: allocate from the thread's
 * pool cache, copy the payload, resolve the target through the slot table,
 * one exchange into its mailbox, and queue the actor only if it was idle.
 */
#include <stdlib.h>
#include <string.h>

#include "codec/mp.h"
#include "core.h"
#include "deadletter.h"
#include "slots.h"


static inline tr_pool_cache *my_cache(tr_system *sys) {
  tr_worker *w = tr_tls_worker;
  return (w && w->sys == sys) ? &w->cache : NULL;
}

tr_mnode *tr_msg_new(tr_system *sys, tr_ref sender, uint32_t type, uint16_t flags, uint64_t corr,
                     const void *data, size_t len) {
  if (len > TR_MSG_MAX) return NULL;
  size_t total = TR_MNODE_HDR + len;
  unsigned cls = tr_pool_class_of(total);
  tr_mnode *n = cls == TR_POOL_MALLOC ? malloc(total) : tr_pool_alloc(&sys->pool, my_cache(sys), cls);
  if (!n) return NULL;
  n->m.sender = sender;
  n->m.corr = corr;
  n->m.type = type;
  n->m.flags = flags;
  n->m.internal_ = (uint16_t)cls;
  n->m.len = (uint32_t)len;
  if (len && data) memcpy(n->m.data, data, len);
  return n;
}

void tr_msg_release(tr_system *sys, tr_mnode *n) {
  tr_pool_free(&sys->pool, my_cache(sys), n, n->m.internal_);
}

uint64_t tr_next_id(tr_system *sys) { return atomic_fetch_add(&sys->next_corr, 1) + 1; }

/* System messages sent to an actor that is gone still owe their sender an
 * answer: a link gets an exit signal, a monitor a DOWN, both with
 * TR_ENOPROC. Everything else is dropped (no one waits for it). */
static void answer_dead_sys(tr_system *sys, tr_ref to, tr_mnode *n) {
  uint64_t v[4];
  if (n->m.type == TR_SYS_LINK && tr_sys_decode(&n->m, v, 2) == 0) {
    uint64_t sig[4] = {to.node, to.id, (uint64_t)(int64_t)TR_ENOPROC, 1};
    tr_sys_send(sys, to, (tr_ref){v[0], v[1]}, TR_SYS_EXIT_SIGNAL, sig, 4);
  } else if (n->m.type == TR_SYS_MONITOR && tr_sys_decode(&n->m, v, 3) == 0) {
    uint64_t down[4] = {v[2], to.node, to.id, (uint64_t)(int64_t)TR_ENOPROC};
    tr_sys_send(sys, to, (tr_ref){v[0], v[1]}, TR_MSG_DOWN, down, 4);
  }
}

static int dead_letter(tr_system *sys, tr_ref to, tr_mnode *n, int system, int reason) {
  if (system)
    answer_dead_sys(sys, to, n);
  else
    tr_dl_record(sys->dl, to, &n->m, reason);
  tr_msg_release(sys, n);
  return reason == TR_DL_MAILBOX_FULL ? TR_EAGAIN : TR_ENOENT;
}

void tr_actor_dead_letter(tr_system *sys, tr_actor *a, tr_mnode *n, int system) {
  dead_letter(sys, tr_actor_ref(sys, a), n, system, TR_DL_STOPPED);
}

/* Makes a runnable after messages were pushed; a flooded a may be helped. */
static void after_push(tr_system *sys, tr_actor *a, int system) {
  /* the push was a full barrier: this load sees an idle actor's state */
  uint32_t st = atomic_load_explicit(&a->state, memory_order_relaxed);
  while (!(st & TR_AS_SCHEDULED)) {
    if (atomic_compare_exchange_weak_explicit(&a->state, &st, st | TR_AS_SCHEDULED,
                                              memory_order_acq_rel, memory_order_relaxed)) {
      tr_sched_make_runnable(sys, a);
      return;
    }
  }
  if (system) return;
  tr_worker *w = tr_tls_worker;
  if (w && w->sys == sys && !w->helping &&
      tr_actor_depth(a) >
          TR_HELP_DEPTH) {
    /* the flooded receiver waits in some worker's runnext (actor.c and
     * sched.c keep it there): take it and run its batch here, on the
     * sender's time */
    for (uint32_t i = 0; i < sys->nworkers; i++) {
      tr_actor *expect = a;
      if (atomic_load_explicit(&sys->workers[i].runnext, memory_order_relaxed) == a &&
          atomic_compare_exchange_strong(&sys->workers[i].runnext, &expect, NULL)) {
        tr_actor *cur = w->cur;
        w->helping = 1;
        tr_actor_run(w, a);
        w->helping = 0;
        w->cur = cur;
        break;
      }
    }
  }
}

void tr_batch_flush(tr_worker *w) {
  if (!w->bn) return;
  tr_actor *a = w->bt;
  tr_mnode *first = w->bhead, *last = w->btail;
  uint32_t n = w->bn;
  w->bt = NULL;
  w->bn = 0;
  if (atomic_load_explicit(&a->state, memory_order_acquire) & TR_AS_DEAD) {
    while (first) {
      tr_mnode *next = atomic_load_explicit(&first->next, memory_order_relaxed);
      dead_letter(w->sys, tr_actor_ref(w->sys, a), first, 0, TR_DL_NO_ACTOR);
      first = first == last ? NULL : next;
    }
    return;
  }
  atomic_fetch_add_explicit(&a->mb_in, n, memory_order_relaxed);
  tr_mbox_push_chain(&a->mbox, first, last);
  after_push(w->sys, a, 0);
}

int tr_deliver_ptr(tr_system *sys, tr_actor *a, tr_mnode *n, int system) {
  uint32_t st = atomic_load_explicit(&a->state, memory_order_acquire);
  if (st & TR_AS_DEAD) return dead_letter(sys, tr_actor_ref(sys, a), n, system, TR_DL_NO_ACTOR);
  if (!system && a->mailbox_bound && !(n->m.flags & (TR_MSG_F_REPLY | TR_MSG_F_TIMER)) &&
      n->m.type < TR_MSG_SYSTEM) {
    uint32_t depth = tr_actor_depth(a);
    if (depth >= a->mailbox_bound) {
      int rc = dead_letter(sys, tr_actor_ref(sys, a), n, 0, TR_DL_MAILBOX_FULL);
      return a->overflow == TR_OVERFLOW_DROP ? 0 : rc;
    }
  }
  tr_worker *w = tr_tls_worker;
  if (!system && !a->mailbox_bound && w && w->sys == sys && w->cur) {
    /* inside a callback: consecutive sends to one target leave as one chain
     * (one exchange on the target's contended tail instead of one each);
     * the chain goes out when the target changes, at 64, and after the
     * callback. Order per sender and receiver is kept. */
    if (w->bt != a) {
      tr_batch_flush(w);
      w->bt = a;
      w->bhead = n;
    } else {
      atomic_store_explicit(&w->btail->next, n, memory_order_relaxed);
    }
    w->btail = n;
    if (++w->bn >= TR_BATCH_MAX) tr_batch_flush(w);
    return 0;
  }
  /* count first: depth = in - out must never look negative */
  atomic_fetch_add_explicit(&a->mb_in, 1, memory_order_relaxed);
  tr_mbox_push(system ? &a->sysbox : &a->mbox, n);
  after_push(sys, a, system);
  return 0;
}

int tr_deliver(tr_system *sys, tr_ref to, tr_mnode *n, int system) {
  if (to.node && to.node != sys->cfg.node_id) {
    /* links and monitors do not cross nodes (yet): a system message to a
     * remote ref gets the answer of an actor that does not exist */
    if (!system && sys->remote_send && sys->remote_send(sys, to, n, sys->remote_arg) == 0)
      return 0;
    return dead_letter(sys, to, n, system, TR_DL_REMOTE);
  }
  if (to.id == TR_ID_EXTERNAL) {
    tr_waiter_complete(sys, n);
    return 0;
  }
  tr_actor *a = tr_slots_get(sys->slots, to.id);
  if (!a) return dead_letter(sys, to, n, system, TR_DL_NO_ACTOR);
  return tr_deliver_ptr(sys, a, n, system);
}

/* ------------------------------------------------------------ system payloads */

int tr_sys_send(tr_system *sys, tr_ref from, tr_ref to, uint32_t type, const uint64_t *v, int n) {
  uint8_t buf[96];
  size_t off = tr_mp_put_array(buf, sizeof buf, (uint32_t)n);
  for (int i = 0; i < n; i++) off += tr_mp_put_int(buf + off, sizeof buf - off, (int64_t)v[i]);
  tr_mnode *m = tr_msg_new(sys, from, type, 0, 0, buf, off);
  if (!m) return TR_ENOMEM;
  return tr_deliver(sys, to, m, 1);
}

int tr_sys_decode(const tr_msg *m, uint64_t *v, int n) {
  uint32_t cnt;
  size_t off = tr_mp_get_array(m->data, m->len, &cnt);
  if (!off || cnt != (uint32_t)n) return TR_EPROTO;
  for (int i = 0; i < n; i++) {
    int neg;
    size_t k = tr_mp_get_int(m->data + off, m->len - off, &v[i], &neg);
    if (!k) return TR_EPROTO;
    off += k;
  }
  return off == m->len ? 0 : TR_EPROTO;
}

int tr_msg_exit(const tr_msg *msg, tr_ref *from, int *reason) {
  uint64_t v[3];
  if (!msg || msg->type != TR_MSG_EXIT || tr_sys_decode(msg, v, 3) < 0) return TR_EINVAL;
  if (from) *from = (tr_ref){v[0], v[1]};
  if (reason) *reason = (int)(int64_t)v[2];
  return 0;
}

int tr_msg_down(const tr_msg *msg, uint64_t *monitor_id, tr_ref *from, int *reason) {
  uint64_t v[4];
  if (!msg || msg->type != TR_MSG_DOWN || tr_sys_decode(msg, v, 4) < 0) return TR_EINVAL;
  if (monitor_id) *monitor_id = v[0];
  if (from) *from = (tr_ref){v[1], v[2]};
  if (reason) *reason = (int)(int64_t)v[3];
  return 0;
}
