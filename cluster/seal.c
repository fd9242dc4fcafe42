/* seal.c - see seal.h. The receiver decides everything it can from the
 * clear header before touching the AEAD (size, counter, epoch), and changes
 * its state only after a frame authenticated, so a forged or replayed frame
 * costs it nothing but a counter increment. */
#include "seal.h"

#include <sodium.h>
#include <string.h>

#define NONCE crypto_aead_xchacha20poly1305_ietf_NPUBBYTES

/* The next epoch's key: a one-way step, so a key that leaks later does not
 * open the frames of earlier epochs. The new epoch number keeps the steps
 * apart. out may equal key. */
static void ratchet(uint8_t out[32], const uint8_t key[32], uint32_t epoch) {
  uint8_t k[32];
  crypto_kdf_derive_from_key(k, sizeof k, epoch, "troupeRK", key);
  memcpy(out, k, sizeof k);
  sodium_memzero(k, sizeof k);
}

static void nonce_of(uint8_t n[NONCE], uint64_t counter) {
  memset(n, 0, NONCE);
  for (int i = 0; i < 8; i++) n[NONCE - 1 - i] = (uint8_t)(counter >> (8 * i));
}

void tr_seal_init(tr_seal *s, const uint8_t key[32], uint64_t now_ms) {
  memset(s, 0, sizeof *s);
  memcpy(s->key, key, 32);
  s->epoch_ms = now_ms;
  s->rekey_frames = TR_SEAL_REKEY_FRAMES;
  s->rekey_bytes = TR_SEAL_REKEY_BYTES;
  s->rekey_ms = TR_SEAL_REKEY_MS;
  s->max_frame = TR_SEAL_FRAME_MAX;
}

void tr_seal_clear(tr_seal *s) {
  if (s) sodium_memzero(s, sizeof *s);
}

/* A clock that runs backwards (now_ms below epoch_ms) counts as no time. */
static int due(const tr_seal *tx, uint64_t now_ms) {
  if (tx->rekey_frames && tx->epoch_frames >= tx->rekey_frames) return 1;
  if (tx->rekey_bytes && tx->epoch_bytes >= tx->rekey_bytes) return 1;
  return tx->rekey_ms && now_ms > tx->epoch_ms && now_ms - tx->epoch_ms >= tx->rekey_ms;
}

int tr_seal_frame(tr_seal *tx, uint8_t type, const uint8_t *pt, size_t n, uint8_t *out,
                  size_t cap, size_t *outlen, uint64_t now_ms) {
  if (!tx || !out || !outlen || (!pt && n)) return TR_EINVAL;
  if (n > SIZE_MAX - TR_SEAL_OVERHEAD) return TR_ETOOBIG;
  size_t len = n + TR_SEAL_OVERHEAD;
  if (len > cap || len > tx->max_frame) return TR_ETOOBIG;
  if (tx->counter == UINT64_MAX) return TR_ERANGE;

  uint8_t *c = out + TR_SEAL_HEADER;
  /* Any overlap other than exactly in place: move the plaintext into place
   * first (the header would overwrite its start otherwise), then seal in
   * place, which libsodium supports. */
  uintptr_t p = (uintptr_t)pt, o = (uintptr_t)out;
  if (n && pt != c && p < o + len && o < p + n) {
    memmove(c, pt, n);
    pt = c;
  }
  if (!n) pt = c;

  if (due(tx, now_ms)) {
    tx->epoch++;
    ratchet(tx->key, tx->key, tx->epoch);
    tx->epoch_frames = tx->epoch_bytes = 0;
    tx->epoch_ms = now_ms;
    tx->stats.rekeys++;
  }
  uint64_t ctr = ++tx->counter;
  out[0] = type;
  out[1] = (uint8_t)tx->epoch;
  for (int i = 0; i < 8; i++) out[2 + i] = (uint8_t)(ctr >> (56 - 8 * i));
  uint8_t nonce[NONCE];
  nonce_of(nonce, ctr);
  crypto_aead_xchacha20poly1305_ietf_encrypt(c, NULL, pt, n, out, TR_SEAL_HEADER, NULL, nonce,
                                             tx->key);
  tx->epoch_frames++;
  tx->epoch_bytes += n;
  tx->stats.sealed++;
  *outlen = len;
  return 0;
}

int tr_seal_open(tr_seal *rx, uint8_t *frame, size_t n, uint8_t *type, uint8_t **pt,
                 size_t *ptlen) {
  if (!rx || (!frame && n)) return TR_EINVAL;
  if (n < TR_SEAL_OVERHEAD || n > rx->max_frame) {
    rx->stats.rejected_size++;
    return n < TR_SEAL_OVERHEAD ? TR_EPROTO : TR_ETOOBIG;
  }
  uint64_t ctr = 0;
  for (int i = 0; i < 8; i++) ctr = (ctr << 8) | frame[2 + i];
  /* the counter is not authenticated yet, but refusing on it changes
   * nothing, and a genuine frame never carries an old one */
  if (ctr <= rx->counter) {
    rx->stats.rejected_replay++;
    return TR_SEAL_EREPLAY;
  }
  /* Our epoch opens with our key; the next one with the ratcheted key, kept
   * aside until the frame proves it. Frames never skip an epoch: the sender
   * ratchets at most once per frame. */
  uint8_t next[32];
  const uint8_t *key = rx->key;
  int step = frame[1] != (uint8_t)rx->epoch;
  if (step) {
    if (frame[1] != (uint8_t)(rx->epoch + 1)) {
      rx->stats.rejected_auth++;
      return TR_EPERM;
    }
    ratchet(next, rx->key, rx->epoch + 1);
    key = next;
  }
  uint8_t nonce[NONCE];
  nonce_of(nonce, ctr);
  uint8_t *c = frame + TR_SEAL_HEADER;
  size_t clen = n - TR_SEAL_HEADER;
  int bad = crypto_aead_xchacha20poly1305_ietf_decrypt(c, NULL, NULL, c, clen, frame,
                                                       TR_SEAL_HEADER, nonce, key) != 0;
  if (bad) {
    if (step) sodium_memzero(next, sizeof next);
    rx->stats.rejected_auth++;
    return TR_EPERM;
  }
  if (step) {
    memcpy(rx->key, next, sizeof next);
    sodium_memzero(next, sizeof next);
    rx->epoch++;
    rx->epoch_frames = rx->epoch_bytes = 0;
    rx->stats.rekeys++;
  }
  rx->counter = ctr;
  rx->epoch_frames++;
  rx->epoch_bytes += clen - TR_SEAL_TAG;
  rx->stats.opened++;
  if (type) *type = frame[0];
  if (pt) *pt = c;
  if (ptlen) *ptlen = clen - TR_SEAL_TAG;
  return 0;
}
