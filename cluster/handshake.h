/* handshake.h - how two nodes prove themselves and agree on session keys.
 *
 * Three messages, Noise-XX-like with a pre-shared key (the cluster secret),
 * the statics being Ed25519 signing keys rather than DH keys (SIGMA style):
 *
 *   I -> R  msg1  "TRP1" | version | e_I | mac1           (69 bytes)
 *   R -> I  msg2  e_R | AEAD_k1(pk_R | sig_R)             (144 bytes)
 *   I -> R  msg3  AEAD_k2(pk_I | sig_I)                   (112 bytes)
 *
 * I is the side that dialled, R the side that accepted. docs/security.md
 * has the byte layouts, the key schedule and the threat model.
 *
 * Nothing here does I/O or calls a clock: the transport moves the bytes
 * (each message in its own length-prefixed frame, so lengths are exact) and
 * asks tr_hs_next() what to do. Every buffer is the caller's; a tr_hs has a
 * fixed size and allocates nothing.
 *
 * Any error from tr_hs_read() is final: the handshake is dead, its secrets
 * are wiped, and the link must be closed. Errors:
 *   TR_EPROTO    wrong length or magic, a message out of turn, a weak key
 *   TR_EVERSION  msg1 of another protocol version
 *   TR_EPERM     authentication failed: bad mac1 (peer lacks the secret),
 *                AEAD failure (tampered, or peer lacks the secret), bad
 *                signature
 *   TR_HS_ESELF  the peer is this node (same Ed25519 key): drop the link
 *                and do not dial that address again
 */
#ifndef TR_CLUSTER_HANDSHAKE_H
#define TR_CLUSTER_HANDSHAKE_H

#include <stddef.h>
#include <stdint.h>

#include "identity.h"
#include "seal.h"
#include "troupe/error.h"

#define TR_HS_VERSION 1
#define TR_HS_MSG1_LEN (4 + 1 + 32 + 32)
#define TR_HS_MSG2_LEN (32 + 32 + 64 + 16)
#define TR_HS_MSG3_LEN (32 + 64 + 16)
#define TR_HS_MSG_MAX TR_HS_MSG2_LEN /* the largest handshake message */

/* The peer holds our own key: a node dialled itself. */
#define TR_HS_ESELF TR_EEXIST

/* What the transport does next (tr_hs_next). */
enum { TR_HS_WRITE = 1, TR_HS_READ = 2, TR_HS_DONE = 3, TR_HS_FAILED = 4 };

typedef struct tr_hs {
  const tr_identity *id; /* borrowed: outlives the handshake */
  int initiator;
  int state;
  uint8_t e_pk[32], e_sk[32]; /* our ephemeral X25519 pair; e_sk wiped after DH */
  uint8_t re[32];             /* the peer's ephemeral */
  uint8_t ck[32];             /* chaining key: every secret so far */
  uint8_t h[32];              /* transcript hash: every byte so far */
  uint8_t k1[32], k2[32];     /* keys of msg2 and msg3, each used once */
  uint8_t peer_pk[32];        /* the peer's Ed25519 key, once proven */
} tr_hs;

/* Starts a handshake as the dialling side (initiator != 0) or the accepting
 * side. id is borrowed and must outlive hs; a fresh ephemeral key pair is
 * made here. TR_EINVAL without id, TR_ENOMEM if libsodium cannot start. */
int tr_hs_init(tr_hs *hs, int initiator, const tr_identity *id);

/* TR_HS_WRITE, TR_HS_READ, TR_HS_DONE or TR_HS_FAILED. */
int tr_hs_next(const tr_hs *hs);

/* Writes our next message to out (caller-owned, cap bytes; TR_HS_MSG_MAX
 * always suffices) and its length to *len. TR_EINVAL if it is not our turn,
 * TR_ETOOBIG if cap is short; neither harms the handshake. */
int tr_hs_write(tr_hs *hs, uint8_t *out, size_t cap, size_t *len);

/* Consumes the peer's next message in[0..len) (caller-owned, only read).
 * 0, or an error above after which the handshake is dead. */
int tr_hs_read(tr_hs *hs, const uint8_t *in, size_t len);

/* 1 once both sides are proven (the initiator after writing msg3, the
 * responder after reading it), else 0. */
int tr_hs_done(const tr_hs *hs);

/* After tr_hs_done: fills tx (our sending direction) and rx with the two
 * session keys, the peer's Ed25519 key into peer_pk and its node id into
 * *peer_node_id (either may be NULL; both caller-owned), then wipes hs.
 * now_ms starts the seals' rekey clocks. TR_EINVAL before done. */
int tr_hs_split(tr_hs *hs, tr_seal *tx, tr_seal *rx, uint8_t peer_pk[32], uint64_t *peer_node_id,
                uint64_t now_ms);

/* Wipes every secret in hs; safe at any point and more than once. */
void tr_hs_clear(tr_hs *hs);

#endif
