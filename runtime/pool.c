/* pool.c - see pool.h. */
#include "pool.h"

#include <stdlib.h>
#include <string.h>

static const uint32_t class_sizes[TR_POOL_CLASSES] = {64,  96,  128,  160,  192,  256,
                                                      384, 512, 1024, 2048, 4096, 8192};

#define CHUNK_SIZE (64 * 1024)

size_t tr_pool_class_size(unsigned c) { return c < TR_POOL_CLASSES ? class_sizes[c] : 0; }

unsigned tr_pool_class_of(size_t size) {
  for (unsigned c = 0; c < TR_POOL_CLASSES; c++)
    if (size <= class_sizes[c]) return c;
  return TR_POOL_MALLOC;
}

int tr_pool_init(tr_pool *p) {
  memset(p, 0, sizeof *p);
  for (unsigned c = 0; c < TR_POOL_CLASSES; c++) pthread_mutex_init(&p->depot[c].lock, NULL);
  pthread_mutex_init(&p->chunk_lock, NULL);
  return 0;
}

void tr_pool_destroy(tr_pool *p) {
  void *ch = p->chunks;
  while (ch) {
    void *next = *(void **)ch;
    free(ch);
    ch = next;
  }
  for (unsigned c = 0; c < TR_POOL_CLASSES; c++) pthread_mutex_destroy(&p->depot[c].lock);
  pthread_mutex_destroy(&p->chunk_lock);
  memset(p, 0, sizeof *p);
}

/* A batch is a chain of TR_POOL_BATCH objects; batches in the depot are
 * chained through the second pointer-sized word of their first object. */
static inline tr_pool_obj **batch_link(tr_pool_obj *first) { return (tr_pool_obj **)first + 1; }

/* Carves a fresh chunk into a chain of objects of class c. Returns the chain
 * and its length. */
static tr_pool_obj *carve(tr_pool *p, unsigned c, uint32_t *n) {
  size_t sz = class_sizes[c];
  size_t hdr = 64; /* chunk list link, keeps objects 64-byte aligned */
  char *ch = aligned_alloc(64, CHUNK_SIZE);
  if (!ch) return NULL;
  pthread_mutex_lock(&p->chunk_lock);
  *(void **)ch = p->chunks;
  p->chunks = ch;
  p->bytes += CHUNK_SIZE;
  pthread_mutex_unlock(&p->chunk_lock);
  uint32_t count = (uint32_t)((CHUNK_SIZE - hdr) / sz);
  tr_pool_obj *head = NULL;
  for (uint32_t i = count; i-- > 0;) {
    tr_pool_obj *o = (tr_pool_obj *)(ch + hdr + i * sz);
    o->next = head;
    head = o;
  }
  *n = count;
  return head;
}

static void refill(tr_pool *p, tr_pool_cache *cache, unsigned c) {
  tr_pool_depot *d = &p->depot[c];
  pthread_mutex_lock(&d->lock);
  if (d->full) {
    tr_pool_obj *b = d->full;
    d->full = *batch_link(b);
    pthread_mutex_unlock(&d->lock);
    cache->head[c] = b;
    cache->count[c] = TR_POOL_BATCH;
    return;
  }
  if (d->loose) {
    cache->head[c] = d->loose;
    cache->count[c] = (uint32_t)d->nloose;
    d->loose = NULL;
    d->nloose = 0;
    pthread_mutex_unlock(&d->lock);
    return;
  }
  pthread_mutex_unlock(&d->lock);
  uint32_t n = 0;
  tr_pool_obj *chain = carve(p, c, &n);
  cache->head[c] = chain;
  cache->count[c] = chain ? n : 0;
}

void *tr_pool_alloc(tr_pool *p, tr_pool_cache *cache, unsigned c) {
  if (c >= TR_POOL_CLASSES) return NULL;
  if (!cache) {
    tr_pool_depot *d = &p->depot[c];
    pthread_mutex_lock(&d->lock);
    tr_pool_obj *o = d->loose;
    if (o) {
      d->loose = o->next;
      d->nloose--;
    } else if (d->full) {
      /* take one batch apart: keep the rest loose */
      o = d->full;
      d->full = *batch_link(o);
      d->loose = o->next;
      d->nloose += TR_POOL_BATCH - 1;
    }
    pthread_mutex_unlock(&d->lock);
    if (o) return o;
    uint32_t n = 0;
    tr_pool_obj *chain = carve(p, c, &n);
    if (!chain) return NULL;
    o = chain;
    if (chain->next) {
      tr_pool_obj *rest = chain->next, *last = rest;
      while (last->next) last = last->next;
      pthread_mutex_lock(&d->lock);
      last->next = d->loose;
      d->loose = rest;
      d->nloose += n - 1;
      pthread_mutex_unlock(&d->lock);
    }
    return o;
  }
  if (!cache->head[c]) refill(p, cache, c);
  tr_pool_obj *o = cache->head[c];
  if (!o) return NULL;
  cache->head[c] = o->next;
  cache->count[c]--;
  return o;
}

void tr_pool_free(tr_pool *p, tr_pool_cache *cache, void *obj, unsigned c) {
  if (!obj) return;
  if (c >= TR_POOL_CLASSES) {
    free(obj);
    return;
  }
  tr_pool_obj *o = obj;
  if (!cache) {
    tr_pool_depot *d = &p->depot[c];
    pthread_mutex_lock(&d->lock);
    o->next = d->loose;
    d->loose = o;
    d->nloose++;
    pthread_mutex_unlock(&d->lock);
    return;
  }
  o->next = cache->head[c];
  cache->head[c] = o;
  if (++cache->count[c] >= 2 * TR_POOL_BATCH) {
    /* hand the first TR_POOL_BATCH objects to the depot as one batch */
    tr_pool_obj *first = cache->head[c], *last = first;
    for (int i = 1; i < TR_POOL_BATCH; i++) last = last->next;
    cache->head[c] = last->next;
    cache->count[c] -= TR_POOL_BATCH;
    last->next = NULL;
    tr_pool_depot *d = &p->depot[c];
    pthread_mutex_lock(&d->lock);
    *batch_link(first) = d->full;
    d->full = first;
    pthread_mutex_unlock(&d->lock);
  }
}

void tr_pool_cache_flush(tr_pool *p, tr_pool_cache *cache) {
  for (unsigned c = 0; c < TR_POOL_CLASSES; c++) {
    tr_pool_obj *o = cache->head[c];
    if (!o) continue;
    tr_pool_obj *last = o;
    while (last->next) last = last->next;
    tr_pool_depot *d = &p->depot[c];
    pthread_mutex_lock(&d->lock);
    last->next = d->loose;
    d->loose = o;
    d->nloose += cache->count[c];
    pthread_mutex_unlock(&d->lock);
    cache->head[c] = NULL;
    cache->count[c] = 0;
  }
}
