/* apply.c - ops inside the writer's transaction: argument checks at submit
 * time, dispatch, and the helpers every op uses (cursors, sealed puts,
 * delete-and-advance). */
#include "storage/internal.h"

static int check_len(size_t len, size_t max) {
  if (len == 0) return TR_EINVAL;
  return len > max ? TR_ETOOBIG : 0;
}

int st_op_check(tr_store *s, const tr_store_op *op) {
  if (op->vlen > TR_STORE_MAX_VALUE) return TR_ETOOBIG;
  if (op->vlen && !op->val) return TR_EINVAL;
  if (op->klen && !op->key) return TR_EINVAL;
  switch (op->kind) {
  case TR_OP_JOURNAL_APPEND:
    if (op->num == 0) return TR_EINVAL; /* seqs start at 1 */
    return check_len(op->klen, TR_STORE_MAX_PID);
  case TR_OP_JOURNAL_DELETE:
  case TR_OP_SNAPSHOT_SAVE:
  case TR_OP_QUEUE_APPEND:
  case TR_OP_QUEUE_ACK: return check_len(op->klen, TR_STORE_MAX_PID);
  case TR_OP_KV_PUT:
  case TR_OP_KV_DEL: return check_len(op->klen, TR_STORE_MAX_KEY);
  case TR_OP_KV_SWEEP: return 0;
  case TR_OP_PUT:
  case TR_OP_DEL:
    if (op->table >= atomic_load(&s->n_user)) return TR_EINVAL;
    return check_len(op->klen, TR_STORE_MAX_KEY);
  default: return TR_EINVAL;
  }
}

int st_op_apply(st_wtxn *t, tr_store_op *op) {
  switch (op->kind) {
  case TR_OP_JOURNAL_APPEND: return st_journal_append(t, op);
  case TR_OP_JOURNAL_DELETE: return st_journal_delete(t, op);
  case TR_OP_SNAPSHOT_SAVE: return st_snapshot_save(t, op);
  case TR_OP_KV_PUT: return st_kv_put(t, op);
  case TR_OP_KV_DEL: return st_kv_del(t, op);
  case TR_OP_KV_SWEEP: return st_kv_sweep(t, op);
  case TR_OP_QUEUE_APPEND: return st_queue_append(t, op);
  case TR_OP_QUEUE_ACK: return st_queue_ack(t, op);
  case TR_OP_PUT: return st_table_put(t, op);
  case TR_OP_DEL: return st_table_del(t, op);
  default: return TR_EINVAL;
  }
}

int st_cursor(st_wtxn *t, int tbl, MDB_cursor **out) {
  if (!t->cur[tbl]) {
    int rc = mdb_cursor_open(t->txn, t->s->dbi[tbl], &t->cur[tbl]);
    if (rc) return rc;
  }
  *out = t->cur[tbl];
  return 0;
}

int st_put_sealed(st_wtxn *t, MDB_cursor *c, const MDB_val *key, const void *lkey, size_t lklen,
                  const void *pre, size_t prelen, const void *payload, size_t plen,
                  unsigned flags) {
  (void)t;
  MDB_val k = *key, v = {VH_SIZE + prelen + plen, NULL};
  /* reserve the space and fill it in place: no staging copy of the value */
  int rc = mdb_cursor_put(c, &k, &v, flags | MDB_RESERVE);
  if (rc) return rc;
  uint8_t *p = v.mv_data;
  if (prelen) memcpy(p + VH_SIZE, pre, prelen);
  if (plen) memcpy(p + VH_SIZE + prelen, payload, plen);
  st_seal(p, lkey, lklen, p + VH_SIZE, prelen + plen);
  return 0;
}

int st_cursor_del_next(MDB_cursor *c, MDB_val *key, MDB_val *val) {
  uint8_t copy[512];
  MDB_val k, v;
  int rc = mdb_cursor_get(c, &k, &v, MDB_GET_CURRENT);
  if (rc) return rc;
  if (k.mv_size > sizeof copy) return MDB_BAD_VALSIZE;
  memcpy(copy, k.mv_data, k.mv_size);
  if ((rc = mdb_cursor_del(c, 0))) return rc;
  /* re-seek from the deleted key rather than trust the cursor's position
   * after a delete (it differs between LMDB versions at page ends) */
  key->mv_size = k.mv_size;
  key->mv_data = copy;
  rc = mdb_cursor_get(c, key, val, MDB_SET_RANGE);
  return rc;
}
