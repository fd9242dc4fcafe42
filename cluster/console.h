/* console.h - the admin console: the endpoint every node runs, and the
 * protocol troupectl (and tests) speak to it. docs/console.md has the
 * commands, their replies and the exit codes of troupectl.
 *
 * A node opens two nng sockets:
 *   rep0 at `url`        one authenticated request, one authenticated reply
 *   pub0 at the pub URL  a sealed status snapshot every interval_ms
 *
 * Authentication. K is the admin key (32 bytes, admin.key in the data dir).
 * Three subkeys are derived from it with crypto_kdf (context "trconsol"):
 * 1 MACs requests, 2 MACs replies, 3 seals snapshots. K itself never
 * travels, and a MAC made for one direction is worthless in the other.
 *
 *   request  = B || HMAC-SHA256(K1, B)
 *              B = msgpack {v: 1, cmd: str, args: map (optional),
 *                           ts: ms since the epoch, nonce: bin 16}
 *   reply    = R || HMAC-SHA256(K2, R)
 *              R = msgpack {v: 1, ok: bool, code: int (TR_E*), ts, node: hex,
 *                           nonce: the request's (absent if unreadable),
 *                           error: str (if !ok), auth: true (if the
 *                           refusal is about authentication), data: map}
 *   snapshot = N (24 random bytes) || crypto_secretbox_easy(S, N, K3)
 *              S = msgpack {v: 1, seq, ts, node, status, nodes, actors}
 *
 * The node takes a request only if its MAC is good, its ts is within
 * TR_CONSOLE_WINDOW_MS of the node's clock, and its nonce was not seen in
 * that window (tr_console_guard: bounded memory). The client takes a reply
 * only if its MAC is good and it echoes the request's nonce, so it knows it
 * talks to a holder of the key, and about this request.
 *
 * Threads: the endpoint runs on nng's callback threads (aio callbacks,
 * never a blocking call), never on the runtime's schedulers.
 */
#ifndef TR_CLUSTER_CONSOLE_H
#define TR_CLUSTER_CONSOLE_H

#include <stddef.h>
#include <stdint.h>

#include "cluster.h"
#include "identity.h"
#include "troupe/codec.h"
#include "troupe/system.h"

#define TR_CONSOLE_VERSION 1
#define TR_CONSOLE_MAC 32                /* bytes of an HMAC-SHA256 */
#define TR_CONSOLE_NONCE 16              /* bytes of a request nonce */
#define TR_CONSOLE_SEAL_OVERHEAD 40      /* secretbox nonce 24 + MAC 16 */
#define TR_CONSOLE_REQ_MAX (64u << 10)   /* a larger request is refused */
#define TR_CONSOLE_MSG_MAX (1u << 20)    /* NNG_OPT_RECVMAXSZ of every socket */
#define TR_CONSOLE_WINDOW_MS 60000       /* ts must be within this of now */
#define TR_CONSOLE_REPLAY_MAX 4096       /* nonces remembered */
#define TR_CONSOLE_LIST_MAX 2000         /* actors in one reply, at most */
#define TR_CONSOLE_CMD_MAX 32            /* bytes of a command name, with NUL */

/* ============================================================ protocol */

typedef struct tr_console_keys {
  uint8_t req[32];    /* MACs requests */
  uint8_t rep[32];    /* MACs replies */
  uint8_t stream[32]; /* seals snapshots */
} tr_console_keys;

/* Derives the three subkeys from the admin key. */
void tr_console_keys_derive(const uint8_t admin[32], tr_console_keys *k);
void tr_console_keys_clear(tr_console_keys *k);

/* Appends a request (body and MAC) to out. args is one msgpack map (the
 * caller's, copied) or NULL. TR_EINVAL for a bad cmd or args, or the pack's
 * error. */
int tr_console_request_build(const tr_console_keys *k, const char *cmd, const void *args,
                             size_t args_len, uint64_t ts_ms, const uint8_t nonce[16],
                             tr_pack *out);

typedef struct tr_console_req {
  char cmd[TR_CONSOLE_CMD_MAX];
  const uint8_t *args; /* borrowed from the request: a msgpack map, or NULL */
  size_t args_len;
  uint64_t ts_ms;
  uint8_t nonce[TR_CONSOLE_NONCE];
} tr_console_req;

/* Checks and parses a request p[0..n) from the network (untrusted; never
 * read outside it). Checks, in order: TR_ETOOBIG over TR_CONSOLE_REQ_MAX;
 * TR_EPERM too short or a bad MAC (nothing of the body is read); then,
 * behind a good MAC, TR_EVERSION another v, TR_EPROTO anything malformed
 * (not one map, trailing bytes, a missing or mistyped field). On success
 * out borrows args from p. Time and replay are the guard's job. */
int tr_console_request_open(const tr_console_keys *k, const void *p, size_t n,
                            tr_console_req *out);

/* The replay guard: remembers the nonces of the last TR_CONSOLE_REPLAY_MAX
 * requests it let through. When it must forget one to make room, it raises
 * a floor: requests not newer than the forgotten one's ts are refused from
 * then on, so forgetting never lets a replay through. */
typedef struct tr_console_guard tr_console_guard;
tr_console_guard *tr_console_guard_new(void);
void tr_console_guard_free(tr_console_guard *g);
/* 0: fresh, and now remembered. TR_ETIMEDOUT: ts outside now +-
 * TR_CONSOLE_WINDOW_MS, or not above the floor. TR_EEXIST: a replay. */
int tr_console_guard_check(tr_console_guard *g, uint64_t ts_ms, const uint8_t nonce[16],
                           uint64_t now_ms);

typedef struct tr_console_reply {
  int authentic;        /* the MAC is good: the node holds our key */
  int ok;
  int code;             /* TR_E* (0 when ok) */
  int auth;             /* a refusal of the authentication itself */
  int has_nonce;
  uint8_t nonce[TR_CONSOLE_NONCE];
  uint64_t ts_ms;
  uint64_t node;
  char error[256];      /* the node's message, "" if none */
  const uint8_t *data;  /* borrowed from the reply: one msgpack value, or NULL */
  size_t data_len;
} tr_console_reply;

/* Parses a reply p[0..n) from the network (untrusted). 0 when it is well
 * formed - then out->authentic tells whether its MAC is good, and a client
 * must believe nothing in an unauthentic reply - or TR_EPROTO. */
int tr_console_reply_open(const tr_console_keys *k, const void *p, size_t n,
                          tr_console_reply *out);

/* Opens a sealed snapshot p[0..n) into out[0..cap) (caller's); *len gets
 * the msgpack length. TR_EPROTO too short, TR_ETOOBIG no room, TR_EPERM not
 * sealed under our key. */
int tr_console_snapshot_open(const tr_console_keys *k, const void *p, size_t n, uint8_t *out,
                             size_t cap, size_t *len);

/* Parses an actor reference as the console accepts it: "ID" (decimal) or
 * "NODE:ID" (NODE up to 16 hex digits, ID decimal). TR_EINVAL otherwise. */
int tr_console_parse_ref(const char *s, tr_ref *out);

/* ============================================================ endpoint */

typedef struct tr_console tr_console;

/* Node-wide commands are the embedding program's: the console calls these
 * on an nng callback thread, so they must return quickly and never call
 * tr_console_stop(). A NULL hook makes its command fail with TR_ENOTSUP. */
typedef struct tr_console_opts {
  const char *pub;       /* snapshot stream URL; NULL: derived from url
                            (tcp: port + 1, or 0 if url's port is 0;
                            ipc: path + ".pub") */
  const char *name;      /* node name without a cluster; NULL: host name */
  uint32_t interval_ms;  /* snapshot period; 0 = 1000 */
  void *arg;             /* passed to the hooks */
  /* `leave`: called once the reply has gone out; should make the program
   * leave the cluster and shut down (e.g. raise the signal main waits for). */
  void (*leave)(void *arg);
  /* `drain`: stop (on = 1) or resume (on = 0) hosting virtual actors on
   * this node (the daemon calls tr_cluster_set_draining). */
  void (*drain)(void *arg, int on);
} tr_console_opts;

typedef struct tr_console_stats {
  uint64_t requests;          /* every message received */
  uint64_t served;            /* commands run (ok or not) */
  uint64_t refused_auth;      /* bad MAC, too short */
  uint64_t refused_stale;     /* ts out of the window */
  uint64_t refused_replay;    /* nonce seen */
  uint64_t refused_malformed; /* good MAC, bad shape, unknown command */
  uint64_t refused_size;      /* over TR_CONSOLE_REQ_MAX */
  uint64_t snapshots;         /* published */
} tr_console_stats;

/* Starts the console of sys on url (nng: tcp://host:port, port 0 = any;
 * ipc://path). c may be NULL (a single node without a cluster); sys, c and
 * the hooks' arg must outlive the console; id and o are copied (only
 * id->admin is kept). TR_EINVAL bad arguments or URL, TR_EIO cannot listen,
 * TR_ENOMEM. */
int tr_console_start(tr_system *sys, tr_cluster *c, const tr_identity *id, const char *url,
                     const tr_console_opts *o, tr_console **out);

/* Stops the sockets and frees con; waits for running callbacks. NULL is a
 * no-op. Call it before tr_cluster_free() and tr_system_free(). */
void tr_console_stop(tr_console *con);

/* The URLs as clients dial them (a port 0 replaced by the bound port).
 * Owned by con. */
const char *tr_console_url(const tr_console *con);
const char *tr_console_pub_url(const tr_console *con);

void tr_console_get_stats(tr_console *con, tr_console_stats *out);

/* The `events` command (console_events.c): asks "events/<topic>" for its
 * stored events ({topic?, filter?, after?, max?, from_time?, to_time?, desc?} in
 * args, the caller's) and appends the bus's answer {ok, events, more} to
 * out (the caller's). On failure err[0..ecap) (the caller's) says why.
 * Blocks up to 10 s: from the console's thread, not an actor. */
int tr_console_events(tr_system *sys, const tr_unpack *args, tr_pack *out, char *err,
                      size_t ecap);

#endif
