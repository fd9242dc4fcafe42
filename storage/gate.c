/* gate.c - map growth, and the gate that makes it safe.
 *
 * mdb_env_set_mapsize unmaps and maps the file again, so it may run only
 * while no transaction of this process is open: any read transaction's
 * pointers (and the writer's) would dangle. Every transaction therefore
 * runs inside the gate (a counter); a grower closes the gate, waits until
 * the counter drops to zero, resizes and reopens it. Growth is rare (the map
 * doubles), so readers pay one atomic increment and decrement per view.
 *
 * A thread that already holds a view and begins another must not wait at a
 * closed gate (the grower waits for the view it holds: a deadlock), so each
 * thread keeps a depth counter per store and passes when it is non-zero. */
#include <stdio.h>

#include "storage/internal.h"
#include "troupe/system.h"

typedef struct {
  tr_store *s;
  _Atomic int depth;
} tl_slot;
static _Thread_local tl_slot tl[8];

static _Atomic int *slot_for(tr_store *s, bool create) {
  for (int i = 0; i < 8; i++)
    if (tl[i].s == s) return &tl[i].depth;
  if (!create) return NULL;
  for (int i = 0; i < 8; i++)
    if (!tl[i].s || atomic_load(&tl[i].depth) == 0) {
      tl[i].s = s;
      atomic_store(&tl[i].depth, 0);
      return &tl[i].depth;
    }
  return NULL; /* more than 8 stores with views on one thread: no nesting pass */
}

bool st_gate_held(tr_store *s) {
  _Atomic int *d = slot_for(s, false);
  return d && atomic_load(d) > 0;
}

static void drop(tr_store *s) {
  /* the last one out of a closed gate wakes the grower */
  if (atomic_fetch_sub(&s->gate_active, 1) == 1 && atomic_load(&s->gate_closed)) {
    pthread_mutex_lock(&s->gate_mu);
    pthread_cond_broadcast(&s->gate_cv);
    pthread_mutex_unlock(&s->gate_mu);
  }
}

_Atomic int *st_gate_enter(tr_store *s) {
  _Atomic int *d = slot_for(s, true);
  if (d && atomic_load(d) > 0) {
    atomic_fetch_add(&s->gate_active, 1);
    atomic_fetch_add(d, 1);
    return d;
  }
  for (;;) {
    /* increment, then look: the grower sets closed, then looks at the
     * counter; with sequentially consistent atomics one of us sees the
     * other */
    atomic_fetch_add(&s->gate_active, 1);
    if (!atomic_load(&s->gate_closed)) break;
    drop(s);
    pthread_mutex_lock(&s->gate_mu);
    while (atomic_load(&s->gate_closed)) pthread_cond_wait(&s->gate_cv, &s->gate_mu);
    pthread_mutex_unlock(&s->gate_mu);
  }
  if (d) atomic_fetch_add(d, 1);
  return d;
}

void st_gate_leave(tr_store *s, _Atomic int *depth) {
  if (depth) atomic_fetch_sub(depth, 1);
  drop(s);
}

/* size 0 adopts the size another process set. Unless wait, an open view
 * makes it give up at once (TR_EAGAIN) instead of waiting for the view. */
static int resize(tr_store *s, size_t size, bool wait) {
  if (!wait && atomic_load(&s->gate_active) > 0) return TR_EAGAIN; /* without closing it */
  pthread_mutex_lock(&s->gate_mu);
  atomic_store(&s->gate_closed, 1);
  if (!wait && atomic_load(&s->gate_active) > 0) { /* a view began meanwhile */
    atomic_store(&s->gate_closed, 0);
    pthread_cond_broadcast(&s->gate_cv); /* a reader may be waiting already */
    pthread_mutex_unlock(&s->gate_mu);
    return TR_EAGAIN;
  }
  while (atomic_load(&s->gate_active) > 0) pthread_cond_wait(&s->gate_cv, &s->gate_mu);
  int rc = mdb_env_set_mapsize(s->env, size);
  MDB_envinfo info;
  if (!rc && !(rc = mdb_env_info(s->env, &info))) atomic_store(&s->map_size, info.me_mapsize);
  atomic_store(&s->gate_closed, 0);
  pthread_cond_broadcast(&s->gate_cv);
  pthread_mutex_unlock(&s->gate_mu);
  if (rc) {
    tr_log(TR_LOG_ERROR, ST_LOG, "resizing the map of %s to %zu bytes failed: %s", s->dir, size,
           mdb_strerror(rc));
    return st_mdb_err(rc);
  }
  return 0;
}

static int grow(tr_store *s, size_t seen, bool wait) {
  pthread_mutex_lock(&s->grow_mu);
  size_t cur = atomic_load(&s->map_size), lim = atomic_load(&s->map_limit);
  int rc = 0;
  if (cur > seen) goto out; /* someone grew it meanwhile: retry at the new size */
  if (cur >= lim) {
    rc = TR_EFULL;
    goto out;
  }
  size_t next = cur > lim / 2 ? lim : cur * 2;
  next -= next % s->psize;
  if (next <= cur) {
    rc = TR_EFULL;
    goto out;
  }
  rc = resize(s, next, wait);
  if (!rc) {
    atomic_fetch_add(&s->st_grows, 1);
    atomic_store(&s->at_limit, false);
    tr_log(TR_LOG_INFO, ST_LOG, "map of %s grew to %zu MiB (limit %zu MiB)", s->dir,
           atomic_load(&s->map_size) >> 20, lim >> 20);
  }
out:
  pthread_mutex_unlock(&s->grow_mu);
  return rc;
}

int st_grow(tr_store *s, size_t seen) { return grow(s, seen, true); }

int st_grow_ahead(tr_store *s) {
  size_t cur = atomic_load(&s->map_size);
  if (cur >= atomic_load(&s->map_limit)) return 0; /* MDB_MAP_FULL will say so */
  MDB_envinfo info;
  if (mdb_env_info(s->env, &info)) return 0;
  size_t used = ((size_t)info.me_last_pgno + 1) * s->psize;
  if (used < cur - cur / 4) return 0;
  int rc = grow(s, cur, false);
  return rc == TR_EAGAIN || rc == TR_EFULL ? 0 : rc;
}

int st_adopt_mapsize(tr_store *s) {
  pthread_mutex_lock(&s->grow_mu);
  int rc = resize(s, 0, true);
  pthread_mutex_unlock(&s->grow_mu);
  return rc;
}

void st_gate_init(tr_store *s) {
  pthread_mutex_init(&s->gate_mu, NULL);
  pthread_cond_init(&s->gate_cv, NULL);
  pthread_mutex_init(&s->grow_mu, NULL);
  atomic_store(&s->gate_active, 0);
  atomic_store(&s->gate_closed, 0);
}

void st_gate_destroy(tr_store *s) {
  pthread_mutex_destroy(&s->gate_mu);
  pthread_cond_destroy(&s->gate_cv);
  pthread_mutex_destroy(&s->grow_mu);
}
