/* jobdriver - creates jobs on a troupe cluster and checks that every one is
 * done, with the right result, whatever dies meanwhile (the shell kills a
 * worker and the engine node at "half").
 *
 *   jobdriver DIR LISTEN SEED N
 *
 * A gateway node: it registers the jobs kind (hosted by engine nodes) and
 * names the creator to notify two ways: even jobs "jd/all", a kind only
 * this node registers (the engine learns its roles from our heartbeats),
 * odd jobs a ref. Job i carries {n: i}; the example worker completes it with
 * {square: i*i}. Notes may come more than once (the queue's outbox); each
 * is acked. Prints "half" when N/2 are done, "ok" when all are and the
 * queue is empty. Exit 0 = all held.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "troupe/troupe.h"

#define WAIT_MS 180000

static char (*g_ids)[300];
static int64_t *g_square;
static int g_n;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static int g_done, g_bad;

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int jd_receive(tr_ctx *ctx, void *st, const tr_msg *m) {
  (void)st;
  if (m->type != TR_JOB_DONE) return 0;
  tr_unpack u, vars;
  tr_unpack_init(&u, m->data, m->len);
  const char *id;
  size_t n;
  int64_t sq = -1;
  if (tr_unpack_find_str(&u, "id", &id, &n) < 0 || n >= 300) return 0;
  if (tr_unpack_find(&u, "vars", &vars) == 0) tr_unpack_find_int(&vars, "square", &sq);
  pthread_mutex_lock(&g_mu);
  for (int i = 0; i < g_n; i++) {
    if (strlen(g_ids[i]) != n || memcmp(g_ids[i], id, n)) continue;
    if (g_square[i] < 0) {
      g_square[i] = sq;
      g_done++;
      if (sq != (int64_t)i * i) g_bad++;
    }
    break;
  }
  pthread_mutex_unlock(&g_mu);
  tr_pack pk = TR_PACK_INIT; /* ack: the note may stop */
  tr_pack_map(&pk, 1);
  tr_pack_str(&pk, "id");
  tr_pack_strn(&pk, id, n);
  tr_virtual_send(ctx, "jobs/demo", TR_JOB_ACK, pk.data, pk.len);
  tr_pack_free(&pk);
  return 0;
}

static const tr_behavior jd_b = {.name = "jd", .receive = jd_receive};
static tr_ref g_jd;

static int ask(tr_system *sys, uint32_t type, tr_pack *req, tr_pack *reply_json) {
  tr_msg *r = NULL;
  int rc = tr_system_virtual_ask(sys, "jobs/demo", type, req->data, req->len, 5000, &r);
  if (rc < 0) return rc;
  rc = tr_job_reply_status(r, NULL);
  if (reply_json) tr_json_from_msgpack(r->data, r->len, NULL, reply_json, NULL, 0);
  tr_msg_free(r);
  return rc;
}

int main(int argc, char **argv) {
  if (argc != 5) return 2;
  g_n = atoi(argv[4]);
  g_ids = calloc((size_t)g_n, sizeof *g_ids);
  g_square = malloc((size_t)g_n * sizeof *g_square);
  for (int i = 0; i < g_n; i++) g_square[i] = -1;
  const char *seeds[1] = {argv[3]};
  tr_node_opts o = {.data_dir = argv[1], .listen = argv[2], .seeds = seeds, .nseeds = 1,
                    .name = "driver", .roles = TR_ROLE_GATEWAY};
  tr_node *node;
  char err[256];
  if (tr_node_start(&o, &node, err, sizeof err) < 0) {
    fprintf(stderr, "jobdriver: %s\n", err);
    return 1;
  }
  tr_system *sys = tr_node_system(node);
  if (tr_jobs_register(sys, TR_ROLE_ENGINE) < 0 ||
      tr_kind_register(sys, &(tr_kind){.name = "jd", .behavior = &jd_b,
                                       .roles = TR_ROLE_GATEWAY}) < 0 ||
      tr_system_spawn(sys, &jd_b, NULL, NULL, &g_jd) < 0)
    return 1;
  if (!g_jd.node) g_jd.node = tr_system_node_id(sys);
  uint64_t end = now_ms() + WAIT_MS;
  for (int i = 0; i < g_n; i++) {
    tr_pack req = TR_PACK_INIT, out = TR_PACK_INIT;
    char key[32];
    snprintf(key, sizeof key, "job-%d", i); /* a retried creation is the same job */
    tr_pack_map(&req, 3);
    tr_pack_kv_str(&req, "key", key);
    if (i % 2) { /* by ref */
      tr_pack_str(&req, "notify_ref");
      tr_pack_array(&req, 2);
      tr_pack_uint(&req, g_jd.node);
      tr_pack_uint(&req, g_jd.id);
    } else { /* by name, of a kind the engine learns from this node's heartbeats */
      tr_pack_kv_str(&req, "notify", "jd/all");
    }
    tr_pack_str(&req, "vars");
    tr_pack_map(&req, 1);
    tr_pack_kv_int(&req, "n", i);
    int rc;
    while ((rc = ask(sys, TR_JOB_CREATE, &req, &out)) < 0 && now_ms() < end) {
      tr_pack_reset(&out);
      usleep(100000); /* the engine is not reachable yet */
    }
    if (rc < 0) {
      fprintf(stderr, "jobdriver: create %d: %s\n", i, tr_strerror(rc));
      return 1;
    }
    const char *p = strstr((const char *)out.data, "\"id\":\"");
    if (!p) return 1;
    p += 6;
    pthread_mutex_lock(&g_mu);
    snprintf(g_ids[i], sizeof g_ids[i], "%.*s", (int)strcspn(p, "\""), p);
    pthread_mutex_unlock(&g_mu);
    tr_pack_free(&req);
    tr_pack_free(&out);
  }
  fprintf(stderr, "jobdriver: created %d\n", g_n);
  int said_half = 0, done = 0;
  while (now_ms() < end) {
    pthread_mutex_lock(&g_mu);
    done = g_done;
    pthread_mutex_unlock(&g_mu);
    if (!said_half && done >= g_n / 2) {
      printf("half\n");
      fflush(stdout);
      said_half = 1;
    }
    if (done == g_n) break;
    usleep(50000);
  }
  if (done != g_n || g_bad) {
    fprintf(stderr, "jobdriver: FAILED: %d of %d done, %d wrong results\n", done, g_n, g_bad);
    return 1;
  }
  /* nothing left for workers */
  tr_pack req = TR_PACK_INIT, out = TR_PACK_INIT;
  tr_pack_map(&req, 0);
  int rc;
  while ((rc = ask(sys, TR_JOB_LIST, &req, &out)) < 0 && now_ms() < end) tr_pack_reset(&out);
  if (rc < 0 || !strstr((const char *)out.data, "\"jobs\":[]")) {
    fprintf(stderr, "jobdriver: FAILED: the queue is not empty: %s\n",
            out.data ? (const char *)out.data : tr_strerror(rc));
    return 1;
  }
  tr_pack_free(&req);
  tr_pack_free(&out);
  printf("ok\n");
  fflush(stdout);
  tr_node_stop(node);
  return 0;
}
