/* wake.c - after a node starts, wake the instances that were running.
 *
 * An instance is a virtual actor: after a restart it comes back only when
 * something sends it a message. One waiting for a job, a task or a message
 * is sent one when that happens; one waiting for a timer would never be,
 * and its timer (durable in its journal) would never fire. So a node that
 * starts asks every process key's history index (the catalog names the
 * keys); a history index, when it recovers for the first time in this
 * process, sends every instance it knows as running a message that does
 * nothing but activate it; the instance recovers, arms its timers again
 * (at once if overdue) and stays active while a timer is pending.
 *
 * This costs one activation per running instance at start, and a running
 * instance that waits for something else passivates again when idle.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/workflow/engine.h"
#include "actors/workflow/index.h"
#include "actors/workflow/repo.h"

enum { RETRY_MS = 5000, MAX_TRIES = 60, ASK_MS = 30000, T_RETRY = 1 };

typedef struct waker {
  uint64_t corr;
  int tries;
} waker;

static int ask_keys(tr_ctx *ctx, waker *w) {
  uint8_t buf[8];
  tr_pack pk;
  tr_pack_init_fixed(&pk, buf, sizeof buf);
  tr_pack_map(&pk, 0);
  w->tries++;
  int rc = tr_virtual_ask(ctx, TR_WF_CAT_NAME, TR_WF_CAT_LIST, pk.data, pk.len, ASK_MS, &w->corr);
  uint64_t tid;
  if (rc < 0) return tr_timer_start(ctx, RETRY_MS, 0, T_RETRY, NULL, 0, &tid);
  return 0;
}

static int w_init(tr_ctx *ctx, void *st, const void *arg) {
  (void)arg;
  return ask_keys(ctx, st);
}

static int w_receive(tr_ctx *ctx, void *st, const tr_msg *m) {
  waker *w = st;
  if (m->flags & TR_MSG_F_TIMER) return w->tries < MAX_TRIES ? ask_keys(ctx, w) : TR_STOP;
  if (m->corr != w->corr) return 0;
  if (m->type == TR_MSG_TIMEOUT || tr_reply_status(m->data, m->len) < 0) {
    uint64_t tid; /* the catalog's node may still be coming up */
    if (w->tries >= MAX_TRIES) return TR_STOP;
    tr_timer_start(ctx, RETRY_MS, 0, T_RETRY, NULL, 0, &tid);
    return 0;
  }
  tr_unpack u, keys;
  uint32_t n;
  tr_unpack_init(&u, m->data, m->len);
  if (tr_unpack_find(&u, "keys", &keys) < 0 || tr_unpack_array(&keys, &n) < 0) return TR_STOP;
  uint8_t buf[16];
  tr_pack pk;
  tr_pack_init_fixed(&pk, buf, sizeof buf);
  tr_pack_map(&pk, 1);
  tr_pack_kv_int(&pk, "max", 0); /* a count: cheap, and it activates the index */
  for (uint32_t i = 0; i < n; i++) {
    const char *k;
    size_t kl;
    char key[256], name[TR_VIRTUAL_NAME_MAX + 1];
    if (tr_unpack_str(&keys, &k, &kl) < 0) break;
    if (kl >= sizeof key) continue;
    memcpy(key, k, kl);
    key[kl] = 0;
    if (tr_wf_index_name(TR_WF_HIST_KIND, key, name, sizeof name) < 0) continue;
    uint64_t corr;
    tr_virtual_ask(ctx, name, TR_WFH_LIST, pk.data, pk.len, ASK_MS, &corr); /* answer ignored */
  }
  return TR_STOP;
}

static const tr_behavior waker_b = {.name = "wf.waker", .state_size = sizeof(waker),
                                    .init = w_init, .receive = w_receive};

int tr_wf_wake_start(tr_system *sys) {
  tr_ref ref;
  return tr_system_spawn(sys, &waker_b, NULL, NULL, &ref);
}
