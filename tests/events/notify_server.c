/* notify_server.c - the notifier on an HTTP server in a process of its
 * own, over the fake bus (fake_bus.h), for the npm client tests until the
 * real bus is merged: GET /events, GET /events/sse, and POST /events,
 * which publishes one event given as JSON ({"topic"?, "type", "key"?,
 * "pi"?, "bk"?, "attrs"?, "data"?}) and answers 202 once the bus has it.
 *   notify_server [listen] [max_stream_buffer] [token]
 * prints "listening <address>" and runs until stdin closes. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actors/events/notify.h"
#include "fake_bus.h"

enum { MSG_POST = 0x50535401 };

static tr_http_server *srv;

typedef struct {
  int dummy;
} pub_state;

static int pub_receive(tr_ctx *ctx, void *state, const tr_msg *msg) {
  (void)state;
  if (msg->type != MSG_POST) return 0;
  tr_http_incoming in;
  if (tr_http_incoming_decode(msg, &in) < 0) return 0;
  tr_pack pk = TR_PACK_INIT;
  char err[256];
  if (tr_json_to_msgpack((const char *)in.req.body, in.req.body_len, NULL, &pk, err,
                         sizeof err) < 0) {
    tr_http_respond_error(srv, in.rid, 400, "InvalidRequestException", err);
    return 0;
  }
  tr_unpack m;
  tr_unpack_init(&m, pk.data, pk.len);
  const char *t = "custom";
  size_t tl = 6;
  tr_unpack_find_str(&m, "topic", &t, &tl);
  char name[128];
  snprintf(name, sizeof name, "events/%.*s", (int)tl, t);
  tr_virtual_send(ctx, name, TR_EV_PUBLISH, pk.data, pk.len);
  tr_pack_free(&pk);
  tr_http_response r = {.status = 202, .content_type = "application/json", .body = "{}",
                        .body_len = 2};
  tr_http_respond(srv, in.rid, &r);
  return 0;
}

static const tr_behavior pub = {.name = "publish", .state_size = sizeof(pub_state),
                                .receive = pub_receive};

int main(int argc, char **argv) {
  signal(SIGPIPE, SIG_IGN);
  tr_config cfg = {.threads = 2};
  tr_system *sys;
  if (tr_system_new(&cfg, &sys) < 0 || fake_bus_register(sys) < 0) return 1;
  tr_http_opts o = {.listen = argc > 1 ? argv[1] : "127.0.0.1:0",
                    .bearer_token = argc > 3 ? argv[3] : NULL,
                    .limits = {.max_stream_buffer = argc > 2 ? strtoull(argv[2], NULL, 10) : 0,
                               .max_conns = 4096}};
  tr_ref p;
  if (tr_http_new(sys, &o, &srv) < 0 || tr_system_spawn(sys, &pub, NULL, NULL, &p) < 0 ||
      tr_http_route_actor(srv, "POST", "/events", TR_HTTP_ROUTE_EXACT, p, MSG_POST) < 0 ||
      tr_events_notify_start(sys, srv, &(tr_events_notify_opts){.ping_ms = 2000}, NULL) < 0 ||
      tr_http_start(srv) < 0)
    return 1;
  printf("listening %s\n", tr_http_address(srv));
  fflush(stdout);
  char buf[64];
  while (read(0, buf, sizeof buf) > 0) {
  }
  tr_http_stop(srv, 1000);
  tr_system_free(sys);
  tr_http_free(srv);
  return 0;
}
