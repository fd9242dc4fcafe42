/* vnode - virtual actors and remote spawn across real processes.
 *
 *   vnode host  DIR LISTEN SEED NAME     a node with role worker; runs until SIGTERM
 *   vnode drive DIR LISTEN SEED A B C    the scenario, from a gateway node
 *   vnode id    DIR                      prints the node id (creates the identity)
 *
 * Every node registers the kind "ctr" (role worker: the driver, a gateway,
 * never hosts it) and the behaviour "probe", which the driver spawns on
 * each host to look inside it: activations there, its pid, its view, and
 * switches for draining and fault injection (tr_cluster_block).
 *
 * The driver checks, with the three hosts A B C (node ids in hex):
 *   1. 300 names, each answered by the node that owns it in the driver's
 *      view; every host gets some; activations summed over the hosts = 300
 *      (each name active on exactly one node).
 *   2. partition {driver,A,B} | {C}: C's names move to A and B, the others
 *      stay where they were (with their state); after healing, each name
 *      is active once again and C's activations, which the other side never
 *      saw, win: writes made to C's names during the partition are gone
 *      (the policy in docs/cluster.md).
 *   3. kill -9 C: its names come back on A and B.
 *   4. drain B: all of B's activations move to A.
 *   5. remote spawn: an unknown behaviour is refused; a dead node fails.
 * Waits have generous deadlines (liveness, not timing). Exit 0 = all held.
 */
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cluster/cluster.h"
#include "codec/mp.h"
#include "troupe/troupe.h"

#define NAMES 300
#define WAIT_MS 90000

enum { T_ADD = 1, T_GET, P_COUNT, P_VIEW, P_BLOCK, P_DRAIN };

static tr_system *g_sys;
static tr_cluster *g_cl;
static pthread_mutex_t g_blk_mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t g_blocked[8]; /* what P_BLOCK blocked here: SIGUSR1 lifts it */
static int g_nblocked;

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void nap(unsigned ms) { usleep(ms * 1000u); }

static size_t put_ints(uint8_t *b, size_t room, int n, const uint64_t *v) {
  size_t o = tr_mp_put_array(b, room, (uint32_t)n);
  for (int i = 0; i < n; i++) o += tr_mp_put_uint(b + o, room - o, v[i]);
  return o;
}

static int get_ints(const tr_msg *m, int n, uint64_t *v) {
  uint32_t cnt;
  size_t o = tr_mp_get_array(m->data, m->len, &cnt);
  if (!o || cnt != (uint32_t)n) return -1;
  for (int i = 0; i < n; i++) {
    int neg;
    size_t k = tr_mp_get_int(m->data + o, m->len - o, &v[i], &neg);
    if (!k) return -1;
    o += k;
  }
  return 0;
}

/* Members that may host role worker now, in this node's view (self too). */
static uint64_t hosting_view(void) {
  tr_member_info mi[16];
  size_t n = tr_cluster_members(g_cl, mi, 16), k = 0;
  for (size_t i = 0; i < n && i < 16; i++)
    if ((mi[i].state == TR_MEMBER_UP || mi[i].state == TR_MEMBER_SUSPECT) &&
        (mi[i].roles & TR_ROLE_WORKER) && !mi[i].draining)
      k++;
  return k;
}

/* ------------------------------------------------------------ behaviours */

typedef struct {
  uint64_t sum;
} ctr_state;

static int ctr_receive(tr_ctx *ctx, void *st, const tr_msg *m) {
  ctr_state *s = st;
  uint8_t buf[40];
  if (m->type == T_ADD) s->sum++;
  if (!(m->flags & TR_MSG_F_ASK)) return 0;
  uint64_t v[2] = {s->sum, tr_system_node_id(tr_actor_system(ctx))};
  return tr_actor_reply(ctx, m, T_GET, buf, put_ints(buf, sizeof buf, 2, v));
}

static const tr_behavior ctr_b = {.name = "ctr", .state_size = sizeof(ctr_state),
                                  .receive = ctr_receive};

static int probe_receive(tr_ctx *ctx, void *st, const tr_msg *m) {
  (void)st;
  uint8_t buf[64];
  uint64_t v[3] = {0, 0, 0}, a[2];
  switch (m->type) {
  case P_COUNT:
    v[0] = tr_virtual_count(g_sys);
    v[1] = (uint64_t)getpid();
    break;
  case P_VIEW:
    v[0] = hosting_view();
    break;
  case P_BLOCK:
    if (get_ints(m, 2, a) < 0) return TR_EPROTO;
    v[0] = (uint64_t)-tr_cluster_block(g_cl, a[0], (int)a[1]);
    pthread_mutex_lock(&g_blk_mu);
    if (a[1] && g_nblocked < 8) g_blocked[g_nblocked++] = a[0];
    pthread_mutex_unlock(&g_blk_mu);
    break;
  case P_DRAIN:
    if (get_ints(m, 1, a) < 0) return TR_EPROTO;
    tr_cluster_set_draining(g_cl, (int)a[0]);
    break;
  default:
    return 0;
  }
  if (!(m->flags & TR_MSG_F_ASK)) return 0;
  return tr_actor_reply(ctx, m, m->type, buf, put_ints(buf, sizeof buf, 3, v));
}

static const tr_behavior probe_b = {.name = "probe", .receive = probe_receive};

/* ------------------------------------------------------------ set-up */

static int start(const char *dir, const char *listen, const char *seed, const char *name,
                 uint32_t roles) {
  tr_identity id;
  char err[256];
  if (tr_identity_load(dir, 1, &id, err, sizeof err) < 0) {
    fprintf(stderr, "vnode: %s\n", err);
    return -1;
  }
  tr_config cfg = {.threads = 2, .node_id = id.node_id};
  if (tr_system_new(&cfg, &g_sys) < 0) return -1;
  if (tr_kind_register(g_sys, &(tr_kind){.name = "ctr", .behavior = &ctr_b,
                                         .roles = TR_ROLE_WORKER}) < 0 ||
      tr_behavior_register(g_sys, "probe", &probe_b) < 0)
    return -1;
  const char *seeds[1] = {seed};
  tr_cluster_opts o = {.listen = listen, .seeds = seeds, .nseeds = 1, .name = name,
                       .roles = roles};
  int rc = tr_cluster_start(g_sys, &id, &o, &g_cl);
  tr_identity_clear(&id);
  return rc;
}

static void stop(void) {
  tr_cluster_leave(g_cl, 1000);
  tr_system_shutdown(g_sys);
  tr_system_wait(g_sys);
  tr_cluster_free(g_cl);
  tr_system_free(g_sys);
}

static int host(int argc, char **argv) {
  if (argc != 6) return 2;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  if (start(argv[2], argv[3], argv[4], argv[5], TR_ROLE_WORKER) < 0) return 1;
  int sig;
  /* SIGUSR1 heals this node's side of a partition: once it blocks the
   * others, no message from them reaches its probe */
  while (sigwait(&set, &sig) == 0 && sig == SIGUSR1) {
    pthread_mutex_lock(&g_blk_mu);
    for (int i = 0; i < g_nblocked; i++) tr_cluster_block(g_cl, g_blocked[i], 0);
    g_nblocked = 0;
    pthread_mutex_unlock(&g_blk_mu);
  }
  stop();
  return 0;
}

/* ------------------------------------------------------------ the driver */

#define CHECK(cond, ...)                                       \
  do {                                                         \
    if (!(cond)) {                                             \
      fprintf(stderr, "vnode: FAILED %s: ", #cond);            \
      fprintf(stderr, __VA_ARGS__);                            \
      fprintf(stderr, "\n");                                   \
      exit(1);                                                 \
    }                                                          \
  } while (0)

static uint64_t hosts[3];
static tr_ref probes[3];

/* An ask that must be answered; retried while the views settle. */
static void ask(tr_ref to, const char *name, uint32_t type, const uint64_t *args, int nargs,
                uint64_t *out, int nout) {
  uint8_t buf[64];
  size_t len = nargs ? put_ints(buf, sizeof buf, nargs, args) : 0;
  uint64_t end = now_ms() + WAIT_MS;
  int rc;
  for (;;) {
    tr_msg *r = NULL;
    rc = name ? tr_system_virtual_ask(g_sys, name, type, buf, len, 5000, &r)
              : tr_system_ask(g_sys, to, type, buf, len, 5000, &r);
    if (rc == 0) {
      rc = get_ints(r, nout, out);
      tr_msg_free(r);
      if (rc == 0) return;
    }
    if (now_ms() > end) break;
    nap(100);
  }
  CHECK(0, "ask %s type %u: %s", name ? name : "probe", type, tr_strerror(rc));
}

static int host_index(uint64_t node) {
  for (int i = 0; i < 3; i++)
    if (hosts[i] == node) return i;
  return -1;
}

/* Waits until the driver and every live host see `want` hosting nodes. */
static void settle(uint64_t want, int live_mask) {
  uint64_t end = now_ms() + WAIT_MS;
  for (;;) {
    int ok = hosting_view() == want;
    for (int i = 0; i < 3 && ok; i++) {
      if (!(live_mask & (1 << i))) continue;
      uint64_t v[3];
      ask(probes[i], NULL, P_VIEW, NULL, 0, v, 3);
      if (v[0] != want) ok = 0;
    }
    if (ok) return;
    CHECK(now_ms() < end, "views did not settle on %" PRIu64 " hosts", want);
    nap(100);
  }
}

/* Asks every name; checks it is answered by its owner; fills sum/where. */
static void sweep(uint64_t *sum, int *where) {
  for (int i = 0; i < NAMES; i++) {
    char name[32];
    snprintf(name, sizeof name, "ctr/%d", i);
    uint64_t v[2], owner = 0;
    ask(TR_REF_NONE, name, T_GET, NULL, 0, v, 2);
    CHECK(tr_virtual_owner(g_sys, name, &owner) == 0, "%s has no owner", name);
    CHECK(v[1] == owner, "%s answered by %016" PRIx64 ", owner %016" PRIx64, name, v[1], owner);
    sum[i] = v[0];
    where[i] = host_index(v[1]);
    CHECK(where[i] >= 0, "%s answered by a node that is not a host", name);
  }
}

/* Activations per host, until they add up to `want` (passivation of what
 * moved away is asynchronous). */
static void activations(int live_mask, uint64_t want, uint64_t *count) {
  uint64_t end = now_ms() + WAIT_MS, total;
  do {
    total = 0;
    for (int i = 0; i < 3; i++) {
      count[i] = 0;
      if (!(live_mask & (1 << i))) continue;
      uint64_t v[3];
      ask(probes[i], NULL, P_COUNT, NULL, 0, v, 3);
      count[i] = v[0];
      total += v[0];
    }
    if (total == want) return;
    nap(100);
  } while (now_ms() < end);
  CHECK(0, "activations: %" PRIu64 " on the hosts, want %" PRIu64, total, want);
}

static void block(int i, uint64_t node, int on) {
  uint64_t a[2] = {node, (uint64_t)on}, v[3];
  ask(probes[i], NULL, P_BLOCK, a, 2, v, 3);
  CHECK(v[0] == 0, "block on host %d", i);
}

static int drive(int argc, char **argv) {
  if (argc != 8) return 2;
  if (start(argv[2], argv[3], argv[4], "driver", TR_ROLE_GATEWAY) < 0) return 1;
  for (int i = 0; i < 3; i++) hosts[i] = strtoull(argv[5 + i], NULL, 16);
  settle(3, 0);
  for (int i = 0; i < 3; i++) {
    int rc = tr_system_spawn_remote(g_sys, hosts[i], "probe", NULL, 0, 10000, &probes[i]);
    CHECK(rc == 0 && probes[i].node == hosts[i], "remote spawn on host %d: %s", i,
          tr_strerror(rc));
  }
  tr_ref r;
  CHECK(tr_system_spawn_remote(g_sys, hosts[0], "nope", NULL, 0, 10000, &r) == TR_ENOENT,
        "an unknown behaviour is refused");
  settle(3, 7);

  /* 1. placement: one activation per name, on its owner */
  uint64_t sum[NAMES], count[3];
  int where[NAMES], per[3] = {0, 0, 0};
  for (int k = 0; k < 3; k++)
    for (int i = 0; i < NAMES; i++) {
      char name[32];
      snprintf(name, sizeof name, "ctr/%d", i);
      CHECK(tr_system_virtual_send(g_sys, name, T_ADD, NULL, 0) == 0, "send %s", name);
    }
  sweep(sum, where);
  for (int i = 0; i < NAMES; i++) {
    CHECK(sum[i] == 3, "ctr/%d has %" PRIu64 ", want 3", i, sum[i]);
    per[where[i]]++;
  }
  CHECK(per[0] && per[1] && per[2], "spread %d/%d/%d", per[0], per[1], per[2]);
  activations(7, NAMES, count);
  for (int i = 0; i < 3; i++)
    CHECK(count[i] == (uint64_t)per[i], "host %d has %" PRIu64 " activations, answered %d", i,
          count[i], per[i]);
  fprintf(stderr, "vnode: placement ok (%d/%d/%d)\n", per[0], per[1], per[2]);

  /* 2. partition {driver, A, B} | {C} */
  uint64_t self = tr_system_node_id(g_sys);
  int was[NAMES];
  memcpy(was, where, sizeof was);
  uint64_t cinfo[3];
  ask(probes[2], NULL, P_COUNT, NULL, 0, cinfo, 3);
  block(2, hosts[0], 1), block(2, hosts[1], 1);
  { /* the last one cannot be answered: a plain send */
    uint64_t a[2] = {self, 1};
    uint8_t buf[32];
    CHECK(tr_system_send(g_sys, probes[2], P_BLOCK, buf, put_ints(buf, sizeof buf, 2, a)) == 0,
          "block the driver on C");
  }
  block(0, hosts[2], 1), block(1, hosts[2], 1);
  CHECK(tr_cluster_block(g_cl, hosts[2], 1) == 0, "block");
  settle(2, 3);
  for (int i = 0; i < NAMES; i++) { /* one more write, on this side */
    char name[32];
    snprintf(name, sizeof name, "ctr/%d", i);
    uint64_t v[2];
    ask(TR_REF_NONE, name, T_ADD, NULL, 0, v, 2);
  }
  sweep(sum, where);
  for (int i = 0; i < NAMES; i++) {
    CHECK(where[i] != 2, "ctr/%d still on C", i);
    if (was[i] != 2) /* only C's names moved; the rest kept their state */
      CHECK(where[i] == was[i] && sum[i] == 4, "ctr/%d moved or lost state", i);
    else
      CHECK(sum[i] == 1, "ctr/%d on this side has %" PRIu64 ", want 1", i, sum[i]);
  }
  fprintf(stderr, "vnode: partition ok\n");
  CHECK(kill((pid_t)cinfo[1], SIGUSR1) == 0, "heal C's side");
  block(0, hosts[2], 0), block(1, hosts[2], 0);
  CHECK(tr_cluster_block(g_cl, hosts[2], 0) == 0, "unblock");
  settle(3, 7);
  activations(7, NAMES, count); /* each name active once again */
  sweep(sum, where);
  for (int i = 0; i < NAMES; i++) {
    CHECK(where[i] == was[i], "ctr/%d not back on its owner", i);
    /* C kept its activations through the partition: they win */
    CHECK(sum[i] == (was[i] == 2 ? 3u : 4u), "ctr/%d has %" PRIu64 " after healing", i, sum[i]);
  }
  fprintf(stderr, "vnode: heal ok\n");

  /* 3. kill -9 C */
  uint64_t v[3];
  ask(probes[2], NULL, P_COUNT, NULL, 0, v, 3);
  CHECK(kill((pid_t)v[1], SIGKILL) == 0, "kill C");
  settle(2, 3);
  sweep(sum, where);
  for (int i = 0; i < NAMES; i++) CHECK(where[i] != 2, "ctr/%d answered by a dead node", i);
  activations(3, NAMES, count);
  CHECK(tr_system_spawn_remote(g_sys, hosts[2], "probe", NULL, 0, 2000, &r) < 0,
        "spawn on a dead node fails");
  fprintf(stderr, "vnode: kill ok\n");

  /* 4. drain B */
  uint64_t on = 1;
  ask(probes[1], NULL, P_DRAIN, &on, 1, v, 3);
  settle(1, 3);
  uint64_t end = now_ms() + WAIT_MS;
  do {
    ask(probes[1], NULL, P_COUNT, NULL, 0, v, 3);
    if (!v[0]) break;
    nap(100);
  } while (now_ms() < end);
  CHECK(v[0] == 0, "B still hosts %" PRIu64 " activations", v[0]);
  sweep(sum, where);
  for (int i = 0; i < NAMES; i++) CHECK(where[i] == 0, "ctr/%d not on A", i);
  activations(1, NAMES, count);
  fprintf(stderr, "vnode: drain ok\n");
  stop();
  fprintf(stderr, "vnode: ok\n");
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 3 && !strcmp(argv[1], "id")) {
    tr_identity id;
    char err[256];
    if (tr_identity_load(argv[2], 1, &id, err, sizeof err) < 0) {
      fprintf(stderr, "vnode: %s\n", err);
      return 1;
    }
    printf("%016" PRIx64 "\n", id.node_id);
    tr_identity_clear(&id);
    return 0;
  }
  if (argc > 1 && !strcmp(argv[1], "host")) return host(argc, argv);
  if (argc > 1 && !strcmp(argv[1], "drive")) return drive(argc, argv);
  fprintf(stderr, "usage: vnode host DIR LISTEN SEED NAME | drive DIR LISTEN SEED A B C\n");
  return 2;
}
