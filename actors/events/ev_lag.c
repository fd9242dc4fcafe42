/* ev_lag.c - the pending pi and bk index entries of a topic (ev_lag.h).
 *
 * A value with pending ids is one ev_lagkey, found by an open hash (linear
 * probing, deletion by backward shift) and chained in the order its first
 * pending id arrived. Ids arrive in increasing order, so that chain is
 * also ordered by first pending id: its head holds the smallest waiting id
 * (which bounds indexed_to) and is the first to come due. A take moves
 * values from the head of that chain to the in-flight chain, in order, so
 * a failed write can put them back at the head as they were. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actors/events/ev_lag.h"

struct ev_lagkey {
  ev_lagkey *next; /* the chain, oldest first */
  uint64_t since;  /* ms when its first pending id landed */
  uint64_t hash;
  uint64_t *ids;
  uint32_t n, cap;
  bool flying; /* taken by the write in flight */
  char field;
  uint8_t len;
  char val[];
};

uint64_t ev_lag_clock(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t key_hash(char field, const char *p, size_t n) {
  uint64_t h = 1469598103934665603ull ^ (uint8_t)field;
  for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)p[i]) * 1099511628211ull;
  return h;
}

static bool key_is(const ev_lagkey *k, uint64_t h, char field, ev_str v) {
  return k->hash == h && k->field == field && k->len == v.n && !memcmp(k->val, v.p, v.n);
}

static int grow(ev_lag *l) {
  uint32_t cap = l->cap ? l->cap * 2 : 64;
  ev_lagkey **t = calloc(cap, sizeof *t);
  if (!t) return TR_ENOMEM;
  for (uint32_t i = 0; i < l->cap; i++) {
    ev_lagkey *k = l->tab[i];
    if (!k) continue;
    uint32_t j = (uint32_t)k->hash & (cap - 1);
    while (t[j]) j = (j + 1) & (cap - 1);
    t[j] = k;
  }
  free(l->tab);
  l->tab = t, l->cap = cap;
  return 0;
}

/* The slot of the value, or of the empty slot where it would go. */
static uint32_t slot(const ev_lag *l, uint64_t h, char field, ev_str v) {
  uint32_t j = (uint32_t)h & (l->cap - 1);
  ev_lagkey *k;
  while ((k = l->tab[j]) && !key_is(k, h, field, v)) j = (j + 1) & (l->cap - 1);
  return j;
}

uint32_t ev_lag_find(const ev_lag *l, char field, ev_str v, const uint64_t **ids) {
  if (!l->cap || v.n == 0 || v.n > EV_VALUE_MAX) return 0;
  ev_lagkey *k = l->tab[slot(l, key_hash(field, v.p, v.n), field, v)];
  if (!k) return 0;
  *ids = k->ids;
  return k->n;
}

int ev_lag_add(ev_lag *l, char field, ev_str v, uint64_t id, uint64_t now_ms) {
  if (v.n == 0 || v.n > EV_VALUE_MAX) return TR_EINVAL;
  if ((l->nkeys + 1) * 2 > l->cap && grow(l) < 0) return TR_ENOMEM;
  uint64_t h = key_hash(field, v.p, v.n);
  uint32_t j = slot(l, h, field, v);
  ev_lagkey *k = l->tab[j];
  if (k && k->flying) return TR_EINVAL; /* only after ev_lag_landed: see ev_lag_take */
  if (!k) { /* whole before it is linked: a failure leaves nothing behind */
    uint64_t *ids = malloc(4 * sizeof *ids);
    if (!ids || !(k = malloc(sizeof *k + v.n))) {
      free(ids);
      return TR_ENOMEM;
    }
    *k = (ev_lagkey){.since = now_ms, .hash = h, .ids = ids, .cap = 4, .field = field,
                     .len = (uint8_t)v.n};
    memcpy(k->val, v.p, v.n);
    l->tab[j] = k;
    l->nkeys++;
    if (l->tail) l->tail->next = k;
    else l->head = k;
    l->tail = k;
  }
  if (k->n == k->cap) {
    uint32_t cap = k->cap ? k->cap * 2 : 4;
    uint64_t *ids = realloc(k->ids, cap * sizeof *ids);
    if (!ids) return TR_ENOMEM;
    k->ids = ids, k->cap = cap;
  }
  k->ids[k->n++] = id;
  l->nids++;
  return 0;
}

int ev_lag_add_event(ev_lag *l, const ev_view *e, uint64_t id, uint64_t now_ms) {
  int rc = 0;
  if (e->pi.p && e->pi.n) rc = ev_lag_add(l, 'p', e->pi, id, now_ms);
  if (rc == 0 && e->bk.p && e->bk.n) rc = ev_lag_add(l, 'b', e->bk, id, now_ms);
  return rc;
}

/* Removes k from the hash (it is unlinked from its chain by the caller). */
static void unhash(ev_lag *l, const ev_lagkey *k) {
  uint32_t mask = l->cap - 1, j = (uint32_t)k->hash & mask;
  while (l->tab[j] != k) j = (j + 1) & mask;
  /* backward shift: move up each later entry that may not sit past the hole */
  for (uint32_t i = (j + 1) & mask; l->tab[i]; i = (i + 1) & mask) {
    uint32_t home = (uint32_t)l->tab[i]->hash & mask;
    if (((i - home) & mask) >= ((i - j) & mask)) {
      l->tab[j] = l->tab[i];
      j = i;
    }
  }
  l->tab[j] = NULL;
  l->nkeys--;
}

static void key_free(ev_lagkey *k) {
  free(k->ids);
  free(k);
}

bool ev_lag_due(const ev_lag *l, uint64_t now_ms) {
  return l->head && l->head->since + EV_LAG_MS <= now_ms;
}

uint64_t ev_lag_oldest(const ev_lag *l) { return l->head ? l->head->ids[0] : 0; }

int64_t ev_lag_take(ev_lag *l, uint64_t now_ms, bool all, uint64_t budget, ev_lag_fn fn,
                    void *arg) {
  int64_t taken = 0;
  while (l->head && (uint64_t)taken < budget && (all || ev_lag_due(l, now_ms))) {
    ev_lagkey *k = l->head;
    l->head = k->next;
    if (!l->head) l->tail = NULL;
    k->next = NULL;
    k->flying = true;
    if (l->fly_tail) l->fly_tail->next = k;
    else l->fly = k;
    l->fly_tail = k;
    int rc = fn(arg, k->field, (ev_str){k->val, k->len}, k->ids, k->n);
    taken += k->n;
    if (rc < 0) return rc;
  }
  return taken;
}

void ev_lag_landed(ev_lag *l, bool ok) {
  if (!l->fly) return;
  if (!ok) { /* they were the oldest: first in line again */
    for (ev_lagkey *k = l->fly; k; k = k->next) k->flying = false;
    l->fly_tail->next = l->head;
    if (!l->head) l->tail = l->fly_tail;
    l->head = l->fly;
    l->fly = l->fly_tail = NULL;
    return;
  }
  while (l->fly) {
    ev_lagkey *k = l->fly;
    l->fly = k->next;
    unhash(l, k);
    l->nids -= k->n;
    key_free(k);
  }
  l->fly_tail = NULL;
}

static void chain_free(ev_lagkey *k) {
  while (k) {
    ev_lagkey *next = k->next;
    key_free(k);
    k = next;
  }
}

void ev_lag_clear(ev_lag *l) {
  chain_free(l->head);
  chain_free(l->fly);
  l->head = l->tail = l->fly = l->fly_tail = NULL;
  if (l->tab) memset(l->tab, 0, l->cap * sizeof *l->tab);
  l->nkeys = 0;
  l->nids = 0;
}

void ev_lag_free(ev_lag *l) {
  ev_lag_clear(l);
  free(l->tab);
  l->tab = NULL;
  l->cap = 0;
}
