/* snapshot.c - snapshots of persistent state, keyed like journal events
 * (partition, pid, seq): save (keeping the K newest) and load the newest. */
#include "storage/internal.h"

int st_snapshot_save(st_wtxn *t, tr_store_op *op) {
  uint8_t k[JKEY_MAX];
  size_t pl = st_jprefix(k, op->key, op->klen);
  st_be64(k + pl, op->num);
  MDB_cursor *c;
  ST_CK(t, st_cursor(t, TBL_SNAP, &c));
  MDB_val key = {pl + 8, k};
  ST_CK(t, st_put_sealed(t, c, &key, k, pl + 8, NULL, 0, op->val, op->vlen, 0));
  if (op->n == 0) return 0;
  /* find the seq of the n-th newest, then delete everything older */
  MDB_val val;
  uint64_t newest;
  ST_CK(t, st_last_under(c, k, pl, &newest));
  st_be64(k + pl, newest);
  key = (MDB_val){pl + 8, k};
  int rc = mdb_cursor_get(c, &key, &val, MDB_SET_KEY);
  uint32_t seen = 1;
  while (rc == 0 && seen < op->n) {
    rc = mdb_cursor_get(c, &key, &val, MDB_PREV);
    if (rc == 0 && !st_has_prefix(&key, k, pl, 8)) rc = MDB_NOTFOUND;
    seen++;
  }
  if (rc == MDB_NOTFOUND) return 0; /* n or fewer */
  ST_CK(t, rc);
  uint64_t cutoff = st_rd64((const uint8_t *)key.mv_data + pl); /* keep >= cutoff */
  st_be64(k + pl, 0);
  key = (MDB_val){pl + 8, k};
  rc = mdb_cursor_get(c, &key, &val, MDB_SET_RANGE);
  while (rc == 0 && st_has_prefix(&key, k, pl, 8) &&
         st_rd64((const uint8_t *)key.mv_data + pl) < cutoff)
    rc = st_cursor_del_next(c, &key, &val);
  if (rc && rc != MDB_NOTFOUND) ST_CK(t, rc);
  return 0;
}

int tr_snapshot_load(tr_store *s, tr_store_view *v, const void *pid, size_t pid_len,
                     uint64_t max_seq, uint64_t *seq, const void **data, size_t *len) {
  if (!s || !v || !pid || pid_len == 0 || !seq || !data || !len) return TR_EINVAL;
  if (pid_len > TR_STORE_MAX_PID) return TR_ETOOBIG;
  if (v->s != s) return TR_EINVAL;
  uint8_t k[JKEY_MAX];
  size_t pl = st_jprefix(k, pid, pid_len);
  st_be64(k + pl, max_seq);
  MDB_cursor *c;
  int rc = mdb_cursor_open(v->txn, s->dbi[TBL_SNAP], &c);
  if (rc) return st_mdb_err(rc);
  MDB_val key = {pl + 8, k}, val;
  rc = mdb_cursor_get(c, &key, &val, MDB_SET_RANGE);
  bool exact = rc == 0 && st_has_prefix(&key, k, pl, 8) &&
               st_rd64((const uint8_t *)key.mv_data + pl) == max_seq;
  if (!exact) {
    if (rc == 0) rc = mdb_cursor_get(c, &key, &val, MDB_PREV);
    else if (rc == MDB_NOTFOUND) rc = mdb_cursor_get(c, &key, &val, MDB_LAST);
  }
  int out = TR_ENOENT;
  while (rc == 0 && st_has_prefix(&key, k, pl, 8)) {
    const uint8_t *p;
    size_t n;
    /* a damaged snapshot is skipped for an older one: replay then starts
     * earlier, which is correct as long as those events were kept */
    if (st_open(s, "snapshot", key.mv_data, key.mv_size, &val, &p, &n) == 0) {
      *seq = st_rd64((const uint8_t *)key.mv_data + pl);
      *data = p;
      *len = n;
      out = 0;
      break;
    }
    rc = mdb_cursor_get(c, &key, &val, MDB_PREV);
  }
  mdb_cursor_close(c);
  if (rc && rc != MDB_NOTFOUND) return st_mdb_err(rc);
  return out;
}
