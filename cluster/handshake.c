/* handshake.c - see handshake.h; docs/security.md has the key schedule.
 *
 * Two running values carry the handshake, as in Noise: the transcript hash
 * h (every byte sent or received, used as AEAD associated data and as what
 * the statics sign) and the chaining key ck (every secret: the cluster
 * secret, then the ephemeral DH). The session keys come from both, so they
 * depend on the secret, on fresh ephemerals, and on everything said.
 *
 * The responder checks mac1 (a keyed hash needing only the secret) before
 * it does any public-key work, so a stranger costs it one BLAKE2b.
 */
#include "handshake.h"

#include <sodium.h>
#include <string.h>

#define NAME "troupe-link-v1 XXpsk X25519 XChaCha20-Poly1305 BLAKE2b Ed25519"
#define MAGIC "TRP1"
#define KDF_CTX "troupeHS" /* crypto_kdf context of the secret's subkeys */
enum { SUB_MAC1 = 1, SUB_PSK = 2 };

/* What each side signs, before h: the roles differ so that one side's
 * signature can never stand for the other's. */
#define SIG_R "troupe/hs/resp"
#define SIG_I "troupe/hs/init"

#define AEAD_A crypto_aead_xchacha20poly1305_ietf_ABYTES
#define PAYLOAD (32 + crypto_sign_BYTES) /* pk | sig */

/* zero is failed, so that a zeroed tr_hs that never saw tr_hs_init is inert */
enum { S_FAILED, S_SEND1, S_WAIT1, S_SEND2, S_WAIT2, S_SEND3, S_WAIT3, S_DONE };

/* BLAKE2b-256 of a | b, keyed when key is set. */
static void hash2(uint8_t out[32], const uint8_t *key, const void *a, size_t an, const void *b,
                  size_t bn) {
  crypto_generichash_state st;
  crypto_generichash_init(&st, key, key ? 32 : 0, 32);
  crypto_generichash_update(&st, a, an);
  crypto_generichash_update(&st, b, bn);
  crypto_generichash_final(&st, out, 32);
  sodium_memzero(&st, sizeof st);
}

static void mix_hash(tr_hs *hs, const uint8_t *d, size_t n) { hash2(hs->h, NULL, hs->h, 32, d, n); }

/* HKDF with keyed BLAKE2b in the place of HMAC: extract prk from ikm under
 * ck, then expand to up to three 32-byte outputs (o3 may be NULL). Outputs
 * may alias ck. */
static void kdf(const uint8_t ck[32], const uint8_t *ikm, size_t n, uint8_t *o1, uint8_t *o2,
                uint8_t *o3) {
  uint8_t prk[32], a[32], b[32];
  const uint8_t one = 1, two = 2, three = 3;
  hash2(prk, ck, ikm, n, NULL, 0);
  hash2(a, prk, &one, 1, NULL, 0);
  hash2(b, prk, a, 32, &two, 1);
  if (o3) hash2(o3, prk, b, 32, &three, 1);
  memcpy(o1, a, 32);
  memcpy(o2, b, 32);
  sodium_memzero(prk, sizeof prk);
  sodium_memzero(a, sizeof a);
  sodium_memzero(b, sizeof b);
}

static void fail(tr_hs *hs) {
  const tr_identity *id = hs->id;
  int initiator = hs->initiator;
  sodium_memzero(hs, sizeof *hs);
  hs->id = id;
  hs->initiator = initiator;
  hs->state = S_FAILED;
}

/* Fails the handshake with code. */
static int refuse(tr_hs *hs, int code) {
  fail(hs);
  return code;
}

int tr_hs_init(tr_hs *hs, int initiator, const tr_identity *id) {
  if (!hs) return TR_EINVAL;
  memset(hs, 0, sizeof *hs);
  hs->state = S_FAILED;
  if (!id) return TR_EINVAL;
  if (sodium_init() < 0) return TR_ENOMEM;
  hs->id = id;
  hs->initiator = !!initiator;
  crypto_box_keypair(hs->e_pk, hs->e_sk);

  /* h = ck = H(NAME); then the secret enters both (Noise's psk token at
   * the start): the keys depend on it, and so does what the statics sign */
  uint8_t psk[32], t[32];
  crypto_generichash(hs->h, 32, (const uint8_t *)NAME, sizeof NAME - 1, NULL, 0);
  memcpy(hs->ck, hs->h, 32);
  crypto_kdf_derive_from_key(psk, sizeof psk, SUB_PSK, KDF_CTX, id->secret);
  kdf(hs->ck, psk, sizeof psk, hs->ck, t, NULL);
  mix_hash(hs, t, sizeof t);
  sodium_memzero(psk, sizeof psk);
  sodium_memzero(t, sizeof t);
  hs->state = hs->initiator ? S_SEND1 : S_WAIT1;
  return 0;
}

int tr_hs_next(const tr_hs *hs) {
  switch (hs ? hs->state : S_FAILED) {
  case S_SEND1:
  case S_SEND2:
  case S_SEND3:
    return TR_HS_WRITE;
  case S_WAIT1:
  case S_WAIT2:
  case S_WAIT3:
    return TR_HS_READ;
  case S_DONE:
    return TR_HS_DONE;
  default:
    return TR_HS_FAILED;
  }
}

int tr_hs_done(const tr_hs *hs) { return hs && hs->state == S_DONE; }

/* The ephemeral DH and the two handshake keys; the ephemeral secret is not
 * needed after this and is wiped. -1 if the peer's key is of low order. */
static int dh(tr_hs *hs) {
  uint8_t s[32];
  int rc = crypto_scalarmult(s, hs->e_sk, hs->re);
  sodium_memzero(hs->e_sk, sizeof hs->e_sk);
  if (rc != 0) return -1;
  kdf(hs->ck, s, sizeof s, hs->ck, hs->k1, hs->k2);
  sodium_memzero(s, sizeof s);
  return 0;
}

/* pk | sign(label | h), sealed under k with h as associated data, into out;
 * then h absorbs the ciphertext. Each key seals one message: zero nonce. */
static void write_static(tr_hs *hs, const char *label, const uint8_t k[32], uint8_t *out) {
  uint8_t p[PAYLOAD], msg[32 + 32], nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES] = {0};
  size_t ln = strlen(label);
  memcpy(msg, label, ln);
  memcpy(msg + ln, hs->h, 32);
  memcpy(p, hs->id->pk, 32);
  crypto_sign_detached(p + 32, NULL, msg, ln + 32, hs->id->sk);
  crypto_aead_xchacha20poly1305_ietf_encrypt(out, NULL, p, sizeof p, hs->h, 32, NULL, nonce, k);
  mix_hash(hs, out, PAYLOAD + AEAD_A);
  sodium_memzero(p, sizeof p);
}

/* The reverse of write_static: opens c, checks the signature and that the
 * peer is not us, and keeps the peer's key. */
static int read_static(tr_hs *hs, const char *label, const uint8_t k[32], const uint8_t *c) {
  uint8_t p[PAYLOAD], msg[32 + 32], nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES] = {0};
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(p, NULL, NULL, c, PAYLOAD + AEAD_A, hs->h, 32,
                                                 nonce, k) != 0)
    return TR_EPERM;
  size_t ln = strlen(label);
  memcpy(msg, label, ln);
  memcpy(msg + ln, hs->h, 32);
  if (crypto_sign_verify_detached(p + 32, msg, ln + 32, p) != 0) return TR_EPERM;
  /* only after the signature: the transport stops dialling an address that
   * answers with our own key, so that must be proven, not claimed */
  if (memcmp(p, hs->id->pk, 32) == 0) return TR_HS_ESELF;
  memcpy(hs->peer_pk, p, 32);
  mix_hash(hs, c, PAYLOAD + AEAD_A);
  return 0;
}

int tr_hs_write(tr_hs *hs, uint8_t *out, size_t cap, size_t *len) {
  if (!hs || !out || !len) return TR_EINVAL;
  switch (hs->state) {
  case S_SEND1: {
    if (cap < TR_HS_MSG1_LEN) return TR_ETOOBIG;
    uint8_t mk[32];
    memcpy(out, MAGIC, 4);
    out[4] = TR_HS_VERSION;
    memcpy(out + 5, hs->e_pk, 32);
    crypto_kdf_derive_from_key(mk, sizeof mk, SUB_MAC1, KDF_CTX, hs->id->secret);
    hash2(out + 37, mk, out, 37, NULL, 0);
    sodium_memzero(mk, sizeof mk);
    mix_hash(hs, out, TR_HS_MSG1_LEN);
    *len = TR_HS_MSG1_LEN;
    hs->state = S_WAIT2;
    return 0;
  }
  case S_SEND2:
    if (cap < TR_HS_MSG2_LEN) return TR_ETOOBIG;
    memcpy(out, hs->e_pk, 32); /* h has it already (tr_hs_read) */
    write_static(hs, SIG_R, hs->k1, out + 32);
    sodium_memzero(hs->k1, sizeof hs->k1);
    *len = TR_HS_MSG2_LEN;
    hs->state = S_WAIT3;
    return 0;
  case S_SEND3:
    if (cap < TR_HS_MSG3_LEN) return TR_ETOOBIG;
    write_static(hs, SIG_I, hs->k2, out);
    sodium_memzero(hs->k2, sizeof hs->k2);
    *len = TR_HS_MSG3_LEN;
    hs->state = S_DONE;
    return 0;
  default:
    return TR_EINVAL;
  }
}

static int read1(tr_hs *hs, const uint8_t *in, size_t len) {
  if (len != TR_HS_MSG1_LEN || memcmp(in, MAGIC, 4) != 0) return TR_EPROTO;
  if (in[4] != TR_HS_VERSION) return TR_EVERSION;
  uint8_t mk[32], mac[32];
  crypto_kdf_derive_from_key(mk, sizeof mk, SUB_MAC1, KDF_CTX, hs->id->secret);
  hash2(mac, mk, in, 37, NULL, 0);
  sodium_memzero(mk, sizeof mk);
  if (crypto_verify_32(mac, in + 37) != 0) return TR_EPERM;
  /* the peer knows the secret (or replays a msg1 of someone who does,
   * which gets it nothing: it cannot finish without e_I's secret) */
  memcpy(hs->re, in + 5, 32);
  mix_hash(hs, in, len);
  mix_hash(hs, hs->e_pk, 32);
  if (dh(hs) != 0) return TR_EPROTO;
  hs->state = S_SEND2;
  return 0;
}

static int read2(tr_hs *hs, const uint8_t *in, size_t len) {
  if (len != TR_HS_MSG2_LEN) return TR_EPROTO;
  memcpy(hs->re, in, 32);
  mix_hash(hs, hs->re, 32);
  if (dh(hs) != 0) return TR_EPROTO;
  int rc = read_static(hs, SIG_R, hs->k1, in + 32);
  sodium_memzero(hs->k1, sizeof hs->k1);
  if (rc != 0) return rc;
  hs->state = S_SEND3;
  return 0;
}

static int read3(tr_hs *hs, const uint8_t *in, size_t len) {
  if (len != TR_HS_MSG3_LEN) return TR_EPROTO;
  int rc = read_static(hs, SIG_I, hs->k2, in);
  sodium_memzero(hs->k2, sizeof hs->k2);
  if (rc != 0) return rc;
  hs->state = S_DONE;
  return 0;
}

int tr_hs_read(tr_hs *hs, const uint8_t *in, size_t len) {
  if (!hs) return TR_EINVAL;
  if (!in && len) return refuse(hs, TR_EINVAL);
  int rc;
  switch (hs->state) {
  case S_WAIT1:
    rc = read1(hs, in, len);
    break;
  case S_WAIT2:
    rc = read2(hs, in, len);
    break;
  case S_WAIT3:
    rc = read3(hs, in, len);
    break;
  default: /* a message when it is our turn, or after the end */
    rc = TR_EPROTO;
  }
  return rc ? refuse(hs, rc) : 0;
}

int tr_hs_split(tr_hs *hs, tr_seal *tx, tr_seal *rx, uint8_t peer_pk[32], uint64_t *peer_node_id,
                uint64_t now_ms) {
  if (!hs || !tx || !rx || hs->state != S_DONE) return TR_EINVAL;
  /* the session keys come from ck and the whole transcript */
  uint8_t ir[32], ri[32];
  kdf(hs->ck, hs->h, 32, ir, ri, NULL);
  tr_seal_init(tx, hs->initiator ? ir : ri, now_ms);
  tr_seal_init(rx, hs->initiator ? ri : ir, now_ms);
  sodium_memzero(ir, sizeof ir);
  sodium_memzero(ri, sizeof ri);
  if (peer_pk) memcpy(peer_pk, hs->peer_pk, 32);
  if (peer_node_id) *peer_node_id = tr_identity_node_id(hs->peer_pk);
  tr_hs_clear(hs);
  return 0;
}

void tr_hs_clear(tr_hs *hs) {
  if (hs) fail(hs);
}
