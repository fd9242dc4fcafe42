/* mcache.c - the shared model cache (mcache.h): a short list under one
 * mutex. Gets happen once per instance activation, not per message, so a
 * list of at most a few hundred entries is fast enough and simple. */
#include "actors/workflow/mcache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "troupe/error.h"

typedef struct entry {
  struct entry *next;
  tr_wf_model *m;
  unsigned refs;
  unsigned long long used; /* a tick of the last get or put */
  char id[];
} entry;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static entry *head;
static unsigned count;
static unsigned long long tick, hits;

static entry *find(const char *id) {
  for (entry *e = head; e; e = e->next)
    if (!strcmp(e->id, id)) return e;
  return NULL;
}

/* Drops idle entries, oldest first, while over the bound. Under mu. */
static void evict(void) {
  while (count > TR_WF_MCACHE_MAX) {
    entry **victim = NULL;
    for (entry **p = &head; *p; p = &(*p)->next)
      if (!(*p)->refs && (!victim || (*p)->used < (*victim)->used)) victim = p;
    if (!victim) return; /* every one is in use: over the bound until released */
    entry *e = *victim;
    *victim = e->next;
    tr_wf_model_free(e->m);
    free(e);
    count--;
  }
}

int tr_wf_mcache_get(const char *id, const tr_wf_model **out) {
  if (!id || !out) return TR_EINVAL;
  pthread_mutex_lock(&mu);
  entry *e = find(id);
  if (e) {
    e->refs++;
    e->used = ++tick;
    hits++;
    *out = e->m;
  }
  pthread_mutex_unlock(&mu);
  return e ? 0 : TR_ENOENT;
}

int tr_wf_mcache_put(const char *id, tr_wf_model *m, const tr_wf_model **out) {
  if (!id || !m || !out) {
    tr_wf_model_free(m);
    return TR_EINVAL;
  }
  size_t n = strlen(id);
  entry *fresh = malloc(sizeof *fresh + n + 1);
  pthread_mutex_lock(&mu);
  entry *e = find(id);
  if (!e && fresh) {
    memcpy(fresh->id, id, n + 1);
    fresh->m = m;
    fresh->refs = 0;
    fresh->next = head;
    head = fresh;
    count++;
    e = fresh;
    m = NULL;
    fresh = NULL;
  }
  if (e) {
    e->refs++;
    e->used = ++tick;
    *out = e->m;
    evict();
  }
  pthread_mutex_unlock(&mu);
  free(fresh);
  tr_wf_model_free(m); /* a racing put won, or no memory */
  return e ? 0 : TR_ENOMEM;
}

void tr_wf_mcache_release(const tr_wf_model *m) {
  if (!m) return;
  pthread_mutex_lock(&mu);
  for (entry *e = head; e; e = e->next)
    if (e->m == m && e->refs) {
      e->refs--;
      break;
    }
  evict();
  pthread_mutex_unlock(&mu);
}

void tr_wf_mcache_stats(unsigned *models, unsigned long long *h) {
  pthread_mutex_lock(&mu);
  if (models) *models = count;
  if (h) *h = hits;
  pthread_mutex_unlock(&mu);
}
