/* workflow - process instances per second through the workflow engine with
 * SDK workers, every step durable (sync): start -> external service task
 * (topic "bench") -> end, the model bench/bench.bpmn as Camunda Modeler
 * writes it.
 *
 *   bench_workflow N [WINDOW] [WORKERS] [LAT_SECS] [STARTER] [DIR]
 *
 * One process hosts the node: jobs, definitions and instances registered on
 * a store in sync durability (a fresh data dir under /tmp, removed at exit).
 * WORKERS worker actors subscribe (push) to jobs/bench, 1000 jobs in flight
 * each, and complete every job pushed to them.
 *
 * Peak phase: N instances are started with WINDOW starts in flight, from a
 * starter actor (STARTER=actor: virtual asks TR_WF_START to wf/<id>, what
 * tr_wf_start sends) or from WINDOW threads calling the blocking
 * tr_wf_start (STARTER=threads). An instance counts as completed when the
 * worker's completion was answered (durable in the queue) and then the
 * instance's TR_WF_GET says "completed" (the queue's note reached it first:
 * it was sent before the worker's answer). The clock stops after a fence:
 * one more instance started durably once all N were seen completed; the
 * store's single writer commits in submission order, so every instance's
 * last event is durable by then. instances_per_s = N / (first start to the
 * fence's answer).
 *
 * Latency phase: LAT_SECS (0 = skip) of starts paced at half the peak rate
 * (open loop, a 1 ms timer), start_p50_ms/start_p99_ms from the start ask to
 * its answer (the instance durably started), while the workers keep
 * completing them.
 *
 * Then (untimed) the node stops, a new one opens the same store, and 100
 * instances of the peak, evenly spread, must answer TR_WF_GET "completed"
 * from their journals: durable_checked=100 durable_completed=100.
 *
 * The node registers what the troupe daemon registers for the engine role:
 * job queues, definitions, instances and the indexes (wfhist among them:
 * every instance records its start and end there, and a finished instance
 * passivates once wfhist took its end). BENCH_WF_INDEX=0 leaves the indexes
 * out, as this bench did before 2026-11-23: then every instance retries
 * its history record forever and never passivates.
 *
 * Prints: peer=troupe bench=workflow workers=sdk instances=N window=W
 *   starter=.. instances_per_s=.. start_p50_ms=.. start_p99_ms=.. ...
 */
#include <ftw.h>
#include <pthread.h>
#include <sys/resource.h>
#include <stdatomic.h>
#include <unistd.h>

#include "actors/workflow/engine.h"
#include "actors/workflow/index.h"
#include "actors/workflow/repo.h"
#include "bench.h"
#include "hist.h"

#ifndef TR_BENCH_BPMN
#define TR_BENCH_BPMN "bench/bench.bpmn"
#endif

#define TOPIC "bench"
#define KEY "bench"
#define SUB_MAX 1000 /* jobs in flight per worker (the queue's largest) */

static _Atomic uint64_t g_completed, g_jobs, g_get_retries, g_errors, g_started;
static _Atomic uint64_t g_want; /* completions (since the warm-up) that end a phase */
static sem_t g_phase_done;
static hist g_peak_lat, g_lat;
static char g_run[16];       /* this run's prefix of instance ids */

static void count_completed(void) {
  if (atomic_fetch_add(&g_completed, 1) + 1 == g_want) sem_post(&g_phase_done);
}

/* ------------------------------------------------------------ workers */

enum { W_RENEW = 1, W_GET_AGAIN = 2 };

typedef struct pend {
  uint64_t corr; /* 0: free */
  char pi[64];
} pend;

#define PEND_CAP 4096 /* > SUB_MAX completions in flight; power of two */

typedef struct {
  char name[32];
  pend *p;
} worker_state;

static int w_subscribe(tr_ctx *ctx, worker_state *s) {
  int rc = tr_job_subscribe(ctx, TOPIC, s->name, SUB_MAX, 600000, NULL);
  if (rc < 0) fprintf(stderr, "workflow: subscribe: %s\n", tr_strerror(rc));
  return 0;
}

static int w_init(tr_ctx *ctx, void *st, const void *arg) {
  worker_state *s = st;
  snprintf(s->name, sizeof s->name, "w%d", *(const int *)arg);
  s->p = calloc(PEND_CAP, sizeof *s->p);
  if (!s->p) return TR_ENOMEM;
  uint64_t t; /* the lease is 30 s: renew it */
  int rc = tr_timer_start(ctx, 10000, 10000, W_RENEW, NULL, 0, &t);
  return rc < 0 ? rc : w_subscribe(ctx, s);
}

static void w_terminate(tr_ctx *ctx, void *st, int reason) {
  (void)ctx, (void)reason;
  free(((worker_state *)st)->p);
}

static int w_get(tr_ctx *ctx, const char *pi, size_t n) {
  char name[TR_VIRTUAL_NAME_MAX + 1];
  snprintf(name, sizeof name, TR_WF_KIND "/%.*s", (int)n, pi);
  uint8_t empty = 0x80; /* {} */
  uint64_t corr;
  return tr_virtual_ask(ctx, name, TR_WF_GET, &empty, 1, 30000, &corr);
}

static pend *pend_slot(worker_state *s, uint64_t corr, int take) {
  for (uint64_t i = corr;; i++) {
    pend *p = &s->p[i & (PEND_CAP - 1)];
    if (take ? p->corr == 0 : p->corr == corr) return p;
    if (!take && p->corr == 0) return NULL; /* never deleted mid-chain: see below */
  }
}

static int w_receive(tr_ctx *ctx, void *st, const tr_msg *m) {
  worker_state *s = st;
  if (m->flags & TR_MSG_F_TIMER) {
    if (m->type == W_RENEW) return w_subscribe(ctx, s);
    return w_get(ctx, (const char *)m->data, m->len); /* W_GET_AGAIN */
  }
  if (m->type == TR_JOB_PUSH) { /* a job: complete it at once */
    tr_unpack job;
    tr_unpack_init(&job, m->data, m->len);
    const char *id, *pi;
    size_t il, pl;
    if (tr_unpack_find_str(&job, "id", &id, &il) < 0 || il > TR_JOB_ID_MAX ||
        tr_unpack_find_str(&job, "pi", &pi, &pl) < 0 || pl >= sizeof s->p[0].pi) {
      atomic_fetch_add(&g_errors, 1);
      return 0;
    }
    char jid[TR_JOB_ID_MAX + 1];
    memcpy(jid, id, il);
    jid[il] = 0;
    uint64_t corr;
    int rc = tr_job_complete(ctx, TOPIC, jid, s->name, NULL, 0, &corr);
    if (rc < 0) {
      atomic_fetch_add(&g_errors, 1);
      return 0;
    }
    pend *p = pend_slot(s, corr, 1);
    p->corr = corr;
    memcpy(p->pi, pi, pl);
    p->pi[pl] = 0;
    return 0;
  }
  if (m->type == TR_JOB_REPLY || m->type == TR_MSG_TIMEOUT) {
    pend *p = pend_slot(s, m->corr, 0);
    if (!p) { /* a subscription's answer, or a GET that timed out */
      if (m->type == TR_MSG_TIMEOUT) atomic_fetch_add(&g_errors, 1);
      return 0;
    }
    char pi[64];
    memcpy(pi, p->pi, sizeof pi);
    /* delete without breaking probe chains: re-insert the entries after it */
    p->corr = 0;
    for (uint64_t i = (uint64_t)(p - s->p) + 1;; i++) {
      pend *q = &s->p[i & (PEND_CAP - 1)], tmp;
      if (!q->corr) break;
      tmp = *q;
      q->corr = 0;
      *pend_slot(s, tmp.corr, 1) = tmp;
    }
    if (m->type == TR_MSG_TIMEOUT || tr_job_reply_status(m, NULL) < 0) {
      atomic_fetch_add(&g_errors, 1);
      return 0;
    }
    atomic_fetch_add_explicit(&g_jobs, 1, memory_order_relaxed);
    return w_get(ctx, pi, strlen(pi));
  }
  if (m->type == TR_WF_REPLY) { /* the instance's state */
    tr_unpack u;
    tr_unpack_init(&u, m->data, m->len);
    const char *state, *id;
    size_t sl, il;
    if (tr_unpack_find_str(&u, "state", &state, &sl) < 0 ||
        tr_unpack_find_str(&u, "id", &id, &il) < 0) {
      atomic_fetch_add(&g_errors, 1);
      return 0;
    }
    if (sl == 9 && !memcmp(state, "completed", 9)) {
      count_completed();
      return 0;
    }
    if (sl == 6 && !memcmp(state, "failed", 6)) {
      atomic_fetch_add(&g_errors, 1);
      return 0;
    }
    atomic_fetch_add(&g_get_retries, 1); /* not there yet: look again soon */
    uint64_t t;
    return tr_timer_start(ctx, 1, 0, W_GET_AGAIN, id, il, &t);
  }
  return 0;
}

static const tr_behavior worker_b = {.name = "bench-worker", .state_size = sizeof(worker_state),
                                     .init = w_init, .receive = w_receive,
                                     .terminate = w_terminate};

/* ------------------------------------------------------------ starters */

static void make_id(char *id, size_t cap, uint64_t n) {
  snprintf(id, cap, "%s%020llx", g_run, (unsigned long long)n); /* 32 chars, as tr_wf_start */
}

enum { S_GO = 1, S_TICK = 2 };

typedef struct {
  uint64_t total, issued, answered, next_id;
  uint32_t window;
  double rate, t0; /* paced: starts per second from t0 */
  uint64_t tick;
  struct { uint64_t corr; double at; } *fl; /* in flight (hash by corr) */
  uint32_t flcap;
  hist *h;
} starter_state;

typedef struct {
  uint64_t total, first_id;
  uint32_t window;
  double rate;
  hist *h;
} starter_arg;

static int s_init(tr_ctx *ctx, void *st, const void *arg) {
  (void)ctx;
  const starter_arg *a = arg;
  starter_state *s = st;
  s->total = a->total, s->window = a->window, s->rate = a->rate, s->h = a->h;
  s->next_id = a->first_id;
  s->flcap = 1;
  /* paced: room for 5 s of starts (the asks time out after 30) */
  uint64_t want = 4 * (uint64_t)(a->window ? a->window : 1) + 1024;
  if (a->rate > 0 && want < (uint64_t)(a->rate * 5)) want = (uint64_t)(a->rate * 5);
  while (s->flcap < want) s->flcap <<= 1;
  s->fl = calloc(s->flcap, sizeof *s->fl);
  return s->fl ? 0 : TR_ENOMEM;
}

static void s_terminate(tr_ctx *ctx, void *st, int reason) {
  (void)ctx, (void)reason;
  free(((starter_state *)st)->fl);
}

static int s_issue(tr_ctx *ctx, starter_state *s) {
  char id[40], name[TR_VIRTUAL_NAME_MAX + 1];
  /* a full table would make the probe below spin forever: wait for answers
   * (the next tick or reply issues again) */
  if (s->issued - s->answered >= s->flcap - 1) return TR_EAGAIN;
  make_id(id, sizeof id, s->next_id++);
  snprintf(name, sizeof name, TR_WF_KIND "/%s", id);
  static const uint8_t req[] = {0x81, 0xa3, 'k', 'e', 'y', 0xa5, 'b', 'e', 'n', 'c', 'h'};
  uint64_t corr;
  double at = bench_now();
  int rc = tr_virtual_ask(ctx, name, TR_WF_START, req, sizeof req, 30000, &corr);
  if (rc < 0) return rc;
  uint32_t i = (uint32_t)corr & (s->flcap - 1);
  while (s->fl[i].corr) i = (i + 1) & (s->flcap - 1);
  s->fl[i].corr = corr, s->fl[i].at = at;
  s->issued++;
  atomic_fetch_add_explicit(&g_started, 1, memory_order_relaxed);
  return 0;
}

static int s_receive(tr_ctx *ctx, void *st, const tr_msg *m) {
  starter_state *s = st;
  if ((m->flags & TR_MSG_F_TIMER) || m->type == S_GO) {
    uint64_t due = s->total;
    if (s->rate > 0) {
      if (!s->t0) {
        s->t0 = bench_now();
        tr_timer_start(ctx, 1, 1, S_TICK, NULL, 0, &s->tick);
      }
      due = (uint64_t)((bench_now() - s->t0) * s->rate) + 1;
      if (due > s->total) due = s->total;
    } else if (due > s->answered + s->window) {
      due = s->answered + s->window;
    }
    while (s->issued < due) {
      int rc = s_issue(ctx, s);
      if (rc == TR_EAGAIN) break;
      if (rc < 0) return rc;
    }
    if (s->rate > 0 && s->issued == s->total) tr_timer_cancel(ctx, s->tick);
    return 0;
  }
  if (m->type != TR_WF_REPLY && m->type != TR_MSG_TIMEOUT) return 0;
  uint32_t i = (uint32_t)m->corr & (s->flcap - 1);
  while (s->fl[i].corr && s->fl[i].corr != m->corr) i = (i + 1) & (s->flcap - 1);
  if (!s->fl[i].corr) return 0;
  double at = s->fl[i].at;
  /* delete, re-inserting the rest of the probe chain */
  s->fl[i].corr = 0;
  for (uint32_t j = (i + 1) & (s->flcap - 1); s->fl[j].corr; j = (j + 1) & (s->flcap - 1)) {
    __typeof__(*s->fl) e = s->fl[j];
    s->fl[j].corr = 0;
    uint32_t k = (uint32_t)e.corr & (s->flcap - 1);
    while (s->fl[k].corr) k = (k + 1) & (s->flcap - 1);
    s->fl[k] = e;
  }
  s->answered++;
  if (m->type == TR_MSG_TIMEOUT || tr_reply_status(m->data, m->len) < 0)
    atomic_fetch_add(&g_errors, 1);
  else
    hist_add(s->h, bench_now() - at);
  if (s->rate > 0) return s->answered == s->total ? TR_STOP : 0;
  while (s->issued < s->total && s->issued < s->answered + s->window) {
    int rc = s_issue(ctx, s);
    if (rc == TR_EAGAIN) break;
    if (rc < 0) return rc;
  }
  return s->answered == s->total ? TR_STOP : 0;
}

static const tr_behavior starter_b = {.name = "bench-starter", .state_size = sizeof(starter_state),
                                      .init = s_init, .receive = s_receive,
                                      .terminate = s_terminate};

/* STARTER=threads: each thread calls the blocking tr_wf_start in a loop. */
typedef struct {
  tr_system *sys;
  _Atomic int64_t *left;
} thr_arg;

static void *start_thread(void *p) {
  thr_arg *a = p;
  char id[64];
  while (atomic_fetch_sub(a->left, 1) > 0) {
    double t = bench_now();
    atomic_fetch_add(&g_started, 1);
    if (tr_wf_start(a->sys, KEY, NULL, 0, NULL, id, sizeof id) < 0) atomic_fetch_add(&g_errors, 1);
    else hist_add(&g_peak_lat, bench_now() - t);
  }
  return NULL;
}

/* ------------------------------------------------------------ main */

static double cpu_secs(void) { /* user + system of the whole process */
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  static char buf[1 << 16];
  *len = fread(buf, 1, sizeof buf, f);
  fclose(f);
  return buf;
}

/* Waits for g_want completions, printing progress to stderr every second;
 * 0 if they came within limit_s. */
static int wait_phase(double limit_s) {
  double end = bench_now() + limit_s;
  for (;;) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 1;
    if (sem_timedwait(&g_phase_done, &ts) == 0) return 0;
    fprintf(stderr, "workflow: started %llu, jobs completed %llu, instances completed %llu, "
                    "errors %llu\n",
            (unsigned long long)atomic_load(&g_started), (unsigned long long)atomic_load(&g_jobs),
            (unsigned long long)atomic_load(&g_completed), (unsigned long long)atomic_load(&g_errors));
    if (bench_now() > end) return -1;
  }
}

/* As the daemon's engine role (tools/troupe/main.c), indexes optional. */
static int register_kinds(tr_system *sys) {
  const char *ix = getenv("BENCH_WF_INDEX");
  int rc = tr_jobs_register(sys, 0);
  if (rc == 0) rc = tr_wf_repo_register(sys, 0);
  if (rc == 0) rc = tr_wf_engine_register(sys, 0);
  if (rc == 0 && !(ix && !strcmp(ix, "0"))) rc = tr_wf_index_register(sys, 0);
  return rc;
}

int main(int argc, char **argv) {
  uint64_t n = bench_arg(argc, argv, 1, 100000);
  uint32_t window = (uint32_t)bench_arg(argc, argv, 2, 2000);
  int nworkers = (int)bench_arg(argc, argv, 3, 2);
  double lat_secs = argc > 4 ? atof(argv[4]) : 3.0;
  const char *starter = argc > 5 ? argv[5] : "actor";
  int threads = !strcmp(starter, "threads");
  char dir[256];
  snprintf(dir, sizeof dir, "%s", argc > 6 ? argv[6] : "/tmp/troupe-bench-wf.XXXXXX");
  if (argc <= 6 && !mkdtemp(dir)) return 1;
  if (hist_init(&g_peak_lat) < 0 || hist_init(&g_lat) < 0) return 1;
  sem_init(&g_phase_done, 0, 0);
  snprintf(g_run, sizeof g_run, "%012llx", (unsigned long long)(bench_now() * 1e6) & 0xffffffffffffULL);

  tr_config cfg = {.threads = bench_threads(), .data_dir = dir, .durability = TR_DURABLE_SYNC};
  tr_system *sys;
  int rc = tr_system_new(&cfg, &sys);
  if (rc == 0) rc = register_kinds(sys);
  if (rc < 0) {
    fprintf(stderr, "workflow: %s\n", tr_strerror(rc));
    return 1;
  }
  size_t len = 0;
  const char *xml = slurp(TR_BENCH_BPMN, &len);
  tr_wf_deployed d;
  char *problems = NULL;
  if (!xml || tr_wf_deploy(sys, "bench.bpmn", xml, len, "bench", 0, &d, 1, &problems) != 1) {
    fprintf(stderr, "workflow: cannot deploy %s: %s\n", TR_BENCH_BPMN, problems ? problems : "");
    return 1;
  }
  for (int i = 0; i < nworkers; i++)
    if (tr_system_spawn(sys, &worker_b, &i, NULL, NULL) < 0) return 1;

  /* warm-up, untimed: the queue activates, the subscriptions land, the
   * definition's actor is up */
  g_want = 200;
  starter_arg wa = {200, 1ull << 60, 100, 0, &g_lat};
  tr_ref wref;
  if (tr_system_spawn(sys, &starter_b, &wa, NULL, &wref) < 0) return 1;
  if (tr_system_send(sys, wref, S_GO, NULL, 0) < 0 || wait_phase(60) < 0) {
    fprintf(stderr, "workflow: warm-up did not complete\n");
    return 1;
  }
  hist_free(&g_lat);
  if (hist_init(&g_lat) < 0) return 1;
  atomic_store(&g_completed, 0);
  atomic_store(&g_jobs, 0);
  atomic_store(&g_started, 0);
  atomic_store(&g_get_retries, 0);

  /* peak */
  g_want = n;
  double rss0 = bench_rss_mb(), cpu0 = cpu_secs(), t0 = bench_now();
  pthread_t *th = NULL;
  _Atomic int64_t left = (int64_t)n;
  thr_arg ta = {sys, &left};
  if (threads) {
    th = calloc(window, sizeof *th);
    for (uint32_t i = 0; i < window; i++) pthread_create(&th[i], NULL, start_thread, &ta);
  } else {
    starter_arg a = {n, 0, window, 0, &g_peak_lat};
    tr_ref s;
    if (tr_system_spawn(sys, &starter_b, &a, NULL, &s) < 0 || tr_system_send(sys, s, S_GO, NULL, 0) < 0)
      return 1;
  }
  int ok = wait_phase(600) == 0;
  double t_seen = bench_now();
  char fid[64];
  int frc = tr_wf_start(sys, KEY, NULL, 0, NULL, fid, sizeof fid); /* the fence */
  double t_peak = bench_now() - t0, fence_ms = (bench_now() - t_seen) * 1e3;
  if (threads)
    for (uint32_t i = 0; i < window; i++) pthread_join(th[i], NULL);
  free(th);
  double peak = (double)n / t_peak, rss_peak = bench_rss_mb();
  double cpu_us = (cpu_secs() - cpu0) * 1e6 / (double)n;
  uint64_t retries = atomic_load(&g_get_retries);
  if (!ok || frc < 0) {
    fprintf(stderr, "workflow: peak phase did not finish (fence: %s)\n", tr_strerror(frc));
    return 1;
  }

  /* latency at half the peak rate */
  double rate = peak / 2, p50 = 0, p99 = 0, lat_rate = 0;
  if (lat_secs > 0) {
    uint64_t m = (uint64_t)(rate * lat_secs);
    if (m < 100) m = 100;
    /* counted on from the peak: + the fence's instance, which completes
     * before or during this phase */
    atomic_store(&g_want, n + 1 + m);
    starter_arg a = {m, 1ull << 61, 0, rate, &g_lat};
    tr_ref s;
    double t1 = bench_now();
    if (tr_system_spawn(sys, &starter_b, &a, NULL, &s) < 0 || tr_system_send(sys, s, S_GO, NULL, 0) < 0)
      return 1;
    if (wait_phase(600) < 0) {
      fprintf(stderr, "workflow: latency phase did not finish\n");
      return 1;
    }
    lat_rate = (double)m / (bench_now() - t1);
    p50 = hist_ms(&g_lat, 0.5);
    p99 = hist_ms(&g_lat, 0.99);
  }
  /* untimed: the node stops, a new one opens the same store, and a sample of
   * the peak's instances must come back completed from their journals */
  int checked = 0, durable = 0;
  tr_system_free(sys);
  sys = NULL;
  if (!threads && tr_system_new(&cfg, &sys) == 0 && register_kinds(sys) == 0) {
    for (uint64_t i = 0; i < n; i += n / 100 ? n / 100 : 1, checked++) {
      char id[40], name[TR_VIRTUAL_NAME_MAX + 1];
      make_id(id, sizeof id, i);
      snprintf(name, sizeof name, TR_WF_KIND "/%s", id);
      tr_msg *r = NULL;
      uint8_t empty = 0x80;
      if (tr_system_virtual_ask(sys, name, TR_WF_GET, &empty, 1, 30000, &r) < 0) continue;
      tr_unpack u;
      const char *st;
      size_t sl;
      tr_unpack_init(&u, r->data, r->len);
      if (tr_unpack_find_str(&u, "state", &st, &sl) == 0 && sl == 9 && !memcmp(st, "completed", 9))
        durable++;
      tr_msg_free(r);
    }
  }
  printf("peer=troupe bench=workflow workers=sdk instances=%llu window=%u starter=%s "
         "sdk_workers=%d instances_per_s=%.1f start_p50_ms=%.3f start_p99_ms=%.3f "
         "paced_per_s=%.1f peak_start_p50_ms=%.3f peak_start_p99_ms=%.3f secs=%.3f "
         "fence_ms=%.2f get_retries=%llu errors=%llu rss_growth_mb=%.1f cpu_us_per_instance=%.1f "
         "durable_checked=%d durable_completed=%d\n",
         (unsigned long long)n, window, threads ? "threads" : "actor", nworkers, peak, p50, p99,
         lat_rate, hist_ms(&g_peak_lat, 0.5), hist_ms(&g_peak_lat, 0.99), t_peak, fence_ms,
         (unsigned long long)retries, (unsigned long long)atomic_load(&g_errors), rss_peak - rss0,
         cpu_us, checked, durable);
  fflush(stdout);
  if (sys) tr_system_free(sys);
  hist_free(&g_lat);
  hist_free(&g_peak_lat);
  if (argc <= 6) bench_rmdir(dir);
  return 0;
}
