/* tamper - a tampering proxy between two nodes.
 *
 * Node A reaches node B through a proxy (A's seed is the proxy's address).
 * After the handshake the proxy flips one byte in one frame and sends
 * another frame twice. B must drop both (counted as an authentication
 * failure and a replay), and the link must survive: every ask from A to an
 * echo actor on B is answered (retried if its frame was the tampered one),
 * and the proxy sees one connection only (no reconnect).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cluster/cluster.h"
#include "troupe/troupe.h"

#define FAIL(...) (fprintf(stderr, "FAIL: " __VA_ARGS__), fputc('\n', stderr), exit(1))

static int pport, bport;
static volatile int accepts, tampered, replayed;

static int read_full(int fd, void *p, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = read(fd, (char *)p + got, n - got);
    if (r <= 0) return -1;
    got += (size_t)r;
  }
  return 0;
}
static int write_full(int fd, const void *p, size_t n) {
  size_t put = 0;
  while (put < n) {
    ssize_t r = write(fd, (const char *)p + put, n - put);
    if (r <= 0) return -1;
    put += (size_t)r;
  }
  return 0;
}

typedef struct { int from, to; } pair;

/* B -> A: bytes as they are */
static void *copy_back(void *arg) {
  pair *p = arg;
  char buf[65536];
  ssize_t r;
  while ((r = read(p->from, buf, sizeof buf)) > 0)
    if (write_full(p->to, buf, (size_t)r) < 0) break;
  free(p);
  return NULL;
}

/* A -> B, frame by frame: [u32 BE length][body] */
static void forward_frames(int a, int b) {
  static uint8_t body[1 << 24];
  for (int i = 0;; i++) {
    uint8_t len[4];
    if (read_full(a, len, 4) < 0) return;
    uint32_t n = (uint32_t)len[0] << 24 | (uint32_t)len[1] << 16 | (uint32_t)len[2] << 8 | len[3];
    if (n > sizeof body || read_full(a, body, n) < 0) return;
    /* frames 0 and 1 are handshake messages 1 and 3 */
    if (i == 6 && n > 20) {
      body[n - 20] ^= 0x40; /* a ciphertext byte */
      tampered = 1;
    }
    if (write_full(b, len, 4) < 0 || write_full(b, body, n) < 0) return;
    if (i == 9) { /* the same frame again */
      if (write_full(b, len, 4) < 0 || write_full(b, body, n) < 0) return;
      replayed = 1;
    }
  }
}

static int listen_on(int *port) {
  int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (bind(s, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(s, 8) < 0) FAIL("proxy listen");
  socklen_t l = sizeof sa;
  getsockname(s, (struct sockaddr *)&sa, &l);
  *port = ntohs(sa.sin_port);
  return s;
}

static void *proxy(void *arg) {
  int ls = *(int *)arg;
  for (;;) {
    int a = accept(ls, NULL, NULL);
    if (a < 0) return NULL;
    accepts++;
    int b = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(a, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(b, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)bport),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(b, (struct sockaddr *)&sa, sizeof sa) < 0) {
      close(a);
      continue;
    }
    pair *p = malloc(sizeof *p);
    p->from = b;
    p->to = a;
    pthread_t t;
    pthread_create(&t, NULL, copy_back, p);
    forward_frames(a, b);
    /* end the other direction and wait for it before closing: a descriptor
     * closed under its reader could be reused by the next accept */
    shutdown(a, SHUT_RDWR);
    shutdown(b, SHUT_RDWR);
    pthread_join(t, NULL);
    close(a);
    close(b);
  }
}

static int echo_receive(tr_ctx *ctx, void *st, const tr_msg *m) {
  (void)st;
  if (m->flags & TR_MSG_F_ASK) tr_actor_reply(ctx, m, m->type, m->data, m->len);
  return 0;
}
static const tr_behavior echo_b = {"echo", 0, NULL, echo_receive, NULL};

static void node(const char *root, const char *name, const char *listen, const char *seed,
                 const uint8_t *secret, tr_system **sys, tr_cluster **cl) {
  char dir[512], err[256];
  snprintf(dir, sizeof dir, "%s/%s", root, name);
  mkdir(dir, 0700);
  tr_identity id;
  if (tr_identity_load(dir, 1, &id, err, sizeof err) < 0) FAIL("%s", err);
  memcpy(id.secret, secret, 32); /* one cluster */
  tr_config cfg = {.threads = 1, .node_id = id.node_id};
  if (tr_system_new(&cfg, sys) < 0) FAIL("system");
  const char *seeds[1] = {seed};
  tr_cluster_opts o = {.listen = listen, .seeds = seed ? seeds : NULL, .nseeds = seed ? 1 : 0,
                       .name = name, .roles = 7};
  if (tr_cluster_start(*sys, &id, &o, cl) < 0) FAIL("cluster %s", name);
  tr_identity_clear(&id);
}

int main(void) {
  char root[] = "/tmp/troupe-tamper.XXXXXX";
  if (!mkdtemp(root)) FAIL("mkdtemp");
  uint8_t secret[32];
  for (int i = 0; i < 32; i++) secret[i] = (uint8_t)(i * 7 + 1);

  int ls = listen_on(&pport);
  int probe = listen_on(&bport); /* a free port for B */
  close(probe);
  char blisten[64], plisten[64];
  snprintf(blisten, sizeof blisten, "tcp://127.0.0.1:%d", bport);
  snprintf(plisten, sizeof plisten, "tcp://127.0.0.1:%d", pport);
  pthread_t pt;
  pthread_create(&pt, NULL, proxy, &ls);
  pthread_detach(pt);

  tr_system *sa, *sb;
  tr_cluster *ca, *cb;
  node(root, "b", blisten, NULL, secret, &sb, &cb);
  node(root, "a", "tcp://127.0.0.1:0", plisten, secret, &sa, &ca);
  tr_ref echo;
  if (tr_system_spawn(sb, &echo_b, NULL, NULL, &echo) < 0) FAIL("spawn");

  /* 40 answered asks, each retried until answered; the link carries them
   * and the heartbeats, among which the proxy tampers and replays */
  int answered = 0;
  for (int i = 0; i < 4000 && answered < 40; i++) {
    tr_msg *reply = NULL;
    uint8_t v = (uint8_t)answered;
    if (tr_system_ask(sa, echo, 7, &v, 1, 300, &reply) == 0) {
      if (reply->len != 1 || reply->data[0] != v) FAIL("wrong echo");
      tr_msg_free(reply);
      answered++;
      usleep(20000);
    } else {
      usleep(5000); /* not joined yet, or the ask's frame was dropped */
    }
  }
  if (answered < 40) FAIL("only %d asks answered", answered);
  if (!tampered || !replayed) FAIL("the proxy did not get to tamper (%d) and replay (%d)", tampered, replayed);
  tr_member_info sum;
  tr_cluster_link_totals(cb, &sum);
  printf("rejected_auth=%llu rejected_replay=%llu accepts=%d\n",
         (unsigned long long)sum.rejected_auth, (unsigned long long)sum.rejected_replay, accepts);
  if (sum.rejected_auth != 1) FAIL("rejected_auth %llu, want 1", (unsigned long long)sum.rejected_auth);
  if (sum.rejected_replay != 1) FAIL("rejected_replay %llu, want 1", (unsigned long long)sum.rejected_replay);
  if (accepts != 1) FAIL("%d connections through the proxy: the link did not survive", accepts);

  tr_cluster_leave(ca, 100);
  tr_cluster_leave(cb, 100);
  tr_system_shutdown(sa);
  tr_system_shutdown(sb);
  tr_system_wait(sa);
  tr_system_wait(sb);
  tr_cluster_free(ca);
  tr_cluster_free(cb);
  tr_system_free(sa);
  tr_system_free(sb);
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
  return system(cmd) == 0 ? 0 : 1;
}
