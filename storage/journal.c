/* journal.c - event journals: append (with duplicate and gap checks),
 * delete up to a seq, and the reads (range, highest).
 *
 * An event lives under its key (partition, pid, seq) in two places over
 * time: appends go to the journal log (jlog), whose keys start with the
 * commit round so that a commit writes sequentially however many pids it
 * touches; fold.c later copies each pid's events into the journal table in
 * per-pid runs, and drops old rounds. For any pid, the journal table holds
 * a prefix of its events and the jlog the rest (plus copies not yet
 * dropped), so a read takes the journal table first and then the jlog
 * rounds in order, skipping seqs it already delivered. */

#include <stdlib.h>

#include "storage/internal.h"

int st_each_round(MDB_cursor **cs, uint64_t from, st_round_fn fn, void *arg) {
  uint64_t r[JLOG_TABLES];
  bool live[JLOG_TABLES];
  MDB_val k, v;
  uint8_t fk[8];
  st_be64(fk, from);
  for (int i = 0; i < JLOG_TABLES; i++) {
    k = (MDB_val){8, fk};
    int rc = from ? mdb_cursor_get(cs[i], &k, &v, MDB_SET_RANGE)
                  : mdb_cursor_get(cs[i], &k, &v, MDB_FIRST);
    while (rc == 0 && k.mv_size < 8) rc = mdb_cursor_get(cs[i], &k, &v, MDB_NEXT); /* not ours */
    if (rc && rc != MDB_NOTFOUND) return rc;
    live[i] = rc == 0;
    r[i] = live[i] ? st_rd64(k.mv_data) : 0;
  }
  for (;;) {
    int b = -1;
    for (int i = 0; i < JLOG_TABLES; i++)
      if (live[i] && (b < 0 || r[i] < r[b])) b = i;
    if (b < 0) return 0;
    int x = fn(arg, cs[b], r[b]);
    if (x == ST_ROUNDS_STOP) return 0;
    if (x) return x;
    if (r[b] == UINT64_MAX) {
      live[b] = false;
      continue;
    }
    uint8_t nk[8];
    st_be64(nk, r[b] + 1);
    k = (MDB_val){8, nk};
    int rc = mdb_cursor_get(cs[b], &k, &v, MDB_SET_RANGE);
    while (rc == 0 && k.mv_size < 8) rc = mdb_cursor_get(cs[b], &k, &v, MDB_NEXT);
    if (rc && rc != MDB_NOTFOUND) return rc;
    live[b] = rc == 0;
    if (live[b]) r[b] = st_rd64(k.mv_data);
  }
}

/* ---- helpers shared with fold.c ---- */

int st_last_under(MDB_cursor *c, const uint8_t *kp, size_t kplen, uint64_t *seq) {
  uint8_t k[JLOG_KEY_MAX];
  memcpy(k, kp, kplen);
  memset(k + kplen, 0xff, 8);
  MDB_val key = {kplen + 8, k}, val;
  *seq = 0;
  int rc = mdb_cursor_get(c, &key, &val, MDB_SET_RANGE);
  if (rc == 0 && st_has_prefix(&key, kp, kplen, 8)) { /* seq UINT64_MAX itself */
    *seq = st_rd64((const uint8_t *)key.mv_data + kplen);
    return 0;
  }
  if (rc == 0) rc = mdb_cursor_get(c, &key, &val, MDB_PREV);
  else if (rc == MDB_NOTFOUND) rc = mdb_cursor_get(c, &key, &val, MDB_LAST);
  if (rc == MDB_NOTFOUND) return 0;
  if (rc) return rc;
  if (st_has_prefix(&key, kp, kplen, 8)) *seq = st_rd64((const uint8_t *)key.mv_data + kplen);
  return 0;
}

/* deleted_to mark of a pid (0 if none): TR_ECORRUPT if it is damaged, since
 * a wrong highest seq could let a duplicate in */
int st_jmeta_get(tr_store *s, MDB_txn *txn, const uint8_t *prefix, size_t plen,
                 uint64_t *deleted) {
  MDB_val k = {plen, (void *)prefix}, v;
  *deleted = 0;
  int rc = mdb_get(txn, s->dbi[TBL_JMETA], &k, &v);
  if (rc == MDB_NOTFOUND) return 0;
  if (rc) return st_mdb_err(rc);
  const uint8_t *p;
  size_t n;
  if ((rc = st_open(s, "journal meta", prefix, plen, &v, &p, &n))) return rc;
  if (n != 8) return TR_ECORRUPT;
  *deleted = st_rd64(p);
  return 0;
}

int st_journal_last(st_wtxn *t, uint64_t hash, const uint8_t *prefix, size_t plen,
                    uint64_t *last) {
  st_seqent *e = st_seqmap_get(t->overlay, hash, prefix, plen);
  if (!e) e = st_seqmap_get(t->map, hash, prefix, plen);
  if (e) {
    *last = e->last;
    return 0;
  }
  /* not in the jlog (the writer's map has every pid that is): the journal
   * table and the deleted_to mark have the answer */
  MDB_cursor *c;
  ST_CK(t, st_cursor(t, TBL_JOURNAL, &c));
  uint64_t seq, del;
  ST_CK(t, st_last_under(c, prefix, plen, &seq));
  int rc = st_jmeta_get(t->s, t->txn, prefix, plen, &del);
  if (rc) return rc;
  *last = seq > del ? seq : del;
  return 0;
}

/* ---- writer ops ---- */

int st_journal_append(st_wtxn *t, tr_store_op *op) {
  uint64_t h = tr_store_hash64(op->key, op->klen);
  uint8_t k[JKEY_MAX];
  size_t pl = st_jprefix_h(k, op->key, op->klen, h);
  uint64_t last;
  int rc = st_journal_last(t, h, k, pl, &last);
  if (rc) return rc;
  if (op->num <= last) return TR_EEXIST;
  if (op->num != last + 1) return TR_ERANGE;
  if (t->n_pend == t->cap_pend) {
    size_t nc = t->cap_pend ? t->cap_pend * 2 : 1024;
    st_pend *p = realloc(t->pend, nc * sizeof *p), *q = p ? realloc(t->pend_tmp, nc * sizeof *q) : NULL;
    if (p) t->pend = p;
    if (!p || !q) {
      t->mdb_rc = ENOMEM;
      return ST_MDB;
    }
    t->pend_tmp = q;
    t->cap_pend = nc;
  }
  t->pend[t->n_pend++] = (st_pend){op, h, t->req};
  st_seqent *e = st_seqmap_get(t->overlay, h, k, pl);
  if (e) {
    e->last = op->num;
    return 0;
  }
  const uint8_t *p = st_arena_push(t->arena, k, pl);
  if (!p || st_seqmap_put(t->overlay, h, p, pl, op->num, false)) {
    t->mdb_rc = ENOMEM;
    return ST_MDB;
  }
  return 0;
}

/* key order of two pending appends: partition, pid length, pid, seq */
static int pend_cmp(const void *pa, const void *pb) {
  const st_pend *a = pa, *b = pb;
  uint32_t x = (uint32_t)(a->hash >> 52), y = (uint32_t)(b->hash >> 52);
  if (x != y) return x < y ? -1 : 1;
  if (a->op->klen != b->op->klen) return a->op->klen < b->op->klen ? -1 : 1;
  int c = memcmp(a->op->key, b->op->key, a->op->klen);
  if (c) return c;
  return a->op->num < b->op->num ? -1 : a->op->num > b->op->num;
}

/* counting sort by partition, then each partition's (usually 1-3) entries
 * by the rest of the key */
static void pend_sort(st_wtxn *t) {
  static _Thread_local uint32_t start[TR_STORE_PARTITIONS + 1];
  size_t n = t->n_pend;
  if (n < 64) {
    qsort(t->pend, n, sizeof *t->pend, pend_cmp);
    return;
  }
  memset(start, 0, sizeof start);
  for (size_t i = 0; i < n; i++) start[(t->pend[i].hash >> 52) + 1]++;
  for (int p = 0; p < TR_STORE_PARTITIONS; p++) start[p + 1] += start[p];
  for (size_t i = 0; i < n; i++) t->pend_tmp[start[t->pend[i].hash >> 52]++] = t->pend[i];
  /* start[p] is now the end of bucket p */
  size_t b = 0;
  for (int p = 0; p < TR_STORE_PARTITIONS; p++) {
    size_t e = start[p];
    if (e - b > 1) qsort(t->pend_tmp + b, e - b, sizeof *t->pend_tmp, pend_cmp);
    b = e;
  }
  st_pend *x = t->pend;
  t->pend = t->pend_tmp;
  t->pend_tmp = x;
}

int st_jlog_flush(st_wtxn *t) {
  if (t->n_pend == 0) return 0;
  pend_sort(t);
  MDB_cursor *c;
  int rc = st_cursor(t, st_jlog_tbl(t->round), &c);
  if (rc) {
    t->mdb_rc = rc;
    t->blame = t->pend[0].req;
    return ST_MDB;
  }
  uint8_t k[JLOG_KEY_MAX];
  st_be64(k, t->round);
  int jt = st_jlog_tbl(t->round) - TBL_JLOG0;
  for (size_t i = 0; i < t->n_pend; i++) {
    const tr_store_op *op = t->pend[i].op;
    st_jf_add(t->s, jt, t->pend[i].hash); /* before any view can see the event */
    size_t pl = st_jprefix_h(k + 8, op->key, op->klen, t->pend[i].hash);
    st_be64(k + 8 + pl, op->num);
    size_t kl = 8 + pl + 8;
    /* keys of this round come after every older one: append while they
     * also follow what this transaction appended before */
    unsigned flags = 0;
    if (t->last_klen == 0) {
      flags = MDB_APPEND;
    } else {
      size_t m = kl < t->last_klen ? kl : t->last_klen;
      int cmp = memcmp(k, t->last_key, m);
      if (cmp > 0 || (cmp == 0 && kl > t->last_klen)) flags = MDB_APPEND;
    }
    MDB_val key = {kl, k};
    /* the checksum covers the journal key (without the round), so the fold
     * copies the value unchanged */
    rc = st_put_sealed(t, c, &key, k + 8, pl + 8, NULL, 0, op->val, op->vlen, flags);
    if (rc) {
      t->mdb_rc = rc;
      t->blame = t->pend[i].req;
      t->n_pend = 0;
      return ST_MDB;
    }
    if (flags) {
      memcpy(t->last_key, k, kl);
      t->last_klen = kl;
    }
  }
  t->n_pend = 0;
  st_jf_publish(t->s);
  return 0;
}

/* deletes the entries of prefix kp with seq <= upto, from kp's first */
static int delete_upto(MDB_cursor *c, const uint8_t *kp, size_t kplen, uint64_t upto) {
  uint8_t k[JLOG_KEY_MAX];
  memcpy(k, kp, kplen);
  memset(k + kplen, 0, 8);
  MDB_val key = {kplen + 8, k}, val;
  int rc = mdb_cursor_get(c, &key, &val, MDB_SET_RANGE);
  while (rc == 0 && st_has_prefix(&key, kp, kplen, 8) &&
         st_rd64((const uint8_t *)key.mv_data + kplen) <= upto)
    rc = st_cursor_del_next(c, &key, &val);
  return rc == MDB_NOTFOUND ? 0 : rc;
}

typedef struct {
  uint8_t *k; /* round (8 bytes, set per round) then the pid's prefix */
  size_t pl;
  uint64_t upto;
} del_arg;

static int del_round(void *arg, MDB_cursor *c, uint64_t round) {
  del_arg *d = arg;
  st_be64(d->k, round);
  return delete_upto(c, d->k, 8 + d->pl, d->upto);
}

int st_journal_delete(st_wtxn *t, tr_store_op *op) {
  /* this transaction's appends first, so the delete sees them */
  if (st_jlog_flush(t)) return ST_MDB;
  uint64_t h = tr_store_hash64(op->key, op->klen);
  uint8_t k[JLOG_KEY_MAX];
  size_t pl = st_jprefix_h(k + 8, op->key, op->klen, h);
  uint64_t last, upto = op->num;
  int rc = st_journal_last(t, h, k + 8, pl, &last);
  if (rc) return rc;
  if (upto > last) upto = last; /* the highest seq stays known through the mark */
  if (upto == 0) return 0;
  MDB_cursor *c;
  ST_CK(t, st_cursor(t, TBL_JOURNAL, &c));
  ST_CK(t, delete_upto(c, k + 8, pl, upto));
  MDB_cursor *cs[JLOG_TABLES];
  for (int i = 0; i < JLOG_TABLES; i++) ST_CK(t, st_cursor(t, TBL_JLOG0 + i, &cs[i]));
  del_arg da = {k, pl, upto};
  ST_CK(t, st_each_round(cs, 0, del_round, &da));
  uint64_t old;
  if ((rc = st_jmeta_get(t->s, t->txn, k + 8, pl, &old))) return rc;
  if (upto > old) {
    uint8_t b[8];
    st_be64(b, upto);
    ST_CK(t, st_cursor(t, TBL_JMETA, &c));
    MDB_val mk = {pl, k + 8};
    ST_CK(t, st_put_sealed(t, c, &mk, k + 8, pl, NULL, 0, b, 8, 0));
  }
  return 0;
}

/* ---- reads ---- */

typedef struct {
  tr_store *s;
  uint64_t next, to; /* lowest seq not yet delivered; upper bound */
  tr_store_item_fn fn;
  void *arg;
  int stop; /* the callback's value */
  bool corrupt, done;
} rd;

/* Walks entries with key prefix kp and seq >= r->next from c's position
 * (set by the caller with SET_RANGE) and delivers them. */
static int deliver_run(rd *r, MDB_cursor *c, MDB_val *key, MDB_val *val, int rc,
                       const uint8_t *kp, size_t kplen, size_t lkey_off) {
  while (rc == 0 && st_has_prefix(key, kp, kplen, 8)) {
    uint64_t seq = st_rd64((const uint8_t *)key->mv_data + kplen);
    if (seq > r->to) {
      r->done = true;
      return 0;
    }
    if (seq >= r->next) {
      const uint8_t *p;
      size_t n;
      if (st_open(r->s, "journal event", (const uint8_t *)key->mv_data + lkey_off,
                  key->mv_size - lkey_off, val, &p, &n) == 0) {
        int x = r->fn(r->arg, seq, p, n);
        if (x) {
          r->stop = x;
          r->done = true;
          return 0;
        }
      } else {
        r->corrupt = true;
      }
      r->next = seq + 1;
      if (seq == r->to) {
        r->done = true;
        return 0;
      }
    }
    rc = mdb_cursor_get(c, key, val, MDB_NEXT);
  }
  return rc == MDB_NOTFOUND || rc == 0 ? 0 : rc;
}

typedef struct {
  rd *r;
  uint8_t *k; /* round, then the pid's prefix, then room for a seq */
  size_t pl;
} rd_round;

static int read_round(void *arg, MDB_cursor *c, uint64_t round) {
  rd_round *a = arg;
  st_be64(a->k, round);
  st_be64(a->k + 8 + a->pl, a->r->next);
  MDB_val key = {8 + a->pl + 8, a->k}, val;
  int rc = mdb_cursor_get(c, &key, &val, MDB_SET_RANGE);
  if ((rc = deliver_run(a->r, c, &key, &val, rc, a->k, 8 + a->pl, 8))) return rc;
  return a->r->done ? ST_ROUNDS_STOP : 0;
}

int tr_journal_read(tr_store *s, tr_store_view *v, const void *pid, size_t pid_len, uint64_t from,
                    uint64_t to, tr_store_item_fn fn, void *arg) {
  if (!s || !pid || !fn || pid_len == 0) return TR_EINVAL;
  if (pid_len > TR_STORE_MAX_PID) return TR_ETOOBIG;
  if (from == 0) from = 1;
  if (from > to) return 0;
  st_rview rv;
  int rc = st_rview_begin(s, v, &rv);
  if (rc) return rc;
  MDB_txn *txn = rv.v->txn;
  rd r = {s, from, to, fn, arg, 0, false, false};
  uint8_t k[JLOG_KEY_MAX];
  size_t pl = st_jprefix(k + 8, pid, pid_len);
  MDB_cursor *c = NULL;
  MDB_val key, val;
  if ((rc = mdb_cursor_open(txn, s->dbi[TBL_JOURNAL], &c))) goto out;
  st_be64(k + 8 + pl, from);
  key = (MDB_val){pl + 8, k + 8};
  rc = mdb_cursor_get(c, &key, &val, MDB_SET_RANGE);
  if ((rc = deliver_run(&r, c, &key, &val, rc, k + 8, pl, 0))) goto out;
  mdb_cursor_close(c);
  c = NULL;
  if (r.done) goto out;
  /* nothing of this pid in the jlog (a new pid, or all of it folded) */
  if (st_jf_absent(s, rv.v, tr_store_hash64(pid, pid_len))) goto out;
  {
    MDB_cursor *cs[JLOG_TABLES] = {0};
    for (int i = 0; i < JLOG_TABLES && !rc; i++)
      rc = mdb_cursor_open(txn, s->dbi[TBL_JLOG0 + i], &cs[i]);
    rd_round ra = {&r, k, pl};
    if (!rc) rc = st_each_round(cs, 0, read_round, &ra);
    for (int i = 0; i < JLOG_TABLES; i++)
      if (cs[i]) mdb_cursor_close(cs[i]);
  }
out:
  if (c) mdb_cursor_close(c);
  st_rview_end(&rv);
  if (rc) return st_mdb_err(rc);
  if (r.stop) return r.stop < 0 ? r.stop : 0;
  return r.corrupt ? TR_ECORRUPT : 0;
}

typedef struct {
  uint8_t *k;
  size_t pl;
  uint64_t best;
} hi_arg;

static int high_round(void *arg, MDB_cursor *c, uint64_t round) {
  hi_arg *a = arg;
  uint64_t x;
  st_be64(a->k, round);
  int rc = st_last_under(c, a->k, 8 + a->pl, &x);
  if (!rc && x > a->best) a->best = x;
  return rc;
}

int tr_journal_highest(tr_store *s, tr_store_view *v, const void *pid, size_t pid_len,
                       uint64_t *seq) {
  if (!s || !pid || !seq || pid_len == 0) return TR_EINVAL;
  if (pid_len > TR_STORE_MAX_PID) return TR_ETOOBIG;
  *seq = 0;
  st_rview rv;
  int rc = st_rview_begin(s, v, &rv);
  if (rc) return rc;
  MDB_txn *txn = rv.v->txn;
  uint8_t k[JLOG_KEY_MAX];
  size_t pl = st_jprefix(k + 8, pid, pid_len);
  hi_arg ha = {k, pl, 0};
  MDB_cursor *cs[1 + JLOG_TABLES] = {0}; /* the journal table, then the jlog tables */
  for (int i = 0; i < 1 + JLOG_TABLES && !rc; i++)
    rc = mdb_cursor_open(txn, s->dbi[i == 0 ? TBL_JOURNAL : TBL_JLOG0 + i - 1], &cs[i]);
  if (!rc) rc = st_last_under(cs[0], k + 8, pl, &ha.best);
  /* a seek per jlog round, unless the filters know the pid is not there */
  if (!rc && !st_jf_absent(s, rv.v, tr_store_hash64(pid, pid_len)))
    rc = st_each_round(cs + 1, 0, high_round, &ha);
  for (int i = 0; i < 1 + JLOG_TABLES; i++)
    if (cs[i]) mdb_cursor_close(cs[i]);
  uint64_t del = 0;
  int trc = rc ? st_mdb_err(rc) : st_jmeta_get(s, txn, k + 8, pl, &del);
  st_rview_end(&rv);
  if (trc) return trc;
  *seq = ha.best > del ? ha.best : del;
  return 0;
}
