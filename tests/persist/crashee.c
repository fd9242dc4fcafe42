/* crashee - the persistent-actor crash test's subject and its verifier.
 *
 *   crashee run DIR N ACKLOG      N persistent actors append events without
 *                                 end; each acknowledged event is written as
 *                                 "actor seq" to ACKLOG after its ack. The
 *                                 test kills it with SIGKILL at random.
 *   crashee verify DIR N ACKLOG   recovers the N actors: every event must
 *                                 replay in order (seq 1, 2, ...; payload
 *                                 names its actor and seq), and every seq in
 *                                 ACKLOG must be among the recovered ones.
 *
 * Exit 0 when all is well; 1 with a message otherwise. */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codec/mp.h"
#include "troupe/troupe.h"

#define WINDOW 4 /* appends in flight per actor */

typedef struct {
  int idx;
  int verify;
  uint64_t expect; /* next seq apply must see */
  int bad;
} crash_state;

static int g_acklog = -1;
static _Atomic int g_recovered, g_bad;
static uint64_t *g_last; /* per actor: last seq recovered */

static size_t event(uint8_t *buf, int idx, uint64_t seq) {
  size_t off = tr_mp_put_array(buf, 32, 2);
  off += tr_mp_put_uint(buf + off, 32 - off, (uint64_t)idx);
  off += tr_mp_put_uint(buf + off, 32 - off, seq);
  return off;
}

static int crash_init(tr_ctx *ctx, void *st, const void *arg) {
  crash_state *s = st;
  memcpy(s, arg, sizeof *s);
  s->expect = 1;
  return 0;
}

static int crash_apply(tr_ctx *ctx, void *st, uint64_t seq, const void *ev, size_t len) {
  crash_state *s = st;
  uint8_t want[32];
  size_t n = event(want, s->idx, seq);
  if (seq != s->expect || len != n || memcmp(ev, want, n) != 0) {
    fprintf(stderr, "actor %d: replayed seq %llu, expected %llu (len %zu)\n", s->idx,
            (unsigned long long)seq, (unsigned long long)s->expect, len);
    atomic_fetch_add(&g_bad, 1);
    return TR_ECORRUPT;
  }
  s->expect = seq + 1;
  return 0;
}

static int append_next(tr_ctx *ctx, crash_state *s) {
  uint8_t buf[32];
  uint64_t seq = tr_persist_seq(ctx) + 1;
  uint64_t got;
  int rc = tr_persist_append(ctx, buf, event(buf, s->idx, seq), &got);
  if (rc == 0 && got != seq) return TR_ECORRUPT;
  return rc;
}

static int crash_receive(tr_ctx *ctx, void *st, const tr_msg *m) {
  crash_state *s = st;
  if (m->type == TR_MSG_RECOVERED) {
    g_last[s->idx] = m->corr;
    atomic_fetch_add(&g_recovered, 1);
    if (s->verify) return 0;
    for (int i = 0; i < WINDOW; i++) {
      int rc = append_next(ctx, s);
      if (rc < 0) return rc;
    }
    return 0;
  }
  if (m->type == TR_MSG_PERSISTED) {
    if (m->flags & TR_MSG_F_FAILED) return TR_EIO;
    char line[48];
    int n = snprintf(line, sizeof line, "%d %llu\n", s->idx, (unsigned long long)m->corr);
    if (write(g_acklog, line, (size_t)n) != n) return TR_EIO;
    return append_next(ctx, s);
  }
  return 0;
}

static const tr_persistent crash_b = {
    .base = {.name = "crashee", .state_size = sizeof(crash_state), .init = crash_init,
             .receive = crash_receive},
    .apply = crash_apply,
};

int main(int argc, char **argv) {
  if (argc != 5 || (strcmp(argv[1], "run") && strcmp(argv[1], "verify"))) {
    fprintf(stderr, "usage: crashee run|verify DIR N ACKLOG\n");
    return 2;
  }
  int verify = strcmp(argv[1], "verify") == 0;
  int n = atoi(argv[3]);
  if (n < 1 || n > 100000) return 2;
  g_last = calloc((size_t)n, sizeof *g_last);
  g_acklog = open(argv[4], O_WRONLY | O_APPEND | O_CREAT, 0600);
  if (g_acklog < 0 || !g_last) return 1;
  tr_config cfg = {.threads = 2, .data_dir = argv[2]};
  tr_system *sys;
  int rc = tr_system_new(&cfg, &sys);
  if (rc < 0) {
    fprintf(stderr, "crashee: cannot open %s: %s\n", argv[2], tr_strerror(rc));
    return 1;
  }
  for (int i = 0; i < n; i++) {
    char id[32];
    snprintf(id, sizeof id, "crash/%d", i);
    crash_state arg = {.idx = i, .verify = verify};
    tr_persist_opts o = {.id = id};
    if ((rc = tr_system_persist_spawn(sys, &crash_b, &arg, &o, NULL)) < 0) {
      fprintf(stderr, "crashee: spawn %s: %s\n", id, tr_strerror(rc));
      return 1;
    }
  }
  if (!verify) {
    for (;;) pause(); /* until SIGKILL */
  }
  while (atomic_load(&g_recovered) < n && !atomic_load(&g_bad)) usleep(1000);
  int bad = atomic_load(&g_bad);
  /* every acknowledged event must have been recovered */
  FILE *f = fopen(argv[4], "r");
  int idx;
  unsigned long long seq;
  long acks = 0;
  uint64_t *max_ack = calloc((size_t)n, sizeof *max_ack);
  while (f && max_ack && fscanf(f, "%d %llu", &idx, &seq) == 2) {
    acks++;
    if (idx < 0 || idx >= n) {
      bad++;
      continue;
    }
    if (seq <= max_ack[idx]) {
      fprintf(stderr, "actor %d: ack %llu after %llu (ack order)\n", idx, seq,
              (unsigned long long)max_ack[idx]);
      bad++;
    }
    max_ack[idx] = seq;
    if (seq > g_last[idx]) {
      fprintf(stderr, "actor %d: acknowledged seq %llu lost (recovered up to %llu)\n", idx, seq,
              (unsigned long long)g_last[idx]);
      bad++;
    }
  }
  if (f) fclose(f);
  uint64_t total = 0;
  for (int i = 0; i < n; i++) total += g_last[i];
  printf("crashee verify: %d actors, %llu events recovered, %ld acks checked, %d problems\n", n,
         (unsigned long long)total, acks, bad);
  free(max_ack);
  tr_system_free(sys);
  free(g_last);
  return bad ? 1 : 0;
}
