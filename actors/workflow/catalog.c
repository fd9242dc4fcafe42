/* catalog.c - the set of process keys ever deployed, "wfcat/keys" (repo.h).
 *
 * Definitions live one actor per key (wfdef/<key>), which answers fast for
 * one key but cannot say which keys exist; listing every definition (the
 * REST API's process-definition list, and every query that spans keys)
 * asks this one small actor first. Its journal is the keys in the order
 * they were first deployed; a key is never removed (versions are never
 * deleted either). An add is answered once it is durable, so a deployment
 * that returned is listed.
 */
#include <stdlib.h>
#include <string.h>

#include "actors/workflow/repo.h"

#define CAT_MAX_KEYS 100000

typedef struct pend {
  tr_ref who;
  uint64_t corr, seq;
} pend;

typedef struct cat {
  char **keys;
  uint32_t n, cap;
  pend *p;
  uint32_t np, capp;
  uint64_t acked;
} cat;

static int reply(tr_ctx *ctx, tr_ref who, uint64_t corr, tr_pack *pk) {
  tr_msg req = {.sender = who, .corr = corr, .flags = TR_MSG_F_ASK};
  return pk->err ? pk->err : tr_actor_reply(ctx, &req, TR_WF_DEF_REPLY, pk->data, pk->len);
}

static int reply_err(tr_ctx *ctx, const tr_msg *m, int code, const char *text) {
  uint8_t buf[256];
  tr_pack pk;
  tr_pack_init_fixed(&pk, buf, sizeof buf);
  tr_pack_error(&pk, code, text);
  return reply(ctx, m->sender, m->corr, &pk);
}

static int reply_ok(tr_ctx *ctx, tr_ref who, uint64_t corr) {
  uint8_t buf[16];
  tr_pack pk;
  tr_pack_init_fixed(&pk, buf, sizeof buf);
  tr_pack_map(&pk, 1);
  tr_pack_str(&pk, "ok");
  tr_pack_bool(&pk, 1);
  return reply(ctx, who, corr, &pk);
}

static int has(const cat *c, const char *k, size_t n) {
  for (uint32_t i = 0; i < c->n; i++)
    if (strlen(c->keys[i]) == n && !memcmp(c->keys[i], k, n)) return 1;
  return 0;
}

static int add(cat *c, const char *k, size_t n) {
  if (c->n == CAT_MAX_KEYS) return TR_EFULL;
  if (c->n == c->cap) {
    uint32_t cap = c->cap ? c->cap * 2 : 16;
    char **p = realloc(c->keys, cap * sizeof *p);
    if (!p) return TR_ENOMEM;
    c->keys = p;
    c->cap = cap;
  }
  char *s = malloc(n + 1);
  if (!s) return TR_ENOMEM;
  memcpy(s, k, n);
  s[n] = 0;
  c->keys[c->n++] = s;
  return 0;
}

static int cat_apply(tr_ctx *ctx, void *st, uint64_t seq, const void *ev, size_t len) {
  (void)ctx;
  cat *c = st;
  tr_unpack u;
  const char *k;
  size_t n;
  tr_unpack_init(&u, ev, len);
  if (tr_unpack_str(&u, &k, &n) < 0 || !n || n > 255) {
    tr_log(TR_LOG_WARN, "workflow", "wfcat: event %llu is not a key; skipped",
           (unsigned long long)seq);
    return 0;
  }
  return has(c, k, n) ? 0 : add(c, k, n);
}

static int on_add(tr_ctx *ctx, cat *c, const tr_msg *m) {
  tr_unpack u;
  const char *k;
  size_t n;
  tr_unpack_init(&u, m->data, m->len);
  if (tr_unpack_find_str(&u, "key", &k, &n) < 0 || !n || n > 255)
    return reply_err(ctx, m, TR_EINVAL, "key must be a string of 1..255 bytes");
  if (has(c, k, n)) return reply_ok(ctx, m->sender, m->corr);
  if (c->np == c->capp) {
    uint32_t cap = c->capp ? c->capp * 2 : 8;
    pend *p = realloc(c->p, cap * sizeof *p);
    if (!p) return TR_ENOMEM;
    c->p = p;
    c->capp = cap;
  }
  uint8_t buf[272];
  tr_pack ev;
  tr_pack_init_fixed(&ev, buf, sizeof buf);
  tr_pack_strn(&ev, k, n);
  uint64_t seq;
  int rc = add(c, k, n);
  if (rc == 0) rc = tr_persist_append(ctx, ev.data, ev.len, &seq);
  if (rc < 0) return rc == TR_EFULL ? reply_err(ctx, m, rc, "too many process keys") : rc;
  c->p[c->np++] = (pend){m->sender, m->corr, seq};
  return 0;
}

static int on_list(tr_ctx *ctx, cat *c, const tr_msg *m) {
  tr_pack pk = TR_PACK_INIT;
  tr_pack_map(&pk, 2);
  tr_pack_str(&pk, "ok");
  tr_pack_bool(&pk, 1);
  tr_pack_str(&pk, "keys");
  tr_pack_array(&pk, c->n);
  for (uint32_t i = 0; i < c->n; i++) tr_pack_str(&pk, c->keys[i]);
  int rc = reply(ctx, m->sender, m->corr, &pk);
  tr_pack_free(&pk);
  return rc;
}

static int cat_receive(tr_ctx *ctx, void *st, const tr_msg *m) {
  cat *c = st;
  if (m->type == TR_MSG_RECOVERED) {
    c->acked = m->corr;
  } else if (m->type == TR_MSG_PERSISTED) {
    if (m->flags & TR_MSG_F_FAILED) return TR_EIO;
    if (m->corr > c->acked) c->acked = m->corr;
    uint32_t k = 0;
    for (uint32_t i = 0; i < c->np; i++)
      if (c->p[i].seq <= c->acked) reply_ok(ctx, c->p[i].who, c->p[i].corr);
      else c->p[k++] = c->p[i];
    c->np = k;
  } else if (m->type == TR_WF_CAT_ADD && (m->flags & TR_MSG_F_ASK)) {
    return on_add(ctx, c, m);
  } else if (m->type == TR_WF_CAT_LIST && (m->flags & TR_MSG_F_ASK)) {
    return on_list(ctx, c, m);
  } else if (m->flags & TR_MSG_F_ASK) {
    return reply_err(ctx, m, TR_ENOTSUP, "not a catalog request");
  }
  return 0;
}

static void cat_terminate(tr_ctx *ctx, void *st, int reason) {
  (void)ctx;
  (void)reason;
  cat *c = st;
  for (uint32_t i = 0; i < c->n; i++) free(c->keys[i]);
  free(c->keys);
  free(c->p);
}

static const tr_persistent cat_b = {
    .base = {.name = "wfcat", .state_size = sizeof(cat), .receive = cat_receive,
             .terminate = cat_terminate},
    .apply = cat_apply};

int tr_wf_catalog_register(tr_system *sys, uint32_t roles) {
  return tr_kind_register(sys, &(tr_kind){.name = TR_WF_CAT_KIND, .persistent = &cat_b,
                                          .roles = roles});
}
