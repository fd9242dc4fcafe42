/* test_deliver.c - what a member may deliver to this node. Two nodes in one
 * process over ipc; node A sends envelopes straight onto its authenticated
 * link to B, bypassing the runtime: B drops (and counts) any that speak for
 * another node's actors, carry a runtime-internal type, or target a ref on
 * a third node, and delivers the honest ones, in order. */
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <sys/stat.h>

#include "harness.h"
#include "cluster/internal.h"

static _Atomic int64_t g_got, g_bad_sender;
static tr_ref g_a_ref;

static int sink_receive(tr_ctx *ctx, void *st, const tr_msg *m) {
  (void)ctx;
  (void)st;
  if (m->type == 7) {
    if (m->sender.node != g_a_ref.node) atomic_fetch_add(&g_bad_sender, 1);
    atomic_fetch_add(&g_got, 1);
  }
  return 0;
}

static const tr_behavior sink_b = {.name = "sink", .receive = sink_receive};

static int rm_cb(const char *p, const struct stat *sb, int f, struct FTW *ftw) {
  (void)sb, (void)f, (void)ftw;
  return remove(p);
}

static int copy_secret(const char *from_dir, const char *to_dir) {
  char a[700], b[700], buf[256];
  snprintf(a, sizeof a, "%s/cluster.secret", from_dir);
  snprintf(b, sizeof b, "%s/cluster.secret", to_dir);
  int in = open(a, O_RDONLY), out = open(b, O_WRONLY | O_CREAT | O_EXCL, 0600);
  ssize_t n = in >= 0 ? read(in, buf, sizeof buf) : -1;
  int ok = n > 0 && out >= 0 && write(out, buf, (size_t)n) == n;
  if (in >= 0) close(in);
  if (out >= 0) close(out);
  return ok ? 0 : -1;
}

typedef struct node {
  tr_system *sys;
  tr_cluster *cl;
  uint64_t id;
} node;

static void node_start(node *n, const char *dir, const char *listen, const char *seed) {
  tr_identity id;
  char err[256];
  assert_int_equal(tr_identity_load(dir, 1, &id, err, sizeof err), 0);
  n->id = id.node_id;
  tr_config cfg = {.threads = 2, .node_id = id.node_id};
  assert_int_equal(tr_system_new(&cfg, &n->sys), 0);
  const char *seeds[1] = {seed};
  tr_cluster_opts o = {.listen = listen, .seeds = seeds, .nseeds = 1, .name = "n"};
  assert_int_equal(tr_cluster_start(n->sys, &id, &o, &n->cl), 0);
  tr_identity_clear(&id);
}

static void node_stop(node *n) {
  tr_system_shutdown(n->sys);
  tr_system_wait(n->sys);
  tr_cluster_free(n->cl);
  tr_system_free(n->sys);
}

/* A's link to B, once up. */
static tr_link *link_to(tr_cluster *c, uint64_t peer) {
  uint64_t end = t_now_ms() + WAIT_MS;
  while (t_now_ms() < end) {
    pthread_mutex_lock(&c->mu);
    member *m = tr_mb_find(c, peer);
    tr_link *l = m && m->out && tr_link_is_up(m->out) ? m->out : NULL;
    pthread_mutex_unlock(&c->mu);
    if (l) return l;
    t_sleep_ms(10);
  }
  return NULL;
}

static void test_spoofed_envelopes_dropped(void **st) {
  (void)st;
  char root[] = "/tmp/trdelivXXXXXX", da[600], db[600], la[700], lb[700];
  assert_non_null(mkdtemp(root));
  snprintf(da, sizeof da, "%s/a", root);
  snprintf(db, sizeof db, "%s/b", root);
  snprintf(la, sizeof la, "ipc://%s/a.sock", root);
  snprintf(lb, sizeof lb, "ipc://%s/b.sock", root);
  tr_identity id;
  char err[256];
  assert_int_equal(tr_identity_init(da, &id, err, sizeof err), 0);
  tr_identity_clear(&id);
  assert_int_equal(mkdir(db, 0700), 0);
  assert_int_equal(copy_secret(da, db), 0);
  node a, b;
  node_start(&a, da, la, la);
  node_start(&b, db, lb, la);
  tr_ref sink;
  assert_int_equal(tr_system_spawn(b.sys, &sink_b, NULL, NULL, &sink), 0);
  if (!sink.node) sink.node = b.id;
  g_a_ref = (tr_ref){a.id, 5};
  tr_link *l = link_to(a.cl, b.id);
  assert_non_null(l);

  uint8_t p[4] = {0x93, 1, 2, 3};
  tr_envelope ok = {.type = 7, .sender = g_a_ref, .target = sink, .payload = p,
                    .payload_len = sizeof p};
  tr_envelope forged = ok, internal = ok, third = ok, named = ok;
  forged.sender.node = 0x1234;              /* speaks for another node */
  internal.type = TR_MSG_SYSTEM + 0x100;    /* the runtime's own (carries pointers) */
  third.target.node = 0x5678;               /* not for B */
  named.target_name = "nokind/x";           /* a virtual name B does not know */
  named.target_name_len = 8;
  uint64_t bad0 = __atomic_load_n(&b.cl->bad_envelopes, __ATOMIC_RELAXED);
  uint64_t dl0 = tr_system_dead_letter_count(b.sys);
  for (int i = 0; i < 10; i++) {
    assert_int_equal(tr_link_send(l, &forged), 0);
    assert_int_equal(tr_link_send(l, &internal), 0);
    assert_int_equal(tr_link_send(l, &third), 0);
    assert_int_equal(tr_link_send(l, &named), 0);
    assert_int_equal(tr_link_send(l, &ok), 0);
  }
  assert_int_equal(t_wait_ge(&g_got, 10), 10);
  uint64_t end = t_now_ms() + WAIT_MS;
  while (__atomic_load_n(&b.cl->bad_envelopes, __ATOMIC_RELAXED) < bad0 + 30 && t_now_ms() < end)
    t_sleep_ms(5);
  assert_int_equal(__atomic_load_n(&b.cl->bad_envelopes, __ATOMIC_RELAXED), bad0 + 30);
  assert_int_equal(atomic_load(&g_bad_sender), 0);
  /* the unknown virtual name is a dead letter on B, not a crash */
  while (tr_system_dead_letter_count(b.sys) < dl0 + 10 && t_now_ms() < end) t_sleep_ms(5);
  assert_true(tr_system_dead_letter_count(b.sys) >= dl0 + 10);
  assert_true(tr_link_is_up(l)); /* bad envelopes do not cost the link */
  node_stop(&b);
  node_stop(&a);
  nftw(root, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_spoofed_envelopes_dropped)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
