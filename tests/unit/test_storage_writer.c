/* test_storage_writer.c - the group-commit writer: many threads appending
 * at once (all acknowledged, all present, in order), nosync mode, map
 * growth up to the limit and past it once raised, failures confined to
 * their own request, completions that submit, close draining the queue,
 * and map growth waiting for (nested) views. */
#include "../storage/st_harness.h"
#include "storage/internal.h"

enum { W = 256 }; /* requests in flight per thread */

typedef struct wthr wthr;
typedef struct {
  tr_store_req req;
  wthr *t;
  uint64_t seq;
  char ev[32];
} wreq;

struct wthr {
  tr_store *s;
  int id, n;
  char pid[16];
  _Atomic uint64_t acked;
  _Atomic int errors;
  wreq slots[W];
};

static void wdone(void *arg, int status) {
  wreq *r = arg;
  wthr *t = r->t;
  /* completions of one thread's requests come in submission order */
  if (status != 0 || r->seq != atomic_load(&t->acked) + 1) atomic_fetch_add(&t->errors, 1);
  atomic_store(&t->acked, r->seq);
}

static void *wmain(void *arg) {
  wthr *t = arg;
  uint64_t end = st_t_now_ms() + ST_WAIT_MS;
  for (uint64_t seq = 1; seq <= (uint64_t)t->n; seq++) {
    while (atomic_load(&t->acked) + W < seq && st_t_now_ms() < end) usleep(50);
    wreq *r = &t->slots[seq % W];
    r->t = t;
    r->seq = seq;
    int len = snprintf(r->ev, sizeof r->ev, "%s-%llu", t->pid, (unsigned long long)seq);
    r->req = (tr_store_req){.done = wdone, .arg = r};
    r->req.op = tr_op_journal_append(t->pid, strlen(t->pid), seq, r->ev, (size_t)len);
    if (tr_store_submit(t->s, &r->req) != 0) {
      atomic_fetch_add(&t->errors, 1);
      break;
    }
  }
  while (atomic_load(&t->acked) < (uint64_t)t->n && st_t_now_ms() < end) usleep(100);
  return NULL;
}

typedef struct {
  const char *pid;
  uint64_t next;
  int bad;
} vcheck;

static int verify_ev(void *arg, uint64_t seq, const void *data, size_t len) {
  vcheck *c = arg;
  char want[48];
  int n = snprintf(want, sizeof want, "%s-%llu", c->pid, (unsigned long long)seq);
  if (seq != c->next || len != (size_t)n || memcmp(data, want, len) != 0) c->bad++;
  c->next = seq + 1;
  return 0;
}

/* every event 1..n of pid present, in order, with its content */
static void verify_pid(tr_store *s, const char *pid, uint64_t n) {
  vcheck c = {pid, 1, 0};
  assert_int_equal(tr_journal_read(s, NULL, pid, strlen(pid), 1, UINT64_MAX, verify_ev, &c), 0);
  assert_int_equal(c.bad, 0);
  assert_int_equal(c.next, n + 1);
  uint64_t hi;
  assert_int_equal(tr_journal_highest(s, NULL, pid, strlen(pid), &hi), 0);
  assert_int_equal(hi, n);
}

static void run_threads(tr_store *s, int nthreads, int per) {
  wthr *t = calloc((size_t)nthreads, sizeof *t);
  pthread_t th[32];
  for (int i = 0; i < nthreads; i++) {
    t[i].s = s;
    t[i].id = i;
    t[i].n = per;
    snprintf(t[i].pid, sizeof t[i].pid, "w%d", i);
    assert_int_equal(pthread_create(&th[i], NULL, wmain, &t[i]), 0);
  }
  for (int i = 0; i < nthreads; i++) pthread_join(th[i], NULL);
  for (int i = 0; i < nthreads; i++) {
    assert_int_equal(atomic_load(&t[i].errors), 0);
    assert_int_equal(atomic_load(&t[i].acked), per);
  }
  free(t);
}

static void test_group_commit(void **st) {
  char tmp[256];
  st_t_tmpdir(tmp, sizeof tmp);
  tr_store *s = st_t_open(tmp, NULL);
  enum { T = 16, N = 10000 };
  run_threads(s, T, N);
  tr_store_stats ss;
  tr_store_stats_get(s, &ss);
  assert_int_equal(ss.requests, T * N);
  assert_true(ss.commits < ss.requests); /* batches formed */
  fprintf(stderr, "  %d appends in %llu commits\n", T * N, (unsigned long long)ss.commits);
  char pid[16];
  for (int i = 0; i < T; i++) {
    snprintf(pid, sizeof pid, "w%d", i);
    verify_pid(s, pid, N);
  }
  tr_store_close(s);
  /* and after a reopen (which folds the journal log) */
  s = st_t_open(tmp, NULL);
  for (int i = 0; i < T; i++) {
    snprintf(pid, sizeof pid, "w%d", i);
    verify_pid(s, pid, N);
    assert_int_equal(st_t_append(s, pid, N + 1, "next"), 0);
    assert_int_equal(st_t_append(s, pid, N + 1, "again"), TR_EEXIST);
  }
  tr_store_close(s);
  st_t_rmdir(tmp);
}

static void test_nosync(void **st) {
  char tmp[256];
  st_t_tmpdir(tmp, sizeof tmp);
  tr_store_opts o = {.durability = TR_STORE_NOSYNC, .sync_ms = 10};
  tr_store *s = st_t_open(tmp, &o);
  run_threads(s, 4, 3000);
  usleep(30000); /* let a periodic flush run too (not checked: only liveness) */
  tr_store_close(s);
  s = st_t_open(tmp, NULL);
  char pid[16];
  for (int i = 0; i < 4; i++) {
    snprintf(pid, sizeof pid, "w%d", i);
    verify_pid(s, pid, 3000);
  }
  tr_store_close(s);
  st_t_rmdir(tmp);
}

/* appends 20 events of 1000 bytes per request to pid "g" from *seq + 1 until
 * a request fails; returns its status */
static int fill(tr_store *s, uint64_t *seq, int max_requests) {
  static char ev[20][1000]; /* ops point at their data: one buffer each */
  memset(ev, 'e', sizeof ev);
  tr_store_op ops[20];
  for (int r = 0; r < max_requests; r++) {
    for (int i = 0; i < 20; i++) {
      uint64_t q = *seq + 1 + (uint64_t)i;
      memcpy(ev[i], &q, sizeof q);
      ops[i] = tr_op_journal_append("g", 1, q, ev[i], sizeof ev[i]);
    }
    int rc = tr_store_write(s, ops, 20);
    if (rc) return rc;
    *seq += 20;
  }
  return 0;
}

static int check_g(void *arg, uint64_t seq, const void *data, size_t len) {
  uint64_t *next = arg, q;
  memcpy(&q, data, sizeof q);
  if (seq != *next || len != 1000 || q != seq) {
    fprintf(stderr, "check_g: seq %llu next %llu len %zu q %llu\n", (unsigned long long)seq, (unsigned long long)*next, len, (unsigned long long)q);
    return -100;
  }
  (*next)++;
  return 0;
}

static void verify_g(tr_store *s, uint64_t n) {
  uint64_t next = 1;
  assert_int_equal(tr_journal_read(s, NULL, "g", 1, 1, UINT64_MAX, check_g, &next), 0);
  assert_int_equal(next, n + 1);
}

static void test_map_growth_and_limit(void **st) {
  char tmp[256];
  st_t_tmpdir(tmp, sizeof tmp);
  tr_store_opts o = {.map_initial = 256 << 10, .map_limit = 2 << 20};
  tr_store *s = st_t_open(tmp, &o);
  assert_int_equal(st_t_write1(s, tr_op_kv_put("before", 6, "full", 4, 0)), 0);
  uint64_t seq = 0;
  assert_int_equal(fill(s, &seq, 1000), TR_EFULL);
  assert_true(seq > 0);
  tr_store_stats ss;
  tr_store_stats_get(s, &ss);
  assert_int_equal(ss.map_size, (size_t)2 << 20);
  assert_true(ss.grows >= 3); /* 256K -> 512K -> 1M -> 2M */
  assert_true(ss.full >= 1);
  /* at the limit: writes fail cleanly, reads go on, nothing committed is
   * harmed */
  assert_int_equal(fill(s, &seq, 1), TR_EFULL);
  verify_g(s, seq);
  tr_store_view *v;
  const void *val;
  size_t len;
  assert_int_equal(tr_store_view_begin(s, &v), 0);
  assert_int_equal(tr_kv_get(s, v, "before", 6, &val, &len, NULL), 0);
  assert_memory_equal(val, "full", 4);
  tr_store_view_end(v);
  /* raising the limit lets writes continue */
  assert_int_equal(tr_store_set_map_limit(s, 8 << 20), 0);
  uint64_t at = seq;
  assert_int_equal(fill(s, &seq, 20), 0);
  assert_int_equal(seq, at + 400);
  verify_g(s, seq);
  tr_store_close(s);
  /* reopened with a limit below what is used: reads work, writes fail... */
  s = st_t_open(tmp, &o);
  verify_g(s, seq);
  assert_int_equal(fill(s, &seq, 1000), TR_EFULL);
  verify_g(s, seq);
  /* ...until it is raised */
  assert_int_equal(tr_store_set_map_limit(s, 32 << 20), 0);
  at = seq;
  assert_int_equal(fill(s, &seq, 10), 0);
  assert_int_equal(seq, at + 200);
  tr_store_close(s);
  /* reopened with a larger limit */
  o.map_limit = 64 << 20;
  s = st_t_open(tmp, &o);
  verify_g(s, seq);
  assert_int_equal(fill(s, &seq, 10), 0);
  verify_g(s, seq);
  tr_store_close(s);
  st_t_rmdir(tmp);
}

typedef struct {
  _Atomic int done;
  int status[16];
} results;

typedef struct {
  tr_store_req req;
  results *res;
  int idx;
} rreq;

static void rdone(void *arg, int status) {
  rreq *r = arg;
  r->res->status[r->idx] = status;
  atomic_fetch_add(&r->res->done, 1);
}

static void wait_done(results *res, int n) {
  uint64_t end = st_t_now_ms() + ST_WAIT_MS;
  while (atomic_load(&res->done) < n && st_t_now_ms() < end) usleep(200);
  assert_int_equal(atomic_load(&res->done), n);
}

static void test_failures_isolated(void **st) {
  char tmp[256];
  st_t_tmpdir(tmp, sizeof tmp);
  tr_store *s = st_t_open(tmp, NULL);
  /* submitted back to back (usually one batch): only the duplicate fails */
  results res = {0};
  rreq r[8];
  tr_store_op multi[2];
  for (int i = 0; i < 8; i++) r[i] = (rreq){.req = {.done = rdone, .arg = &r[i]}, .res = &res, .idx = i};
  r[0].req.op = tr_op_journal_append("p", 1, 1, "p1", 2);
  r[1].req.op = tr_op_journal_append("q", 1, 1, "q1", 2);
  r[2].req.op = tr_op_journal_append("p", 1, 1, "dup", 3);
  r[3].req.op = tr_op_journal_append("q", 1, 2, "q2", 2);
  r[4].req.op = tr_op_journal_append("p", 1, 5, "gap", 3);
  /* fails at its second op after the first wrote: the transaction is
   * rebuilt without it */
  multi[0] = tr_op_journal_append("b", 1, 1, "b1", 2);
  multi[1] = tr_op_journal_append("b", 1, 1, "b1", 2);
  r[5].req.ops = multi;
  r[5].req.n_ops = 2;
  r[6].req.op = tr_op_journal_append("p", 1, 2, "p2", 2);
  r[7].req.op = tr_op_queue_ack("jobs", 4, 3);
  for (int i = 0; i < 8; i++) assert_int_equal(tr_store_submit(s, &r[i].req), 0);
  wait_done(&res, 8);
  int want[8] = {0, 0, TR_EEXIST, 0, TR_ERANGE, TR_EEXIST, 0, TR_ERANGE};
  for (int i = 0; i < 8; i++) assert_int_equal(res.status[i], want[i]);
  uint64_t hi;
  assert_int_equal(tr_journal_highest(s, NULL, "b", 1, &hi), 0);
  assert_int_equal(hi, 0);
  assert_int_equal(tr_journal_highest(s, NULL, "p", 1, &hi), 0);
  assert_int_equal(hi, 2);
  st_t_items *it = calloc(1, sizeof *it);
  assert_int_equal(tr_journal_read(s, NULL, "p", 1, 1, 10, st_t_collect, it), 0);
  assert_int_equal(it->n, 2);
  assert_string_equal(it->data[0], "p1");
  assert_string_equal(it->data[1], "p2");
  /* a request is atomic: all of its ops or none */
  tr_store_op ops[3] = {tr_op_journal_append("p", 1, 3, "p3", 2), tr_op_kv_put("k", 1, "v", 1, 0),
                        tr_op_journal_append("p", 1, 3, "p3again", 7)};
  assert_int_equal(tr_store_write(s, ops, 3), TR_EEXIST);
  tr_store_view *v;
  const void *val;
  size_t len;
  assert_int_equal(tr_store_view_begin(s, &v), 0);
  assert_int_equal(tr_kv_get(s, v, "k", 1, &val, &len, NULL), TR_ENOENT);
  assert_int_equal(tr_journal_highest(s, v, "p", 1, &hi), 0);
  assert_int_equal(hi, 2);
  tr_store_view_end(v);
  assert_int_equal(tr_store_write(s, ops, 2), 0);
  assert_int_equal(tr_journal_highest(s, NULL, "p", 1, &hi), 0);
  assert_int_equal(hi, 3);
  free(it);
  tr_store_close(s);
  st_t_rmdir(tmp);
}

/* completions that submit the next request: a chain of 200 appends */
typedef struct {
  tr_store_req req;
  tr_store *s;
  uint64_t seq;
  _Atomic int finished;
  int deadlk, bad;
} chain;

static void chain_done(void *arg, int status) {
  chain *c = arg;
  if (status) c->bad++;
  tr_store_op op = tr_op_kv_put("x", 1, "y", 1, 0);
  if (c->seq == 1) c->deadlk = tr_store_write(c->s, &op, 1); /* would wait for itself */
  if (c->seq == 200) {
    atomic_store(&c->finished, 1);
    return;
  }
  c->seq++;
  c->req.op = tr_op_journal_append("chain", 5, c->seq, "e", 1);
  if (tr_store_submit(c->s, &c->req) != 0) c->bad++;
}

static void test_completion_submits(void **st) {
  char tmp[256];
  st_t_tmpdir(tmp, sizeof tmp);
  tr_store *s = st_t_open(tmp, NULL);
  chain c = {.req = {.done = chain_done, .arg = &c}, .s = s, .seq = 1};
  c.req.op = tr_op_journal_append("chain", 5, 1, "e", 1);
  assert_int_equal(tr_store_submit(s, &c.req), 0);
  uint64_t end = st_t_now_ms() + ST_WAIT_MS;
  while (!atomic_load(&c.finished) && st_t_now_ms() < end) usleep(500);
  assert_true(atomic_load(&c.finished));
  assert_int_equal(c.bad, 0);
  assert_int_equal(c.deadlk, TR_EDEADLK);
  uint64_t hi;
  assert_int_equal(tr_journal_highest(s, NULL, "chain", 5, &hi), 0);
  assert_int_equal(hi, 200);
  tr_store_close(s);
  st_t_rmdir(tmp);
}

static _Atomic int drained;
static void count_done(void *arg, int status) {
  if (status == 0) atomic_fetch_add(&drained, 1);
}

static void test_close_drains(void **st) {
  char tmp[256];
  st_t_tmpdir(tmp, sizeof tmp);
  tr_store *s = st_t_open(tmp, NULL);
  enum { N = 2000 };
  tr_store_req *r = calloc(N, sizeof *r);
  atomic_store(&drained, 0);
  for (int i = 0; i < N; i++) {
    r[i] = (tr_store_req){.done = count_done};
    r[i].op = tr_op_queue_append("q", 1, "item", 4);
    assert_int_equal(tr_store_submit(s, &r[i]), 0);
  }
  tr_store_close(s); /* completes everything already submitted */
  assert_int_equal(atomic_load(&drained), N);
  uint64_t prev = 0;
  for (int i = 0; i < N; i++) { /* offsets in submission order */
    assert_int_equal(r[i].op.result, prev + 1);
    prev = r[i].op.result;
  }
  free(r);
  s = st_t_open(tmp, NULL);
  uint64_t first, next;
  assert_int_equal(tr_queue_info(s, NULL, "q", 1, &first, &next), 0);
  assert_int_equal(first, 1);
  assert_int_equal(next, N + 1);
  tr_store_close(s);
  st_t_rmdir(tmp);
}

/* A view held on another thread makes a map growth wait; that thread may
 * begin more views meanwhile (no deadlock), and the write goes through once
 * its views end. */
typedef struct {
  tr_store *s;
  _Atomic int phase;
  int rc_nested, rc_read;
  uint64_t hi;
} holder;

static void *hold_main(void *arg) {
  holder *h = arg;
  tr_store_view *v1, *v2;
  if (tr_store_view_begin(h->s, &v1)) return NULL;
  atomic_store(&h->phase, 1);
  uint64_t end = st_t_now_ms() + ST_WAIT_MS;
  /* wait until the writer is trying to grow the map (the gate is closed) */
  while (!atomic_load(&h->s->gate_closed) && st_t_now_ms() < end) usleep(200);
  h->rc_nested = tr_store_view_begin(h->s, &v2);
  if (h->rc_nested == 0) {
    h->rc_read = tr_journal_highest(h->s, v2, "g", 1, &h->hi);
    tr_store_view_end(v2);
  }
  tr_store_view_end(v1);
  atomic_store(&h->phase, 2);
  return NULL;
}

static void test_growth_waits_for_views(void **st) {
  char tmp[256];
  st_t_tmpdir(tmp, sizeof tmp);
  tr_store_opts o = {.map_initial = 256 << 10, .map_limit = 64 << 20};
  tr_store *s = st_t_open(tmp, &o);
  uint64_t seq = 0;
  assert_int_equal(fill(s, &seq, 2), 0);
  holder h = {.s = s};
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, hold_main, &h), 0);
  st_t_wait_flag(&h.phase, 1);
  uint64_t before = seq;
  assert_int_equal(fill(s, &seq, 30), 0); /* needs at least one growth */
  pthread_join(th, NULL);
  assert_int_equal(h.rc_nested, 0);
  assert_int_equal(h.rc_read, 0);
  /* the nested view saw a snapshot from before the growth */
  assert_true(h.hi >= before && h.hi < seq);
  tr_store_stats ss;
  tr_store_stats_get(s, &ss);
  assert_true(ss.grows >= 1);
  verify_g(s, seq);
  tr_store_close(s);
  st_t_rmdir(tmp);
}

static int put_k(tr_store *s, int i) {
  static char val[2000];
  char key[16];
  memset(val, 'v', sizeof val);
  snprintf(key, sizeof key, "k%06d", i);
  return st_t_write1(s, tr_op_kv_put(key, strlen(key), val, sizeof val, 0));
}

typedef struct {
  tr_store *s;
  _Atomic int phase, release;
} viewer;

/* holds a view (on its own thread: a writer may not hold one) until released */
static void *view_main(void *arg) {
  viewer *vw = arg;
  tr_store_view *v;
  if (tr_store_view_begin(vw->s, &v)) return NULL;
  atomic_store(&vw->phase, 1);
  st_t_wait_flag(&vw->release, 1);
  tr_store_view_end(v);
  return NULL;
}

/* The map grows between transactions once three quarters of it are used,
 * so no batch is applied, refused with MDB_MAP_FULL and applied again; an
 * open view puts that growth off (writes go on while there is room) and
 * does not block them. */
static void test_growth_ahead(void **st) {
  char tmp[256];
  st_t_tmpdir(tmp, sizeof tmp);
  tr_store_opts o = {.map_initial = 1 << 20, .map_limit = 64 << 20};
  tr_store *s = st_t_open(tmp, &o);
  int i = 0;
  for (; i < 3000; i++) assert_int_equal(put_k(s, i), 0); /* ~6 MB of values */
  tr_store_stats ss;
  tr_store_stats_get(s, &ss);
  assert_true(ss.grows >= 3); /* 1M -> 2M -> 4M -> 8M */
  assert_int_equal(ss.redone_full, 0);
  assert_true(ss.map_used <= ss.map_size - ss.map_size / 4);
  /* with a view open, the writer passes three quarters without growing */
  uint64_t grows = ss.grows;
  size_t size = ss.map_size;
  viewer vw = {.s = s};
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, view_main, &vw), 0);
  assert_int_equal(st_t_wait_flag(&vw.phase, 1), 1);
  do {
    assert_int_equal(put_k(s, i++), 0);
    tr_store_stats_get(s, &ss);
  } while (ss.map_used <= size - size / 4);
  assert_int_equal(ss.grows, grows);
  assert_int_equal(ss.map_size, size);
  atomic_store(&vw.release, 1);
  pthread_join(th, NULL);
  tr_store_view *v;
  /* the next commit grows it */
  assert_int_equal(put_k(s, i++), 0);
  tr_store_stats_get(s, &ss);
  assert_int_equal(ss.grows, grows + 1);
  assert_int_equal(ss.map_size, size * 2);
  assert_int_equal(ss.redone_full, 0);
  /* everything written is there */
  assert_int_equal(tr_store_view_begin(s, &v), 0);
  for (int k = 0; k < i; k++) {
    char key[16];
    const void *val;
    size_t len;
    snprintf(key, sizeof key, "k%06d", k);
    assert_int_equal(tr_kv_get(s, v, key, strlen(key), &val, &len, NULL), 0);
    assert_int_equal(len, 2000);
  }
  tr_store_view_end(v);
  tr_store_close(s);
  st_t_rmdir(tmp);
}

int main(void) {
  tr_log_set_level(TR_LOG_WARN);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_group_commit),
      cmocka_unit_test(test_nosync),
      cmocka_unit_test(test_map_growth_and_limit),
      cmocka_unit_test(test_failures_isolated),
      cmocka_unit_test(test_completion_submits),
      cmocka_unit_test(test_close_drains),
      cmocka_unit_test(test_growth_waits_for_views),
      cmocka_unit_test(test_growth_ahead),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
