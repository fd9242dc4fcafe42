/* table.c - user tables: named LMDB tables of sealed values, for the
 * platform's own records (users, apps, indexes). */
#include <stdio.h>
#include <stdlib.h>

#include "storage/internal.h"

int st_table_put(st_wtxn *t, tr_store_op *op) {
  MDB_cursor *c;
  ST_CK(t, st_cursor(t, TBL_USER0 + op->table, &c));
  MDB_val key = {op->klen, (void *)op->key};
  ST_CK(t, st_put_sealed(t, c, &key, op->key, op->klen, NULL, 0, op->val, op->vlen, 0));
  return 0;
}

int st_table_del(st_wtxn *t, tr_store_op *op) {
  MDB_val key = {op->klen, (void *)op->key};
  int rc = mdb_del(t->txn, t->s->dbi[TBL_USER0 + op->table], &key, NULL);
  if (rc != MDB_NOTFOUND) ST_CK(t, rc);
  return 0;
}

static int table_dbi(tr_store *s, uint32_t table, MDB_dbi *dbi) {
  if (table >= atomic_load(&s->n_user)) return TR_EINVAL;
  *dbi = s->dbi[TBL_USER0 + table];
  return 0;
}

int tr_table_get(tr_store *s, tr_store_view *v, uint32_t table, const void *key, size_t klen,
                 const void **val, size_t *vlen) {
  if (!s || !v || !key || klen == 0 || !val || !vlen || v->s != s) return TR_EINVAL;
  if (klen > TR_STORE_MAX_KEY) return TR_ETOOBIG;
  MDB_dbi dbi;
  int rc = table_dbi(s, table, &dbi);
  if (rc) return rc;
  MDB_val k = {klen, (void *)key}, d;
  if ((rc = mdb_get(v->txn, dbi, &k, &d))) return st_mdb_err(rc);
  const uint8_t *p;
  size_t n;
  if ((rc = st_open(s, "table", key, klen, &d, &p, &n))) return rc;
  *val = p;
  *vlen = n;
  return 0;
}

int tr_table_scan(tr_store *s, tr_store_view *v, uint32_t table, const void *prefix, size_t plen,
                  tr_store_kv_fn fn, void *arg) {
  return tr_table_scan_from(s, v, table, prefix, plen, prefix, plen, fn, arg);
}

int tr_table_scan_from(tr_store *s, tr_store_view *v, uint32_t table, const void *prefix,
                       size_t plen, const void *start, size_t slen, tr_store_kv_fn fn, void *arg) {
  if (!s || !fn || (plen && !prefix) || (slen && !start)) return TR_EINVAL;
  if (plen > TR_STORE_MAX_KEY || slen > TR_STORE_MAX_KEY) return TR_ETOOBIG;
  /* a start before the prefix would return keys outside it */
  if (slen < plen || (plen && memcmp(start, prefix, plen))) {
    start = prefix;
    slen = plen;
  }
  MDB_dbi dbi;
  int rc = table_dbi(s, table, &dbi);
  if (rc) return rc;
  st_rview rv;
  if ((rc = st_rview_begin(s, v, &rv))) return rc;
  MDB_cursor *c;
  bool corrupt = false;
  int stop = 0;
  if ((rc = mdb_cursor_open(rv.v->txn, dbi, &c))) goto out;
  MDB_val key = {slen, (void *)start}, val;
  rc = slen ? mdb_cursor_get(c, &key, &val, MDB_SET_RANGE)
            : mdb_cursor_get(c, &key, &val, MDB_FIRST);
  while (rc == 0 && key.mv_size >= plen && (plen == 0 || memcmp(key.mv_data, prefix, plen) == 0)) {
    const uint8_t *p;
    size_t n;
    if (st_open(s, "table", key.mv_data, key.mv_size, &val, &p, &n) == 0) {
      if ((stop = fn(arg, key.mv_data, key.mv_size, p, n))) break;
    } else {
      corrupt = true;
    }
    rc = mdb_cursor_get(c, &key, &val, MDB_NEXT);
  }
  if (rc == MDB_NOTFOUND) rc = 0;
  mdb_cursor_close(c);
out:
  st_rview_end(&rv);
  return st_scan_result(rc, stop, corrupt);
}

int tr_store_table(tr_store *s, const char *name, uint32_t *id) {
  if (!s || !name || !id) return TR_EINVAL;
  size_t len = strlen(name);
  if (len == 0 || len > 64) return TR_EINVAL;
  if (st_gate_held(s)) return TR_EDEADLK;
  pthread_mutex_lock(&s->table_mu);
  uint32_t n = atomic_load(&s->n_user);
  for (uint32_t i = 0; i < n; i++)
    if (strcmp(s->user_names[i], name) == 0) {
      *id = i;
      pthread_mutex_unlock(&s->table_mu);
      return 0;
    }
  int rc = TR_EFULL;
  char full[80];
  snprintf(full, sizeof full, "u:%s", name); /* never clashes with an internal table */
  char *copy = NULL;
  if (n >= TR_STORE_MAX_TABLES || !(copy = strdup(name))) {
    if (n < TR_STORE_MAX_TABLES) rc = TR_ENOMEM;
    goto out;
  }
  for (;;) {
    /* a write transaction of this thread: LMDB serialises it with the
     * writer thread's; it is rare (tables are opened at start-up) */
    _Atomic int *d = st_gate_enter(s);
    size_t seen = atomic_load(&s->map_size);
    MDB_txn *txn;
    int mrc = mdb_txn_begin(s->env, NULL, s->read_only ? MDB_RDONLY : 0, &txn);
    if (!mrc) {
      mrc = mdb_dbi_open(txn, full, s->read_only ? 0 : MDB_CREATE, &s->dbi[TBL_USER0 + n]);
      if (mrc) mdb_txn_abort(txn);
      else mrc = mdb_txn_commit(txn);
    }
    st_gate_leave(s, d);
    if (mrc == MDB_MAP_FULL && st_grow(s, seen) == 0) continue;
    if (mrc == MDB_MAP_RESIZED && st_adopt_mapsize(s) == 0) continue;
    rc = st_mdb_err(mrc);
    break;
  }
  if (rc == 0) {
    s->user_names[n] = copy;
    copy = NULL;
    *id = n;
    atomic_store(&s->n_user, n + 1); /* publishes dbi[] and the name */
  }
out:
  free(copy);
  pthread_mutex_unlock(&s->table_mu);
  return rc;
}
