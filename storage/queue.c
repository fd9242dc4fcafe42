/* queue.c - durable FIFO queues (for job queues): append returns an
 * offset, reads go from an offset, ack drops everything up to an offset.
 *
 * queue: name length u8 + name + offset u64 BE -> item
 * qmeta: name length u8 + name -> next offset u64 BE, acked u64 BE
 * Offsets start at 1 and are never reused, also after a full ack. */
#include "storage/internal.h"

enum { QPREFIX_MAX = 1 + TR_STORE_MAX_PID };

static int meta_read(tr_store *s, MDB_txn *txn, const uint8_t *qp, size_t ql, uint64_t *next,
                     uint64_t *acked) {
  MDB_val k = {ql, (void *)qp}, v;
  *next = 1;
  *acked = 0;
  int rc = mdb_get(txn, s->dbi[TBL_QMETA], &k, &v);
  if (rc == MDB_NOTFOUND) return 0;
  if (rc) return st_mdb_err(rc);
  const uint8_t *p;
  size_t n;
  if ((rc = st_open(s, "queue meta", qp, ql, &v, &p, &n))) return rc;
  if (n != 16) return TR_ECORRUPT;
  *next = st_rd64(p);
  *acked = st_rd64(p + 8);
  if (*acked >= *next || *next == 0) return TR_ECORRUPT;
  return 0;
}

static int meta_write(st_wtxn *t, const uint8_t *qp, size_t ql, uint64_t next, uint64_t acked) {
  uint8_t b[16];
  st_be64(b, next);
  st_be64(b + 8, acked);
  MDB_cursor *c;
  int rc = st_cursor(t, TBL_QMETA, &c);
  if (rc) return rc;
  MDB_val k = {ql, (void *)qp};
  return st_put_sealed(t, c, &k, qp, ql, NULL, 0, b, 16, 0);
}

int st_queue_append(st_wtxn *t, tr_store_op *op) {
  uint8_t k[QPREFIX_MAX + 8];
  size_t ql = st_qprefix(k, op->key, op->klen);
  uint64_t next, acked;
  int rc = meta_read(t->s, t->txn, k, ql, &next, &acked);
  if (rc) return rc;
  st_be64(k + ql, next);
  MDB_cursor *c;
  ST_CK(t, st_cursor(t, TBL_QUEUE, &c));
  MDB_val key = {ql + 8, k};
  ST_CK(t, st_put_sealed(t, c, &key, k, ql + 8, NULL, 0, op->val, op->vlen, 0));
  ST_CK(t, meta_write(t, k, ql, next + 1, acked));
  op->result = next;
  return 0;
}

int st_queue_ack(st_wtxn *t, tr_store_op *op) {
  uint8_t k[QPREFIX_MAX + 8];
  size_t ql = st_qprefix(k, op->key, op->klen);
  uint64_t next, acked;
  int rc = meta_read(t->s, t->txn, k, ql, &next, &acked);
  if (rc) return rc;
  if (op->num >= next) return TR_ERANGE; /* items that were never appended */
  if (op->num <= acked) return 0;
  st_be64(k + ql, acked + 1);
  MDB_cursor *c;
  ST_CK(t, st_cursor(t, TBL_QUEUE, &c));
  MDB_val key = {ql + 8, k}, val;
  rc = mdb_cursor_get(c, &key, &val, MDB_SET_RANGE);
  while (rc == 0 && st_has_prefix(&key, k, ql, 8) &&
         st_rd64((const uint8_t *)key.mv_data + ql) <= op->num)
    rc = st_cursor_del_next(c, &key, &val);
  if (rc && rc != MDB_NOTFOUND) ST_CK(t, rc);
  ST_CK(t, meta_write(t, k, ql, next, op->num));
  return 0;
}

int tr_queue_read(tr_store *s, tr_store_view *v, const void *name, size_t nlen, uint64_t from,
                  uint32_t max, tr_store_item_fn fn, void *arg) {
  if (!s || !name || nlen == 0 || !fn) return TR_EINVAL;
  if (nlen > TR_STORE_MAX_PID) return TR_ETOOBIG;
  if (max == 0) return 0;
  st_rview rv;
  int rc = st_rview_begin(s, v, &rv);
  if (rc) return rc;
  uint8_t k[QPREFIX_MAX + 8];
  size_t ql = st_qprefix(k, name, nlen);
  st_be64(k + ql, from ? from : 1);
  MDB_cursor *c;
  bool corrupt = false;
  int stop = 0;
  if ((rc = mdb_cursor_open(rv.v->txn, s->dbi[TBL_QUEUE], &c))) goto out;
  MDB_val key = {ql + 8, k}, val;
  rc = mdb_cursor_get(c, &key, &val, MDB_SET_RANGE);
  for (uint32_t n = 0; rc == 0 && n < max && st_has_prefix(&key, k, ql, 8); n++) {
    const uint8_t *p;
    size_t len;
    uint64_t off = st_rd64((const uint8_t *)key.mv_data + ql);
    if (st_open(s, "queue item", key.mv_data, key.mv_size, &val, &p, &len) == 0) {
      if ((stop = fn(arg, off, p, len))) break;
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

int tr_queue_info(tr_store *s, tr_store_view *v, const void *name, size_t nlen, uint64_t *first,
                  uint64_t *next) {
  if (!s || !name || nlen == 0 || !first || !next) return TR_EINVAL;
  if (nlen > TR_STORE_MAX_PID) return TR_ETOOBIG;
  st_rview rv;
  int rc = st_rview_begin(s, v, &rv);
  if (rc) return rc;
  uint8_t k[QPREFIX_MAX];
  size_t ql = st_qprefix(k, name, nlen);
  uint64_t acked;
  rc = meta_read(s, rv.v->txn, k, ql, next, &acked);
  st_rview_end(&rv);
  if (rc) return rc;
  *first = acked + 1;
  return 0;
}
