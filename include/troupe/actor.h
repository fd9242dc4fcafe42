/* troupe/actor.h - actors, messages, behaviours, timers, links, monitors.
 *
 * An actor is a behaviour (three callbacks) plus a block of state the runtime
 * allocates with it. It is addressed by a tr_ref, a plain value that can be
 * copied, stored and sent anywhere; a ref to an actor that has exited simply
 * stops resolving (messages to it become dead letters).
 *
 * Callbacks run on a scheduler thread, one message at a time per actor, and
 * must never block: use tr_blocking_submit() for blocking work.
 *
 * Ownership of buffers: every function that takes a (data, len) payload copies
 * it before returning; the caller keeps its buffer. A tr_msg passed to
 * receive() belongs to the runtime and is valid only during that call.
 */
#ifndef TROUPE_ACTOR_H
#define TROUPE_ACTOR_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Address of an actor: the node it lives on and its id there. id 0 is "no
 * actor". Refs are compared with tr_ref_eq(). */
typedef struct tr_ref {
  uint64_t node;
  uint64_t id;
} tr_ref;

#define TR_REF_NONE ((tr_ref){0, 0})

static inline int tr_ref_eq(tr_ref a, tr_ref b) { return a.node == b.node && a.id == b.id; }
static inline int tr_ref_is_none(tr_ref a) { return a.id == 0; }

typedef struct tr_system tr_system;
/* The context of a running actor; valid only inside its callbacks. */
typedef struct tr_actor tr_ctx;

/* A message: header fields plus msgpack payload bytes. The same bytes travel
 * on the wire when the target lives on another node. */
typedef struct tr_msg {
  tr_ref sender;      /* TR_REF_NONE when sent from outside any actor */
  uint64_t corr;      /* correlation id: ask/reply, timer id, job id */
  uint32_t type;      /* user types are below TR_MSG_SYSTEM */
  uint16_t flags;     /* TR_MSG_F_* */
  uint16_t internal_; /* runtime private */
  uint32_t len;       /* payload length in bytes */
  uint8_t data[];     /* payload (msgpack by convention) */
} tr_msg;

enum {
  TR_MSG_F_ASK = 1 << 0,    /* the sender waits for a reply (tr_actor_reply) */
  TR_MSG_F_REPLY = 1 << 1,  /* a reply to an ask; corr is the ask's id */
  TR_MSG_F_TIMER = 1 << 2,  /* sent by a timer; corr is the timer id */
  TR_MSG_F_FAILED = 1 << 3  /* a blocking job failed; payload: msgpack int code */
};

/* Message types the runtime delivers to behaviours. */
#define TR_MSG_SYSTEM 0xF0000000u
enum {
  TR_MSG_EXIT = TR_MSG_SYSTEM + 1,    /* trapped exit signal: see tr_msg_exit() */
  TR_MSG_DOWN = TR_MSG_SYSTEM + 2,    /* a monitored actor ended: tr_msg_down() */
  TR_MSG_TIMEOUT = TR_MSG_SYSTEM + 3  /* an ask timed out; corr = the ask id */
};

/* Return values of init() and receive() besides 0 (go on) and negative
 * TR_E* codes (fail: the actor exits with that reason). */
#define TR_STOP 1 /* exit normally after this callback */

typedef struct tr_behavior {
  const char *name;  /* shown by introspection; static storage */
  size_t state_size; /* bytes of zero-filled state allocated with the actor */
  /* Runs synchronously inside spawn, before anyone else can reach the actor.
   * arg is the spawn argument, borrowed for this call only. Optional. */
  int (*init)(tr_ctx *ctx, void *state, const void *arg);
  /* One message. msg is borrowed for this call only. Required. */
  int (*receive)(tr_ctx *ctx, void *state, const tr_msg *msg);
  /* Last call before the state is freed; reason is the exit reason. Optional. */
  void (*terminate)(tr_ctx *ctx, void *state, int reason);
} tr_behavior;

enum { TR_OVERFLOW_REJECT = 0, TR_OVERFLOW_DROP = 1 };

enum {
  TR_SPAWN_LINK = 1 << 0,     /* link the new actor to the spawner */
  TR_SPAWN_TRAP_EXIT = 1 << 1 /* the new actor traps exit signals */
};

typedef struct tr_spawn_opts {
  const char *name;       /* register under this local name (copied); optional */
  uint32_t mailbox_bound; /* 0 = unbounded */
  uint8_t overflow;       /* TR_OVERFLOW_REJECT (sender gets TR_EAGAIN) or _DROP */
  uint8_t flags;          /* TR_SPAWN_* */
} tr_spawn_opts;

/* Spawns a child of the running actor. init() runs before this returns; its
 * failure is returned here. opts may be NULL. */
int tr_actor_spawn(tr_ctx *ctx, const tr_behavior *b, const void *arg,
                   const tr_spawn_opts *opts, tr_ref *out);

tr_ref tr_actor_self(tr_ctx *ctx);
tr_system *tr_actor_system(tr_ctx *ctx);

/* Sends a copy of data[0..len) to `to`. Returns 0 when the message was
 * queued (it may still end as a dead letter if the target exits first),
 * TR_ENOENT when the target is unknown, TR_EAGAIN when its bounded mailbox is
 * full under the reject policy. Every message not delivered is counted as a
 * dead letter. */
int tr_actor_send(tr_ctx *ctx, tr_ref to, uint32_t type, const void *data, size_t len);

/* Replies to an ask (a message with TR_MSG_F_ASK); data is copied. */
int tr_actor_reply(tr_ctx *ctx, const tr_msg *req, uint32_t type, const void *data,
                   size_t len);

/* Sends a request; exactly one of the reply (TR_MSG_F_REPLY, same corr) or a
 * TR_MSG_TIMEOUT message with that corr arrives later. *corr receives the id. */
int tr_actor_ask(tr_ctx *ctx, tr_ref to, uint32_t type, const void *data, size_t len,
                 uint32_t timeout_ms, uint64_t *corr);

/* Asks `who` to stop (exit reason TR_EXIT_SHUTDOWN). Its children stop first,
 * in reverse spawn order. Stopping yourself: return TR_STOP from a callback. */
int tr_actor_stop(tr_ctx *ctx, tr_ref who);

/* Sends an exit signal with `reason` to `who`, as erlang:exit/2: TR_EXIT_KILLED
 * cannot be trapped; other reasons kill it unless it traps exits (then it gets
 * TR_MSG_EXIT); TR_EXIT_NORMAL is ignored unless trapped. */
int tr_actor_exit_signal(tr_ctx *ctx, tr_ref who, int reason);

/* Links and monitors, as in OTP. A link to an actor that does not exist
 * delivers an exit signal with TR_ENOPROC; a monitor then gets a DOWN with
 * TR_ENOPROC. */
int tr_actor_link(tr_ctx *ctx, tr_ref other);
int tr_actor_unlink(tr_ctx *ctx, tr_ref other);
int tr_actor_monitor(tr_ctx *ctx, tr_ref other, uint64_t *monitor_id);
int tr_actor_demonitor(tr_ctx *ctx, uint64_t monitor_id);
void tr_actor_trap_exit(tr_ctx *ctx, int on);

/* Decode the payloads of TR_MSG_EXIT and TR_MSG_DOWN messages. */
int tr_msg_exit(const tr_msg *msg, tr_ref *from, int *reason);
int tr_msg_down(const tr_msg *msg, uint64_t *monitor_id, tr_ref *from, int *reason);

/* Timers: after delay_ms the actor receives a message (TR_MSG_F_TIMER, corr =
 * id) with a copy of data; with repeat_ms > 0 again every repeat_ms (a tick is
 * skipped while the previous one is still unprocessed). After
 * tr_timer_cancel() returns, no message of that timer is delivered, even one
 * already queued; it may be called from the timer's own message. */
int tr_timer_start(tr_ctx *ctx, uint64_t delay_ms, uint64_t repeat_ms, uint32_t type,
                   const void *data, size_t len, uint64_t *id);
int tr_timer_cancel(tr_ctx *ctx, uint64_t id);

/* Runs fn(arg, out) on the blocking pool. Its result arrives as a message of
 * `type` with corr = *job: payload = the bytes fn wrote with tr_buf_append();
 * if fn returns < 0, TR_MSG_F_FAILED is set and the payload is empty. arg
 * must stay valid until that message arrives; the buffer is the runtime's. */
typedef struct tr_buf tr_buf;
int tr_buf_append(tr_buf *b, const void *data, size_t len);
typedef int (*tr_blocking_fn)(void *arg, tr_buf *out);
int tr_blocking_submit(tr_ctx *ctx, tr_blocking_fn fn, void *arg, uint32_t type,
                       uint64_t *job);

/* Local registry. Names are freed when their actor exits. `name` is copied. */
int tr_registry_add(tr_system *sys, const char *name, tr_ref ref);
int tr_registry_lookup(tr_system *sys, const char *name, tr_ref *out);
int tr_registry_remove(tr_system *sys, const char *name);

#ifdef __cplusplus
}
#endif
#endif
