/* kv.c - the KV table with a per-key TTL.
 *
 * kv:    key -> expires_ms (u64 BE, 0 = never) + value
 * kvexp: expires_ms (u64 BE) + key -> empty, the expiry index: ordered by
 *        time, so a sweep is a delete from the front.
 * A read treats an expired key as absent at once; the sweep (an op the
 * runtime submits periodically) removes expired keys for good. Expiry uses
 * the wall clock, since it must survive restarts. */
#include "storage/internal.h"

enum { KV_ABSENT, KV_OK, KV_DAMAGED };

/* reads the expiry of key (0 = never) and whether the entry is there and
 * readable */
static int kv_expiry(st_wtxn *t, const MDB_val *key, uint64_t *exp, int *state) {
  MDB_val v;
  *exp = 0;
  *state = KV_ABSENT;
  int rc = mdb_get(t->txn, t->s->dbi[TBL_KV], (MDB_val *)key, &v);
  if (rc == MDB_NOTFOUND) return 0;
  if (rc) return rc;
  const uint8_t *p;
  size_t n;
  *state = KV_DAMAGED;
  if (st_open(t->s, "kv", key->mv_data, key->mv_size, &v, &p, &n) == 0 && n >= 8) {
    *exp = st_rd64(p);
    *state = KV_OK;
  }
  return 0;
}

static int old_expiry(st_wtxn *t, const MDB_val *key, uint64_t *exp) {
  int state;
  return kv_expiry(t, key, exp, &state);
}

static int del_index(st_wtxn *t, const MDB_val *key, uint64_t exp) {
  uint8_t ik[8 + TR_STORE_MAX_KEY];
  st_be64(ik, exp);
  memcpy(ik + 8, key->mv_data, key->mv_size);
  MDB_val k = {8 + key->mv_size, ik};
  int rc = mdb_del(t->txn, t->s->dbi[TBL_KVEXP], &k, NULL);
  return rc == MDB_NOTFOUND ? 0 : rc;
}

int st_kv_put(st_wtxn *t, tr_store_op *op) {
  MDB_val key = {op->klen, (void *)op->key};
  uint64_t old, exp = 0;
  ST_CK(t, old_expiry(t, &key, &old));
  if (old) ST_CK(t, del_index(t, &key, old));
  if (op->num) exp = op->num > UINT64_MAX - t->now_ms ? UINT64_MAX : t->now_ms + op->num;
  uint8_t pre[8];
  st_be64(pre, exp);
  MDB_cursor *c;
  ST_CK(t, st_cursor(t, TBL_KV, &c));
  ST_CK(t, st_put_sealed(t, c, &key, op->key, op->klen, pre, 8, op->val, op->vlen, 0));
  if (exp) {
    uint8_t ik[8 + TR_STORE_MAX_KEY];
    st_be64(ik, exp);
    memcpy(ik + 8, op->key, op->klen);
    MDB_val k = {8 + op->klen, ik}, v = {0, NULL};
    ST_CK(t, mdb_put(t->txn, t->s->dbi[TBL_KVEXP], &k, &v, 0));
  }
  return 0;
}

int st_kv_del(st_wtxn *t, tr_store_op *op) {
  MDB_val key = {op->klen, (void *)op->key};
  uint64_t old;
  ST_CK(t, old_expiry(t, &key, &old));
  if (old) ST_CK(t, del_index(t, &key, old));
  int rc = mdb_del(t->txn, t->s->dbi[TBL_KV], &key, NULL);
  if (rc != MDB_NOTFOUND) ST_CK(t, rc);
  return 0;
}

int st_kv_sweep(st_wtxn *t, tr_store_op *op) {
  uint32_t max = op->n ? op->n : 10000, done = 0;
  MDB_cursor *c;
  ST_CK(t, st_cursor(t, TBL_KVEXP, &c));
  MDB_val ik, iv;
  int rc = mdb_cursor_get(c, &ik, &iv, MDB_FIRST);
  while (rc == 0 && done < max) {
    if (ik.mv_size >= 8 && st_rd64(ik.mv_data) > t->now_ms) break;
    if (ik.mv_size > 8 && ik.mv_size <= 8 + TR_STORE_MAX_KEY) {
      uint64_t exp = st_rd64(ik.mv_data), cur;
      uint8_t kb[TR_STORE_MAX_KEY];
      memcpy(kb, (const uint8_t *)ik.mv_data + 8, ik.mv_size - 8);
      MDB_val key = {ik.mv_size - 8, kb};
      int state;
      ST_CK(t, kv_expiry(t, &key, &cur, &state));
      /* a key rewritten since keeps its value (this index entry is stale);
       * a damaged value is garbage either way */
      if ((state == KV_OK && cur == exp) || state == KV_DAMAGED) {
        ST_CK(t, mdb_del(t->txn, t->s->dbi[TBL_KV], &key, NULL));
        done++;
      }
    }
    rc = st_cursor_del_next(c, &ik, &iv); /* the index entry goes in any case */
  }
  if (rc && rc != MDB_NOTFOUND) ST_CK(t, rc);
  op->result = done;
  return 0;
}

int tr_kv_get(tr_store *s, tr_store_view *v, const void *key, size_t klen, const void **val,
              size_t *vlen, uint64_t *expires_ms) {
  if (!s || !v || !key || klen == 0 || !val || !vlen) return TR_EINVAL;
  if (klen > TR_STORE_MAX_KEY) return TR_ETOOBIG;
  if (v->s != s) return TR_EINVAL;
  MDB_val k = {klen, (void *)key}, d;
  int rc = mdb_get(v->txn, s->dbi[TBL_KV], &k, &d);
  if (rc) return st_mdb_err(rc);
  const uint8_t *p;
  size_t n;
  if ((rc = st_open(s, "kv", key, klen, &d, &p, &n))) return rc;
  if (n < 8) return TR_ECORRUPT;
  uint64_t exp = st_rd64(p);
  if (exp && exp <= st_wall_ms()) return TR_ENOENT;
  *val = p + 8;
  *vlen = n - 8;
  if (expires_ms) *expires_ms = exp;
  return 0;
}
