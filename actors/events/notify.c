/* notify.c - the notifier actor (notify.h): clients, topics, the bus.
 *
 * A client is a WebSocket or an SSE stream, found by its connection key.
 * Its states: IDLE (a WebSocket before its subscribe message), WAIT (its
 * topic's bus subscription is not confirmed yet), REPLAY (catching up from
 * the history, one page in flight) and LIVE (fed from each delivery).
 * cursor is the last id a client has been given or has passed over: it only
 * grows, and nothing at or below it is sent again.
 *
 * A client that catches up (history or ring) gets at most o.pace bytes at
 * a time, the next part once the HTTP server says the last one is written
 * (TR_HTTP_EV_WRITTEN): a backlog of any size then goes at the client's
 * pace and is never mistaken for a slow consumer. Live events are not
 * paced: a live client that cannot keep up with them is slow.
 *
 * Everything to one connection is sent from this actor in order (the HTTP
 * server keeps the order of what one thread hands it), so an ack, the
 * replayed history and the live events arrive as sent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/events/notify.h"
#include "actors/events/notify_internal.h"

enum { MSG_WS = 0x4e4f5401, MSG_SSE, MSG_PING, MSG_RENEW, MSG_REQUERY };
enum { REQUERY_MS = 20 }; /* a history page refused as busy is asked again after this */
enum { C_FREE = 0, C_IDLE, C_WAIT, C_REPLAY, C_LIVE };
enum { T_NONE = 0, T_SUBSCRIBING, T_LIVE };

typedef struct client {
  tr_http_rid rid;
  uint8_t state, ws;
  uint8_t pacing; /* REPLAY: a part is out, the rest once it is written */
  uint64_t pace_token; /* ... and the token its TR_HTTP_EV_WRITTEN carries */
  uint32_t topic;
  nfilter f;
  uint64_t cursor, qcorr;
} client;

typedef struct topic {
  char name[TR_EV_TOPIC_MAX + 1];
  char vname[TR_EV_TOPIC_MAX + 8];
  int state;
  uint64_t last;              /* the newest id the notifier has */
  uint64_t sub_corr, renew_corr, gap_at;
  nev **ring;                 /* the last rcap events, oldest at rstart */
  uint32_t rcap, rstart, rcount;
  uint32_t nclients;
} topic;

typedef struct nstate {
  tr_http_server *srv;
  tr_events_notify_opts o;
  char default_topic[TR_EV_TOPIC_MAX + 1];
  client *cl;
  uint32_t ncl, clcap, live_clients;
  uint64_t pace_seq; /* the last pace token given out */
  topic *tp;
  uint32_t ntp;
  /* one batch being built (reused) */
  char *buf;
  size_t blen, bcap;
  uint32_t *lens;
  size_t nlens, lcap;
  /* a multicast being built (reused): its targets and their selections */
  tr_http_rid *mrids;
  uint32_t *moff, *msel;
  size_t mcap, moffcap, mselcap;
} nstate;

typedef struct start_arg {
  tr_http_server *srv;
  tr_events_notify_opts o;
} start_arg;

/* ------------------------------------------------------------ batches */

static void b_reset(nstate *s) { s->blen = s->nlens = 0; }

static int b_add(nstate *s, const char *p, size_t n) {
  if (s->bcap - s->blen < n) {
    size_t cap = (s->blen + n) * 2 + 4096;
    char *b = realloc(s->buf, cap);
    if (!b) return TR_ENOMEM;
    s->buf = b, s->bcap = cap;
  }
  if (s->nlens == s->lcap) {
    size_t cap = s->lcap * 2 + 64;
    uint32_t *l = realloc(s->lens, cap * sizeof *l);
    if (!l) return TR_ENOMEM;
    s->lens = l, s->lcap = cap;
  }
  memcpy(s->buf + s->blen, p, n);
  s->blen += n;
  s->lens[s->nlens++] = (uint32_t)n;
  return 0;
}

static void b_send(nstate *s, client *c) {
  if (!s->nlens) return;
  if (c->ws)
    tr_http_ws_send_batch(s->srv, c->rid, s->buf, s->lens, s->nlens);
  else
    tr_http_respond_chunk(s->srv, c->rid, s->buf, s->blen, 0);
  b_reset(s);
}

/* Events e[0..n) to c: those after its cursor that its filter takes. */
static void feed(nstate *s, client *c, nev *const *e, size_t n) {
  b_reset(s);
  for (size_t i = 0; i < n; i++) {
    if (e[i]->id <= c->cursor) continue;
    c->cursor = e[i]->id;
    if (!nfilter_match(&c->f, e[i])) continue;
    if (c->ws) b_add(s, e[i]->json, e[i]->json_len);
    else b_add(s, e[i]->sse, e[i]->sse_len);
  }
  b_send(s, c);
}

/* One control message ({"ack":...} or {"error":...}) to a WebSocket. */
static void say(nstate *s, client *c, const char *json) {
  if (!c->ws) return;
  uint32_t len = (uint32_t)strlen(json);
  tr_http_ws_send_batch(s->srv, c->rid, json, &len, 1);
}

static void json_escape(const char *in, char *out, size_t cap) {
  size_t k = 0;
  for (; *in && k + 7 < cap; in++) {
    unsigned char ch = (unsigned char)*in;
    if (ch == '"' || ch == '\\') out[k++] = '\\', out[k++] = (char)ch;
    else if (ch < 0x20) k += (size_t)snprintf(out + k, cap - k, "\\u%04x", ch);
    else out[k++] = (char)ch;
  }
  out[k] = 0;
}

/* ------------------------------------------------------------ clients */

static client *client_find(nstate *s, uint64_t conn) {
  for (uint32_t i = 0; i < s->ncl; i++)
    if (s->cl[i].state != C_FREE && s->cl[i].rid.conn == conn) return &s->cl[i];
  return NULL;
}

static client *client_new(nstate *s, tr_http_rid rid, int ws) {
  uint32_t i = 0;
  while (i < s->ncl && s->cl[i].state != C_FREE) i++;
  if (i == s->ncl) {
    if (s->ncl == s->clcap) {
      uint32_t cap = s->clcap ? s->clcap * 2 : 64;
      client *n = realloc(s->cl, cap * sizeof *n);
      if (!n) return NULL;
      s->cl = n, s->clcap = cap;
    }
    s->ncl++;
  }
  client *c = &s->cl[i];
  memset(c, 0, sizeof *c);
  c->rid = rid;
  c->ws = (uint8_t)ws;
  c->state = C_IDLE;
  s->live_clients++;
  return c;
}

static void detach(nstate *s, client *c) {
  if (c->state != C_IDLE && c->state != C_FREE) s->tp[c->topic].nclients--;
  nfilter_free(&c->f);
  c->qcorr = 0;
  c->pacing = 0;
  c->state = C_IDLE;
}

static void client_free(nstate *s, client *c) {
  detach(s, c);
  c->state = C_FREE;
  s->live_clients--;
}

/* Ends a client with a reason it can read: a WebSocket gets an error
 * message and a close, an SSE stream an error event and its end. */
static void client_fail(nstate *s, client *c, int ws_code, const char *why) {
  char esc[512], msg[600];
  json_escape(why, esc, sizeof esc);
  if (c->ws) {
    snprintf(msg, sizeof msg, "{\"error\":\"%s\"}", esc);
    say(s, c, msg);
    tr_http_ws_close(s->srv, c->rid, ws_code, why);
  } else {
    int n = snprintf(msg, sizeof msg, "event: error\ndata: {\"error\":\"%s\"}\n\n", esc);
    tr_http_respond_chunk(s->srv, c->rid, msg, (size_t)n, 1);
  }
  client_free(s, c);
}

/* ------------------------------------------------------------ the bus */

static topic *topic_get(nstate *s, const char *name, uint32_t *idx) {
  uint32_t free_i = UINT32_MAX;
  for (uint32_t i = 0; i < s->ntp; i++) {
    if (s->tp[i].state != T_NONE && !strcmp(s->tp[i].name, name)) return *idx = i, &s->tp[i];
    if (s->tp[i].state == T_NONE && !s->tp[i].nclients && free_i == UINT32_MAX) free_i = i;
  }
  if (free_i == UINT32_MAX) {
    topic *n = realloc(s->tp, (s->ntp + 1) * sizeof *n);
    if (!n) return NULL;
    s->tp = n;
    free_i = s->ntp++;
  }
  topic *t = &s->tp[free_i];
  memset(t, 0, sizeof *t);
  t->ring = calloc(s->o.ring, sizeof *t->ring);
  if (!t->ring) return NULL;
  t->rcap = s->o.ring;
  snprintf(t->name, sizeof t->name, "%s", name);
  snprintf(t->vname, sizeof t->vname, TR_EV_KIND "/%s", name);
  *idx = free_i;
  return t;
}

static void topic_drop(topic *t) {
  for (uint32_t i = 0; i < t->rcount; i++) free(t->ring[(t->rstart + i) % t->rcap]);
  free(t->ring);
  t->ring = NULL;
  t->rcount = t->rstart = 0;
  t->state = T_NONE;
}

static nev *ring_at(const nstate *s, const topic *t, uint32_t i) {
  return t->ring[(t->rstart + i) % s->o.ring];
}

static void ring_push(nstate *s, topic *t, nev *e) {
  if (t->rcount == s->o.ring) {
    free(t->ring[t->rstart]);
    t->ring[t->rstart] = e;
    t->rstart = (t->rstart + 1) % s->o.ring;
  } else {
    t->ring[(t->rstart + t->rcount++) % s->o.ring] = e;
  }
}

static int bus_subscribe(tr_ctx *ctx, nstate *s, topic *t, int renew) {
  tr_pack pk = TR_PACK_INIT;
  tr_pack_map(&pk, renew || t->last ? 2 : 1);
  tr_pack_str(&pk, "lease_ms"), tr_pack_uint(&pk, s->o.lease_ms);
  if (renew || t->last) tr_pack_str(&pk, "from"), tr_pack_uint(&pk, t->last);
  int rc = pk.err;
  if (!rc)
    rc = tr_virtual_ask(ctx, t->vname, TR_EV_SUBSCRIBE, pk.data, pk.len, s->o.query_timeout_ms,
                        renew ? &t->renew_corr : &t->sub_corr);
  tr_pack_free(&pk);
  return rc;
}

static int query(tr_ctx *ctx, nstate *s, client *c) {
  tr_pack pk = TR_PACK_INIT;
  tr_pack_map(&pk, 2);
  tr_pack_str(&pk, "after"), tr_pack_uint(&pk, c->cursor);
  tr_pack_str(&pk, "max"), tr_pack_uint(&pk, 1000);
  int rc = pk.err;
  if (!rc)
    rc = tr_virtual_ask(ctx, s->tp[c->topic].vname, TR_EV_QUERY, pk.data, pk.len,
                        s->o.query_timeout_ms, &c->qcorr);
  tr_pack_free(&pk);
  return rc;
}

/* A part of a backlog is out: the rest once it is written. */
static void pace_wait(nstate *s, client *c) {
  c->state = C_REPLAY;
  c->pacing = 1;
  c->pace_token = ++s->pace_seq; /* an event for an earlier part is not this one's */
  if (tr_http_notify_written(s->srv, c->rid, c->pace_token) < 0)
    client_fail(s, c, 1011, "out of memory");
}

/* Adds e for c if its filter takes it, and moves c's cursor past it; the
 * bytes added. */
static size_t give(nstate *s, client *c, const nev *e) {
  c->cursor = e->id;
  if (!nfilter_match(&c->f, e)) return 0;
  size_t n = c->ws ? e->json_len : e->sse_len;
  b_add(s, c->ws ? e->json : e->sse, n);
  return n;
}

/* From the history or the ring to live, whichever reaches. */
static void catch_up(tr_ctx *ctx, nstate *s, client *c) {
  topic *t = &s->tp[c->topic];
  if (c->cursor >= t->last) {
    c->state = C_LIVE;
    return;
  }
  if (t->rcount && ring_at(s, t, 0)->id <= c->cursor + 1) {
    size_t bytes = 0;
    b_reset(s);
    for (uint32_t i = 0; i < t->rcount && bytes < s->o.pace; i++) {
      nev *e = ring_at(s, t, i);
      if (e->id <= c->cursor) continue;
      bytes += give(s, c, e);
      if (s->nlens >= 256) b_send(s, c); /* pieces of a bounded size */
    }
    b_send(s, c);
    if (c->cursor < t->last) pace_wait(s, c);
    else c->state = C_LIVE;
    return;
  }
  c->state = C_REPLAY;
  if (query(ctx, s, c) < 0) client_fail(s, c, 1011, "the event history is out of reach");
}

/* The topic's subscription is in place: where the client starts. */
static void begin(tr_ctx *ctx, nstate *s, client *c) {
  topic *t = &s->tp[c->topic];
  c->cursor = c->f.has_from ? c->f.from : t->last;
  char msg[TR_EV_TOPIC_MAX * 2 + 96];
  snprintf(msg, sizeof msg, "{\"ack\":\"subscribe\",\"topic\":\"%s\",\"from\":\"%s:%llu\"}",
           t->name, t->name, (unsigned long long)c->cursor);
  say(s, c, msg);
  catch_up(ctx, s, c);
}

static void start(tr_ctx *ctx, nstate *s, client *c) {
  uint32_t idx;
  topic *t = topic_get(s, c->f.topic, &idx);
  if (!t) {
    client_fail(s, c, 1011, "out of memory");
    return;
  }
  c->topic = idx;
  c->state = C_WAIT;
  t->nclients++;
  if (t->state == T_NONE) {
    t->state = T_SUBSCRIBING;
    if (bus_subscribe(ctx, s, t, 0) < 0) {
      client_fail(s, c, 1011, "the event bus is out of reach");
      topic_drop(t);
      return;
    }
  }
  if (t->state == T_LIVE) begin(ctx, s, c);
}

static void topic_fail(nstate *s, uint32_t idx, const char *why) {
  for (uint32_t i = 0; i < s->ncl; i++)
    if (s->cl[i].state != C_FREE && s->cl[i].state != C_IDLE && s->cl[i].topic == idx)
      client_fail(s, &s->cl[i], 1011, why);
  topic_drop(&s->tp[idx]);
}

static int grow(void **p, size_t *cap, size_t need, size_t size) {
  if (*cap >= need) return 0;
  size_t c = need * 2 + 64;
  void *n = realloc(*p, c * size);
  if (!n) return TR_ENOMEM;
  *p = n, *cap = c;
  return 0;
}

/* New events e[0..n) to the topic's live clients: the WebSockets in one
 * multicast (each loop woken once, the JSON copied once), SSE streams one
 * by one. */
static void multicast(nstate *s, uint32_t idx, nev *const *e, size_t n) {
  size_t nt = 0, ns = 0;
  b_reset(s);
  for (size_t i = 0; i < n; i++) b_add(s, e[i]->json, e[i]->json_len);
  size_t nmsgs = s->nlens;
  for (uint32_t i = 0; i < s->ncl; i++) {
    client *c = &s->cl[i];
    if (c->state != C_LIVE || c->topic != idx) continue;
    if (!c->ws) continue;
    if (grow((void **)&s->mrids, &s->mcap, nt + 1, sizeof *s->mrids) < 0 ||
        grow((void **)&s->moff, &s->moffcap, nt + 2, sizeof *s->moff) < 0 ||
        grow((void **)&s->msel, &s->mselcap, ns + n, sizeof *s->msel) < 0)
      break;
    s->mrids[nt] = c->rid;
    s->moff[nt] = (uint32_t)ns;
    for (size_t k = 0; k < n; k++) {
      if (e[k]->id <= c->cursor) continue;
      c->cursor = e[k]->id;
      if (nfilter_match(&c->f, e[k])) s->msel[ns++] = (uint32_t)k;
    }
    if (ns > s->moff[nt]) nt++; /* nothing for this one: not a target */
  }
  if (nt) {
    s->moff[nt] = (uint32_t)ns;
    tr_http_ws_multicast(s->srv, s->buf, s->lens, nmsgs, s->mrids, s->moff, s->msel, nt);
  }
  b_reset(s);
  for (uint32_t i = 0; i < s->ncl; i++) {
    client *c = &s->cl[i];
    if (c->state == C_LIVE && c->topic == idx && !c->ws) feed(s, c, e, n);
  }
}

/* A delivery: new events into the ring and out to the live clients. */
static void on_deliver(tr_ctx *ctx, nstate *s, const tr_msg *msg) {
  tr_unpack m, ev;
  tr_unpack_init(&m, msg->data, msg->len);
  const char *tn;
  size_t tl;
  char name[TR_EV_TOPIC_MAX + 1];
  if (tr_unpack_find_str(&m, "topic", &tn, &tl) < 0 || !tl || tl > TR_EV_TOPIC_MAX) return;
  memcpy(name, tn, tl), name[tl] = 0;
  uint32_t idx = 0;
  while (idx < s->ntp && (s->tp[idx].state == T_NONE || strcmp(s->tp[idx].name, name))) idx++;
  if (idx == s->ntp) return; /* a topic we left */
  topic *t = &s->tp[idx];
  uint32_t n;
  if (tr_unpack_find(&m, "events", &ev) < 0 || tr_unpack_array(&ev, &n) < 0) return;
  nev **fresh = malloc((n ? n : 1) * sizeof *fresh);
  if (!fresh) return;
  size_t k = 0;
  for (uint32_t i = 0; i < n; i++) {
    nev *e;
    int rc = nev_decode(&ev, t->name, &e);
    if (rc == TR_EPROTO) break; /* the rest cannot be read */
    if (rc < 0) continue;
    uint64_t next = (k ? fresh[k - 1]->id : t->last) + 1;
    if (e->id < next) { /* had it: a renewal's replay */
      free(e);
      continue;
    }
    if (e->id > next && t->last && t->gap_at != next - 1) {
      /* missed some (a lapsed lease?): take nothing past the hole and ask
       * the bus to go on from before it; a second hole at the same place
       * is the bus's own (ids it never gave out) and is passed over */
      t->gap_at = next - 1;
      free(e);
      bus_subscribe(ctx, s, t, 1);
      break;
    }
    fresh[k++] = e;
  }
  if (k) {
    t->last = fresh[k - 1]->id;
    multicast(s, idx, fresh, k);
    for (size_t i = 0; i < k; i++) ring_push(s, t, fresh[i]);
  }
  free(fresh);
}

/* A history page for a client in REPLAY. */
static void on_page(tr_ctx *ctx, nstate *s, client *c, const tr_msg *msg) {
  c->qcorr = 0;
  int status = msg->type == TR_MSG_TIMEOUT ? TR_ETIMEDOUT : tr_reply_status(msg->data, msg->len);
  if (status == TR_EAGAIN) {
    /* the topic runs as many reads as it takes (a thousand clients that
     * resume at once): this one waits its turn rather than failing */
    if (tr_timer_start(ctx, REQUERY_MS, 0, MSG_REQUERY, &c->rid.conn, sizeof c->rid.conn, NULL) < 0)
      client_fail(s, c, 1011, "the event history is out of reach");
    return;
  }
  if (status != 0) {
    client_fail(s, c, 1011, "the event history did not answer");
    return;
  }
  topic *t = &s->tp[c->topic];
  tr_unpack m, ev;
  tr_unpack_init(&m, msg->data, msg->len);
  int more = 0;
  uint32_t n = 0;
  tr_unpack_find_bool(&m, "more", &more);
  if (tr_unpack_find(&m, "events", &ev) == 0 && tr_unpack_array(&ev, &n) < 0) n = 0;
  b_reset(s);
  uint64_t before = c->cursor;
  size_t bytes = 0;
  for (uint32_t i = 0; i < n && bytes < s->o.pace; i++) { /* the rest: asked again */
    nev *e;
    int rc = nev_decode(&ev, t->name, &e);
    if (rc == TR_EPROTO) break;
    if (rc < 0) continue;
    if (e->id > c->cursor) bytes += give(s, c, e);
    free(e);
  }
  b_send(s, c);
  if (bytes) { /* history or ring, what comes next goes once this is written */
    pace_wait(s, c);
    return;
  }
  if (more && c->cursor > before) {
    if (query(ctx, s, c) < 0) client_fail(s, c, 1011, "the event history is out of reach");
    return;
  }
  /* the history has nothing more: what it lacks before the ring was
   * removed by retention, and the ring goes on from there */
  if (c->cursor == before && t->rcount && ring_at(s, t, 0)->id > c->cursor + 1)
    c->cursor = ring_at(s, t, 0)->id - 1;
  else if (c->cursor == before && !t->rcount)
    c->cursor = t->last;
  catch_up(ctx, s, c);
}

static void on_reply(tr_ctx *ctx, nstate *s, const tr_msg *msg) {
  for (uint32_t i = 0; i < s->ntp; i++) {
    topic *t = &s->tp[i];
    if (t->state == T_NONE) continue;
    if (t->sub_corr == msg->corr) {
      t->sub_corr = 0;
      if (msg->type == TR_MSG_TIMEOUT || tr_reply_status(msg->data, msg->len) != 0) {
        topic_fail(s, i, msg->type == TR_MSG_TIMEOUT ? "the event bus did not answer"
                                                     : "the event bus refused the subscription");
        return;
      }
      tr_unpack m;
      uint64_t last = 0;
      tr_unpack_init(&m, msg->data, msg->len);
      tr_unpack_find_uint(&m, "last", &last);
      if (last > t->last) t->last = last;
      t->state = T_LIVE;
      for (uint32_t k = 0; k < s->ncl; k++)
        if (s->cl[k].state == C_WAIT && s->cl[k].topic == i) begin(ctx, s, &s->cl[k]);
      return;
    }
    if (t->renew_corr == msg->corr) {
      t->renew_corr = 0; /* a failed renewal is tried again at the next tick */
      return;
    }
  }
  for (uint32_t i = 0; i < s->ncl; i++)
    if (s->cl[i].state == C_REPLAY && s->cl[i].qcorr == msg->corr) {
      on_page(ctx, s, &s->cl[i], msg);
      return;
    }
}

/* ------------------------------------------------------------ requests */

static void on_request(tr_ctx *ctx, nstate *s, const tr_msg *msg, int ws) {
  tr_http_incoming in;
  if (tr_http_incoming_decode(msg, &in) < 0) return;
  char err[256];
  nfilter f;
  int any = 0;
  if (s->live_clients >= s->o.max_clients) {
    tr_http_respond_error(s->srv, in.rid, 503, "ServiceUnavailableException",
                          "too many event subscribers on this node, retry later");
    return;
  }
  if (nfilter_from_query(&f, in.req.query, in.req.query_len, s->default_topic, &any, err,
                         sizeof err) < 0) {
    tr_http_respond_error(s->srv, in.rid, 400, "InvalidRequestException", err);
    return;
  }
  size_t hl = 0;
  const char *last_id = tr_http_incoming_header(&in, "last-event-id", &hl);
  if (!ws && last_id && hl && nfilter_set_from(&f, last_id, hl, err, sizeof err) < 0) {
    nfilter_free(&f);
    tr_http_respond_error(s->srv, in.rid, 400, "InvalidRequestException", err);
    return;
  }
  client *c = client_new(s, in.rid, ws);
  if (!c) {
    nfilter_free(&f);
    tr_http_respond_error(s->srv, in.rid, 500, NULL, "out of memory");
    return;
  }
  if (ws) {
    tr_http_response r = {.status = 101};
    tr_http_respond(s->srv, in.rid, &r);
  } else {
    static const char ovf[] =
        "event: error\ndata: {\"error\":\"slow consumer: the output buffer is full; "
        "reconnect to resume\"}\n\n";
    tr_http_response r = {.status = 200, .content_type = "text/event-stream",
                          .headers = "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\n",
                          .body = "retry: 1000\n\n", .body_len = 13, .stream = 1,
                          .overflow = ovf, .overflow_len = sizeof ovf - 1};
    tr_http_respond(s->srv, in.rid, &r);
  }
  c->f = f;
  if (!ws || any || f.has_from) start(ctx, s, c);
  else nfilter_free(&c->f); /* the subscribe message sets it */
}

static void on_ws_message(tr_ctx *ctx, nstate *s, client *c, const tr_http_event *ev) {
  char err[256];
  if (ev->kind != TR_HTTP_EV_TEXT) {
    say(s, c, "{\"error\":\"only text messages (JSON) are understood\"}");
    return;
  }
  nfilter f;
  int action = 0;
  if (nfilter_from_json(&f, (const char *)ev->data, ev->len, s->default_topic, &action, err,
                        sizeof err) < 0) {
    char esc[300], msg[400];
    json_escape(err, esc, sizeof esc);
    snprintf(msg, sizeof msg, "{\"error\":\"%s\"}", esc);
    say(s, c, msg);
    return;
  }
  detach(s, c); /* one subscription per connection: a new one replaces it */
  if (action == 2) {
    nfilter_free(&f);
    say(s, c, "{\"ack\":\"unsubscribe\"}");
    return;
  }
  c->f = f;
  start(ctx, s, c);
}

/* The part of a backlog that was out is written: the next one. */
static void on_written(tr_ctx *ctx, nstate *s, client *c, const tr_http_event *ev) {
  uint64_t token = 0;
  if (ev->len == sizeof token) memcpy(&token, ev->data, sizeof token);
  /* a subscription since replaced, or an earlier part's event */
  if (!c->pacing || c->state != C_REPLAY || token != c->pace_token) return;
  c->pacing = 0;
  catch_up(ctx, s, c);
}

/* ------------------------------------------------------------ the actor */

static int n_init(tr_ctx *ctx, void *state, const void *arg) {
  nstate *s = state;
  const start_arg *a = arg;
  s->srv = a->srv;
  s->o = a->o;
  snprintf(s->default_topic, sizeof s->default_topic, "%s",
           a->o.default_topic ? a->o.default_topic : "engine");
  s->o.default_topic = NULL;
  uint64_t id;
  tr_timer_start(ctx, s->o.ping_ms, s->o.ping_ms, MSG_PING, NULL, 0, &id);
  tr_timer_start(ctx, s->o.lease_ms / 3, s->o.lease_ms / 3, MSG_RENEW, NULL, 0, &id);
  return 0;
}

static void on_tick(tr_ctx *ctx, nstate *s, uint32_t type) {
  if (type == MSG_PING) {
    for (uint32_t i = 0; i < s->ncl; i++) {
      client *c = &s->cl[i];
      if (c->state == C_FREE) continue;
      if (c->ws) tr_http_ws_send(s->srv, c->rid, TR_HTTP_WS_PING, "", 0);
      else tr_http_respond_chunk(s->srv, c->rid, ": ping\n\n", 8, 0);
    }
    return;
  }
  for (uint32_t i = 0; i < s->ntp; i++) {
    topic *t = &s->tp[i];
    if (t->state == T_NONE) continue;
    if (!t->nclients) { /* nobody left: leave the topic */
      tr_virtual_send(ctx, t->vname, TR_EV_UNSUBSCRIBE, "\x80", 1);
      topic_drop(t);
    } else if (t->state == T_LIVE && !t->renew_corr) {
      bus_subscribe(ctx, s, t, 1);
    }
  }
}

static int n_receive(tr_ctx *ctx, void *state, const tr_msg *msg) {
  nstate *s = state;
  if (msg->flags & TR_MSG_F_REPLY || msg->type == TR_MSG_TIMEOUT) {
    on_reply(ctx, s, msg);
    return 0;
  }
  switch (msg->type) {
  case MSG_WS: on_request(ctx, s, msg, 1); break;
  case MSG_SSE: on_request(ctx, s, msg, 0); break;
  case TR_EV_DELIVER: on_deliver(ctx, s, msg); break;
  case MSG_PING:
  case MSG_RENEW: on_tick(ctx, s, msg->type); break;
  case MSG_REQUERY: {
    uint64_t conn;
    if (msg->len != sizeof conn) break;
    memcpy(&conn, msg->data, sizeof conn);
    client *c = client_find(s, conn);
    if (c && c->state == C_REPLAY && !c->qcorr && !c->pacing && query(ctx, s, c) < 0)
      client_fail(s, c, 1011, "the event history is out of reach");
    break;
  }
  case TR_HTTP_MSG_EVENT: {
    tr_http_event ev;
    if (tr_http_event_decode(msg, &ev) < 0) break;
    client *c = client_find(s, ev.rid.conn);
    if (!c) break;
    if (ev.kind == TR_HTTP_EV_CLOSED) client_free(s, c);
    else if (ev.kind == TR_HTTP_EV_WRITTEN) on_written(ctx, s, c, &ev);
    else if (c->ws) on_ws_message(ctx, s, c, &ev);
    break;
  }
  default: break;
  }
  return 0;
}

static void n_terminate(tr_ctx *ctx, void *state, int reason) {
  (void)ctx, (void)reason;
  nstate *s = state;
  for (uint32_t i = 0; i < s->ncl; i++) nfilter_free(&s->cl[i].f);
  for (uint32_t i = 0; i < s->ntp; i++)
    if (s->tp[i].ring) topic_drop(&s->tp[i]);
  free(s->cl);
  free(s->tp);
  free(s->buf);
  free(s->lens);
  free(s->mrids);
  free(s->moff);
  free(s->msel);
}

static const tr_behavior notifier = {.name = "events.notifier", .state_size = sizeof(nstate),
                                     .init = n_init, .receive = n_receive,
                                     .terminate = n_terminate};

int tr_events_notify_start(tr_system *sys, tr_http_server *srv,
                           const tr_events_notify_opts *o, tr_ref *out) {
  if (!sys || !srv) return TR_EINVAL;
  start_arg a = {.srv = srv};
  if (o) a.o = *o;
  if (!a.o.ping_ms) a.o.ping_ms = 15000;
  if (!a.o.lease_ms) a.o.lease_ms = 30000;
  if (a.o.lease_ms < 3) a.o.lease_ms = 3;
  if (!a.o.ring) a.o.ring = 4096;
  if (!a.o.query_timeout_ms) a.o.query_timeout_ms = 10000;
  if (!a.o.max_clients) a.o.max_clients = 10000;
  if (!a.o.pace) a.o.pace = 256u << 10;
  tr_ref ref;
  int rc = tr_system_spawn(sys, &notifier, &a, NULL, &ref);
  if (rc < 0) return rc;
  unsigned fl = TR_HTTP_ROUTE_EXACT | TR_HTTP_ROUTE_QUERY_TOKEN | TR_HTTP_ROUTE_NOTIFY_CLOSE;
  if ((rc = tr_http_route_actor(srv, "GET", "/events", fl | TR_HTTP_ROUTE_UPGRADE, ref,
                                MSG_WS)) < 0 ||
      (rc = tr_http_route_actor(srv, "GET", "/events/sse", fl, ref, MSG_SSE)) < 0)
    return rc;
  if (out) *out = ref;
  return 0;
}
