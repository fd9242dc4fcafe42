/* view.c - read views: LMDB read transactions (MDB_NOTLS, so a view is not
 * tied to a thread) kept in a pool after they end, so that beginning a view
 * is an mdb_txn_renew (no allocation, reader slot kept) rather than a begin. */
#include <stdlib.h>

#include "storage/internal.h"

enum { POOL_MAX = 64 };

int tr_store_view_begin(tr_store *s, tr_store_view **out) {
  if (!s || !out) return TR_EINVAL;
  *out = NULL;
  for (int attempt = 0;; attempt++) {
    _Atomic int *d = st_gate_enter(s);
    pthread_mutex_lock(&s->view_mu);
    tr_store_view *v = s->free_views;
    if (v) {
      s->free_views = v->next;
      s->n_free_views--;
    }
    pthread_mutex_unlock(&s->view_mu);
    int rc;
    /* before the transaction begins: jfilter.c trusts the filters only if
     * no clear started since */
    uint64_t jfe = st_jf_epoch(s);
    if (v) {
      v->jf_epoch = jfe;
      rc = mdb_txn_renew(v->txn);
    } else {
      v = calloc(1, sizeof *v);
      if (!v) {
        st_gate_leave(s, d);
        return TR_ENOMEM;
      }
      v->s = s;
      v->jf_epoch = jfe;
      rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &v->txn);
    }
    if (rc == 0) {
      v->depth = d;
      *out = v;
      return 0;
    }
    if (v->txn) mdb_txn_abort(v->txn);
    free(v);
    st_gate_leave(s, d);
    if (attempt < 3 && rc == MDB_MAP_RESIZED && !st_gate_held(s)) {
      /* another process grew the map (read-only opens only: a read-write
       * store is the only writer of its dir) */
      int arc = st_adopt_mapsize(s);
      if (arc) return arc;
      continue;
    }
    if (attempt < 3 && rc == MDB_READERS_FULL) {
      int dead = 0;
      if (mdb_reader_check(s->env, &dead) == 0 && dead > 0) continue;
      return TR_EAGAIN;
    }
    return st_mdb_err(rc);
  }
}

void tr_store_view_end(tr_store_view *v) {
  if (!v) return;
  tr_store *s = v->s;
  _Atomic int *d = v->depth;
  mdb_txn_reset(v->txn);
  pthread_mutex_lock(&s->view_mu);
  if (s->n_free_views < POOL_MAX) {
    v->next = s->free_views;
    s->free_views = v;
    s->n_free_views++;
    v = NULL;
  }
  pthread_mutex_unlock(&s->view_mu);
  if (v) {
    mdb_txn_abort(v->txn);
    free(v);
  }
  st_gate_leave(s, d);
}

void st_views_free(tr_store *s) {
  while (s->free_views) {
    tr_store_view *v = s->free_views;
    s->free_views = v->next;
    mdb_txn_abort(v->txn);
    free(v);
  }
  s->n_free_views = 0;
}

int st_rview_begin(tr_store *s, tr_store_view *v, st_rview *rv) {
  if (!s) return TR_EINVAL;
  if (v) {
    if (v->s != s) return TR_EINVAL;
    rv->v = v;
    rv->own = false;
    return 0;
  }
  rv->own = true;
  return tr_store_view_begin(s, &rv->v);
}

void st_rview_end(st_rview *rv) {
  if (rv->own) tr_store_view_end(rv->v);
  rv->v = NULL;
}
