/* test_storage_crash.c - processes that die: reader slots left by a
 * process killed inside a read transaction are cleared at the next open,
 * and a process appending acknowledged journal events is SIGKILLed at
 * random moments, again and again: after every restart each acknowledged
 * event is present, in order, exactly once, and the store opens cleanly.
 *
 * Children are forked while the parent has no store open, and report over a
 * pipe (each record one write(2) of at most PIPE_BUF bytes, so records never
 * interleave). TROUPE_SEED=<n> repeats a run's kill schedule. */
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/wait.h>

#include "../storage/st_harness.h"

static void read_full(int fd, void *buf, size_t n) {
  uint8_t *p = buf;
  while (n) {
    ssize_t r = read(fd, p, n);
    if (r <= 0) return;
    p += r;
    n -= (size_t)r;
  }
}

/* ---- stale readers ---- */

/* child: open read-only, optionally begin a view, report, wait to die */
static void reader_child(const char *dir, int fd, int with_view) {
  tr_store_opts ro = {.read_only = 1};
  tr_store *s;
  tr_store_view *v;
  char ok = 'x';
  if (tr_store_open(dir, &ro, &s) == 0 && (!with_view || tr_store_view_begin(s, &v) == 0)) ok = 'r';
  if (write(fd, &ok, 1) != 1) _exit(3);
  for (;;) pause();
}

static pid_t spawn_reader(const char *dir, int with_view) {
  int p[2];
  assert_int_equal(pipe(p), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    close(p[0]);
    reader_child(dir, p[1], with_view);
  }
  close(p[1]);
  char c = 0;
  read_full(p[0], &c, 1);
  close(p[0]);
  assert_int_equal(c, 'r');
  return pid;
}

static void test_stale_readers(void **st) {
  char tmp[256];
  st_t_tmpdir(tmp, sizeof tmp);
  tr_store *s = st_t_open(tmp, NULL);
  assert_int_equal(st_t_append(s, "p", 1, "e"), 0);
  tr_store_close(s);
  /* a process that keeps the environment open (LMDB resets the reader
   * table when the first process opens it, which would hide the slot) */
  pid_t holder = spawn_reader(tmp, 0);
  pid_t victim = spawn_reader(tmp, 1);
  kill(victim, SIGKILL);
  waitpid(victim, NULL, 0);
  s = st_t_open(tmp, NULL);
  tr_store_stats ss;
  tr_store_stats_get(s, &ss);
  assert_int_equal(ss.stale_readers, 1);
  assert_int_equal(st_t_append(s, "p", 2, "e"), 0);
  tr_store_close(s);
  kill(holder, SIGKILL);
  waitpid(holder, NULL, 0);
  st_t_rmdir(tmp);
}

/* ---- kill -9 ---- */

enum { NP = 6, WIN = 32 };

typedef struct {
  uint32_t pid; /* index; NP = "ready"; NP + 1 = commit count in seq */
  uint32_t pad;
  uint64_t seq;
} rec;

typedef struct cthr cthr;
typedef struct {
  tr_store_req req;
  cthr *t;
  uint64_t seq;
  char ev[40];
} creq;

struct cthr {
  tr_store *s;
  int idx, fd;
  char pid[16];
  uint64_t start;
  _Atomic uint64_t acked;
  creq slots[WIN];
};

static void ev_text(char *out, size_t n, int idx, uint64_t seq) {
  snprintf(out, n, "crash-%d:%llu", idx, (unsigned long long)seq);
}

static void child_done(void *arg, int status) {
  creq *r = arg;
  if (status != 0) _exit(5); /* nothing may fail here */
  /* the completion ran: the event is durable; only now tell the parent */
  rec x = {(uint32_t)r->t->idx, 0, r->seq};
  if (write(r->t->fd, &x, sizeof x) != (ssize_t)sizeof x) _exit(6);
  atomic_store(&r->t->acked, r->seq);
}

static void *child_thread(void *arg) {
  cthr *t = arg;
  for (uint64_t seq = t->start;; seq++) {
    while (atomic_load(&t->acked) + WIN < seq) usleep(20);
    creq *r = &t->slots[seq % WIN];
    r->t = t;
    r->seq = seq;
    ev_text(r->ev, sizeof r->ev, t->idx, seq);
    r->req = (tr_store_req){.done = child_done, .arg = r};
    r->req.op = tr_op_journal_append(t->pid, strlen(t->pid), seq, r->ev, strlen(r->ev));
    if (tr_store_submit(t->s, &r->req) != 0) _exit(7);
  }
  return NULL;
}

static void crash_child(const char *dir, int fd) {
  tr_store *s;
  if (tr_store_open(dir, NULL, &s) != 0) _exit(2);
  static cthr t[NP];
  for (int i = 0; i < NP; i++) {
    t[i].s = s;
    t[i].idx = i;
    t[i].fd = fd;
    snprintf(t[i].pid, sizeof t[i].pid, "crash/%d", i);
    uint64_t hi;
    if (tr_journal_highest(s, NULL, t[i].pid, strlen(t[i].pid), &hi) != 0) _exit(3);
    t[i].start = hi + 1;
    atomic_store(&t[i].acked, hi);
  }
  rec ready = {NP, 0, 0};
  if (write(fd, &ready, sizeof ready) != (ssize_t)sizeof ready) _exit(4);
  pthread_t th;
  for (int i = 0; i < NP; i++)
    if (pthread_create(&th, NULL, child_thread, &t[i]) != 0) _exit(8);
  for (;;) { /* report the commit count, so the parent can let it run long enough */
    tr_store_stats ss;
    tr_store_stats_get(s, &ss);
    rec c = {NP + 1, 0, ss.commits};
    if (write(fd, &c, sizeof c) != (ssize_t)sizeof c) _exit(9);
    usleep(5000);
  }
}

typedef struct {
  int idx;
  uint64_t next;
  int bad;
} ccheck;

static int crash_check(void *arg, uint64_t seq, const void *data, size_t len) {
  ccheck *c = arg;
  char want[40];
  ev_text(want, sizeof want, c->idx, seq);
  if (seq != c->next || len != strlen(want) || memcmp(data, want, len)) c->bad++;
  c->next = seq + 1;
  return 0;
}

static void test_kill9(void **st) {
  char tmp[256];
  st_t_tmpdir(tmp, sizeof tmp);
  const char *env = getenv("TROUPE_SEED");
  uint64_t seed = env ? strtoull(env, NULL, 10) : (uint64_t)time(NULL) ^ (uint64_t)getpid();
  fprintf(stderr, "  TROUPE_SEED=%llu\n", (unsigned long long)seed);
  uint64_t acked[NP] = {0};
  enum { ROUNDS = 20 };
  uint64_t total_acked = 0;
  for (int round = 0; round < ROUNDS; round++) {
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
      close(p[0]);
      crash_child(tmp, p[1]);
    }
    close(p[1]);
    rec r;
    read_full(p[0], &r, sizeof r);
    assert_int_equal(r.pid, NP); /* ready: it opened the store */
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    /* let it run for 5..60 ms of appends; every 5th time until it made
     * 200 commits and then 0..100 ms more, long enough for journal log
     * tables to be folded and dropped */
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    bool long_run = round % 5 == 4;
    uint64_t run_ms = long_run ? (seed >> 33) % 101 : 5 + (seed >> 33) % 56;
    uint64_t commits = 0, start = st_t_now_ms(), end = start + run_ms;
    /* drain acks meanwhile, so the child never blocks on a full pipe */
    while (st_t_now_ms() < end || (long_run && commits < 200 && st_t_now_ms() < start + ST_WAIT_MS)) {
      ssize_t got = read(p[0], &r, sizeof r);
      if (got == (ssize_t)sizeof r) {
        if (r.pid == NP + 1) {
          commits = r.seq;
          if (long_run && commits < 200) end = st_t_now_ms() + run_ms;
          continue;
        }
        assert_true(r.pid < NP);
        assert_true(r.seq > acked[r.pid]);
        acked[r.pid] = r.seq;
        total_acked++;
      } else {
        struct timespec ts = {0, 200000};
        nanosleep(&ts, NULL);
      }
    }
    if (long_run) assert_true(commits >= 200);
    kill(pid, SIGKILL);
    int wst;
    waitpid(pid, &wst, 0);
    assert_true(WIFSIGNALED(wst)); /* it did not exit on an error of its own */
    /* every ack it sent, also those still in the pipe */
    fcntl(p[0], F_SETFL, 0);
    ssize_t n;
    while ((n = read(p[0], &r, sizeof r)) == (ssize_t)sizeof r) {
      if (r.pid == NP + 1) continue;
      assert_true(r.pid < NP);
      assert_true(r.seq > acked[r.pid]); /* acks come in order, none twice */
      acked[r.pid] = r.seq;
      total_acked++;
    }
    close(p[0]);
    tr_store *s = st_t_open(tmp, NULL); /* opens cleanly after a kill */
    for (int i = 0; i < NP; i++) {
      char pidname[16];
      snprintf(pidname, sizeof pidname, "crash/%d", i);
      ccheck c = {i, 1, 0};
      assert_int_equal(
          tr_journal_read(s, NULL, pidname, strlen(pidname), 1, UINT64_MAX, crash_check, &c), 0);
      assert_int_equal(c.bad, 0);       /* in order, contiguous, each once, intact */
      assert_true(c.next - 1 >= acked[i]); /* every acknowledged event is there */
      uint64_t hi;
      assert_int_equal(tr_journal_highest(s, NULL, pidname, strlen(pidname), &hi), 0);
      assert_int_equal(hi, c.next - 1);
    }
    tr_store_close(s);
  }
  fprintf(stderr, "  %d kills, %llu acknowledged events checked\n", ROUNDS,
          (unsigned long long)total_acked);
  assert_true(total_acked > 0);
  st_t_rmdir(tmp);
}

int main(void) {
  tr_log_set_level(TR_LOG_WARN);
  signal(SIGPIPE, SIG_IGN);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_stale_readers),
      cmocka_unit_test(test_kill9),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
