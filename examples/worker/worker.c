/* worker - an external-task worker written with the SDK, as its own
 * process: it joins the cluster through the seed list with role worker,
 * subscribes to a topic, and completes every job pushed to it.
 *
 *   worker DATA_DIR LISTEN SEED TOPIC [NAME]
 *
 * DATA_DIR must hold the cluster's secret (copy cluster.secret from the
 * first node's data dir); the worker's own key is created there. The "work"
 * here squares the job's variable n and completes with {"square": n*n}.
 * Jobs are pushed (no polling); the subscription is a lease, renewed every
 * 10 s, so the queue forgets a worker that died. Stop it with SIGTERM: it
 * leaves the cluster; jobs it held and did not complete are handed to
 * another worker when their lock (30 s here) expires.
 * TROUPE_WORKER_LOCK_MS and TROUPE_WORKER_RENEW_MS change the two periods;
 * TROUPE_WORKER_WORK_MS makes each job take that long (tests use it to have
 * jobs in flight when they kill things).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <troupe/troupe.h>

typedef struct {
  const char *topic, *name;
  uint32_t lock_ms, renew_ms;
  uint32_t work_ms; /* how long a job takes (a timer: the actor never blocks) */
} worker_arg;

enum { RENEW = 1, FINISH = 2 }; /* timer message types */

typedef struct {
  worker_arg a;
  uint64_t done;
} worker_state;

/* Asks for (or renews) the subscription. While no engine node is up yet
 * (or the queue is moving) this fails; the next renewal tries again. */
static int subscribe(tr_ctx *ctx, worker_state *s) {
  int rc = tr_job_subscribe(ctx, s->a.topic, s->a.name, 4 /* in flight */, s->a.lock_ms, NULL);
  if (rc < 0) tr_log(TR_LOG_DEBUG, "worker", "subscribe: %s (retrying)", tr_strerror(rc));
  return 0;
}

static int worker_init(tr_ctx *ctx, void *st, const void *arg) {
  worker_state *s = st;
  s->a = *(const worker_arg *)arg;
  uint64_t timer; /* renew the lease (30 s) well before it lapses */
  int rc = tr_timer_start(ctx, s->a.renew_ms, s->a.renew_ms, RENEW, NULL, 0, &timer);
  return rc < 0 ? rc : subscribe(ctx, s);
}

/* Completes job id with {"square": x*x}. */
static int finish(tr_ctx *ctx, worker_state *s, const char *id, int64_t x) {
  uint8_t buf[64];
  tr_pack out;
  tr_pack_init_fixed(&out, buf, sizeof buf);
  tr_pack_map(&out, 1);
  tr_pack_str(&out, "square");
  tr_pack_int(&out, x * x);
  int rc = tr_job_complete(ctx, s->a.topic, id, s->a.name, out.data, out.len, NULL);
  if (rc < 0) /* the queue is out of reach (its node restarting): the lock
               * expires and the job comes back, to us or another worker */
    tr_log(TR_LOG_WARN, "worker", "complete %s: %s (it will come back)", id, tr_strerror(rc));
  else
    s->done++;
  return 0; /* never die for it: this actor is the whole worker */
}

static int worker_receive(tr_ctx *ctx, void *st, const tr_msg *m) {
  worker_state *s = st;
  if ((m->flags & TR_MSG_F_TIMER) && m->type == FINISH) { /* [x, id] */
    int64_t x;
    memcpy(&x, m->data, sizeof x);
    return finish(ctx, s, (const char *)m->data + sizeof x, x);
  }
  if (m->flags & TR_MSG_F_TIMER) return subscribe(ctx, s);
  if (m->type == TR_JOB_REPLY) {
    int rc = tr_job_reply_status(m, NULL);
    if (rc < 0) tr_log(TR_LOG_WARN, "worker", "the queue refused: %s", tr_strerror(rc));
    return 0;
  }
  if (m->type == TR_MSG_TIMEOUT) return 0; /* the queue was moving: the lease renewal retries */
  if (m->type != TR_JOB_PUSH) return 0;
  /* a job: {id, topic, vars: {n: ...}, ...} */
  tr_unpack job, vars;
  tr_unpack_init(&job, m->data, m->len);
  char id[TR_JOB_ID_MAX + 1];
  const char *p;
  size_t n;
  int64_t x = 0;
  if (tr_unpack_find_str(&job, "id", &p, &n) < 0 || n > TR_JOB_ID_MAX) return 0;
  memcpy(id, p, n);
  id[n] = 0;
  if (tr_unpack_find(&job, "vars", &vars) == 0) tr_unpack_find_int(&vars, "n", &x);
  if (!s->a.work_ms) return finish(ctx, s, id, x);
  uint8_t later[sizeof x + TR_JOB_ID_MAX + 1]; /* the work "takes" work_ms */
  memcpy(later, &x, sizeof x);
  memcpy(later + sizeof x, id, n + 1);
  uint64_t t;
  if (tr_timer_start(ctx, s->a.work_ms, 0, FINISH, later, sizeof x + n + 1, &t) < 0)
    return finish(ctx, s, id, x);
  return 0;
}

static const tr_behavior worker_b = {.name = "worker", .state_size = sizeof(worker_state),
                                     .init = worker_init, .receive = worker_receive};

int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: worker DATA_DIR LISTEN SEED TOPIC [NAME]\n");
    return 2;
  }
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, NULL); /* for sigwait; the runtime's threads inherit it */
  const char *seeds[1] = {argv[3]};
  tr_node_opts o = {.data_dir = argv[1], .listen = argv[2], .seeds = seeds, .nseeds = 1,
                    .name = argc > 5 ? argv[5] : "worker", .roles = TR_ROLE_WORKER};
  tr_node *node;
  char err[256];
  int rc = tr_node_start(&o, &node, err, sizeof err);
  if (rc < 0) {
    fprintf(stderr, "worker: %s\n", err);
    return 1;
  }
  tr_system *sys = tr_node_system(node);
  /* the queues live on engine nodes: this node only needs to know that */
  if ((rc = tr_jobs_register(sys, TR_ROLE_ENGINE)) < 0) {
    fprintf(stderr, "worker: %s\n", tr_strerror(rc));
    tr_node_stop(node);
    return 1;
  }
  /* TROUPE_WORKER_LOCK_MS / _RENEW_MS: shorter in tests (default 30 s / 10 s) */
  const char *lk = getenv("TROUPE_WORKER_LOCK_MS"), *rn = getenv("TROUPE_WORKER_RENEW_MS"),
             *wk = getenv("TROUPE_WORKER_WORK_MS");
  worker_arg a = {argv[4], o.name, lk ? (uint32_t)atoi(lk) : 30000,
                  rn ? (uint32_t)atoi(rn) : 10000, wk ? (uint32_t)atoi(wk) : 0};
  if ((rc = tr_system_spawn(sys, &worker_b, &a, NULL, NULL)) < 0) {
    fprintf(stderr, "worker: %s\n", tr_strerror(rc));
    tr_node_stop(node);
    return 1;
  }
  tr_log(TR_LOG_INFO, "worker", "%s: working on topic %s", o.name, argv[4]);
  int sig;
  sigwait(&sigs, &sig);
  tr_node_stop(node);
  return 0;
}
