/* deadletter.c - see deadletter.h. A ring of the last TR_DL_KEEP, under a
 * mutex: dead letters are the exception, so the lock is cheap where it is
 * taken, and the counter is atomic so reading it never blocks. */
#include "deadletter.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

struct tr_deadletters {
  _Atomic uint64_t count;
  pthread_mutex_t lock;
  uint64_t next; /* total recorded into the ring */
  tr_dead_letter ring[TR_DL_KEEP];
};

tr_deadletters *tr_dl_new(void) {
  tr_deadletters *d = calloc(1, sizeof *d);
  if (d) pthread_mutex_init(&d->lock, NULL);
  return d;
}

void tr_dl_free(tr_deadletters *d) {
  if (!d) return;
  pthread_mutex_destroy(&d->lock);
  free(d);
}

void tr_dl_record(tr_deadletters *d, tr_ref to, const tr_msg *m, int reason) {
  atomic_fetch_add(&d->count, 1);
  tr_dead_letter e;
  memset(&e, 0, sizeof e);
  e.time_ms = tr_wall_ms();
  e.to = to;
  e.sender = m->sender;
  e.corr = m->corr;
  e.type = m->type;
  e.len = m->len;
  e.flags = m->flags;
  e.reason = (uint8_t)reason;
  e.head_len = (uint8_t)(m->len < sizeof e.head ? m->len : sizeof e.head);
  memcpy(e.head, m->data, e.head_len);
  pthread_mutex_lock(&d->lock);
  d->ring[d->next % TR_DL_KEEP] = e;
  d->next++;
  pthread_mutex_unlock(&d->lock);
}

uint64_t tr_dl_count(tr_deadletters *d) { return atomic_load(&d->count); }

size_t tr_dl_copy(tr_deadletters *d, tr_dead_letter *out, size_t max) {
  pthread_mutex_lock(&d->lock);
  uint64_t have = d->next < TR_DL_KEEP ? d->next : TR_DL_KEEP;
  if (max > have) max = (size_t)have;
  uint64_t start = d->next - max;
  for (size_t i = 0; i < max; i++) out[i] = d->ring[(start + i) % TR_DL_KEEP];
  pthread_mutex_unlock(&d->lock);
  return max;
}

const char *tr_dead_letter_reason(int reason) {
  switch (reason) {
  case TR_DL_NO_ACTOR: return "no such actor";
  case TR_DL_MAILBOX_FULL: return "mailbox full";
  case TR_DL_STOPPED: return "actor stopped";
  case TR_DL_LATE_REPLY: return "late reply";
  case TR_DL_REMOTE: return "node unreachable";
  case TR_DL_UNHANDLED: return "unhandled";
  default: return "unknown";
  }
}
