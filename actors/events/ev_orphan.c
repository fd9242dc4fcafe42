/* ev_orphan.c - a write that an activation of a topic left in flight, until
 * it lands or the next activation of the topic on this node takes it over.
 *
 * Why: an activation that ends (passivated, or its receive failed) cannot
 * wait for its write. The next activation reads the topic's state from the
 * store; if it read before that write landed, it would number its events
 * after a stale last id, while the queue numbers them after the orphan's:
 * its acks and its index entries would name other events than its own. So
 * the next activation adopts the orphan as its own write in flight: it
 * writes nothing until the orphan lands, then reads its state again (the
 * store is then authoritative), and the orphan's askers get their answers
 * from it.
 *
 * Every change of a write's state (ev_write.state) happens under one mutex:
 * the completion (on the store's writer thread), the end of an activation
 * and the adoption by the next one. Orphans are rare and a write completes
 * at most once per commit, so the lock is never contended in practice. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "actors/events/ev_actor.h"

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static ev_write *g_orphans; /* state 2, linked through orphan_next */

bool ev_orphan_done(ev_write *w, tr_system **sys, tr_ref *self) {
  pthread_mutex_lock(&g_mu);
  if (atomic_load(&w->state) == 2) {
    for (ev_write **p = &g_orphans; *p; p = &(*p)->orphan_next)
      if (*p == w) {
        *p = w->orphan_next;
        break;
      }
    pthread_mutex_unlock(&g_mu);
    ev_write_free(w);
    return false;
  }
  /* read under the lock: an adoption may have changed self */
  *sys = w->sys;
  *self = w->self;
  atomic_store(&w->state, 1);
  pthread_mutex_unlock(&g_mu);
  return true; /* w may be freed by the actor from here on */
}

void ev_orphan_leave(ev_write *w, const char *topic) {
  pthread_mutex_lock(&g_mu);
  if (atomic_load(&w->state) == 0) {
    atomic_store(&w->state, 2);
    snprintf(w->topic, sizeof w->topic, "%s", topic);
    w->orphan_next = g_orphans;
    g_orphans = w;
    w = NULL;
  }
  pthread_mutex_unlock(&g_mu);
  ev_write_free(w); /* it completed: the news died with the mailbox */
}

ev_write *ev_orphan_adopt(tr_system *sys, const char *topic, tr_ref self) {
  pthread_mutex_lock(&g_mu);
  ev_write *w = NULL;
  for (ev_write **p = &g_orphans; *p; p = &(*p)->orphan_next)
    if ((*p)->sys == sys && strcmp((*p)->topic, topic) == 0) {
      w = *p;
      *p = w->orphan_next;
      w->orphan_next = NULL;
      w->self = self;
      atomic_store(&w->state, 0);
      break;
    }
  pthread_mutex_unlock(&g_mu);
  return w;
}
