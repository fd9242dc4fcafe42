/* events.c - the event bus and warehouse (actors/events), in process.
 *
 *   bench_events ingest [SECS] [BATCH] [WINDOW] [SUB]
 *     events/s stored durably (SYNC store: each answer comes after fsync):
 *     a driver actor keeps WINDOW (8) PUBLISH_MANY asks of BATCH (1000)
 *     events in flight for SECS (5) s, with (SUB 1, default) or without (0)
 *     one subscriber actor fed live
 *     (its deliveries/s and the time from acceptance to delivery, whole ms);
 *     then single-event PUBLISH asks, 4096 in flight, for as long. Prints
 *     peer=troupe bench=events ingest_per_s=.. ingest_single_per_s=..
 *     sub_deliveries_per_s=.. sub_p50_ms=.. sub_p99_ms=.. batch=..
 *   bench_events warehouse [N]
 *     N (10,000,000) events, 10 types, 60 ms apart (about a week), stored in
 *     NOSYNC mode (the setup, not what is measured), then timed: a count per
 *     minute over all of them (from the counters), the same for one type,
 *     a query by pi and a distinct per day over 100,000 events (a scan).
 *     Prints peer=troupe bench=warehouse events=N count_per_minute_ms=.. ...
 * The data dir is a fresh one under /tmp, removed at the end. */
#include <ftw.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <unistd.h>

#include "actors/events/events.h"
#include "bench.h"

static tr_system *g_sys;
static sem_t g_done;

typedef struct drive {
  uint32_t batch, window;
  uint64_t time0, step_ms; /* explicit times (warehouse); 0: now */
  uint64_t issued, acked, errors;
  double until;           /* stop issuing after this (bench_now); 0: after `limit` */
  uint64_t limit;         /* events to issue when until == 0 */
  uint64_t inflight;
  tr_pack single;         /* the same payload for every ask when no times */
} drive;

static drive g_d;
static const char *TYPES[10] = {"order.created", "order.paid", "order.shipped", "cart.add",
                                "cart.remove", "user.login", "user.logout", "quest.start",
                                "quest.progress", "quest.done"};

static void build(drive *d, uint64_t first, tr_pack *pk) {
  tr_pack_reset(pk);
  if (d->batch > 1) {
    tr_pack_map(pk, 1);
    tr_pack_str(pk, "events");
    tr_pack_array(pk, d->batch);
  }
  for (uint32_t i = 0; i < d->batch; i++) {
    uint64_t k = first + i;
    char pi[24], bk[24];
    snprintf(pi, sizeof pi, "pi-%llu", (unsigned long long)(k / 10));
    snprintf(bk, sizeof bk, "user-%llu", (unsigned long long)(k % 5000));
    tr_pack_map(pk, d->step_ms ? 5 : 4);
    tr_pack_kv_str(pk, "type", TYPES[k % 10]);
    tr_pack_kv_str(pk, "pi", pi);
    tr_pack_kv_str(pk, "bk", bk);
    tr_pack_str(pk, "data");
    tr_pack_map(pk, 1);
    tr_pack_kv_int(pk, "n", (int64_t)k);
    if (d->step_ms) tr_pack_str(pk, "time"), tr_pack_uint(pk, d->time0 + k * d->step_ms);
  }
}

static void issue(tr_ctx *ctx, drive *d) {
  static tr_pack pk = TR_PACK_INIT;
  while (d->inflight < d->window &&
         (d->until ? bench_now() < d->until : d->issued < d->limit)) {
    const tr_pack *p = &d->single;
    if (d->step_ms || !d->single.len) {
      build(d, d->issued, &pk);
      p = &pk;
    }
    uint64_t corr;
    if (tr_virtual_ask(ctx, "events/bench", d->batch > 1 ? TR_EV_PUBLISH_MANY : TR_EV_PUBLISH,
                       p->data, p->len, 600000, &corr) < 0)
      break;
    d->issued += d->batch;
    d->inflight++;
  }
  if (d->inflight == 0) sem_post(&g_done);
}

static int driver_receive(tr_ctx *ctx, void *st, const tr_msg *m) {
  (void)st;
  drive *d = &g_d;
  if (m->type == 1) {
    issue(ctx, d);
    return 0;
  }
  if (m->type == TR_EV_REPLY || m->type == TR_MSG_TIMEOUT) {
    d->inflight--;
    if (m->type == TR_EV_REPLY && tr_reply_status(m->data, m->len) == 0) d->acked += d->batch;
    else d->errors++;
    issue(ctx, d);
  }
  return 0;
}

static const tr_behavior driver_b = {.name = "bench.driver", .receive = driver_receive};

/* A subscriber in process: how long from acceptance (the event's time, set
 * by the bus) to delivery, in whole ms (the time's resolution). */
enum { LAT_MAX = 10000 };
static _Atomic uint64_t g_delivered, g_subscribed;
static uint64_t g_lat[LAT_MAX + 1];

static uint64_t wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int sub_receive(tr_ctx *ctx, void *st, const tr_msg *m) {
  (void)st;
  if (m->type == 1) {
    uint8_t req[] = {0x81, 0xa8, 'l', 'e', 'a', 's', 'e', '_', 'm', 's', 0xce, 0, 0x09, 0x27, 0xc0};
    uint64_t corr;
    tr_virtual_ask(ctx, "events/bench", TR_EV_SUBSCRIBE, req, sizeof req, 600000, &corr);
  } else if (m->type == TR_EV_REPLY) {
    atomic_store(&g_subscribed, 1);
  } else if (m->type == TR_EV_DELIVER) {
    uint64_t now = wall_ms();
    tr_unpack u, a;
    uint32_t n;
    tr_unpack_init(&u, m->data, m->len);
    if (tr_unpack_find(&u, "events", &a) < 0 || tr_unpack_array(&a, &n) < 0) return 0;
    for (uint32_t i = 0; i < n; i++) {
      uint64_t t = now;
      tr_unpack_find_uint(&a, "time", &t);
      tr_unpack_skip(&a);
      uint64_t l = now > t ? now - t : 0;
      g_lat[l > LAT_MAX ? LAT_MAX : l]++;
    }
    atomic_fetch_add(&g_delivered, n);
  }
  return 0;
}

static const tr_behavior sub_b = {.name = "bench.subscriber", .receive = sub_receive};

static double lat_pct(double p) {
  uint64_t total = 0, acc = 0;
  for (int i = 0; i <= LAT_MAX; i++) total += g_lat[i];
  for (int i = 0; i <= LAT_MAX; i++)
    if ((acc += g_lat[i]) >= (uint64_t)(p * (double)total)) return i;
  return LAT_MAX;
}

/* Runs the driver with g_d set up; returns the seconds it took. */
static double run_driver(void) {
  tr_ref r;
  if (tr_system_spawn(g_sys, &driver_b, NULL, NULL, &r) < 0) abort();
  double t0 = bench_now();
  tr_system_send(g_sys, r, 1, NULL, 0);
  sem_wait(&g_done);
  double t = bench_now() - t0;
  tr_system_stop(g_sys, r);
  return t;
}

static double ask_ms(uint32_t type, const char *json, uint64_t *rows) {
  tr_pack pk = TR_PACK_INIT;
  tr_json_to_msgpack(json, strlen(json), NULL, &pk, NULL, 0);
  tr_msg *r = NULL;
  double t0 = bench_now();
  int rc = tr_system_virtual_ask(g_sys, "events/bench", type, pk.data, pk.len, 600000, &r);
  double ms = (bench_now() - t0) * 1000;
  tr_pack_free(&pk);
  if (rc < 0 || tr_reply_status(r->data, r->len) != 0) {
    fprintf(stderr, "bench: %s failed (%d)\n", json, rc);
    exit(1);
  }
  tr_unpack u, a;
  uint32_t n = 0;
  tr_unpack_init(&u, r->data, r->len);
  if (tr_unpack_find(&u, "buckets", &a) == 0 || tr_unpack_find(&u, "events", &a) == 0)
    tr_unpack_array(&a, &n);
  if (rows) *rows = n;
  tr_msg_free(r);
  return ms;
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "ingest";
  int warehouse = !strcmp(mode, "warehouse");
  char dir[64];
  snprintf(dir, sizeof dir, "/tmp/trbenchevXXXXXX");
  if (!mkdtemp(dir)) return 1;
  tr_config cfg = {.threads = bench_threads(), .data_dir = dir,
                   .durability = warehouse ? TR_DURABLE_NOSYNC : TR_DURABLE_SYNC};
  if (tr_system_new(&cfg, &g_sys) < 0 || tr_events_register(g_sys, 0) < 0) return 1;
  sem_init(&g_done, 0, 0);
  if (!warehouse) {
    double secs = (double)bench_arg(argc, argv, 2, 5);
    g_d = (drive){.batch = (uint32_t)bench_arg(argc, argv, 3, 1000),
                  .window = (uint32_t)bench_arg(argc, argv, 4, 8)};
    build(&g_d, 0, &g_d.single); /* the same batch every time: the driver stays cheap */
    int with_sub = (int)bench_arg(argc, argv, 5, 1);
    tr_ref sub = TR_REF_NONE;
    if (with_sub) {
      if (tr_system_spawn(g_sys, &sub_b, NULL, NULL, &sub) < 0) return 1;
      tr_system_send(g_sys, sub, 1, NULL, 0);
      while (!atomic_load(&g_subscribed)) usleep(1000);
    }
    g_d.until = bench_now() + secs;
    double t = run_driver();
    double many = (double)g_d.acked / t;
    uint64_t end = (uint64_t)(bench_now() + 30);
    while (with_sub && atomic_load(&g_delivered) < g_d.acked && bench_now() < (double)end)
      usleep(1000);
    double sub_rate = (double)atomic_load(&g_delivered) / t;
    if (with_sub) tr_system_stop(g_sys, sub);
    uint64_t errs = g_d.errors;
    g_d = (drive){.batch = 1, .window = 4096};
    build(&g_d, 0, &g_d.single);
    g_d.until = bench_now() + secs;
    t = run_driver();
    double single = (double)g_d.acked / t;
    printf("peer=troupe bench=events ingest_per_s=%.0f ingest_single_per_s=%.0f "
           "sub_deliveries_per_s=%.0f sub_p50_ms=%.0f sub_p99_ms=%.0f batch=%u "
           "window=%u durable=sync errors=%llu rss_mb=%.1f\n",
           many, single, sub_rate, lat_pct(0.5), lat_pct(0.99),
           (unsigned)bench_arg(argc, argv, 3, 1000),
           (unsigned)bench_arg(argc, argv, 4, 8), (unsigned long long)(errs + g_d.errors),
           bench_peak_rss_mb());
  } else {
    uint64_t n = bench_arg(argc, argv, 2, 10000000);
    g_d = (drive){.batch = 1000, .window = 4, .time0 = 1700000000000ull, .step_ms = 60,
                  .limit = n};
    double t = run_driver();
    fprintf(stderr, "bench: stored %llu events in %.1f s (%.0f/s, nosync)\n",
            (unsigned long long)g_d.acked, t, (double)g_d.acked / t);
    char j[256];
    uint64_t rows, rows1, qrows, drows;
    uint64_t end = g_d.time0 + n * 60 + 1;
    snprintf(j, sizeof j, "{\"bucket\":\"minute\",\"from_time\":%llu,\"to_time\":%llu}",
             (unsigned long long)g_d.time0, (unsigned long long)end);
    ask_ms(TR_EV_COUNT, j, &rows); /* once to warm the page cache, as a server would be */
    double cnt = ask_ms(TR_EV_COUNT, j, &rows);
    snprintf(j, sizeof j, "{\"bucket\":\"minute\",\"filter\":{\"types\":[\"cart.add\"]}}");
    double cnt1 = ask_ms(TR_EV_COUNT, j, &rows1);
    snprintf(j, sizeof j, "{\"filter\":{\"pi\":\"pi-%llu\"}}", (unsigned long long)(n / 20));
    double q = ask_ms(TR_EV_QUERY, j, &qrows);
    snprintf(j, sizeof j, "{\"bucket\":\"day\",\"of\":\"bk\",\"from_time\":%llu,\"to_time\":%llu}",
             (unsigned long long)g_d.time0, (unsigned long long)(g_d.time0 + 100000 * 60));
    double dist = ask_ms(TR_EV_DISTINCT, j, &drows);
    printf("peer=troupe bench=warehouse events=%llu count_per_minute_ms=%.1f count_rows=%llu "
           "count_one_type_ms=%.1f query_by_pi_ms=%.2f query_rows=%llu distinct_100k_ms=%.1f "
           "load_per_s=%.0f rss_mb=%.1f\n",
           (unsigned long long)g_d.acked, cnt, (unsigned long long)rows, cnt1, q,
           (unsigned long long)qrows, dist, (double)g_d.acked / t, bench_peak_rss_mb());
    (void)rows1, (void)drows;
  }
  tr_system_free(g_sys);
  bench_rmdir(dir);
  return 0;
}
