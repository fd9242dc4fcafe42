/* test_storage_journal.c - journals (range reads, duplicate and gap
 * detection, delete up to a seq, the journal log and its fold), snapshots
 * (load newest, keep K) and damaged values (reported, skipped, never
 * trusted). */
#include <semaphore.h>

#include "../storage/st_harness.h"
#include "storage/internal.h"

static int stop_after_two(void *arg, uint64_t seq, const void *d, size_t len) {
  int *n = arg;
  return ++*n == 2 ? 1 : 0;
}
static int fail_at_three(void *arg, uint64_t seq, const void *d, size_t len) {
  return seq == 3 ? -77 : 0;
}

static void test_journal_basic(void **st) {
  char tmp[256];
  st_t_tmpdir(tmp, sizeof tmp);
  tr_store *s = st_t_open(tmp, NULL);
  char ev[16];
  for (int i = 1; i <= 5; i++) {
    snprintf(ev, sizeof ev, "a%d", i);
    assert_int_equal(st_t_append(s, "a", (uint64_t)i, ev), 0);
  }
  assert_int_equal(st_t_append(s, "ab", 1, "ab1"), 0); /* a pid that extends another */
  assert_int_equal(st_t_append(s, "a", 5, "dup"), TR_EEXIST);
  assert_int_equal(st_t_append(s, "a", 1, "dup"), TR_EEXIST);
  assert_int_equal(st_t_append(s, "a", 7, "gap"), TR_ERANGE);
  assert_int_equal(st_t_append(s, "new", 2, "gap"), TR_ERANGE);
  st_t_items *it = calloc(1, sizeof *it);
  assert_int_equal(tr_journal_read(s, NULL, "a", 1, 2, 4, st_t_collect, it), 0);
  assert_int_equal(it->n, 3);
  for (int i = 0; i < 3; i++) {
    assert_int_equal(it->num[i], (uint64_t)i + 2);
    snprintf(ev, sizeof ev, "a%d", i + 2);
    assert_string_equal(it->data[i], ev);
  }
  it->n = 0;
  assert_int_equal(tr_journal_read(s, NULL, "a", 1, 0, UINT64_MAX, st_t_collect, it), 0);
  assert_int_equal(it->n, 5);
  it->n = 0;
  assert_int_equal(tr_journal_read(s, NULL, "a", 1, 4, 2, st_t_collect, it), 0);
  assert_int_equal(it->n, 0);
  assert_int_equal(tr_journal_read(s, NULL, "zz", 2, 1, 100, st_t_collect, it), 0);
  assert_int_equal(it->n, 0);
  int n = 0;
  assert_int_equal(tr_journal_read(s, NULL, "a", 1, 1, 100, stop_after_two, &n), 0);
  assert_int_equal(n, 2);
  assert_int_equal(tr_journal_read(s, NULL, "a", 1, 1, 100, fail_at_three, NULL), -77);
  uint64_t hi;
  assert_int_equal(tr_journal_highest(s, NULL, "a", 1, &hi), 0);
  assert_int_equal(hi, 5);
  assert_int_equal(tr_journal_highest(s, NULL, "ab", 2, &hi), 0);
  assert_int_equal(hi, 1);
  assert_int_equal(tr_journal_highest(s, NULL, "none", 4, &hi), 0);
  assert_int_equal(hi, 0);
  tr_store_close(s);
  s = st_t_open(tmp, NULL);
  it->n = 0;
  assert_int_equal(tr_journal_read(s, NULL, "a", 1, 1, UINT64_MAX, st_t_collect, it), 0);
  assert_int_equal(it->n, 5);
  assert_int_equal(st_t_append(s, "a", 5, "dup"), TR_EEXIST);
  assert_int_equal(st_t_append(s, "a", 6, "a6"), 0);
  free(it);
  tr_store_close(s);
  st_t_rmdir(tmp);
}

static void test_journal_delete(void **st) {
  char tmp[256];
  st_t_tmpdir(tmp, sizeof tmp);
  tr_store *s = st_t_open(tmp, NULL);
  char ev[16];
  for (int i = 1; i <= 10; i++) {
    snprintf(ev, sizeof ev, "d%d", i);
    assert_int_equal(st_t_append(s, "d", (uint64_t)i, ev), 0);
  }
  assert_int_equal(st_t_write1(s, tr_op_journal_delete("d", 1, 4)), 0);
  st_t_items *it = calloc(1, sizeof *it);
  assert_int_equal(tr_journal_read(s, NULL, "d", 1, 1, UINT64_MAX, st_t_collect, it), 0);
  assert_int_equal(it->n, 6);
  assert_int_equal(it->num[0], 5);
  /* deleting everything keeps the highest seq: no seq is ever reused */
  assert_int_equal(st_t_write1(s, tr_op_journal_delete("d", 1, 1000)), 0);
  it->n = 0;
  assert_int_equal(tr_journal_read(s, NULL, "d", 1, 1, UINT64_MAX, st_t_collect, it), 0);
  assert_int_equal(it->n, 0);
  uint64_t hi;
  assert_int_equal(tr_journal_highest(s, NULL, "d", 1, &hi), 0);
  assert_int_equal(hi, 10);
  assert_int_equal(st_t_append(s, "d", 10, "dup"), TR_EEXIST);
  tr_store_close(s);
  s = st_t_open(tmp, NULL);
  assert_int_equal(tr_journal_highest(s, NULL, "d", 1, &hi), 0);
  assert_int_equal(hi, 10);
  assert_int_equal(st_t_append(s, "d", 10, "dup"), TR_EEXIST);
  assert_int_equal(st_t_append(s, "d", 12, "gap"), TR_ERANGE);
  assert_int_equal(st_t_append(s, "d", 11, "d11"), 0);
  it->n = 0;
  assert_int_equal(tr_journal_read(s, NULL, "d", 1, 1, UINT64_MAX, st_t_collect, it), 0);
  assert_int_equal(it->n, 1);
  assert_string_equal(it->data[0], "d11");
  free(it);
  tr_store_close(s);
  st_t_rmdir(tmp);
}

/* distinct rounds in the journal log tables */
static uint64_t jlog_rounds(tr_store *s) {
  tr_store_view *v;
  assert_int_equal(tr_store_view_begin(s, &v), 0);
  static uint64_t seen[4096];
  size_t n = 0;
  for (int t = 0; t < JLOG_TABLES; t++) {
    MDB_cursor *c;
    assert_int_equal(mdb_cursor_open(v->txn, s->dbi[TBL_JLOG0 + t], &c), 0);
    MDB_val k, d;
    int rc = mdb_cursor_get(c, &k, &d, MDB_FIRST);
    while (rc == 0) {
      uint64_t r = st_rd64(k.mv_data);
      if (n == 0 || seen[n - 1] != r) {
        assert_true(n < 4096);
        seen[n++] = r;
      }
      rc = mdb_cursor_get(c, &k, &d, MDB_NEXT);
    }
    mdb_cursor_close(c);
  }
  tr_store_view_end(v);
  return n; /* each table's rounds are distinct from the others' */
}

typedef struct {
  int pid;
  uint64_t next;
  int bad;
} fcheck;

static int fold_check(void *arg, uint64_t seq, const void *data, size_t len) {
  fcheck *c = arg;
  char want[32];
  int n = snprintf(want, sizeof want, "f%d:%llu", c->pid, (unsigned long long)seq);
  if (seq != c->next || len != (size_t)n || memcmp(data, want, len)) c->bad++;
  c->next = seq + 1;
  return 0;
}

static void fold_verify(tr_store *s, int npid, const uint64_t *count) {
  char pid[16];
  for (int p = 0; p < npid; p++) {
    snprintf(pid, sizeof pid, "f%d", p);
    fcheck c = {p, 1, 0};
    assert_int_equal(tr_journal_read(s, NULL, pid, strlen(pid), 1, UINT64_MAX, fold_check, &c), 0);
    assert_int_equal(c.bad, 0);
    assert_int_equal(c.next, count[p] + 1);
    /* a read from the middle sees the same */
    if (count[p] > 3) {
      c = (fcheck){p, count[p] / 2, 0};
      assert_int_equal(tr_journal_read(s, NULL, pid, strlen(pid), count[p] / 2, count[p] - 1,
                                       fold_check, &c),
                       0);
      assert_int_equal(c.bad, 0);
      assert_int_equal(c.next, count[p]);
    }
    uint64_t hi;
    assert_int_equal(tr_journal_highest(s, NULL, pid, strlen(pid), &hi), 0);
    assert_int_equal(hi, count[p]);
  }
}

/* Events spread over many commits: while the fold copies slices and drops
 * old rounds, every read sees every event exactly once and in order; the
 * jlog keeps a bounded number of rounds; a reopen folds it all. */
static void test_journal_fold(void **st) {
  char tmp[256];
  st_t_tmpdir(tmp, sizeof tmp);
  tr_store *s = st_t_open(tmp, NULL);
  enum { NP = 40, COMMITS = 300 };
  uint64_t count[NP] = {0};
  char pid[16], ev[32];
  uint64_t x = 12345;
  tr_store_op ops[8];
  for (int c = 0; c < COMMITS; c++) {
    /* each commit: a few events of a few pids */
    int k = 1 + c % 8;
    for (int i = 0; i < k; i++) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      int p = (int)(x % NP);
      snprintf(pid, sizeof pid, "f%d", p);
      count[p]++;
      /* ops keep pointers: give each its own pid and event buffers */
      static char pids[8][16], evs[8][32];
      memcpy(pids[i], pid, sizeof pid);
      int n = snprintf(evs[i], sizeof evs[i], "f%d:%llu", p, (unsigned long long)count[p]);
      ops[i] = tr_op_journal_append(pids[i], strlen(pids[i]), count[p], evs[i], (size_t)n);
    }
    assert_int_equal(tr_store_write(s, ops, (uint32_t)k), 0);
    if (c % 50 == 49) {
      fold_verify(s, NP, count);
      assert_true(jlog_rounds(s) <= 2 * FOLD_SLICES + 1);
    }
  }
  (void)ev;
  assert_true(jlog_rounds(s) >= 1);
  tr_store_close(s);
  s = st_t_open(tmp, NULL);
  assert_int_equal(jlog_rounds(s), 0); /* folded at open */
  fold_verify(s, NP, count);
  /* appends continue where they were, deletes reach both tables */
  assert_int_equal(st_t_append(s, "f0", count[0] + 1, "x"), 0);
  assert_int_equal(st_t_append(s, "f0", count[0] + 1, "x"), TR_EEXIST);
  count[0]++;
  assert_int_equal(st_t_write1(s, tr_op_journal_delete("f1", 2, count[1] - 1)), 0);
  st_t_items *it = calloc(1, sizeof *it);
  assert_int_equal(tr_journal_read(s, NULL, "f1", 2, 1, UINT64_MAX, st_t_collect, it), 0);
  assert_int_equal(it->n, 1);
  assert_int_equal(it->num[0], count[1]);
  free(it);
  tr_store_close(s);
  st_t_rmdir(tmp);
}

/* Readers during heavy appending, folding and dropping of log tables: every
 * read sees each pid's events from 1 up to some seq, contiguous and intact,
 * and never fewer than an earlier read saw. */
enum { RP = 8, RT = 4, RBATCH = 16, RROUNDS = 300 }; /* >= 300 commits: tables get dropped */

typedef struct {
  tr_store *s;
  int id;
  int bad;
} rw_arg;

static void *rw_writer(void *arg) {
  rw_arg *a = arg;
  static char evs[RT][RBATCH][32];
  static char pids[RT][2][16];
  tr_store_op ops[RBATCH];
  uint64_t seq[2] = {0, 0};
  for (int p = 0; p < 2; p++) snprintf(pids[a->id][p], 16, "rw%d", a->id * 2 + p);
  for (int r = 0; r < RROUNDS; r++) {
    int p = r % 2;
    for (int i = 0; i < RBATCH; i++) {
      seq[p]++;
      int n = snprintf(evs[a->id][i], 32, "%s:%llu", pids[a->id][p], (unsigned long long)seq[p]);
      ops[i] = tr_op_journal_append(pids[a->id][p], strlen(pids[a->id][p]), seq[p], evs[a->id][i],
                                    (size_t)n);
    }
    if (tr_store_write(a->s, ops, RBATCH) != 0) a->bad++;
  }
  return NULL;
}

typedef struct {
  const char *pid;
  uint64_t next;
  int bad;
} rw_check;

static int rw_cb(void *arg, uint64_t seq, const void *data, size_t len) {
  rw_check *c = arg;
  char want[32];
  int n = snprintf(want, sizeof want, "%s:%llu", c->pid, (unsigned long long)seq);
  if (seq != c->next || len != (size_t)n || memcmp(data, want, len)) c->bad++;
  c->next = seq + 1;
  return 0;
}

static _Atomic int rw_done;

static void *rw_reader(void *arg) {
  rw_arg *a = arg;
  uint64_t seen[RP] = {0};
  char pid[16];
  for (int i = 0; !atomic_load(&rw_done) || i < RP; i++) {
    int p = i % RP;
    snprintf(pid, sizeof pid, "rw%d", p);
    rw_check c = {pid, 1, 0};
    int rc = tr_journal_read(a->s, NULL, pid, strlen(pid), 1, UINT64_MAX, rw_cb, &c);
    uint64_t hi = 0;
    if (rc || c.bad || c.next - 1 < seen[p] ||
        tr_journal_highest(a->s, NULL, pid, strlen(pid), &hi) || hi < c.next - 1)
      a->bad++;
    seen[p] = c.next - 1;
  }
  return NULL;
}

static void test_reads_during_fold(void **st) {
  char tmp[256];
  st_t_tmpdir(tmp, sizeof tmp);
  tr_store *s = st_t_open(tmp, NULL);
  pthread_t w[RT], r;
  rw_arg wa[RT], ra = {s, 0, 0};
  atomic_store(&rw_done, 0);
  assert_int_equal(pthread_create(&r, NULL, rw_reader, &ra), 0);
  for (int i = 0; i < RT; i++) {
    wa[i] = (rw_arg){s, i, 0};
    assert_int_equal(pthread_create(&w[i], NULL, rw_writer, &wa[i]), 0);
  }
  for (int i = 0; i < RT; i++) pthread_join(w[i], NULL);
  atomic_store(&rw_done, 1);
  pthread_join(r, NULL);
  for (int i = 0; i < RT; i++) assert_int_equal(wa[i].bad, 0);
  assert_int_equal(ra.bad, 0);
  tr_store_stats ss;
  tr_store_stats_get(s, &ss);
  assert_true(ss.commits >= RROUNDS); /* one thread's writes wait for each other */
  char pid[16];
  for (int p = 0; p < RP; p++) {
    snprintf(pid, sizeof pid, "rw%d", p);
    rw_check c = {pid, 1, 0};
    assert_int_equal(tr_journal_read(s, NULL, pid, strlen(pid), 1, UINT64_MAX, rw_cb, &c), 0);
    assert_int_equal(c.bad, 0);
    assert_int_equal(c.next - 1, RROUNDS / 2 * RBATCH);
  }
  tr_store_close(s);
  st_t_rmdir(tmp);
}

static uint64_t skipped(tr_store *s) {
  tr_store_stats ss;
  tr_store_stats_get(s, &ss);
  return ss.jlog_skipped;
}

/* Commits of filler pids until every jlog table that held something older
 * was folded and dropped (and its filter cleared). */
static void churn(tr_store *s, int commits) {
  char pid[16], ev[16];
  for (int c = 0; c < commits; c++) {
    snprintf(pid, sizeof pid, "fill%d", c);
    snprintf(ev, sizeof ev, "e%d", c);
    assert_int_equal(st_t_append(s, pid, 1, ev), 0);
  }
}

/* A view held by another thread while this one writes (a thread that holds
 * a view may not wait for the writer: the map could need to grow). */
typedef struct {
  tr_store *s;
  tr_store_view *v;
  sem_t ready, end;
} held_view;

static void *hold_view(void *arg) {
  held_view *h = arg;
  if (tr_store_view_begin(h->s, &h->v) != 0) h->v = NULL;
  sem_post(&h->ready);
  sem_wait(&h->end);
  if (h->v) tr_store_view_end(h->v);
  return NULL;
}

/* The journal log's filters (jfilter.c): a pid with nothing in the jlog is
 * read without walking its rounds (counted), a pid with events there is
 * still read whole, before and after its table is dropped and its filter
 * cleared, by a view that began before the clear too, and after a reopen. */
static void test_jlog_filter(void **st) {
  char tmp[256];
  st_t_tmpdir(tmp, sizeof tmp);
  tr_store *s = st_t_open(tmp, NULL);
  uint64_t hi, k0 = skipped(s);
  assert_int_equal(tr_journal_highest(s, NULL, "fresh", 5, &hi), 0);
  assert_int_equal(hi, 0);
  assert_int_equal(skipped(s), k0 + 1);
  st_t_items *it = calloc(1, sizeof *it);
  assert_int_equal(tr_journal_read(s, NULL, "fresh", 5, 1, UINT64_MAX, st_t_collect, it), 0);
  assert_int_equal(it->n, 0);
  assert_int_equal(skipped(s), k0 + 2);
  /* events in the jlog: the filter says maybe, the read walks and finds them */
  assert_int_equal(st_t_append(s, "x", 1, "x1"), 0);
  assert_int_equal(st_t_append(s, "x", 2, "x2"), 0);
  held_view hv = {.s = s};
  sem_init(&hv.ready, 0, 0);
  sem_init(&hv.end, 0, 0);
  pthread_t ht;
  assert_int_equal(pthread_create(&ht, NULL, hold_view, &hv), 0);
  sem_wait(&hv.ready);
  tr_store_view *old = hv.v; /* sees x only in the jlog */
  assert_non_null(old);
  uint64_t k1 = skipped(s);
  assert_int_equal(tr_journal_highest(s, NULL, "x", 1, &hi), 0);
  assert_int_equal(hi, 2);
  assert_int_equal(tr_journal_read(s, NULL, "x", 1, 1, UINT64_MAX, st_t_collect, it), 0);
  assert_int_equal(it->n, 2);
  assert_int_equal(skipped(s), k1);
  /* fold everything x had in the jlog and drop its table: x's bits go */
  churn(s, (JLOG_TABLES + 1) * FOLD_SLICES);
  it->n = 0;
  assert_int_equal(tr_journal_read(s, NULL, "x", 1, 1, UINT64_MAX, st_t_collect, it), 0);
  assert_int_equal(it->n, 2);
  assert_int_equal(tr_journal_highest(s, NULL, "x", 1, &hi), 0);
  assert_int_equal(hi, 2);
  /* the old view began before the clear: it must not trust the filter,
   * since in its snapshot x is still in the (now dropped) table only */
  it->n = 0;
  assert_int_equal(tr_journal_read(s, old, "x", 1, 1, UINT64_MAX, st_t_collect, it), 0);
  assert_int_equal(it->n, 2);
  assert_int_equal(tr_journal_highest(s, old, "x", 1, &hi), 0);
  assert_int_equal(hi, 2);
  sem_post(&hv.end);
  pthread_join(ht, NULL);
  /* appends go on from what the journal table holds */
  assert_int_equal(st_t_append(s, "x", 2, "dup"), TR_EEXIST);
  assert_int_equal(st_t_append(s, "x", 3, "x3"), 0);
  tr_store_close(s);
  /* after a restart: x whole, a new pid skipped */
  s = st_t_open(tmp, NULL);
  k0 = skipped(s);
  it->n = 0;
  assert_int_equal(tr_journal_read(s, NULL, "x", 1, 1, UINT64_MAX, st_t_collect, it), 0);
  assert_int_equal(it->n, 3);
  assert_int_equal(tr_journal_highest(s, NULL, "x", 1, &hi), 0);
  assert_int_equal(hi, 3);
  assert_int_equal(tr_journal_highest(s, NULL, "fresh2", 6, &hi), 0);
  assert_int_equal(hi, 0);
  assert_true(skipped(s) >= k0 + 1);
  free(it);
  tr_store_close(s);
  st_t_rmdir(tmp);
}

static void test_snapshots(void **st) {
  char tmp[256];
  st_t_tmpdir(tmp, sizeof tmp);
  tr_store *s = st_t_open(tmp, NULL);
  assert_int_equal(st_t_write1(s, tr_op_snapshot_save("s", 1, 10, "s10", 3, 0)), 0);
  assert_int_equal(st_t_write1(s, tr_op_snapshot_save("s", 1, 20, "s20", 3, 0)), 0);
  assert_int_equal(st_t_write1(s, tr_op_snapshot_save("s", 1, 30, "s30", 3, 0)), 0);
  assert_int_equal(st_t_write1(s, tr_op_snapshot_save("s2", 2, 99, "other", 5, 0)), 0);
  tr_store_view *v;
  const void *d;
  size_t len;
  uint64_t seq;
  assert_int_equal(tr_store_view_begin(s, &v), 0);
  assert_int_equal(tr_snapshot_load(s, v, "s", 1, UINT64_MAX, &seq, &d, &len), 0);
  assert_int_equal(seq, 30);
  assert_memory_equal(d, "s30", 3);
  assert_int_equal(tr_snapshot_load(s, v, "s", 1, 25, &seq, &d, &len), 0);
  assert_int_equal(seq, 20);
  assert_int_equal(tr_snapshot_load(s, v, "s", 1, 20, &seq, &d, &len), 0);
  assert_int_equal(seq, 20);
  assert_int_equal(tr_snapshot_load(s, v, "s", 1, 5, &seq, &d, &len), TR_ENOENT);
  assert_int_equal(tr_snapshot_load(s, v, "x", 1, UINT64_MAX, &seq, &d, &len), TR_ENOENT);
  assert_int_equal(tr_snapshot_load(s, NULL, "s", 1, UINT64_MAX, &seq, &d, &len), TR_EINVAL);
  tr_store_view_end(v);
  /* keep the 2 newest */
  assert_int_equal(st_t_write1(s, tr_op_snapshot_save("s", 1, 40, "s40", 3, 2)), 0);
  assert_int_equal(tr_store_view_begin(s, &v), 0);
  assert_int_equal(tr_snapshot_load(s, v, "s", 1, 25, &seq, &d, &len), TR_ENOENT);
  assert_int_equal(tr_snapshot_load(s, v, "s", 1, 35, &seq, &d, &len), 0);
  assert_int_equal(seq, 30);
  assert_int_equal(tr_snapshot_load(s, v, "s", 1, UINT64_MAX, &seq, &d, &len), 0);
  assert_int_equal(seq, 40);
  assert_int_equal(tr_snapshot_load(s, v, "s2", 2, UINT64_MAX, &seq, &d, &len), 0);
  assert_int_equal(seq, 99);
  tr_store_view_end(v);
  /* keep 1, replacing the same seq */
  assert_int_equal(st_t_write1(s, tr_op_snapshot_save("s", 1, 40, "S40", 3, 1)), 0);
  assert_int_equal(tr_store_view_begin(s, &v), 0);
  assert_int_equal(tr_snapshot_load(s, v, "s", 1, 39, &seq, &d, &len), TR_ENOENT);
  assert_int_equal(tr_snapshot_load(s, v, "s", 1, UINT64_MAX, &seq, &d, &len), 0);
  assert_memory_equal(d, "S40", 3);
  tr_store_view_end(v);
  tr_store_close(s);
  st_t_rmdir(tmp);
}

/* overwrites the value of key in table name of a closed store */
static void raw_damage(const char *dir, const char *table, const void *key, size_t klen,
                       int how) {
  MDB_env *env = st_t_raw_open(dir);
  MDB_txn *txn;
  MDB_dbi dbi;
  assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
  assert_int_equal(mdb_dbi_open(txn, table, 0, &dbi), 0);
  MDB_val k = {klen, (void *)key}, v;
  assert_int_equal(mdb_get(txn, dbi, &k, &v), 0);
  uint8_t buf[256];
  size_t n = v.mv_size < sizeof buf ? v.mv_size : sizeof buf;
  memcpy(buf, v.mv_data, n);
  if (how == 0) buf[n - 1] ^= 0x20; /* one flipped bit in the payload */
  if (how == 1) n = 3;              /* truncated inside the header */
  if (how == 2)
    for (size_t i = 0; i < n; i++) buf[i] = (uint8_t)(i * 37 + 11); /* garbage */
  MDB_val nv = {n, buf};
  assert_int_equal(mdb_put(txn, dbi, &k, &nv, 0), 0);
  assert_int_equal(mdb_txn_commit(txn), 0);
  mdb_env_close(env);
}

static void test_corruption(void **st) {
  char tmp[256];
  st_t_tmpdir(tmp, sizeof tmp);
  tr_store *s = st_t_open(tmp, NULL);
  char ev[16];
  for (int i = 1; i <= 6; i++) {
    snprintf(ev, sizeof ev, "c%d", i);
    assert_int_equal(st_t_append(s, "c", (uint64_t)i, ev), 0);
  }
  assert_int_equal(st_t_write1(s, tr_op_snapshot_save("c", 1, 3, "snap3", 5, 0)), 0);
  assert_int_equal(st_t_write1(s, tr_op_snapshot_save("c", 1, 5, "snap5", 5, 0)), 0);
  assert_int_equal(st_t_write1(s, tr_op_kv_put("kk", 2, "value", 5, 0)), 0);
  assert_int_equal(st_t_write1(s, tr_op_queue_append("qq", 2, "item1", 5)), 0);
  assert_int_equal(st_t_write1(s, tr_op_queue_append("qq", 2, "item2", 5)), 0);
  tr_store_close(s);
  s = st_t_open(tmp, NULL); /* folds the journal log into the journal table */
  tr_store_close(s);
  uint8_t k[64];
  raw_damage(tmp, "journal", k, st_jkey(k, "c", 1, 2), 2);
  raw_damage(tmp, "journal", k, st_jkey(k, "c", 1, 3), 0);
  raw_damage(tmp, "journal", k, st_jkey(k, "c", 1, 4), 1);
  raw_damage(tmp, "snap", k, st_jkey(k, "c", 1, 5), 0);
  raw_damage(tmp, "kv", "kk", 2, 0);
  uint8_t qk[16] = {2, 'q', 'q', 0, 0, 0, 0, 0, 0, 0, 1};
  raw_damage(tmp, "queue", qk, 11, 0);
  s = st_t_open(tmp, NULL);
  st_t_items *it = calloc(1, sizeof *it);
  assert_int_equal(tr_journal_read(s, NULL, "c", 1, 1, UINT64_MAX, st_t_collect, it), TR_ECORRUPT);
  assert_int_equal(it->n, 3); /* 1, 5, 6: the damaged ones are skipped, never passed on */
  assert_int_equal(it->num[0], 1);
  assert_int_equal(it->num[1], 5);
  assert_int_equal(it->num[2], 6);
  assert_string_equal(it->data[1], "c5");
  tr_store_view *v;
  const void *d;
  size_t len;
  uint64_t seq;
  assert_int_equal(tr_store_view_begin(s, &v), 0);
  assert_int_equal(tr_snapshot_load(s, v, "c", 1, UINT64_MAX, &seq, &d, &len), 0);
  assert_int_equal(seq, 3); /* the damaged newer one is skipped */
  assert_memory_equal(d, "snap3", 5);
  assert_int_equal(tr_kv_get(s, v, "kk", 2, &d, &len, NULL), TR_ECORRUPT);
  tr_store_view_end(v);
  it->n = 0;
  assert_int_equal(tr_queue_read(s, NULL, "qq", 2, 1, 10, st_t_collect, it), TR_ECORRUPT);
  assert_int_equal(it->n, 1);
  assert_int_equal(it->num[0], 2);
  tr_store_stats ss;
  tr_store_stats_get(s, &ss);
  assert_true(ss.corrupt >= 6);
  /* the store goes on: keys are intact, so the journal continues */
  uint64_t hi;
  assert_int_equal(tr_journal_highest(s, NULL, "c", 1, &hi), 0);
  assert_int_equal(hi, 6);
  assert_int_equal(st_t_append(s, "c", 7, "c7"), 0);
  assert_int_equal(st_t_write1(s, tr_op_kv_put("kk", 2, "fresh", 5, 0)), 0);
  assert_int_equal(tr_store_view_begin(s, &v), 0);
  assert_int_equal(tr_kv_get(s, v, "kk", 2, &d, &len, NULL), 0);
  assert_memory_equal(d, "fresh", 5);
  tr_store_view_end(v);
  free(it);
  tr_store_close(s);
  st_t_rmdir(tmp);
}

int main(void) {
  tr_log_set_level(TR_LOG_WARN);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_journal_basic),
      cmocka_unit_test(test_journal_delete),
      cmocka_unit_test(test_journal_fold),
      cmocka_unit_test(test_reads_during_fold),
      cmocka_unit_test(test_jlog_filter),
      cmocka_unit_test(test_snapshots),
      cmocka_unit_test(test_corruption),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
