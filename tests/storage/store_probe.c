/* store_probe.c - how fast the group-commit writer persists journal
 * appends: N persistence ids each keep one append in flight (closed loop:
 * the next one is submitted when the previous completed), 100-byte events.
 * Prints appends/s, completion latency (p50/p99) and the batch size.
 *
 * usage: storage_probe [outstanding=1000] [seconds=3] [dir-prefix=/tmp]
 *                      [sync|nosync] [feeder|callback]
 * feeder (default): completions go back to a feeder thread, which submits
 * the next append, as the runtime does from an actor; callback: the next
 * append is submitted from the completion itself, on the writer thread.
 * Not a test: a tool for docs/storage.md and reports. */
#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "storage/store.h"
#include "troupe/system.h"

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

typedef struct actor actor;
struct actor {
  tr_store_req req;
  char pid[24];
  size_t pid_len;
  uint64_t seq, t0;
  actor *next_done;
};

static tr_store *store;
static char ev[100];
static _Atomic(actor *) done_list;
static _Atomic int stop, measuring;
static _Atomic uint64_t completed, failed;
static uint32_t *hist; /* latency in us, capped */
enum { HMAX = 1000000 };
static int from_callback;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static _Atomic int feeder_sleeping;

static void submit(actor *a) {
  a->seq++;
  a->req.op = tr_op_journal_append(a->pid, a->pid_len, a->seq, ev, sizeof ev);
  a->t0 = now_ns();
  if (tr_store_submit(store, &a->req) != 0) atomic_fetch_add(&failed, 1);
}

static void done(void *arg, int status) {
  actor *a = arg;
  if (status) atomic_fetch_add(&failed, 1);
  if (atomic_load(&measuring)) {
    uint64_t us = (now_ns() - a->t0) / 1000;
    hist[us < HMAX ? us : HMAX - 1]++; /* writer thread only */
    atomic_fetch_add(&completed, 1);
  }
  if (atomic_load(&stop)) return;
  if (from_callback) {
    submit(a);
    return;
  }
  actor *h = atomic_load(&done_list);
  do a->next_done = h;
  while (!atomic_compare_exchange_weak(&done_list, &h, a));
  if (!h && atomic_load(&feeder_sleeping)) {
    pthread_mutex_lock(&mu);
    pthread_cond_signal(&cv);
    pthread_mutex_unlock(&mu);
  }
}

static void *feeder(void *arg) {
  (void)arg;
  while (!atomic_load(&stop)) {
    actor *l = atomic_exchange(&done_list, NULL);
    if (!l) {
      pthread_mutex_lock(&mu);
      atomic_store(&feeder_sleeping, 1);
      if (!atomic_load(&done_list) && !atomic_load(&stop)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 1000000;
        if (ts.tv_nsec >= 1000000000) ts.tv_sec++, ts.tv_nsec -= 1000000000;
        pthread_cond_timedwait(&cv, &mu, &ts);
      }
      atomic_store(&feeder_sleeping, 0);
      pthread_mutex_unlock(&mu);
      continue;
    }
    while (l) {
      actor *n = l->next_done;
      submit(l);
      l = n;
    }
  }
  return NULL;
}

static int rm_cb(const char *p, const struct stat *sb, int f, struct FTW *ftw) {
  (void)sb, (void)f, (void)ftw;
  return remove(p);
}

static double pct(double p, uint64_t total) {
  uint64_t want = (uint64_t)(p * (double)total), acc = 0;
  for (int i = 0; i < HMAX; i++) {
    acc += hist[i];
    if (acc > want) return i / 1000.0;
  }
  return HMAX / 1000.0;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 1000;
  double secs = argc > 2 ? atof(argv[2]) : 3.0;
  const char *prefix = argc > 3 ? argv[3] : "/tmp";
  int nosync = argc > 4 && strcmp(argv[4], "nosync") == 0;
  from_callback = argc > 5 && strcmp(argv[5], "callback") == 0;
  if (n < 1) n = 1;
  char dir[512];
  snprintf(dir, sizeof dir, "%s/storage_probe.XXXXXX", prefix);
  if (!mkdtemp(dir)) return perror("mkdtemp"), 1;
  hist = calloc(HMAX, sizeof *hist);
  memset(ev, 'v', sizeof ev);
  tr_store_opts o = {.map_initial = (size_t)1 << 30, .durability = nosync};
  int rc = tr_store_open(dir, &o, &store);
  if (rc) return fprintf(stderr, "open: %s\n", tr_strerror(rc)), 1;
  actor *a = calloc((size_t)n, sizeof *a);
  for (int i = 0; i < n; i++) {
    a[i].pid_len = (size_t)snprintf(a[i].pid, sizeof a[i].pid, "actor/%d", i);
    a[i].req.done = done;
    a[i].req.arg = &a[i];
  }
  pthread_t th;
  if (!from_callback) pthread_create(&th, NULL, feeder, NULL);
  for (int i = 0; i < n; i++) submit(&a[i]);
  usleep(500000); /* warm-up */
  tr_store_stats s0, s1;
  tr_store_stats_get(store, &s0);
  atomic_store(&measuring, 1);
  uint64_t t0 = now_ns();
  usleep((useconds_t)(secs * 1e6));
  atomic_store(&measuring, 0);
  double dt = (double)(now_ns() - t0) / 1e9;
  tr_store_stats_get(store, &s1);
  atomic_store(&stop, 1);
  uint64_t c = atomic_load(&completed);
  double commits = (double)(s1.commits - s0.commits);
  printf("bench=store_append mode=%s submit=%s outstanding=%d appends_per_s=%.0f p50_ms=%.3f "
         "p99_ms=%.3f commits_per_s=%.0f avg_batch=%.1f failed=%llu\n",
         nosync ? "nosync" : "sync", from_callback ? "callback" : "feeder", n, (double)c / dt,
         pct(0.50, c), pct(0.99, c), commits / dt, commits > 0 ? (double)c / commits : 0.0,
         (unsigned long long)atomic_load(&failed));
  if (!from_callback) {
    pthread_mutex_lock(&mu);
    pthread_cond_signal(&cv);
    pthread_mutex_unlock(&mu);
    pthread_join(th, NULL);
  }
  tr_store_close(store);
  free(a);
  free(hist);
  nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
  return 0;
}
