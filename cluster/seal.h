/* seal.h - sealing and opening the frames of a link after the handshake.
 *
 * One tr_seal per direction: the sender's seals, the receiver's opens. A
 * sealed frame is
 *
 *   type u8 | epoch u8 | counter u64 BE | ciphertext | tag (16)
 *   \------------ header (10) --------/
 *
 * XChaCha20-Poly1305-IETF with the header as associated data: the header
 * travels in clear but any change to it fails authentication. The nonce is
 * 16 zero bytes then the counter (BE); counters start at 1 and only grow,
 * across epochs too, so a nonce never repeats under a key.
 *
 * Rekeying: the sender ratchets its key (KDF of the old one, old one wiped)
 * before sealing a frame once the current key has sealed rekey_frames frames
 * or rekey_bytes bytes, or rekey_ms has passed since the last ratchet, and
 * tags frames with the new epoch (low 8 bits). The receiver ratchets when a
 * frame of its epoch + 1 authenticates under the ratcheted key, and only
 * then. Time is whatever the caller passes as now_ms: nothing here reads a
 * clock.
 *
 * The receiver accepts only counters above the last accepted one: the link
 * runs over an ordered stream, so anything else is a replay. A rejected
 * frame leaves the tr_seal as it was (stats aside), so the next genuine
 * frame opens: a tampered or replayed frame is dropped and counted, and the
 * link lives on. Errors of tr_seal_open():
 *   TR_EPROTO        shorter than TR_SEAL_OVERHEAD        (rejected_size)
 *   TR_ETOOBIG       longer than max_frame                (rejected_size)
 *   TR_SEAL_EREPLAY  counter not above the last accepted  (rejected_replay)
 *   TR_EPERM         authentication failed, or an epoch
 *                    other than ours or ours + 1          (rejected_auth)
 */
#ifndef TR_CLUSTER_SEAL_H
#define TR_CLUSTER_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include "troupe/error.h"

#define TR_SEAL_HEADER 10
#define TR_SEAL_TAG 16
#define TR_SEAL_OVERHEAD (TR_SEAL_HEADER + TR_SEAL_TAG)

/* Defaults set by tr_seal_init; the fields may be changed afterwards.
 * max_frame counts sealed bytes, header and tag included: by default a
 * plaintext of up to 16 MiB + 64 KiB (TR_LINK_FRAME_MAX) and the overhead. */
#define TR_SEAL_FRAME_MAX ((16u << 20) + (64u << 10) + TR_SEAL_OVERHEAD)
#define TR_SEAL_REKEY_BYTES (1ull << 30)
#define TR_SEAL_REKEY_FRAMES (1ull << 24)
#define TR_SEAL_REKEY_MS (10ull * 60 * 1000)

/* A frame whose counter is not above the last accepted one. */
#define TR_SEAL_EREPLAY TR_ERANGE

typedef struct tr_seal_stats {
  uint64_t sealed, opened;                              /* frames */
  uint64_t rejected_auth, rejected_replay, rejected_size; /* frames refused */
  uint64_t rekeys;                                      /* ratchets done or followed */
} tr_seal_stats;

typedef struct tr_seal {
  uint8_t key[32];
  uint64_t counter; /* sender: last used; receiver: last accepted; 0 = none */
  uint32_t epoch;   /* ratchets so far; the wire carries its low 8 bits */
  uint64_t epoch_frames, epoch_bytes, epoch_ms; /* since the last ratchet */
  /* sender's rekey limits; 0 turns one off */
  uint64_t rekey_frames, rekey_bytes, rekey_ms;
  size_t max_frame; /* largest sealed frame sealed or opened */
  tr_seal_stats stats;
} tr_seal;

/* A tr_seal is plain data with no lock: one thread at a time uses it (the
 * link's send mutex for tx, its receive callback for rx). */

/* Starts a direction with key (caller-owned, copied) at time now_ms, with
 * the default limits. */
void tr_seal_init(tr_seal *s, const uint8_t key[32], uint64_t now_ms);

/* Seals pt[0..n) as a frame of the given type into out (cap bytes), whose
 * length (n + TR_SEAL_OVERHEAD) goes to *outlen. pt and out are the
 * caller's. They may overlap in any way; sealing in place, with the
 * plaintext already at out + TR_SEAL_HEADER, costs no copy. pt may be NULL
 * when n is 0. TR_ETOOBIG if cap is short or the frame would pass
 * max_frame, TR_ERANGE once the counter is exhausted (2^64 frames); tx is
 * unchanged then. */
int tr_seal_frame(tr_seal *tx, uint8_t type, const uint8_t *pt, size_t n, uint8_t *out,
                  size_t cap, size_t *outlen, uint64_t now_ms);

/* Opens frame[0..n) in place. frame is the caller's: on success *pt points
 * into it (at frame + TR_SEAL_HEADER) for *ptlen bytes; on failure its
 * bytes may have been overwritten. Errors above; rx is unchanged by them
 * but for its stats. */
int tr_seal_open(tr_seal *rx, uint8_t *frame, size_t n, uint8_t *type, uint8_t **pt,
                 size_t *ptlen);

/* Wipes the key (and everything else). */
void tr_seal_clear(tr_seal *s);

#endif
