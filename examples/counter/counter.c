/* counter - a complete troupe program: a supervised counter actor that
 * answers asks, a ticker that bumps it on a periodic timer, and a crash that
 * the supervisor repairs. Build it against an installed troupe with
 *   cc counter.c $(pkg-config --cflags --libs troupe)
 * (see docs/sdk.md for a walk through it). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <troupe/troupe.h>

enum { MSG_INC = 1, MSG_GET, MSG_VALUE, MSG_TICK, MSG_CRASH };

/* ---- the counter: state is one integer; msgpack payloads are single bytes
 * here (positive fixints), enough for a demo */
typedef struct {
  int64_t value;
} counter_state;

static int counter_init(tr_ctx *ctx, void *state, const void *arg) {
  counter_state *s = state;
  s->value = arg ? *(const int64_t *)arg : 0;
  return 0;
}

static int counter_receive(tr_ctx *ctx, void *state, const tr_msg *msg) {
  counter_state *s = state;
  switch (msg->type) {
  case MSG_INC:
    s->value++;
    return 0;
  case MSG_GET: {
    uint8_t v = (uint8_t)(s->value & 0x7f); /* msgpack positive fixint */
    return tr_actor_reply(ctx, msg, MSG_VALUE, &v, 1);
  }
  case MSG_CRASH:
    return TR_EFAILED; /* the supervisor restarts us with the initial value */
  default:
    return 0; /* ignore what we do not know */
  }
}

static const tr_behavior counter = {
    .name = "counter",
    .state_size = sizeof(counter_state),
    .init = counter_init,
    .receive = counter_receive,
};

/* ---- the ticker: sends MSG_INC to the counter every 10 ms, 5 times */
typedef struct {
  uint64_t timer;
  int left;
} ticker_state;

static int ticker_init(tr_ctx *ctx, void *state, const void *arg) {
  ticker_state *s = state;
  s->left = 5;
  return tr_timer_start(ctx, 10, 10, MSG_TICK, NULL, 0, &s->timer);
}

static int ticker_receive(tr_ctx *ctx, void *state, const tr_msg *msg) {
  ticker_state *s = state;
  if (msg->type != MSG_TICK) return 0;
  tr_ref c;
  if (tr_registry_lookup(tr_actor_system(ctx), "counter", &c) == 0)
    tr_actor_send(ctx, c, MSG_INC, NULL, 0);
  if (--s->left == 0) return TR_STOP; /* its timer goes with it */
  return 0;
}

static const tr_behavior ticker = {
    .name = "ticker", .state_size = sizeof(ticker_state), .init = ticker_init,
    .receive = ticker_receive};

static int get(tr_system *sys, tr_ref counter_ref) {
  tr_msg *reply;
  int rc = tr_system_ask(sys, counter_ref, MSG_GET, NULL, 0, 5000, &reply);
  if (rc < 0) return rc;
  int v = reply->len == 1 ? reply->data[0] : -1;
  tr_msg_free(reply);
  return v;
}

int main(void) {
  tr_system *sys;
  if (tr_system_new(NULL, &sys) < 0) return 1;

  int64_t start = 0;
  tr_child_spec kids[] = {
      {.id = "counter", .behavior = &counter, .arg = &start, .arg_size = sizeof start,
       .restart = TR_RESTART_PERMANENT, .opts = {.name = "counter"}},
  };
  tr_supervisor_spec spec = {.strategy = TR_ONE_FOR_ONE, .max_restarts = 3, .period_ms = 5000,
                             .children = kids, .n_children = 1};
  tr_ref sup, c;
  if (tr_system_supervisor_start(sys, &spec, NULL, &sup) < 0) return 1;
  tr_registry_lookup(sys, "counter", &c);

  tr_system_spawn(sys, &ticker, NULL, NULL, NULL);
  while (tr_system_actor_count(sys) > 3) usleep(1000); /* root, sup, counter */
  printf("after 5 ticks: %d\n", get(sys, c));

  tr_system_send(sys, c, MSG_CRASH, NULL, 0);
  tr_ref c2 = c;
  while (tr_ref_eq(c2, c) || tr_ref_is_none(c2)) {
    if (tr_supervisor_child(sys, sup, "counter", &c2) < 0) c2 = c;
    usleep(1000);
  }
  printf("after a crash and a restart: %d\n", get(sys, c2));
  tr_system_free(sys);
  return 0;
}
