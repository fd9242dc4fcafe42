/* cart - a persistent actor: a shopping cart whose every change is an event
 * in its journal. Kill the process at any point and the next start replays
 * the cart from its snapshot and the events after it.
 *
 *   cart DATA_DIR add ITEM QTY | remove ITEM | show
 *
 * Each command starts the node, recovers the cart, applies the command,
 * waits until its event is durable, prints the cart and stops. */
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <troupe/troupe.h>

enum { MSG_ADD = 1, MSG_REMOVE, MSG_SHOW };

#define MAX_ITEMS 32

typedef struct {
  char name[32];
  int64_t qty;
} line;

typedef struct {
  line items[MAX_ITEMS];
  int n;
  tr_msg pending; /* the request waiting for its event to be durable */
} cart_state;

/* An event is the msgpack map {"item": str, "qty": int}; qty 0 removes.
 * *data is malloc'd; the caller frees it. */
static int event_encode(const char *item, int64_t qty, uint8_t **data, size_t *len) {
  tr_pack p = TR_PACK_INIT;
  tr_pack_map(&p, 2);
  tr_pack_kv_str(&p, "item", item);
  tr_pack_kv_int(&p, "qty", qty);
  if (p.err) {
    int rc = p.err;
    tr_pack_free(&p);
    return rc;
  }
  *data = tr_pack_detach(&p, len);
  return 0;
}

static int event_apply(cart_state *s, const void *ev, size_t len) {
  tr_unpack u;
  tr_unpack_init(&u, ev, len);
  const char *item;
  size_t ilen;
  int64_t qty;
  if (tr_unpack_find_str(&u, "item", &item, &ilen) < 0 || ilen == 0 || ilen >= 32 ||
      tr_unpack_find_int(&u, "qty", &qty) < 0)
    return TR_ECORRUPT;
  int i;
  for (i = 0; i < s->n; i++)
    if (strlen(s->items[i].name) == ilen && memcmp(s->items[i].name, item, ilen) == 0) break;
  if (qty == 0) { /* remove */
    if (i < s->n) s->items[i] = s->items[--s->n];
    return 0;
  }
  if (i == s->n) {
    if (s->n == MAX_ITEMS) return TR_EFULL;
    memcpy(s->items[i].name, item, ilen);
    s->items[i].name[ilen] = 0;
    s->n++;
  }
  s->items[i].qty = qty;
  return 0;
}

static int cart_apply(tr_ctx *ctx, void *st, uint64_t seq, const void *ev, size_t len) {
  return event_apply(st, ev, len);
}

/* A snapshot is the raw item table: simple, and the same binary reads it. */
static int cart_snapshot(tr_ctx *ctx, void *st, tr_buf *out) {
  cart_state *s = st;
  return tr_buf_append(out, s->items, sizeof(line) * (size_t)s->n);
}

static int cart_restore(tr_ctx *ctx, void *st, uint64_t seq, const void *d, size_t len) {
  cart_state *s = st;
  if (len % sizeof(line) || len / sizeof(line) > MAX_ITEMS) return TR_ECORRUPT;
  memcpy(s->items, d, len);
  s->n = (int)(len / sizeof(line));
  return 0;
}

static int reply_show(tr_ctx *ctx, cart_state *s, const tr_msg *req) {
  char text[2048];
  size_t off = 0;
  for (int i = 0; i < s->n; i++)
    off += (size_t)snprintf(text + off, sizeof text - off, "%s x%lld\n", s->items[i].name,
                            (long long)s->items[i].qty);
  return tr_actor_reply(ctx, req, MSG_SHOW, text, off);
}

static int cart_receive(tr_ctx *ctx, void *st, const tr_msg *m) {
  cart_state *s = st;
  switch (m->type) {
  case MSG_ADD:
  case MSG_REMOVE: {
    /* the request's payload is "item qty" in plain text, for the demo */
    char item[32] = {0};
    long long qty = 0;
    char buf[64] = {0};
    memcpy(buf, m->data, m->len < sizeof buf - 1 ? m->len : sizeof buf - 1);
    if (sscanf(buf, "%31s %lld", item, &qty) < 1) return tr_actor_reply(ctx, m, MSG_SHOW, "bad\n", 4);
    if (m->type == MSG_REMOVE) qty = 0;
    uint8_t *ev = NULL;
    size_t len = 0;
    int rc = event_encode(item, qty, &ev, &len);
    if (rc < 0) return rc;
    rc = event_apply(s, ev, len); /* live: apply, then make it durable */
    if (rc == 0) rc = tr_persist_append(ctx, ev, len, NULL);
    free(ev);
    if (rc < 0) return rc;
    s->pending = *m; /* answer when the event is durable */
    return 0;
  }
  case TR_MSG_PERSISTED:
    if (m->flags & TR_MSG_F_FAILED) return TR_EIO; /* restart and recover */
    return reply_show(ctx, s, &s->pending);
  case MSG_SHOW:
    return reply_show(ctx, s, m);
  }
  return 0;
}

static const tr_persistent cart = {
    .base = {.name = "cart", .state_size = sizeof(cart_state), .receive = cart_receive},
    .apply = cart_apply,
    .snapshot = cart_snapshot,
    .restore = cart_restore,
};

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: cart DATA_DIR add ITEM QTY | remove ITEM | show\n");
    return 2;
  }
  tr_config cfg = {.data_dir = argv[1]};
  tr_system *sys;
  if (tr_system_new(&cfg, &sys) < 0) return 1;
  tr_persist_opts o = {.id = "cart/demo", .snapshot_every = 5, .snapshot_keep = 2};
  tr_ref c;
  if (tr_system_persist_spawn(sys, &cart, NULL, &o, &c) < 0) return 1;
  uint32_t type = MSG_SHOW;
  char req[64] = "";
  if (strcmp(argv[2], "add") == 0 && argc == 5) {
    type = MSG_ADD;
    snprintf(req, sizeof req, "%s %s", argv[3], argv[4]);
  } else if (strcmp(argv[2], "remove") == 0 && argc == 4) {
    type = MSG_REMOVE;
    snprintf(req, sizeof req, "%s", argv[3]);
  } else if (strcmp(argv[2], "show") != 0) {
    fprintf(stderr, "cart: unknown command\n");
    tr_system_free(sys);
    return 2;
  }
  tr_msg *reply;
  int rc = tr_system_ask(sys, c, type, req, strlen(req), 10000, &reply);
  if (rc == 0) {
    fwrite(reply->data, 1, reply->len, stdout);
    tr_msg_free(reply);
  }
  tr_system_free(sys);
  return rc == 0 ? 0 : 1;
}
