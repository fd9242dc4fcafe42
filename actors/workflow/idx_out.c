/* idx_out.c - what the index actors send, in durability order, and the
 * outbox of notes they keep until an instance acks them (idx.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actors/workflow/idx.h"

struct idx_after {
  idx_after *next;
  uint64_t seq;   /* send once this sequence number is durable */
  char *name;     /* a virtual actor, or NULL: a reply */
  tr_ref to;      /* a reply: the asker and its corr */
  uint64_t corr;
  uint32_t type;
  uint8_t *p;
  size_t len;
};

uint64_t idx_wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void after_free(idx_after *a) {
  free(a->name);
  free(a->p);
  free(a);
}

/* A lost send is the at-most-once of the runtime: notes are sent again,
 * and an asker times out. */
static void deliver(tr_ctx *ctx, const idx_after *a) {
  if (a->name) {
    tr_virtual_send(ctx, a->name, a->type, a->p, a->len);
  } else {
    tr_msg req = {.sender = a->to, .corr = a->corr, .flags = TR_MSG_F_ASK};
    tr_actor_reply(ctx, &req, a->type, a->p, a->len);
  }
}

static int queue(tr_ctx *ctx, idx_out *o, const char *name, tr_ref to, uint64_t corr,
                 uint32_t type, const void *p, size_t len) {
  idx_after a = {.name = (char *)name, .to = to, .corr = corr, .type = type,
                 .p = (uint8_t *)p, .len = len, .seq = tr_persist_seq(ctx)};
  if (a.seq <= o->acked && !o->head) { /* nothing pending: now, without a copy */
    deliver(ctx, &a);
    return 0;
  }
  idx_after *c = calloc(1, sizeof *c);
  if (!c || (len && !(c->p = malloc(len))) || (name && !(c->name = strdup(name)))) {
    if (c) after_free(c);
    return TR_ENOMEM;
  }
  if (len) memcpy(c->p, p, len);
  c->len = len, c->to = to, c->corr = corr, c->type = type, c->seq = a.seq;
  if (o->tail) o->tail->next = c;
  else o->head = c;
  o->tail = c;
  return 0;
}

int idx_send(tr_ctx *ctx, idx_out *o, const char *name, uint32_t type, const void *data,
             size_t len) {
  if (!name) return TR_EINVAL;
  return queue(ctx, o, name, TR_REF_NONE, 0, type, data, len);
}

int idx_reply(tr_ctx *ctx, idx_out *o, const tr_msg *req, const tr_pack *pk) {
  if (!(req->flags & TR_MSG_F_ASK)) return 0;
  if (pk->err) /* never half an answer: the error instead */
    return idx_reply_err(ctx, o, req, pk->err == TR_ENOMEM ? TR_ENOMEM : TR_ETOOBIG,
                         "the answer could not be built: %s", tr_strerror(pk->err));
  return queue(ctx, o, NULL, req->sender, req->corr, TR_WF_IDX_REPLY, pk->data, pk->len);
}

int idx_reply_ok(tr_ctx *ctx, idx_out *o, const tr_msg *req) {
  uint8_t buf[8];
  tr_pack pk;
  tr_pack_init_fixed(&pk, buf, sizeof buf);
  tr_pack_map(&pk, 1);
  tr_pack_str(&pk, "ok");
  tr_pack_bool(&pk, 1);
  return idx_reply(ctx, o, req, &pk);
}

int idx_reply_err(tr_ctx *ctx, idx_out *o, const tr_msg *req, int code, const char *fmt, ...) {
  if (!(req->flags & TR_MSG_F_ASK)) return 0;
  char text[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  uint8_t buf[640];
  tr_pack pk;
  tr_pack_init_fixed(&pk, buf, sizeof buf);
  tr_pack_error(&pk, code, text);
  return queue(ctx, o, NULL, req->sender, req->corr, TR_WF_IDX_REPLY, pk.data, pk.len);
}

void idx_out_durable(tr_ctx *ctx, idx_out *o, uint64_t seq) {
  if (seq > o->acked) o->acked = seq;
  while (o->head && o->head->seq <= o->acked) {
    idx_after *a = o->head;
    o->head = a->next;
    if (!o->head) o->tail = NULL;
    deliver(ctx, a);
    after_free(a);
  }
}

void idx_out_free(idx_out *o) {
  while (o->head) {
    idx_after *a = o->head;
    o->head = a->next;
    after_free(a);
  }
  o->tail = NULL;
}

/* ------------------------------------------------------------ notes */

static void note_free(idx_note *n) {
  free(n->id), free(n->to), free(n->p);
  free(n);
}

int idx_notes_add(idx_notes *ns, const char *id, const char *to, uint32_t type, const void *p,
                  size_t len) {
  size_t il = strlen(id);
  if (idx_map_get(&ns->by_id, id, il)) return TR_EEXIST;
  idx_note *n = calloc(1, sizeof *n);
  if (!n || !(n->id = strdup(id)) || !(n->to = strdup(to)) || (len && !(n->p = malloc(len)))) {
    if (n) note_free(n);
    return TR_ENOMEM;
  }
  if (len) memcpy(n->p, p, len);
  n->len = len;
  n->type = type;
  int rc = idx_map_put(&ns->by_id, id, il, n);
  if (rc < 0) {
    note_free(n);
    return rc;
  }
  n->prev = ns->tail;
  if (ns->tail) ns->tail->next = n;
  else ns->head = n;
  ns->tail = n;
  return 0;
}

int idx_notes_forget(idx_notes *ns, const char *id, size_t len) {
  idx_note *n = idx_map_del(&ns->by_id, id, len);
  if (!n) return 0;
  if (n->prev) n->prev->next = n->next;
  else ns->head = n->next;
  if (n->next) n->next->prev = n->prev;
  else ns->tail = n->prev;
  note_free(n);
  return 1;
}

int idx_notes_has(const idx_notes *ns, const char *id, size_t len) {
  return idx_map_get(&ns->by_id, id, len) != NULL;
}

int idx_notes_send_all(tr_ctx *ctx, idx_out *o, const idx_notes *ns) {
  for (idx_note *n = ns->head; n; n = n->next) {
    int rc = idx_send(ctx, o, n->to, n->type, n->p, n->len);
    if (rc < 0) return rc;
  }
  return 0;
}

void idx_notes_arm(tr_ctx *ctx, idx_notes *ns) {
  if (ns->head && !ns->timer) {
    /* a repeating tick; it also keeps the actor from being passivated
     * while instances owe it acks (idle time 60 s) */
    if (tr_timer_start(ctx, IDX_RESEND_MS, IDX_RESEND_MS, 0, NULL, 0, &ns->timer) < 0)
      ns->timer = 0;
  } else if (!ns->head && ns->timer) {
    tr_timer_cancel(ctx, ns->timer);
    ns->timer = 0;
  }
}

int idx_notes_on_timer(tr_ctx *ctx, idx_out *o, idx_notes *ns, const tr_msg *m) {
  if (!(m->flags & TR_MSG_F_TIMER) || !ns->timer || m->corr != ns->timer) return 0;
  idx_notes_send_all(ctx, o, ns);
  return 1;
}

int idx_notes_pack(const idx_notes *ns, tr_pack *pk) {
  uint32_t k = 0;
  for (idx_note *n = ns->head; n; n = n->next) k++;
  tr_pack_array(pk, k);
  for (idx_note *n = ns->head; n; n = n->next) {
    tr_pack_array(pk, 4);
    tr_pack_str(pk, n->id);
    tr_pack_str(pk, n->to);
    tr_pack_uint(pk, n->type);
    tr_pack_bin(pk, n->p, n->len);
  }
  return pk->err;
}

int idx_notes_load(idx_notes *ns, tr_unpack *u) {
  uint32_t k;
  if (tr_unpack_array(u, &k) < 0) return TR_ECORRUPT;
  for (uint32_t i = 0; i < k; i++) {
    uint32_t four;
    char id[IDX_STR_MAX + 1], to[TR_VIRTUAL_NAME_MAX + 1];
    uint64_t type;
    const void *p;
    size_t len;
    if (tr_unpack_array(u, &four) < 0 || four != 4 || tr_unpack_str_copy(u, id, sizeof id) < 0 ||
        tr_unpack_str_copy(u, to, sizeof to) < 0 || tr_unpack_uint(u, &type) < 0 ||
        type > UINT32_MAX || tr_unpack_bin(u, &p, &len) < 0)
      return TR_ECORRUPT;
    int rc = idx_notes_add(ns, id, to, (uint32_t)type, p, len);
    if (rc < 0) return rc == TR_EEXIST ? TR_ECORRUPT : rc;
  }
  return 0;
}

void idx_notes_free(idx_notes *ns) {
  for (idx_note *n = ns->head, *x; n; n = x) {
    x = n->next;
    note_free(n);
  }
  ns->head = ns->tail = NULL;
  idx_map_free(&ns->by_id);
}

int idx_request_map(const tr_msg *m, tr_unpack *req) {
  uint32_t n;
  tr_unpack_init(req, m->data, m->len);
  tr_unpack probe = *req;
  return tr_unpack_map(&probe, &n) < 0 ? TR_EPROTO : 0;
}

int idx_apply_result(const char *name, uint64_t seq, int rc) {
  if (rc != TR_ECORRUPT) return rc;
  tr_log(TR_LOG_WARN, "workflow", "%s: event %llu does not fit; skipped", name,
         (unsigned long long)seq);
  return 0;
}
