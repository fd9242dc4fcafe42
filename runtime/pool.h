/* pool.h - size-class allocator for messages and actors.
 *
 * Why: a message is allocated on the sender's thread and freed on the
 * receiver's; malloc would bounce it between arenas and first-touching fresh
 * pages costs ~10 us each on this VM. Each thread keeps a small cache per
 * size class; full caches hand whole batches to a shared depot (one lock per
 * batch, not per object), and empty caches take batches back. Memory is
 * carved from 64 KiB chunks and returned only when the pool is destroyed.
 */
#ifndef TR_POOL_H
#define TR_POOL_H

#include <stddef.h>
#include <stdint.h>
#include <pthread.h>

#define TR_POOL_CLASSES 12
#define TR_POOL_MALLOC 0xFF /* class of an object too large for the pool */
#define TR_POOL_BATCH 64

typedef struct tr_pool_obj {
  struct tr_pool_obj *next;
} tr_pool_obj;

typedef struct tr_pool_depot {
  pthread_mutex_t lock;
  tr_pool_obj *full;   /* batches: chain of objects; each batch's first object
                          links the next batch through obj[1] */
  tr_pool_obj *loose;  /* single objects freed by threads without a cache */
  size_t nloose;
  char pad[64];
} tr_pool_depot;

typedef struct tr_pool {
  tr_pool_depot depot[TR_POOL_CLASSES];
  pthread_mutex_t chunk_lock;
  void *chunks;        /* list of chunks, for destroy */
  uint64_t bytes;      /* total bytes reserved in chunks */
} tr_pool;

typedef struct tr_pool_cache {
  tr_pool_obj *head[TR_POOL_CLASSES];
  uint32_t count[TR_POOL_CLASSES];
} tr_pool_cache;

int tr_pool_init(tr_pool *p);
void tr_pool_destroy(tr_pool *p);

/* Size of class c in bytes, and the class for a size (TR_POOL_MALLOC above
 * the largest). */
size_t tr_pool_class_size(unsigned c);
unsigned tr_pool_class_of(size_t size);

/* cache may be NULL (threads outside the runtime). Returned memory is not
 * zeroed. The caller owns it until tr_pool_free. */
void *tr_pool_alloc(tr_pool *p, tr_pool_cache *cache, unsigned cls);
void tr_pool_free(tr_pool *p, tr_pool_cache *cache, void *obj, unsigned cls);

/* Returns every cached object to the depot (thread exit). */
void tr_pool_cache_flush(tr_pool *p, tr_pool_cache *cache);

#endif
