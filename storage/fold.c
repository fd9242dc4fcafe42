/* fold.c - moving journal events from the journal log into the journal
 * table.
 *
 * Why: a commit that appends one event for each of 10,000 pids would, with
 * (partition, pid, seq) keys alone, dirty and write about 10,000 B-tree
 * pages (each pid's newest events sit on a page of their own), which caps
 * sync-mode throughput at ~100-150k events/s on this machine's disk. The
 * jlog's keys start with the commit round, so appends fill fresh pages in
 * order; the fold copies a pid's events from many rounds at once, so the
 * journal table gets one page write per run of events instead of one per
 * event.
 *
 * How: every writer transaction runs one fold step. Step k copies, for the
 * partitions of slice k mod FOLD_SLICES, every event of every round older
 * than the transaction's own and not older than the round of step
 * k - FOLD_SLICES (which copied the ones before). After FOLD_SLICES consecutive steps, every
 * partition of the rounds older than the first of those steps has been
 * copied. Rounds of one generation (FOLD_SLICES consecutive rounds) share
 * one of JLOG_TABLES tables, and a table whose rounds are all copied is
 * emptied with one mdb_drop, which frees its pages without rewriting them.
 * In any snapshot each event is in at least one of the tables, since the
 * copy and the drop each commit atomically; readers skip the duplicates. */
#include <stdlib.h>

#include "storage/internal.h"
#include "troupe/system.h"

enum { SLICE_WIDTH = TR_STORE_PARTITIONS / FOLD_SLICES };
_Static_assert(TR_STORE_PARTITIONS % FOLD_SLICES == 0, "slices tile the partitions");

int st_removal_add(st_wtxn *t, uint64_t hash, const uint8_t *prefix, size_t plen) {
  if (t->n_removals) { /* runs of one pid are common: store it once */
    st_removal *l = &t->removals[t->n_removals - 1];
    if (l->hash == hash && l->plen == plen && memcmp(l->prefix, prefix, plen) == 0) return 0;
  }
  if (t->n_removals == t->cap_removals) {
    size_t nc = t->cap_removals ? t->cap_removals * 2 : 256;
    st_removal *r = realloc(t->removals, nc * sizeof *r);
    if (!r) return ENOMEM;
    t->removals = r;
    t->cap_removals = nc;
  }
  const uint8_t *p = st_arena_push(t->arena, prefix, plen);
  if (!p) return ENOMEM;
  t->removals[t->n_removals++] = (st_removal){p, (uint16_t)plen, hash};
  return 0;
}

/* hash of the pid inside a journal key prefix (partition, len, pid) */
static uint64_t prefix_hash(const uint8_t *jk) { return tr_store_hash64(jk + 5, jk[4]); }

/* a well-formed jlog key: round, partition, len, pid, seq */
static bool jlog_key_ok(const MDB_val *k) {
  const uint8_t *p = k->mv_data;
  return k->mv_size >= 8 + 5 + 1 + 8 && p[12] != 0 && (size_t)p[12] + 8 + 5 + 8 == k->mv_size;
}

/* copies a jlog entry into the journal table (jc); t may be NULL at open */
static int copy_one(st_wtxn *t, MDB_cursor *jc, const MDB_val *key, const MDB_val *val) {
  if (!jlog_key_ok(key)) return 0; /* not ours: leave it */
  const uint8_t *jk = (const uint8_t *)key->mv_data + 8;
  size_t jklen = key->mv_size - 8;
  MDB_val k = {jklen, (void *)jk}, v = *val;
  /* key and value point into a committed page of the jlog, which this
   * transaction does not modify (it only drops whole tables, after the
   * copies): they stay valid across the put */
  int rc = mdb_cursor_put(jc, &k, &v, 0);
  if (rc || !t) return rc;
  return st_removal_add(t, prefix_hash(jk), jk, jklen - 8);
}

typedef struct {
  st_wtxn *t;
  MDB_cursor *jc;
  uint32_t a, b; /* partitions [a, b) */
} slice_arg;

static int copy_round(void *arg, MDB_cursor *c, uint64_t round) {
  slice_arg *sa = arg;
  if (round >= sa->t->round) return ST_ROUNDS_STOP; /* this txn's own and later */
  uint8_t sk[12];
  st_be64(sk, round);
  st_be32(sk + 8, sa->a);
  MDB_val key = {12, sk}, val;
  int rc = mdb_cursor_get(c, &key, &val, MDB_SET_RANGE);
  while (rc == 0 && key.mv_size >= 12 && st_rd64(key.mv_data) == round &&
         st_rd32((const uint8_t *)key.mv_data + 8) < sa->b) {
    if ((rc = copy_one(sa->t, sa->jc, &key, &val))) return rc;
    rc = mdb_cursor_get(c, &key, &val, MDB_NEXT);
  }
  return rc == MDB_NOTFOUND ? 0 : rc;
}

int st_fold_step(st_wtxn *t) {
  MDB_cursor *cs[JLOG_TABLES], *jc;
  for (int i = 0; i < JLOG_TABLES; i++) ST_CK(t, st_cursor(t, TBL_JLOG0 + i, &cs[i]));
  ST_CK(t, st_cursor(t, TBL_JOURNAL, &jc));
  st_fold *f = t->fold;
  uint32_t a = (uint32_t)(f->steps % FOLD_SLICES) * SLICE_WIDTH;
  slice_arg sa = {t, jc, a, a + SLICE_WIDTH};
  /* the previous step of this slice (FOLD_SLICES steps ago) copied the
   * rounds older than its own: start there */
  uint64_t from = f->steps >= FOLD_SLICES ? f->ring[f->steps % FOLD_SLICES] : 0;
  ST_CK(t, st_each_round(cs, from, copy_round, &sa));
  t->fold_ran = true;
  /* with this step, have the last FOLD_SLICES steps covered every slice?
   * then rounds older than the first of them are fully copied */
  if (f->steps + 1 < FOLD_SLICES) return 0;
  uint64_t bound = f->ring[(f->steps + 1) % FOLD_SLICES];
  for (int i = 0; i < JLOG_TABLES; i++) {
    MDB_val key, val;
    int rc = mdb_cursor_get(cs[i], &key, &val, MDB_LAST);
    if (rc == MDB_NOTFOUND) continue;
    ST_CK(t, rc);
    if (key.mv_size >= 8 && st_rd64(key.mv_data) < bound) {
      ST_CK(t, mdb_drop(t->txn, t->s->dbi[TBL_JLOG0 + i], 0));
      t->dropped |= 1u << i; /* its filter is cleared once this commits */
    }
  }
  return 0;
}

/* ---- at open ---- */

enum { FOLD_ALL_CHUNK = 50000 };

static int key_cmp(const MDB_val *a, const MDB_val *b) {
  size_t m = a->mv_size < b->mv_size ? a->mv_size : b->mv_size;
  int c = memcmp(a->mv_data, b->mv_data, m);
  if (c) return c;
  return a->mv_size < b->mv_size ? -1 : a->mv_size > b->mv_size;
}

/* Copies up to FOLD_ALL_CHUNK jlog entries after key pos (from the start if
 * *plen == 0) into the journal table, in key order across all jlog tables,
 * i.e. oldest round first: a fold that stops half-way (at the map limit)
 * then leaves each pid's copied events a prefix of its events, which is
 * what readers rely on. pos/plen get the last key copied; *more is set if
 * entries remain. */
static int copy_chunk(tr_store *s, uint8_t *pos, size_t *plen, bool *more) {
  /* the position moves only when the chunk commits: a chunk that failed
   * (map full, then grown) is copied again from the same place */
  uint8_t npos[JLOG_KEY_MAX];
  size_t nplen = *plen;
  memcpy(npos, pos, *plen);
  MDB_txn *txn;
  MDB_cursor *c[JLOG_TABLES] = {0}, *jc = NULL;
  MDB_val key[JLOG_TABLES], val[JLOG_TABLES];
  bool live[JLOG_TABLES];
  int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
  if (rc) return rc;
  if ((rc = mdb_cursor_open(txn, s->dbi[TBL_JOURNAL], &jc))) goto fail;
  for (int i = 0; i < JLOG_TABLES; i++) {
    if ((rc = mdb_cursor_open(txn, s->dbi[TBL_JLOG0 + i], &c[i]))) goto fail;
    MDB_val p = {*plen, pos};
    if (*plen) {
      key[i] = p;
      rc = mdb_cursor_get(c[i], &key[i], &val[i], MDB_SET_RANGE);
      if (rc == 0 && key_cmp(&key[i], &p) == 0)
        rc = mdb_cursor_get(c[i], &key[i], &val[i], MDB_NEXT);
    } else {
      rc = mdb_cursor_get(c[i], &key[i], &val[i], MDB_FIRST);
    }
    if (rc && rc != MDB_NOTFOUND) goto fail;
    live[i] = rc == 0;
  }
  rc = 0;
  int n = 0;
  for (; n < FOLD_ALL_CHUNK; n++) {
    int b = -1;
    for (int i = 0; i < JLOG_TABLES; i++)
      if (live[i] && (b < 0 || key_cmp(&key[i], &key[b]) < 0)) b = i;
    if (b < 0) break;
    if ((rc = copy_one(NULL, jc, &key[b], &val[b]))) goto fail;
    if (key[b].mv_size <= JLOG_KEY_MAX) {
      memcpy(npos, key[b].mv_data, key[b].mv_size);
      nplen = key[b].mv_size;
    }
    rc = mdb_cursor_get(c[b], &key[b], &val[b], MDB_NEXT);
    if (rc && rc != MDB_NOTFOUND) goto fail;
    live[b] = rc == 0;
    rc = 0;
  }
  for (int i = 0; i < JLOG_TABLES; i++) mdb_cursor_close(c[i]);
  mdb_cursor_close(jc);
  if ((rc = mdb_txn_commit(txn))) return rc;
  *more = n == FOLD_ALL_CHUNK;
  memcpy(pos, npos, nplen);
  *plen = nplen;
  return 0;
fail:
  for (int i = 0; i < JLOG_TABLES; i++)
    if (c[i]) mdb_cursor_close(c[i]);
  if (jc) mdb_cursor_close(jc);
  mdb_txn_abort(txn);
  return rc;
}

static int drop_all(tr_store *s) {
  MDB_txn *txn;
  int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
  if (rc) return rc;
  for (int i = 0; i < JLOG_TABLES && !rc; i++) rc = mdb_drop(txn, s->dbi[TBL_JLOG0 + i], 0);
  if (rc) {
    mdb_txn_abort(txn);
    return rc;
  }
  return mdb_txn_commit(txn);
}

int st_jlog_seed(tr_store *s, st_seqmap *map, uint64_t *round) {
  MDB_txn *txn;
  *round = 1;
  int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
  if (rc) return rc;
  for (int i = 0; i < JLOG_TABLES && !rc; i++) {
    MDB_cursor *c;
    if ((rc = mdb_cursor_open(txn, s->dbi[TBL_JLOG0 + i], &c))) break;
    MDB_val key, val;
    rc = mdb_cursor_get(c, &key, &val, MDB_FIRST);
    for (; rc == 0; rc = mdb_cursor_get(c, &key, &val, MDB_NEXT)) {
      if (!jlog_key_ok(&key)) continue;
      const uint8_t *k = key.mv_data, *jk = k + 8;
      uint64_t r = st_rd64(k);
      if (r >= *round) *round = r + 1;
      size_t pl = key.mv_size - 16;
      uint64_t seq = st_rd64(jk + pl), h = prefix_hash(jk);
      st_jf_add(s, i, h); /* what folding at open left in the jlog */
      st_seqent *e = st_seqmap_get(map, h, jk, pl);
      if (e && e->last >= seq) continue;
      if (st_seqmap_put(map, h, jk, pl, seq, true)) {
        rc = ENOMEM;
        break;
      }
    }
    mdb_cursor_close(c);
    if (rc == MDB_NOTFOUND) rc = 0;
  }
  mdb_txn_abort(txn);
  if (*round == UINT64_MAX) *round = UINT64_MAX - 1;
  return rc;
}

static int fold_failed(tr_store *s, int rc) {
  if (rc == MDB_MAP_FULL) {
    tr_log(TR_LOG_WARN, ST_LOG,
           "%s: the map is at its limit; the journal log stays partly unfolded", s->dir);
    return 0;
  }
  tr_log(TR_LOG_ERROR, ST_LOG, "%s: folding the journal log: %s", s->dir, mdb_strerror(rc));
  return st_mdb_err(rc);
}

/* Copies the jlog into the journal table in chunks (copies are idempotent,
 * so a crash half-way loses nothing), then drops the jlog tables. */
int st_fold_all(tr_store *s, st_seqmap *map, uint64_t *round) {
  int rc = 0;
  uint8_t pos[JLOG_KEY_MAX];
  size_t plen = 0;
  for (bool more = true; more;) {
    size_t seen = atomic_load(&s->map_size);
    rc = copy_chunk(s, pos, &plen, &more);
    if (rc == MDB_MAP_FULL && st_grow(s, seen) == 0) {
      more = true;
      continue;
    }
    if (rc) break;
  }
  for (bool again = rc == 0; again;) {
    size_t seen = atomic_load(&s->map_size);
    again = false;
    rc = drop_all(s);
    if (rc == MDB_MAP_FULL && st_grow(s, seen) == 0) again = true;
  }
  if (rc && (rc = fold_failed(s, rc))) return rc;
  rc = st_jlog_seed(s, map, round);
  if (rc) {
    tr_log(TR_LOG_ERROR, ST_LOG, "%s: reading the journal log: %s", s->dir, mdb_strerror(rc));
    return st_mdb_err(rc);
  }
  return 0;
}
