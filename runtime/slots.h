/* slots.h - the table that resolves actor ids to actors.
 *
 * An id is (generation << 32) | index. Resolving is two loads and a compare,
 * with no hashing and no lock. Chunks of slots are allocated as the table
 * grows and never move, so readers need no lock; freed indices are reused
 * with a new generation, so an old id never resolves to a new actor.
 * Threads take and return indices in batches through a small cache.
 */
#ifndef TR_SLOTS_H
#define TR_SLOTS_H

#include <stdatomic.h>
#include <stdint.h>

struct tr_actor;

#define TR_SLOT_CHUNK_BITS 12
#define TR_SLOT_CHUNK (1u << TR_SLOT_CHUNK_BITS)
#define TR_SLOT_MAX_CHUNKS 65536 /* 268M actors */

typedef struct tr_slot {
  _Atomic(struct tr_actor *) actor;
  uint32_t gen;
  uint32_t next_free;
} tr_slot;

typedef struct tr_slots tr_slots;

tr_slots *tr_slots_new(void);
void tr_slots_free(tr_slots *s);

/* Takes a free index and returns the id it gets; 0 if out of memory.
 * cache/ncache: the calling thread's index cache (may be NULL). */
uint64_t tr_slots_take(tr_slots *s, uint32_t *cache, uint32_t *ncache, uint32_t cache_cap);
/* Publishes the actor under id (after it is fully built). */
void tr_slots_publish(tr_slots *s, uint64_t id, struct tr_actor *a);
/* Clears the slot of id so it no longer resolves. */
void tr_slots_clear(tr_slots *s, uint64_t id);
/* Returns the index of id to the free list (after the actor is reclaimed). */
void tr_slots_give(tr_slots *s, uint64_t id, uint32_t *cache, uint32_t *ncache,
                   uint32_t cache_cap);
/* Flushes a thread's cache of indices. */
void tr_slots_flush(tr_slots *s, uint32_t *cache, uint32_t *ncache);

/* Resolves id; caller must be in an EBR critical section. The actor may be
 * dead: check its state. */
struct tr_actor *tr_slots_get(tr_slots *s, uint64_t id);

/* Number of indices ever handed out (upper bound for iteration). */
uint32_t tr_slots_high(tr_slots *s);
/* Actor at index i (or NULL), for iteration. */
struct tr_actor *tr_slots_at(tr_slots *s, uint32_t i);

#endif
