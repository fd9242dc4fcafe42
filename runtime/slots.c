/* slots.c - see slots.h. */
#include "slots.h"

#include <pthread.h>
#include <stdlib.h>

#include "core.h"

struct tr_slots {
  _Atomic(tr_slot *) chunks[TR_SLOT_MAX_CHUNKS];
  pthread_mutex_t lock;  /* free list and growth */
  uint32_t free_head;    /* index of first free slot, 0 = none */
  uint32_t nfree;
  _Atomic uint32_t high; /* next never-used index */
};

tr_slots *tr_slots_new(void) {
  tr_slots *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  pthread_mutex_init(&s->lock, NULL);
  atomic_init(&s->high, 2); /* 0 = no actor, 1 = TR_ID_EXTERNAL */
  return s;
}

void tr_slots_free(tr_slots *s) {
  if (!s) return;
  for (uint32_t c = 0; c < TR_SLOT_MAX_CHUNKS; c++) {
    tr_slot *ch = atomic_load(&s->chunks[c]);
    if (!ch) break;
    free(ch);
  }
  pthread_mutex_destroy(&s->lock);
  free(s);
}

static tr_slot *slot_at(tr_slots *s, uint32_t idx) {
  tr_slot *ch = atomic_load_explicit(&s->chunks[idx >> TR_SLOT_CHUNK_BITS], memory_order_acquire);
  return ch ? &ch[idx & (TR_SLOT_CHUNK - 1)] : NULL;
}

/* Under lock: one index, from the free list or fresh. 0 on failure. */
static uint32_t take_locked(tr_slots *s) {
  if (s->free_head) {
    uint32_t idx = s->free_head;
    tr_slot *sl = slot_at(s, idx);
    s->free_head = sl->next_free;
    s->nfree--;
    return idx;
  }
  uint32_t idx = atomic_load(&s->high);
  uint32_t c = idx >> TR_SLOT_CHUNK_BITS;
  if (c >= TR_SLOT_MAX_CHUNKS) return 0;
  if (!atomic_load(&s->chunks[c])) {
    tr_slot *ch = calloc(TR_SLOT_CHUNK, sizeof *ch);
    if (!ch) return 0;
    atomic_store_explicit(&s->chunks[c], ch, memory_order_release);
  }
  atomic_store(&s->high, idx + 1);
  return idx;
}

uint64_t tr_slots_take(tr_slots *s, uint32_t *cache, uint32_t *ncache, uint32_t cap) {
  uint32_t idx = 0;
  if (cache && *ncache) {
    idx = cache[--*ncache];
  } else {
    pthread_mutex_lock(&s->lock);
    idx = take_locked(s);
    /* refill half the cache while holding the lock */
    if (idx && cache)
      while (*ncache < cap / 2) {
        uint32_t more = take_locked(s);
        if (!more) break;
        cache[(*ncache)++] = more;
      }
    pthread_mutex_unlock(&s->lock);
    if (!idx) return 0;
  }
  tr_slot *sl = slot_at(s, idx);
  if (++sl->gen == 0) sl->gen = 1;
  return ((uint64_t)sl->gen << 32) | idx;
}

void tr_slots_publish(tr_slots *s, uint64_t id, struct tr_actor *a) {
  atomic_store_explicit(&slot_at(s, (uint32_t)id)->actor, a, memory_order_release);
}

void tr_slots_clear(tr_slots *s, uint64_t id) {
  tr_slot *sl = slot_at(s, (uint32_t)id);
  struct tr_actor *cur = atomic_load(&sl->actor);
  if (cur && cur->id == id) atomic_store_explicit(&sl->actor, NULL, memory_order_release);
}

static void give_locked(tr_slots *s, uint32_t idx) {
  tr_slot *sl = slot_at(s, idx);
  sl->next_free = s->free_head;
  s->free_head = idx;
  s->nfree++;
}

void tr_slots_give(tr_slots *s, uint64_t id, uint32_t *cache, uint32_t *ncache, uint32_t cap) {
  uint32_t idx = (uint32_t)id;
  if (cache && *ncache < cap) {
    cache[(*ncache)++] = idx;
    return;
  }
  pthread_mutex_lock(&s->lock);
  give_locked(s, idx);
  if (cache)
    while (*ncache > cap / 2) give_locked(s, cache[--*ncache]);
  pthread_mutex_unlock(&s->lock);
}

void tr_slots_flush(tr_slots *s, uint32_t *cache, uint32_t *ncache) {
  pthread_mutex_lock(&s->lock);
  while (*ncache) give_locked(s, cache[--*ncache]);
  pthread_mutex_unlock(&s->lock);
}

struct tr_actor *tr_slots_get(tr_slots *s, uint64_t id) {
  uint32_t idx = (uint32_t)id;
  if (idx >= atomic_load_explicit(&s->high, memory_order_acquire)) return NULL;
  tr_slot *sl = slot_at(s, idx);
  if (!sl) return NULL;
  struct tr_actor *a = atomic_load_explicit(&sl->actor, memory_order_acquire);
  if (!a || a->id != id) return NULL;
  return a;
}

uint32_t tr_slots_high(tr_slots *s) { return atomic_load(&s->high); }

struct tr_actor *tr_slots_at(tr_slots *s, uint32_t i) {
  if (i >= atomic_load(&s->high)) return NULL;
  tr_slot *sl = slot_at(s, i);
  return sl ? atomic_load_explicit(&sl->actor, memory_order_acquire) : NULL;
}
