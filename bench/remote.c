/* remote - the peers kit's benchmark 5 on troupe: two OS processes on
 * 127.0.0.1, each a node with its cluster layer; the server hosts one echo
 * actor that sends every message back to its sender.
 *
 *   bench_remote N M W PAYLOAD [DIR]
 *
 * The client (this process) creates two data dirs under DIR (default a
 * fresh /tmp dir) sharing one cluster secret, starts the server (itself,
 * re-executed with "serve"), joins it through the seed list, does 1,000
 * untimed round trips, then:
 *   remote_pingpong   N strict round trips (window 1)
 *   remote_pipelined  W messages in flight, one more per echo, until M were
 *                     sent; timing stops at the M-th echo
 * PAYLOAD (64 or 1024) is the message size: the integer plus padding.
 * TROUPE_BENCH_UNSEALED=1 (both processes inherit it) sends frames without
 * encryption, to measure what sealing costs; production links always seal.
 * Also prints how long the two-node cluster took to form (formed_ms).
 * TROUPE_SPIN_US sets the schedulers' spin before sleeping (tr_config.spin_us).
 */
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "cluster/cluster.h"
#include "cluster/link.h"

enum { MSG_NUM = 1, MSG_GO = 2, MSG_STOP = 3 };

static size_t payload_size = 64;
static volatile int g_disorder; /* set before the run's semaphore is posted */

/* an integer followed by padding, payload_size bytes in all */
static size_t put_num(uint8_t *buf, uint64_t v) {
  size_t n = bench_put_u64(buf, v);
  if (payload_size > n) {
    memset(buf + n, 0xAB, payload_size - n);
    n = payload_size;
  }
  return n;
}

/* ------------------------------------------------------------ server */

static sem_t server_stop;

static int echo_receive(tr_ctx *ctx, void *st, const tr_msg *m) {
  (void)st;
  if (m->type == MSG_STOP) {
    sem_post(&server_stop);
    return 0;
  }
  if (m->flags & TR_MSG_F_ASK) return tr_actor_reply(ctx, m, m->type, m->data, m->len);
  return tr_actor_send(ctx, m->sender, m->type, m->data, m->len);
}
static const tr_behavior echo_b = {"echo", 0, NULL, echo_receive, NULL};

static int start_node(const char *dir, const char *listen, const char *seed, tr_system **sys,
                      tr_cluster **cl) {
  const char *u = getenv("TROUPE_BENCH_UNSEALED");
  if (u && atoi(u)) tr_link_set_unsealed_for_bench(1);
  tr_identity id;
  char err[256];
  if (tr_identity_load(dir, 1, &id, err, sizeof err) < 0) {
    fprintf(stderr, "bench: %s\n", err);
    return -1;
  }
  const char *spin = getenv("TROUPE_SPIN_US");
  tr_config cfg = {.threads = bench_threads(), .node_id = id.node_id,
                   .spin_us = spin ? (uint32_t)atoi(spin) : 0};
  if (tr_system_new(&cfg, sys) < 0) return -1;
  const char *seeds[1] = {seed};
  tr_cluster_opts o = {.listen = listen, .seeds = seed ? seeds : NULL, .nseeds = seed ? 1 : 0,
                       .name = seed ? "client" : "server", .roles = 7};
  int rc = tr_cluster_start(*sys, &id, &o, cl);
  tr_identity_clear(&id);
  return rc;
}

static int serve(const char *dir, const char *listen) {
  tr_system *sys;
  tr_cluster *cl;
  sem_init(&server_stop, 0, 0);
  if (start_node(dir, listen, NULL, &sys, &cl) < 0) return 1;
  tr_ref echo;
  if (tr_system_spawn(sys, &echo_b, NULL, NULL, &echo) < 0) return 1;
  /* the client reads the echo's ref from this file */
  char path[1100], tmp[1100];
  snprintf(path, sizeof path, "%s/echo.ref", dir);
  snprintf(tmp, sizeof tmp, "%s/echo.ref.tmp", dir);
  FILE *f = fopen(tmp, "w");
  if (!f) return 1;
  fprintf(f, "%llu %llu\n", (unsigned long long)echo.node, (unsigned long long)echo.id);
  fclose(f);
  rename(tmp, path);
  while (sem_wait(&server_stop) < 0) {
  }
  tr_cluster_leave(cl, 200);
  tr_system_shutdown(sys);
  tr_system_wait(sys);
  tr_cluster_free(cl);
  tr_system_free(sys);
  return 0;
}

/* ------------------------------------------------------------ client */

typedef struct {
  tr_ref echo;
  uint64_t left;   /* strict: round trips to go; pipelined: messages to send */
  uint64_t echoes; /* pipelined: echoes to receive */
  uint64_t window;
  uint64_t expect; /* pipelined: the value the next echo must carry */
  int pipelined;
  int disorder;    /* an echo came back out of order */
  sem_t *done;
} run_arg;

static int run_init(tr_ctx *ctx, void *st, const void *arg) {
  (void)ctx;
  memcpy(st, arg, sizeof(run_arg));
  return 0;
}

static int run_receive(tr_ctx *ctx, void *st, const tr_msg *m) {
  run_arg *s = st;
  uint8_t buf[1100];
  if (m->type == MSG_GO) {
    if (!s->pipelined) return tr_actor_send(ctx, s->echo, MSG_NUM, buf, put_num(buf, s->left));
    for (uint64_t i = 0; i < s->window && s->left; i++, s->left--)
      tr_actor_send(ctx, s->echo, MSG_NUM, buf, put_num(buf, s->left));
    return 0;
  }
  if (!s->pipelined) {
    uint64_t k = bench_get_u64(m);
    if (k <= 1) {
      sem_post(s->done);
      return 0;
    }
    return tr_actor_send(ctx, s->echo, MSG_NUM, buf, put_num(buf, k - 1));
  }
  /* per-sender order: echoes come back in the order they were sent */
  if (bench_get_u64(m) != s->expect) s->disorder = 1;
  s->expect--;
  if (--s->echoes == 0) {
    if (s->disorder) {
      fprintf(stderr, "bench: echoes out of order\n");
      g_disorder = 1;
    }
    sem_post(s->done);
    return 0;
  }
  if (s->left) {
    uint64_t v = s->left--;
    return tr_actor_send(ctx, s->echo, MSG_NUM, buf, put_num(buf, v));
  }
  return 0;
}
static const tr_behavior run_b = {"run", sizeof(run_arg), run_init, run_receive, NULL};

static double timed_run(tr_system *sys, run_arg *a) {
  sem_t done;
  sem_init(&done, 0, 0);
  a->done = &done;
  tr_ref r;
  if (tr_system_spawn(sys, &run_b, a, NULL, &r) < 0) return -1;
  double t0 = bench_now();
  tr_system_send(sys, r, MSG_GO, NULL, 0);
  while (sem_wait(&done) < 0) {
  }
  double secs = bench_now() - t0;
  tr_system_stop(sys, r);
  return secs;
}

static int copy_file(const char *from, const char *to) {
  FILE *a = fopen(from, "rb");
  if (!a) return -1;
  int fd = open(to, O_WRONLY | O_CREAT | O_EXCL, 0600);
  FILE *b = fd >= 0 ? fdopen(fd, "wb") : NULL;
  if (!b) {
    fclose(a);
    return -1;
  }
  char buf[256];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, a)) > 0) fwrite(buf, 1, n, b);
  fclose(a);
  fclose(b);
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 4 && !strcmp(argv[1], "serve")) {
    payload_size = 0;
    return serve(argv[2], argv[3]);
  }
  uint64_t n = bench_arg(argc, argv, 1, 20000);
  uint64_t m = bench_arg(argc, argv, 2, 200000);
  uint64_t w = bench_arg(argc, argv, 3, 1000);
  payload_size = bench_arg(argc, argv, 4, 64);
  if (payload_size > 1024) payload_size = 1024;
  char root[512];
  if (argc > 5) snprintf(root, sizeof root, "%s", argv[5]);
  else {
    snprintf(root, sizeof root, "/tmp/troupe-remote.XXXXXX");
    if (!mkdtemp(root)) return 1;
  }
  char sdir[600], cdir[600], a[700], b[700];
  snprintf(sdir, sizeof sdir, "%s/server", root);
  snprintf(cdir, sizeof cdir, "%s/client", root);
  tr_identity id;
  char err[256];
  if (tr_identity_init(sdir, &id, err, sizeof err) < 0) {
    fprintf(stderr, "bench: %s\n", err);
    return 1;
  }
  tr_identity_clear(&id);
  mkdir(cdir, 0700);
  snprintf(a, sizeof a, "%s/cluster.secret", sdir);
  snprintf(b, sizeof b, "%s/cluster.secret", cdir);
  if (copy_file(a, b) < 0) return 1;

  /* ports from the pid: several runs may share the machine */
  int port = 20000 + (int)(getpid() % 20000);
  char slisten[64], clisten[64];
  snprintf(slisten, sizeof slisten, "tcp://127.0.0.1:%d", port);
  snprintf(clisten, sizeof clisten, "tcp://127.0.0.1:%d", port + 1);
  pid_t srv = fork();
  if (srv == 0) {
    execl("/proc/self/exe", argv[0], "serve", sdir, slisten, (char *)NULL);
    _exit(127);
  }
  char refpath[700];
  snprintf(refpath, sizeof refpath, "%s/echo.ref", sdir);
  tr_ref echo = {0, 0};
  for (int i = 0; i < 3000 && !echo.id; i++) {
    FILE *f = fopen(refpath, "r");
    unsigned long long x, y;
    if (f && fscanf(f, "%llu %llu", &x, &y) == 2) echo = (tr_ref){x, y};
    if (f) fclose(f);
    if (!echo.id) usleep(10000);
  }
  if (!echo.id) {
    fprintf(stderr, "bench: server did not start\n");
    kill(srv, SIGKILL);
    return 1;
  }
  tr_system *sys;
  tr_cluster *cl;
  double t_form = bench_now();
  if (start_node(cdir, clisten, slisten, &sys, &cl) < 0) return 1;
  /* warm-up: asks until both directions have links, then 1,000 more */
  uint8_t buf[1100];
  int ok = 0;
  double formed_ms = -1;
  for (int i = 0; i < 20000 && ok < 1000; i++) {
    tr_msg *reply = NULL;
    int rc = tr_system_ask(sys, echo, MSG_NUM, buf, put_num(buf, (uint64_t)i), 200, &reply);
    if (rc == 0) {
      if (!ok) formed_ms = (bench_now() - t_form) * 1e3;
      ok++;
      tr_msg_free(reply);
    } else if (!ok) {
      usleep(5000);
    }
  }
  if (ok < 1000) {
    fprintf(stderr, "bench: no echo from the server\n");
    kill(srv, SIGKILL);
    return 1;
  }
  const char *sealed = getenv("TROUPE_BENCH_UNSEALED") && atoi(getenv("TROUPE_BENCH_UNSEALED"))
                           ? "no" : "yes";
  run_arg ra = {.echo = echo, .left = n};
  double secs = timed_run(sys, &ra);
  printf("peer=troupe bench=remote_pingpong payload=%zu sealed=%s n=%llu secs=%.4f rt_per_s=%.1f "
         "msgs_per_s=%.1f formed_ms=%.1f\n",
         payload_size, sealed, (unsigned long long)n, secs, n / secs, 2 * n / secs, formed_ms);
  run_arg rp = {.echo = echo, .left = m, .echoes = m, .window = w, .pipelined = 1, .expect = m};
  secs = timed_run(sys, &rp);
  printf("peer=troupe bench=remote_pipelined payload=%zu sealed=%s m=%llu window=%llu secs=%.4f "
         "rt_per_s=%.1f msgs_per_s=%.1f\n",
         payload_size, sealed, (unsigned long long)m, (unsigned long long)w, secs, m / secs,
         2 * m / secs);
  fflush(stdout);
  tr_system_send(sys, echo, MSG_STOP, NULL, 0);
  int status = 0;
  waitpid(srv, &status, 0);
  /* the server left: a message to it is a dead letter the sender can see */
  uint64_t dl = tr_system_dead_letter_count(sys);
  for (int i = 0; i < 500 && tr_system_dead_letter_count(sys) == dl; i++) {
    tr_system_send(sys, echo, MSG_NUM, buf, put_num(buf, 1));
    usleep(10000);
  }
  int dead_ok = tr_system_dead_letter_count(sys) > dl;
  if (!dead_ok) fprintf(stderr, "bench: no dead letter for a node that left\n");
  tr_cluster_leave(cl, 200);
  tr_system_shutdown(sys);
  tr_system_wait(sys);
  tr_cluster_free(cl);
  tr_system_free(sys);
  if (argc <= 5) {
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (system(cmd) != 0) return 1;
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 && dead_ok && !g_disorder ? 0 : 1;
}
