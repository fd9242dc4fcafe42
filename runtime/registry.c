/* registry.c - name -> ref, a chained hash table under a mutex. Lookups are
 * not on a hot path (refs are cached by callers), so simplicity wins. */
#include "registry.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

typedef struct entry {
  struct entry *next;
  tr_ref ref;
  uint64_t hash;
  char name[];
} entry;

struct tr_registry {
  pthread_mutex_t lock;
  entry **buckets;
  size_t nbuckets, count;
};

#define TR_NAME_MAX 255

static uint64_t fnv1a(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

tr_registry *tr_registry_new(void) {
  tr_registry *r = calloc(1, sizeof *r);
  if (!r) return NULL;
  r->nbuckets = 64;
  r->buckets = calloc(r->nbuckets, sizeof *r->buckets);
  if (!r->buckets) {
    free(r);
    return NULL;
  }
  pthread_mutex_init(&r->lock, NULL);
  return r;
}

void tr_registry_free(tr_registry *r) {
  if (!r) return;
  for (size_t i = 0; i < r->nbuckets; i++) {
    entry *e = r->buckets[i];
    while (e) {
      entry *n = e->next;
      free(e);
      e = n;
    }
  }
  free(r->buckets);
  pthread_mutex_destroy(&r->lock);
  free(r);
}

static entry **find(tr_registry *r, const char *name, uint64_t h) {
  entry **p = &r->buckets[h & (r->nbuckets - 1)];
  while (*p && ((*p)->hash != h || strcmp((*p)->name, name) != 0)) p = &(*p)->next;
  return p;
}

static void grow(tr_registry *r) {
  size_t nb = r->nbuckets * 2;
  entry **b = calloc(nb, sizeof *b);
  if (!b) return; /* keep the longer chains */
  for (size_t i = 0; i < r->nbuckets; i++) {
    entry *e = r->buckets[i];
    while (e) {
      entry *n = e->next;
      e->next = b[e->hash & (nb - 1)];
      b[e->hash & (nb - 1)] = e;
      e = n;
    }
  }
  free(r->buckets);
  r->buckets = b;
  r->nbuckets = nb;
}

static int valid_name(const char *name) {
  if (!name || !*name) return 0;
  return strlen(name) <= TR_NAME_MAX;
}

int tr_registry_add(tr_system *sys, const char *name, tr_ref ref) {
  if (!sys || !valid_name(name) || tr_ref_is_none(ref)) return TR_EINVAL;
  tr_registry *r = sys->registry;
  uint64_t h = fnv1a(name);
  size_t len = strlen(name);
  pthread_mutex_lock(&r->lock);
  entry **p = find(r, name, h);
  if (*p) {
    pthread_mutex_unlock(&r->lock);
    return TR_EEXIST;
  }
  entry *e = malloc(sizeof *e + len + 1);
  if (!e) {
    pthread_mutex_unlock(&r->lock);
    return TR_ENOMEM;
  }
  e->next = NULL;
  e->ref = ref;
  e->hash = h;
  memcpy(e->name, name, len + 1);
  *p = e;
  if (++r->count > r->nbuckets) grow(r);
  pthread_mutex_unlock(&r->lock);
  return 0;
}

int tr_registry_lookup(tr_system *sys, const char *name, tr_ref *out) {
  if (!sys || !valid_name(name) || !out) return TR_EINVAL;
  tr_registry *r = sys->registry;
  uint64_t h = fnv1a(name);
  pthread_mutex_lock(&r->lock);
  entry **p = find(r, name, h);
  int rc = TR_ENOENT;
  if (*p) {
    *out = (*p)->ref;
    rc = 0;
  }
  pthread_mutex_unlock(&r->lock);
  return rc;
}

static int remove_entry(tr_registry *r, const char *name, const tr_ref *only) {
  uint64_t h = fnv1a(name);
  pthread_mutex_lock(&r->lock);
  entry **p = find(r, name, h);
  int rc = TR_ENOENT;
  if (*p && (!only || tr_ref_eq((*p)->ref, *only))) {
    entry *e = *p;
    *p = e->next;
    free(e);
    r->count--;
    rc = 0;
  }
  pthread_mutex_unlock(&r->lock);
  return rc;
}

int tr_registry_remove(tr_system *sys, const char *name) {
  if (!sys || !valid_name(name)) return TR_EINVAL;
  return remove_entry(sys->registry, name, NULL);
}

void tr_registry_remove_if(tr_registry *r, const char *name, tr_ref ref) {
  remove_entry(r, name, &ref);
}
