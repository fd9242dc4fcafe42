/* link.h - one authenticated, encrypted connection to another node.
 *
 * A link owns an nng byte stream (tcp:// or ipc://). On it travel frames of
 * a 4-byte big-endian length followed by that many bytes: first the three
 * handshake messages (handshake.h), then frames sealed with the session keys
 * (seal.h). docs/security.md has the protocol.
 *
 * Threads: sends come from any thread; everything else happens in nng's
 * completion callbacks, which only parse, open and hand frames to the
 * owner's callbacks. Nothing here blocks except tr_link_free().
 *
 * Batching: a sender appends its message to the link's open frame under a
 * mutex. If no write is in flight it seals the frame and starts one; if one
 * is, the message rides in the next frame, which the write's completion
 * sends. So an idle link sends a message at once, and a busy one packs
 * everything that arrived during a write into one frame and one seal.
 */
#ifndef TR_CLUSTER_LINK_H
#define TR_CLUSTER_LINK_H

#include <stddef.h>
#include <stdint.h>

#include <nng/nng.h>

#include "identity.h"
#include "troupe/codec.h"

typedef struct tr_link tr_link;

/* Frame types (the sealed header's type byte). */
enum {
  TR_FRAME_DATA = 1,   /* a batch of envelopes (docs/wire.md) */
  TR_FRAME_GOSSIP = 2, /* membership: msgpack, see member.c */
  TR_FRAME_BYE = 3     /* the sender is closing the link on purpose */
};

/* The largest frame a node accepts (length prefix excluded): one envelope
 * of the largest payload plus room. Longer length prefixes close the link:
 * a stream cannot be resynchronised after a bad length. */
#define TR_LINK_FRAME_MAX (TR_ENVELOPE_PAYLOAD_MAX + (64u << 10))
/* A frame is closed and queued once its plaintext passes this. */
#define TR_LINK_FRAME_TARGET (128u << 10)
/* Bytes a link queues before sends fail with TR_EAGAIN (dead letters). */
#define TR_LINK_QUEUE_MAX (64u << 20)

typedef struct tr_link_ops {
  /* The handshake succeeded; tr_link_peer() is known. */
  void (*up)(tr_link *l, void *arg);
  /* A frame opened. p[0..n) belongs to the link and lives until the
   * callback returns. Runs on an nng thread, one frame at a time per link,
   * in order. */
  void (*frame)(tr_link *l, int type, const uint8_t *p, size_t n, void *arg);
  /* The link is dead (err: why). Called once. Sends fail from now on; the
   * owner frees the link later with tr_link_free(), from another thread. */
  void (*down)(tr_link *l, int err, void *arg);
  /* Once per queued message that never left (the link died first), before
   * down; e borrows from the link. May be NULL. */
  void (*lost)(tr_link *l, const tr_envelope *e, void *arg);
} tr_link_ops;

typedef struct tr_link_stats {
  uint64_t frames_out, frames_in, msgs_out, msgs_in, bytes_out, bytes_in;
  uint64_t rejected_auth, rejected_replay, rejected_size; /* dropped frames */
  uint64_t rekeys;
} tr_link_stats;

/* Takes ownership of stream s (connected). initiator: this side dialled.
 * id is borrowed and must outlive the link. Nothing happens until start. */
int tr_link_new(nng_stream *s, int initiator, const tr_identity *id, const tr_link_ops *ops,
                void *arg, tr_link **out);
/* Starts the handshake (a timeout is the owner's job: tr_link_close). */
int tr_link_start(tr_link *l);
/* Queues one envelope (copied; e's buffers stay the caller's). TR_ESTOPPED
 * if the link is down, TR_EAGAIN over TR_LINK_QUEUE_MAX, codec errors for a
 * bad envelope. Messages queued before the handshake ends go after it. */
int tr_link_send(tr_link *l, const tr_envelope *e);
/* Queues a frame of another type; p[0..n) is the caller's and is copied. */
int tr_link_send_frame(tr_link *l, int type, const void *p, size_t n);
/* Closes the stream; the down callback follows (at once if it is already
 * down). Any thread, including the link's own callbacks. */
void tr_link_close(tr_link *l);
/* Closes the link and waits until none of its callbacks runs or will run.
 * Never from one of this link's callbacks. */
void tr_link_quiesce(tr_link *l);
/* Waits for the link's callbacks to finish and frees it. Never from one of
 * this link's callbacks. */
void tr_link_free(tr_link *l);

int tr_link_is_up(const tr_link *l);
uint64_t tr_link_peer(const tr_link *l); /* node id; 0 before the handshake */
uint64_t tr_link_started_ms(const tr_link *l);
void tr_link_get_stats(tr_link *l, tr_link_stats *out);

/* Benchmarks only: frames are framed and counted but not encrypted. Both
 * ends must agree. Production links are always sealed. */
void tr_link_set_unsealed_for_bench(int on);

uint64_t tr_now_ms(void); /* monotonic milliseconds (runtime/system.c) */

#endif
