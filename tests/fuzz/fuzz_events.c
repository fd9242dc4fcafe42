/* fuzz_events.c - libFuzzer target: what a WebSocket or SSE client can send
 * to the notifier, and what the bus hands it.
 *
 * The first byte picks the path; the rest is the input:
 *  0: a WebSocket client's bytes after the handshake, through wslay's server
 *     context configured as actors/http/ws.c configures it (64-byte
 *     message limit here), fed in pieces of 1..16 bytes, with the same
 *     UTF-8 rule for text; invariants: every message delivered is within
 *     the limit, text is UTF-8, the context never asks for more output
 *     than it queued;
 *  1: a query string (nfilter_from_query): accepted filters are
 *     well-formed (topic valid, counts within bounds), refusals have a
 *     message;
 *  2: a subscribe message (nfilter_from_json), the same;
 *  3: an event from the bus (nev_decode): an accepted one has an id, a
 *     type, and JSON that jansson reads back as an object with that id;
 *  4: an HTTP request whose handshake is checked (tr_http_ws_check): an
 *     accepted one has a 28-character accept key.
 * No crash, leak or overread (the sanitizers).
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <wslay/wslay.h>

#include "actors/events/notify_internal.h"
#include "actors/http/internal.h"
#include "codec/utf8.h"
#include "fuzz_check.h"

typedef struct feed {
  const uint8_t *p;
  size_t len, piece;
  size_t queued_out;
} feed;

static ssize_t f_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
                      void *user) {
  feed *f = user;
  (void)flags;
  if (!f->len) {
    wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
    return -1;
  }
  size_t k = len < f->piece ? len : f->piece;
  if (k > f->len) k = f->len;
  memcpy(buf, f->p, k);
  f->p += k, f->len -= k;
  return (ssize_t)k;
}

static ssize_t f_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                      void *user) {
  (void)ctx, (void)data, (void)flags;
  ((feed *)user)->queued_out += len;
  return (ssize_t)len;
}

static void f_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *a,
                  void *user) {
  (void)user;
  if (a->opcode == WSLAY_TEXT_FRAME || a->opcode == WSLAY_BINARY_FRAME)
    CHECK(a->msg_length <= 64);
  if (a->opcode == WSLAY_TEXT_FRAME && !tr_utf8_valid(a->msg, a->msg_length))
    wslay_event_queue_close(ctx, 1007, NULL, 0);
}

static void frames(const uint8_t *d, size_t n) {
  static const struct wslay_event_callbacks cbs = {
      .recv_callback = f_recv, .send_callback = f_send, .on_msg_recv_callback = f_msg};
  feed f = {.p = d, .len = n, .piece = n ? (size_t)(d[0] % 16) + 1 : 1};
  wslay_event_context_ptr ctx;
  CHECK(wslay_event_context_server_init(&ctx, &cbs, &f) == 0);
  wslay_event_config_set_max_recv_msg_length(ctx, 64);
  for (int i = 0; i < 10000 && f.len && wslay_event_want_read(ctx); i++) {
    if (wslay_event_recv(ctx) < 0) break;
    if (wslay_event_send(ctx) < 0) break;
  }
  wslay_event_send(ctx);
  wslay_event_context_free(ctx);
}

static void check_filter(int rc, const nfilter *f, const char *err) {
  if (rc < 0) {
    CHECK(rc == TR_EINVAL || rc == TR_ENOMEM);
    CHECK(rc == TR_ENOMEM || err[0]);
    return;
  }
  CHECK(f->topic[0] && strlen(f->topic) <= TR_EV_TOPIC_MAX && !strchr(f->topic, '/'));
  CHECK(f->ntypes <= NF_TYPES_MAX && f->nattrs <= NF_ATTRS_MAX);
  for (uint32_t i = 0; i < f->ntypes; i++) CHECK(f->types[i]);
  for (uint32_t i = 0; i < f->nattrs; i++) CHECK(f->anames[i] && f->avals[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!size) return 0;
  int path = data[0] % 5;
  const uint8_t *d = data + 1;
  size_t n = size - 1;
  nfilter f;
  char err[256] = "";
  int any = 0, action = 0;
  switch (path) {
  case 0: frames(d, n); break;
  case 1: {
    int rc = nfilter_from_query(&f, (const char *)d, n, "engine", &any, err, sizeof err);
    check_filter(rc, &f, err);
    if (rc == 0) nfilter_free(&f);
    break;
  }
  case 2: {
    int rc = nfilter_from_json(&f, (const char *)d, n, "engine", &action, err, sizeof err);
    check_filter(rc, &f, err);
    if (rc == 0) {
      CHECK(action == 1 || action == 2);
      nfilter_free(&f);
    }
    break;
  }
  case 3: {
    tr_unpack u;
    tr_unpack_init(&u, d, n);
    nev *e;
    if (nev_decode(&u, "engine", &e) == 0) {
      CHECK(e->id > 0 && e->type);
      /* jansson refuses \u0000 in object keys, which JSON allows (those
       * are not checked here), and reads integers past int64 as reals */
      json_t *j =
          json_loadb(e->json, e->json_len, JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, NULL);
      CHECK(j || memmem(e->json, e->json_len, "\\u0000", 6));
      if (j) {
        CHECK(json_is_object(j));
        char want[48];
        snprintf(want, sizeof want, "engine:%llu", (unsigned long long)e->id);
        CHECK(!strcmp(json_string_value(json_object_get(j, "id")), want));
        json_decref(j);
      }
      CHECK(!memcmp(e->sse, "id: ", 4) && e->sse[e->sse_len - 1] == '\n');
      free(e);
    }
    break;
  }
  case 4: {
    static const tr_http_limits lim = {.max_url = 256, .max_header_bytes = 2048,
                                       .max_headers = 16, .max_body = 256};
    tr_http_parser hp;
    tr_http_parser_init(&hp, &lim);
    size_t used;
    if (tr_http_parser_feed(&hp, (const char *)d, n, &used) == TR_HTTP_EV_REQUEST) {
      char accept[29];
      const char *why = NULL;
      if (tr_http_ws_check(&hp.req, accept, &why) == 0) CHECK(strlen(accept) == 28);
      else CHECK(why && why[0]);
    }
    tr_http_parser_free(&hp);
    break;
  }
  }
  return 0;
}
