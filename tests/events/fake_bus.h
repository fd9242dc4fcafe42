/* fake_bus.h - a stand-in for the "events/<topic>" actors (events.h) in
 * the notifier's tests and benchmark, while the real bus is built beside
 * it: events in memory, numbered 1, 2, ... per topic; TR_EV_PUBLISH and
 * _PUBLISH_MANY; TR_EV_SUBSCRIBE (from, then live, no gap and no
 * duplicate; the lease is counted, not enforced; the filter is not
 * applied: the notifier subscribes without one); TR_EV_UNSUBSCRIBE;
 * TR_EV_QUERY (after, max, more; no filter or time range). Test code
 * only, never the product. */
#ifndef TR_TEST_FAKE_BUS_H
#define TR_TEST_FAKE_BUS_H

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/events/events.h"

typedef struct fb_sub {
  tr_ref who;
} fb_sub;

typedef struct fb_state {
  char topic[TR_EV_TOPIC_MAX + 1];
  uint8_t **ev;      /* event i has id i + 1: a msgpack map */
  size_t *evlen;
  uint64_t n, cap;
  fb_sub subs[64];
  uint32_t nsubs;
} fb_state;

static _Atomic uint64_t fb_subscribes, fb_queries, fb_unsubscribes;
/* while > 0, a query is refused as the real bus refuses one over its
 * limit of reads at once (TR_EAGAIN), and this counts down */
static _Atomic int fb_busy_queries;

static int fb_init(tr_ctx *ctx, void *state, const void *arg) {
  (void)ctx;
  fb_state *s = state;
  const tr_virtual_id *id = arg;
  snprintf(s->topic, sizeof s->topic, "%s", id->key);
  return 0;
}

static void fb_terminate(tr_ctx *ctx, void *state, int reason) {
  (void)ctx, (void)reason;
  fb_state *s = state;
  for (uint64_t i = 0; i < s->n; i++) free(s->ev[i]);
  free(s->ev);
  free(s->evlen);
}

/* Stores one event (u at its map; moved past it); 0 or < 0. */
static int fb_store(fb_state *s, tr_unpack *u) {
  const uint8_t *start = u->p;
  uint32_t nk;
  if (tr_unpack_map(u, &nk) < 0) return TR_EPROTO;
  (void)start;
  /* the publisher's fields but id and topic, which are the bus's */
  tr_pack body = TR_PACK_INIT;
  uint32_t kept = 0;
  for (uint32_t i = 0; i < nk; i++) {
    const char *k;
    size_t kl;
    const void *raw;
    size_t rl;
    tr_unpack key = *u;
    if (tr_unpack_skip(u) < 0) return tr_pack_free(&body), TR_EPROTO;
    if (tr_unpack_str(&key, &k, &kl) < 0) return tr_pack_free(&body), TR_EPROTO;
    int skip = (kl == 2 && !memcmp(k, "id", 2)) || (kl == 5 && !memcmp(k, "topic", 5));
    tr_unpack val = *u;
    if (tr_unpack_skip(u) < 0 || tr_unpack_raw(&val, &raw, &rl) < 0)
      return tr_pack_free(&body), TR_EPROTO;
    if (skip) continue;
    tr_pack_strn(&body, k, kl);
    tr_pack_raw(&body, raw, rl);
    kept++;
  }
  if (s->n == s->cap) {
    uint64_t cap = s->cap ? s->cap * 2 : 1024;
    s->ev = realloc(s->ev, cap * sizeof *s->ev);
    s->evlen = realloc(s->evlen, cap * sizeof *s->evlen);
    s->cap = cap;
  }
  tr_pack pk = TR_PACK_INIT;
  tr_pack_map(&pk, kept + 2);
  tr_pack_str(&pk, "id"), tr_pack_uint(&pk, s->n + 1);
  tr_pack_str(&pk, "topic"), tr_pack_str(&pk, s->topic);
  tr_pack_raw(&pk, body.data, body.len);
  tr_pack_free(&body);
  size_t len;
  s->ev[s->n] = tr_pack_detach(&pk, &len);
  s->evlen[s->n++] = len;
  tr_pack_free(&pk);
  return 0;
}

/* Events (from, to] as one TR_EV_DELIVER to who. */
static void fb_push(tr_ctx *ctx, fb_state *s, tr_ref who, uint64_t from, uint64_t to) {
  while (from < to) {
    uint64_t end = to - from > 1000 ? from + 1000 : to;
    tr_pack pk = TR_PACK_INIT;
    tr_pack_map(&pk, 2);
    tr_pack_str(&pk, "topic"), tr_pack_str(&pk, s->topic);
    tr_pack_str(&pk, "events"), tr_pack_array(&pk, (uint32_t)(end - from));
    for (uint64_t i = from; i < end; i++) tr_pack_raw(&pk, s->ev[i], s->evlen[i]);
    tr_actor_send(ctx, who, TR_EV_DELIVER, pk.data, pk.len);
    tr_pack_free(&pk);
    from = end;
  }
}

static void fb_ok(tr_ctx *ctx, const tr_msg *msg, tr_pack *pk) {
  if (msg->flags & TR_MSG_F_ASK) tr_actor_reply(ctx, msg, TR_EV_REPLY, pk->data, pk->len);
  tr_pack_free(pk);
}

static int fb_receive(tr_ctx *ctx, void *state, const tr_msg *msg) {
  fb_state *s = state;
  tr_unpack m;
  tr_unpack_init(&m, msg->data, msg->len);
  tr_pack pk = TR_PACK_INIT;
  if (msg->type == TR_EV_PUBLISH || msg->type == TR_EV_PUBLISH_MANY) {
    uint64_t first = s->n;
    if (msg->type == TR_EV_PUBLISH) {
      fb_store(s, &m);
    } else {
      tr_unpack ev;
      uint32_t n;
      if (tr_unpack_find(&m, "events", &ev) == 0 && tr_unpack_array(&ev, &n) == 0)
        for (uint32_t i = 0; i < n; i++)
          if (fb_store(s, &ev) < 0) break;
    }
    for (uint32_t i = 0; i < s->nsubs; i++) fb_push(ctx, s, s->subs[i].who, first, s->n);
    tr_pack_map(&pk, 2);
    tr_pack_str(&pk, "ok"), tr_pack_bool(&pk, 1);
    tr_pack_str(&pk, "id"), tr_pack_uint(&pk, s->n);
    fb_ok(ctx, msg, &pk);
  } else if (msg->type == TR_EV_SUBSCRIBE) {
    atomic_fetch_add(&fb_subscribes, 1);
    uint64_t from = s->n;
    tr_unpack_find_uint(&m, "from", &from);
    if (from > s->n) from = s->n;
    uint32_t i = 0;
    while (i < s->nsubs && memcmp(&s->subs[i].who, &msg->sender, sizeof msg->sender)) i++;
    if (i == s->nsubs && s->nsubs < 64) s->subs[s->nsubs++].who = msg->sender;
    tr_pack_map(&pk, 2);
    tr_pack_str(&pk, "ok"), tr_pack_bool(&pk, 1);
    tr_pack_str(&pk, "last"), tr_pack_uint(&pk, s->n);
    fb_ok(ctx, msg, &pk);
    fb_push(ctx, s, msg->sender, from, s->n);
  } else if (msg->type == TR_EV_UNSUBSCRIBE) {
    atomic_fetch_add(&fb_unsubscribes, 1);
    for (uint32_t i = 0; i < s->nsubs; i++)
      if (!memcmp(&s->subs[i].who, &msg->sender, sizeof msg->sender))
        s->subs[i] = s->subs[--s->nsubs];
    tr_pack_map(&pk, 1);
    tr_pack_str(&pk, "ok"), tr_pack_bool(&pk, 1);
    fb_ok(ctx, msg, &pk);
  } else if (msg->type == TR_EV_QUERY && atomic_load(&fb_busy_queries) > 0) {
    atomic_fetch_sub(&fb_busy_queries, 1);
    tr_pack_error(&pk, TR_EAGAIN, "too many reads of this topic at once; try again");
    fb_ok(ctx, msg, &pk);
  } else if (msg->type == TR_EV_QUERY) {
    atomic_fetch_add(&fb_queries, 1);
    uint64_t after = 0, max = 1000;
    tr_unpack_find_uint(&m, "after", &after);
    tr_unpack_find_uint(&m, "max", &max);
    if (after > s->n) after = s->n;
    uint64_t end = s->n - after > max ? after + max : s->n;
    tr_pack_map(&pk, 3);
    tr_pack_str(&pk, "ok"), tr_pack_bool(&pk, 1);
    tr_pack_str(&pk, "events"), tr_pack_array(&pk, (uint32_t)(end - after));
    for (uint64_t i = after; i < end; i++) tr_pack_raw(&pk, s->ev[i], s->evlen[i]);
    tr_pack_str(&pk, "more"), tr_pack_bool(&pk, end < s->n);
    fb_ok(ctx, msg, &pk);
  }
  tr_pack_free(&pk);
  return 0;
}

static const tr_behavior fb_behavior = {.name = "fake-events", .state_size = sizeof(fb_state),
                                        .init = fb_init, .receive = fb_receive,
                                        .terminate = fb_terminate};

static inline int fake_bus_register(tr_system *sys) {
  tr_kind k = {.name = TR_EV_KIND, .behavior = &fb_behavior, .idle_ms = 3600000};
  return tr_kind_register(sys, &k);
}

#endif
