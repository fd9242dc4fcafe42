/* test_handshake.c - the link handshake: both sides agree on keys and on
 * who the other is; a stranger is refused at msg1; any change to any
 * message, any other length, a message out of turn, a forged identity and
 * a node talking to itself are all refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sodium.h>
#include <string.h>

#include "cluster/handshake.h"

static uint8_t secret_a[32], secret_b[32];

static void make_id(tr_identity *id, const uint8_t secret[32]) {
  memset(id, 0, sizeof *id);
  crypto_sign_keypair(id->pk, id->sk);
  memcpy(id->secret, secret, 32);
  id->node_id = tr_identity_node_id(id->pk);
}

/* A handshake between i and r, stopped before split. */
static void run(tr_hs *hi, tr_hs *hr, const tr_identity *i, const tr_identity *r, uint8_t m1[],
                uint8_t m2[], uint8_t m3[]) {
  size_t n;
  assert_int_equal(tr_hs_init(hi, 1, i), 0);
  assert_int_equal(tr_hs_init(hr, 0, r), 0);
  assert_int_equal(tr_hs_write(hi, m1, TR_HS_MSG_MAX, &n), 0);
  assert_int_equal(n, TR_HS_MSG1_LEN);
  assert_int_equal(tr_hs_read(hr, m1, n), 0);
  assert_int_equal(tr_hs_write(hr, m2, TR_HS_MSG_MAX, &n), 0);
  assert_int_equal(n, TR_HS_MSG2_LEN);
  assert_int_equal(tr_hs_read(hi, m2, n), 0);
  assert_int_equal(tr_hs_write(hi, m3, TR_HS_MSG_MAX, &n), 0);
  assert_int_equal(n, TR_HS_MSG3_LEN);
  assert_int_equal(tr_hs_read(hr, m3, n), 0);
}

static void test_agree(void **st) {
  tr_identity a, b;
  make_id(&a, secret_a);
  make_id(&b, secret_a);
  tr_hs hi, hr;
  uint8_t m1[TR_HS_MSG_MAX], m2[TR_HS_MSG_MAX], m3[TR_HS_MSG_MAX];
  size_t n;
  assert_int_equal(tr_hs_init(&hi, 1, &a), 0);
  assert_int_equal(tr_hs_init(&hr, 0, &b), 0);
  assert_int_equal(tr_hs_next(&hi), TR_HS_WRITE);
  assert_int_equal(tr_hs_next(&hr), TR_HS_READ);
  assert_int_equal(tr_hs_write(&hi, m1, sizeof m1, &n), 0);
  assert_memory_equal(m1, "TRP1", 4);
  assert_int_equal(m1[4], TR_HS_VERSION);
  assert_int_equal(tr_hs_next(&hi), TR_HS_READ);
  assert_int_equal(tr_hs_read(&hr, m1, n), 0);
  assert_int_equal(tr_hs_next(&hr), TR_HS_WRITE);
  assert_int_equal(tr_hs_write(&hr, m2, sizeof m2, &n), 0);
  assert_int_equal(tr_hs_next(&hr), TR_HS_READ);
  assert_false(tr_hs_done(&hr));
  assert_int_equal(tr_hs_read(&hi, m2, n), 0);
  assert_int_equal(tr_hs_next(&hi), TR_HS_WRITE);
  assert_false(tr_hs_done(&hi));
  assert_int_equal(tr_hs_write(&hi, m3, sizeof m3, &n), 0);
  assert_true(tr_hs_done(&hi));
  assert_int_equal(tr_hs_next(&hi), TR_HS_DONE);
  assert_int_equal(tr_hs_read(&hr, m3, n), 0);
  assert_true(tr_hs_done(&hr));

  tr_seal itx, irx, rtx, rrx;
  uint8_t pi[32], pr[32];
  uint64_t ni = 0, nr = 0;
  assert_int_equal(tr_hs_split(&hi, &itx, &irx, pi, &ni, 5), 0);
  assert_int_equal(tr_hs_split(&hr, &rtx, &rrx, pr, &nr, 7), 0);
  assert_memory_equal(pi, b.pk, 32);
  assert_memory_equal(pr, a.pk, 32);
  assert_true(ni == b.node_id && nr == a.node_id);
  /* one key per direction, and the two directions differ */
  assert_memory_equal(itx.key, rrx.key, 32);
  assert_memory_equal(irx.key, rtx.key, 32);
  assert_memory_not_equal(itx.key, irx.key, 32);
  assert_true(itx.epoch_ms == 5 && rtx.epoch_ms == 7);
  /* split wiped the handshake */
  assert_int_equal(tr_hs_next(&hi), TR_HS_FAILED);
  uint8_t zero[32] = {0};
  assert_memory_equal(hi.ck, zero, 32);
  assert_memory_equal(hr.h, zero, 32);

  /* the keys carry frames both ways */
  uint8_t f[64], *p;
  size_t fl, pl;
  uint8_t ty;
  assert_int_equal(tr_seal_frame(&itx, 1, (const uint8_t *)"ping", 4, f, sizeof f, &fl, 5), 0);
  assert_int_equal(tr_seal_open(&rrx, f, fl, &ty, &p, &pl), 0);
  assert_true(pl == 4 && memcmp(p, "ping", 4) == 0 && ty == 1);
  assert_int_equal(tr_seal_frame(&rtx, 2, (const uint8_t *)"pong", 4, f, sizeof f, &fl, 7), 0);
  assert_int_equal(tr_seal_open(&irx, f, fl, &ty, &p, &pl), 0);
  assert_true(pl == 4 && memcmp(p, "pong", 4) == 0 && ty == 2);
  /* and not the wrong way */
  assert_int_equal(tr_seal_frame(&itx, 1, (const uint8_t *)"ping", 4, f, sizeof f, &fl, 5), 0);
  assert_int_equal(tr_seal_open(&irx, f, fl, &ty, &p, &pl), TR_EPERM);
}

/* Two handshakes of the same pair share no key (fresh ephemerals), and the
 * roles can be swapped. */
static void test_fresh_keys(void **st) {
  tr_identity a, b;
  make_id(&a, secret_a);
  make_id(&b, secret_a);
  tr_hs h1, h2, h3, h4;
  uint8_t m1[TR_HS_MSG_MAX], m2[TR_HS_MSG_MAX], m3[TR_HS_MSG_MAX];
  run(&h1, &h2, &a, &b, m1, m2, m3);
  run(&h3, &h4, &b, &a, m1, m2, m3);
  tr_seal t1, r1, t2, r2, t3, r3, t4, r4;
  uint8_t pk[32];
  assert_int_equal(tr_hs_split(&h1, &t1, &r1, NULL, NULL, 0), 0);
  assert_int_equal(tr_hs_split(&h2, &t2, &r2, NULL, NULL, 0), 0);
  assert_int_equal(tr_hs_split(&h3, &t3, &r3, pk, NULL, 0), 0);
  assert_int_equal(tr_hs_split(&h4, &t4, &r4, NULL, NULL, 0), 0);
  assert_memory_equal(pk, a.pk, 32);
  assert_memory_equal(t3.key, r4.key, 32);
  assert_memory_not_equal(t1.key, t3.key, 32);
  assert_memory_not_equal(t1.key, r3.key, 32);
}

/* A node with another secret is refused by mac1, before any DH. */
static void test_wrong_secret(void **st) {
  tr_identity a, b;
  make_id(&a, secret_b);
  make_id(&b, secret_a);
  tr_hs hi, hr;
  uint8_t m[TR_HS_MSG_MAX];
  size_t n;
  assert_int_equal(tr_hs_init(&hi, 1, &a), 0);
  assert_int_equal(tr_hs_init(&hr, 0, &b), 0);
  assert_int_equal(tr_hs_write(&hi, m, sizeof m, &n), 0);
  assert_int_equal(tr_hs_read(&hr, m, n), TR_EPERM);
  assert_int_equal(tr_hs_next(&hr), TR_HS_FAILED);
  /* the responder did not get as far as a DH: no peer ephemeral kept */
  uint8_t zero[32] = {0};
  assert_memory_equal(hr.re, zero, 32);
}

/* mac1 is BLAKE2b-256 keyed with crypto_kdf subkey 1 of context "troupeHS"
 * of the secret, over the 37 bytes before it (docs/security.md). */
static void put_mac1(uint8_t m1[TR_HS_MSG1_LEN], const uint8_t secret[32]) {
  uint8_t mk[32];
  crypto_kdf_derive_from_key(mk, 32, 1, "troupeHS", secret);
  crypto_generichash(m1 + 37, 32, m1, 37, mk, 32);
}

static void test_mac1_layout(void **st) {
  tr_identity a;
  make_id(&a, secret_a);
  tr_hs hi;
  uint8_t m[TR_HS_MSG_MAX], want[TR_HS_MSG1_LEN];
  size_t n;
  assert_int_equal(tr_hs_init(&hi, 1, &a), 0);
  assert_int_equal(tr_hs_write(&hi, m, sizeof m, &n), 0);
  assert_memory_equal(m + 5, hi.e_pk, 32);
  memcpy(want, m, 37);
  put_mac1(want, secret_a);
  assert_memory_equal(m, want, TR_HS_MSG1_LEN);
  tr_hs_clear(&hi);
}

/* docs/security.md's key schedule, written out again from the page: a
 * handshake replayed by hand with both ephemeral secrets (copied before
 * they are wiped) must read every message and reach the same keys. */
static void H2(uint8_t out[32], const uint8_t *key, const void *a, size_t an, const void *b,
               size_t bn) {
  crypto_generichash_state s;
  crypto_generichash_init(&s, key, key ? 32 : 0, 32);
  crypto_generichash_update(&s, a, an);
  crypto_generichash_update(&s, b, bn);
  crypto_generichash_final(&s, out, 32);
}

static void KDF(uint8_t ck[32], const uint8_t *ikm, size_t n, uint8_t o2[32], uint8_t o3[32]) {
  uint8_t prk[32], o1[32], t[32];
  const uint8_t one = 1, two = 2, three = 3;
  H2(prk, ck, ikm, n, NULL, 0);
  H2(o1, prk, &one, 1, NULL, 0);
  H2(t, prk, o1, 32, &two, 1);
  if (o3) H2(o3, prk, t, 32, &three, 1);
  memcpy(o2, t, 32);
  memcpy(ck, o1, 32);
}

static void open_static(const uint8_t *c, const uint8_t k[32], const uint8_t h[32],
                        const char *label, const uint8_t want_pk[32]) {
  uint8_t p[96], m[14 + 32], nonce[24] = {0};
  assert_int_equal(crypto_aead_xchacha20poly1305_ietf_decrypt(p, NULL, NULL, c, 112, h, 32,
                                                              nonce, k),
                   0);
  assert_memory_equal(p, want_pk, 32);
  memcpy(m, label, 14);
  memcpy(m + 14, h, 32);
  assert_int_equal(crypto_sign_verify_detached(p + 32, m, sizeof m, p), 0);
}

static void test_schedule(void **st) {
  tr_identity a, b;
  make_id(&a, secret_a);
  make_id(&b, secret_a);
  tr_hs hi, hr;
  uint8_t m1[TR_HS_MSG_MAX], m2[TR_HS_MSG_MAX], m3[TR_HS_MSG_MAX], ei[32], er[32];
  size_t n;
  assert_int_equal(tr_hs_init(&hi, 1, &a), 0);
  assert_int_equal(tr_hs_init(&hr, 0, &b), 0);
  memcpy(ei, hi.e_sk, 32);
  memcpy(er, hr.e_sk, 32);
  assert_int_equal(tr_hs_write(&hi, m1, sizeof m1, &n), 0);
  assert_int_equal(tr_hs_read(&hr, m1, n), 0);
  assert_int_equal(tr_hs_write(&hr, m2, sizeof m2, &n), 0);
  assert_int_equal(tr_hs_read(&hi, m2, n), 0);
  assert_int_equal(tr_hs_write(&hi, m3, sizeof m3, &n), 0);
  assert_int_equal(tr_hs_read(&hr, m3, n), 0);
  tr_seal it, ir, rt, rr;
  assert_int_equal(tr_hs_split(&hi, &it, &ir, NULL, NULL, 0), 0);
  assert_int_equal(tr_hs_split(&hr, &rt, &rr, NULL, NULL, 0), 0);

  static const char name[] = "troupe-link-v1 XXpsk X25519 XChaCha20-Poly1305 BLAKE2b Ed25519";
  uint8_t h[32], ck[32], psk[32], t[32], k1[32], k2[32], dh[32], pub[32], kir[32], kri[32];
  crypto_kdf_derive_from_key(psk, 32, 2, "troupeHS", secret_a);
  crypto_generichash(h, 32, (const uint8_t *)name, sizeof name - 1, NULL, 0);
  memcpy(ck, h, 32);
  KDF(ck, psk, 32, t, NULL);
  H2(h, NULL, h, 32, t, 32);
  /* msg1 */
  uint8_t want1[TR_HS_MSG1_LEN];
  memcpy(want1, "TRP1\x01", 5);
  crypto_scalarmult_base(pub, ei);
  memcpy(want1 + 5, pub, 32);
  put_mac1(want1, secret_a);
  assert_memory_equal(m1, want1, TR_HS_MSG1_LEN);
  H2(h, NULL, h, 32, m1, TR_HS_MSG1_LEN);
  /* msg2 */
  crypto_scalarmult_base(pub, er);
  assert_memory_equal(m2, pub, 32);
  H2(h, NULL, h, 32, m2, 32);
  assert_int_equal(crypto_scalarmult(dh, er, m1 + 5), 0);
  KDF(ck, dh, 32, k1, k2);
  open_static(m2 + 32, k1, h, "troupe/hs/resp", b.pk);
  H2(h, NULL, h, 32, m2 + 32, 112);
  /* msg3 */
  open_static(m3, k2, h, "troupe/hs/init", a.pk);
  H2(h, NULL, h, 32, m3, 112);
  /* session keys */
  KDF(ck, h, 32, kri, NULL);
  memcpy(kir, ck, 32); /* KDF's first output went to ck */
  assert_memory_equal(it.key, kir, 32);
  assert_memory_equal(rr.key, kir, 32);
  assert_memory_equal(ir.key, kri, 32);
  assert_memory_equal(rt.key, kri, 32);
}

/* A peer that knows the secret but sends a weak (low-order) ephemeral is
 * refused, at msg1 and at msg2. */
static void test_low_order(void **st) {
  tr_identity a, b;
  make_id(&a, secret_a);
  make_id(&b, secret_a);
  tr_hs hi, hr;
  uint8_t m[TR_HS_MSG_MAX];
  size_t n;
  assert_int_equal(tr_hs_init(&hr, 0, &b), 0);
  memcpy(m, "TRP1", 4);
  m[4] = TR_HS_VERSION;
  memset(m + 5, 0, 32);
  put_mac1(m, secret_a);
  assert_int_equal(tr_hs_read(&hr, m, TR_HS_MSG1_LEN), TR_EPROTO);

  assert_int_equal(tr_hs_init(&hi, 1, &a), 0);
  assert_int_equal(tr_hs_write(&hi, m, sizeof m, &n), 0);
  memset(m, 0, TR_HS_MSG2_LEN);
  assert_int_equal(tr_hs_read(&hi, m, TR_HS_MSG2_LEN), TR_EPROTO);
}

static void test_wrong_version(void **st) {
  tr_identity a, b;
  make_id(&a, secret_a);
  make_id(&b, secret_a);
  tr_hs hi, hr;
  uint8_t m[TR_HS_MSG_MAX];
  size_t n;
  assert_int_equal(tr_hs_init(&hi, 1, &a), 0);
  assert_int_equal(tr_hs_init(&hr, 0, &b), 0);
  assert_int_equal(tr_hs_write(&hi, m, sizeof m, &n), 0);
  m[4] = TR_HS_VERSION + 1;
  put_mac1(m, secret_a); /* even with a good mac1 */
  assert_int_equal(tr_hs_read(&hr, m, n), TR_EVERSION);
}

/* Every single-bit flip of every message is refused, and leaves the side
 * that read it failed. hs structs hold no pointers into themselves, so a
 * copy is a snapshot of the state before the read. */
static void flips(const tr_hs *before, const uint8_t *m, size_t len, int is_msg1) {
  uint8_t x[TR_HS_MSG_MAX];
  for (size_t bit = 0; bit < len * 8; bit++) {
    tr_hs t = *before;
    memcpy(x, m, len);
    x[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    int rc = tr_hs_read(&t, x, len);
    int want = TR_EPERM;
    if (is_msg1 && bit < 32) want = TR_EPROTO;                /* magic */
    if (is_msg1 && bit >= 32 && bit < 40) want = TR_EVERSION; /* version */
    if (rc != want) fail_msg("bit %zu: %d, want %d", bit, rc, want);
    assert_int_equal(tr_hs_next(&t), TR_HS_FAILED);
  }
  tr_hs t = *before; /* the message as sent still passes */
  assert_int_equal(tr_hs_read(&t, m, len), 0);
}

static void test_bit_flips(void **st) {
  tr_identity a, b;
  make_id(&a, secret_a);
  make_id(&b, secret_a);
  tr_hs hi, hr, hi0, hr0;
  uint8_t m1[TR_HS_MSG_MAX], m2[TR_HS_MSG_MAX], m3[TR_HS_MSG_MAX];
  size_t n1, n2, n3;
  assert_int_equal(tr_hs_init(&hi, 1, &a), 0);
  assert_int_equal(tr_hs_init(&hr, 0, &b), 0);
  assert_int_equal(tr_hs_write(&hi, m1, sizeof m1, &n1), 0);
  flips(&hr, m1, n1, 1);
  assert_int_equal(tr_hs_read(&hr, m1, n1), 0);
  assert_int_equal(tr_hs_write(&hr, m2, sizeof m2, &n2), 0);
  hi0 = hi;
  flips(&hi0, m2, n2, 0);
  assert_int_equal(tr_hs_read(&hi, m2, n2), 0);
  assert_int_equal(tr_hs_write(&hi, m3, sizeof m3, &n3), 0);
  hr0 = hr;
  flips(&hr0, m3, n3, 0);
  assert_int_equal(tr_hs_read(&hr, m3, n3), 0);
  assert_true(tr_hs_done(&hr));
}

/* Every shorter length, and longer ones, of every message: TR_EPROTO. */
static void lengths(const tr_hs *before, const uint8_t *m, size_t len) {
  uint8_t x[TR_HS_MSG_MAX + 64];
  memset(x, 0xa5, sizeof x);
  memcpy(x, m, len);
  for (size_t l = 0; l < sizeof x; l++) {
    if (l == len) continue;
    tr_hs t = *before;
    int rc = tr_hs_read(&t, x, l);
    if (rc != TR_EPROTO) fail_msg("length %zu of %zu: %d", l, len, rc);
    assert_int_equal(tr_hs_next(&t), TR_HS_FAILED);
  }
  tr_hs t = *before;
  assert_int_equal(tr_hs_read(&t, x, len), 0);
}

static void test_lengths(void **st) {
  tr_identity a, b;
  make_id(&a, secret_a);
  make_id(&b, secret_a);
  tr_hs hi, hr;
  uint8_t m1[TR_HS_MSG_MAX], m2[TR_HS_MSG_MAX], m3[TR_HS_MSG_MAX];
  size_t n1, n2, n3;
  assert_int_equal(tr_hs_init(&hi, 1, &a), 0);
  assert_int_equal(tr_hs_init(&hr, 0, &b), 0);
  assert_int_equal(tr_hs_write(&hi, m1, sizeof m1, &n1), 0);
  lengths(&hr, m1, n1);
  assert_int_equal(tr_hs_read(&hr, m1, n1), 0);
  assert_int_equal(tr_hs_write(&hr, m2, sizeof m2, &n2), 0);
  lengths(&hi, m2, n2);
  assert_int_equal(tr_hs_read(&hi, m2, n2), 0);
  assert_int_equal(tr_hs_write(&hi, m3, sizeof m3, &n3), 0);
  lengths(&hr, m3, n3);
  /* and a NULL message */
  tr_hs t = hr;
  assert_int_equal(tr_hs_read(&t, NULL, 0), TR_EPROTO);
}

/* The secret alone does not make an impostor: a member claiming another
 * node's key cannot sign for it, as responder or as initiator. */
static void test_impostor(void **st) {
  tr_identity a, b, c, fake;
  make_id(&a, secret_a);
  make_id(&b, secret_a);
  make_id(&c, secret_a);
  fake = c;
  memcpy(fake.pk, b.pk, 32); /* c's secret key, b's public key */
  tr_hs hi, hr;
  uint8_t m1[TR_HS_MSG_MAX], m2[TR_HS_MSG_MAX], m3[TR_HS_MSG_MAX];
  size_t n;
  assert_int_equal(tr_hs_init(&hi, 1, &a), 0);
  assert_int_equal(tr_hs_init(&hr, 0, &fake), 0);
  assert_int_equal(tr_hs_write(&hi, m1, sizeof m1, &n), 0);
  assert_int_equal(tr_hs_read(&hr, m1, n), 0);
  assert_int_equal(tr_hs_write(&hr, m2, sizeof m2, &n), 0);
  assert_int_equal(tr_hs_read(&hi, m2, n), TR_EPERM);

  assert_int_equal(tr_hs_init(&hi, 1, &fake), 0);
  assert_int_equal(tr_hs_init(&hr, 0, &a), 0);
  assert_int_equal(tr_hs_write(&hi, m1, sizeof m1, &n), 0);
  assert_int_equal(tr_hs_read(&hr, m1, n), 0);
  assert_int_equal(tr_hs_write(&hr, m2, sizeof m2, &n), 0);
  assert_int_equal(tr_hs_read(&hi, m2, n), 0);
  assert_int_equal(tr_hs_write(&hi, m3, sizeof m3, &n), 0);
  assert_int_equal(tr_hs_read(&hr, m3, n), TR_EPERM);
}

/* A node with the secret but no key of its own cannot finish a handshake
 * it replays: msg1 of an earlier session passes mac1 (it is genuine), but
 * that session's msg3 does not fit the new responder's ephemeral. */
static void test_replayed(void **st) {
  tr_identity a, b;
  make_id(&a, secret_a);
  make_id(&b, secret_a);
  tr_hs hi, hr, hr2;
  uint8_t m1[TR_HS_MSG_MAX], m2[TR_HS_MSG_MAX], m3[TR_HS_MSG_MAX], x[TR_HS_MSG_MAX];
  size_t n;
  run(&hi, &hr, &a, &b, m1, m2, m3);
  assert_int_equal(tr_hs_init(&hr2, 0, &b), 0);
  assert_int_equal(tr_hs_read(&hr2, m1, TR_HS_MSG1_LEN), 0);
  assert_int_equal(tr_hs_write(&hr2, x, sizeof x, &n), 0);
  assert_int_equal(tr_hs_read(&hr2, m3, TR_HS_MSG3_LEN), TR_EPERM);

  /* nor can msg2 of one session answer another's msg1 */
  tr_hs hi2;
  assert_int_equal(tr_hs_init(&hi2, 1, &a), 0);
  assert_int_equal(tr_hs_write(&hi2, x, sizeof x, &n), 0);
  assert_int_equal(tr_hs_read(&hi2, m2, TR_HS_MSG2_LEN), TR_EPERM);
}

/* A node that dials itself learns it at msg2, and only with proof. */
static void test_self(void **st) {
  tr_identity a, twin;
  make_id(&a, secret_a);
  twin = a; /* same keys, e.g. a copied data dir */
  tr_hs hi, hr;
  uint8_t m1[TR_HS_MSG_MAX], m2[TR_HS_MSG_MAX], m3[TR_HS_MSG_MAX];
  size_t n;
  assert_int_equal(tr_hs_init(&hi, 1, &a), 0);
  assert_int_equal(tr_hs_init(&hr, 0, &twin), 0);
  assert_int_equal(tr_hs_write(&hi, m1, sizeof m1, &n), 0);
  assert_int_equal(tr_hs_read(&hr, m1, n), 0);
  assert_int_equal(tr_hs_write(&hr, m2, sizeof m2, &n), 0);
  assert_int_equal(tr_hs_read(&hi, m2, n), TR_HS_ESELF);
  assert_true(TR_HS_ESELF != TR_EPERM && TR_HS_ESELF != TR_EPROTO);
  assert_int_equal(tr_hs_next(&hi), TR_HS_FAILED);

  /* The responder checks too. An honest initiator stops at msg2, so make
   * one that does not: it reads msg2 under another identity, then signs
   * msg3 as the responder itself (hs->id is borrowed, so it can move). */
  tr_identity other = a;
  crypto_sign_keypair(other.pk, other.sk);
  assert_int_equal(tr_hs_init(&hi, 1, &other), 0);
  assert_int_equal(tr_hs_init(&hr, 0, &a), 0);
  assert_int_equal(tr_hs_write(&hi, m1, sizeof m1, &n), 0);
  assert_int_equal(tr_hs_read(&hr, m1, n), 0);
  assert_int_equal(tr_hs_write(&hr, m2, sizeof m2, &n), 0);
  assert_int_equal(tr_hs_read(&hi, m2, n), 0);
  hi.id = &twin;
  assert_int_equal(tr_hs_write(&hi, m3, sizeof m3, &n), 0);
  assert_int_equal(tr_hs_read(&hr, m3, n), TR_HS_ESELF);

  /* an unproven claim to be us is an authentication failure, not "self":
   * a responder holding a's public key but another secret key */
  tr_identity claim = other;
  memcpy(claim.pk, a.pk, 32);
  assert_int_equal(tr_hs_init(&hi, 1, &a), 0);
  assert_int_equal(tr_hs_init(&hr, 0, &claim), 0);
  assert_int_equal(tr_hs_write(&hi, m1, sizeof m1, &n), 0);
  assert_int_equal(tr_hs_read(&hr, m1, n), 0);
  assert_int_equal(tr_hs_write(&hr, m2, sizeof m2, &n), 0);
  assert_int_equal(tr_hs_read(&hi, m2, n), TR_EPERM);
}

/* Calls out of turn: writing when we should read is the caller's bug and
 * harms nothing; reading when we should write is the peer talking out of
 * turn and ends the handshake. */
static void test_out_of_order(void **st) {
  tr_identity a, b;
  make_id(&a, secret_a);
  make_id(&b, secret_a);
  tr_hs hi, hr;
  uint8_t m1[TR_HS_MSG_MAX], m2[TR_HS_MSG_MAX], m3[TR_HS_MSG_MAX];
  size_t n;
  tr_seal tx, rx;

  assert_int_equal(tr_hs_init(&hi, 1, &a), 0);
  assert_int_equal(tr_hs_read(&hi, m1, TR_HS_MSG1_LEN), TR_EPROTO);
  assert_int_equal(tr_hs_next(&hi), TR_HS_FAILED);
  assert_int_equal(tr_hs_write(&hi, m1, sizeof m1, &n), TR_EINVAL);

  assert_int_equal(tr_hs_init(&hi, 1, &a), 0);
  assert_int_equal(tr_hs_init(&hr, 0, &b), 0);
  assert_int_equal(tr_hs_write(&hr, m2, sizeof m2, &n), TR_EINVAL);
  assert_int_equal(tr_hs_next(&hr), TR_HS_READ);
  assert_int_equal(tr_hs_split(&hr, &tx, &rx, NULL, NULL, 0), TR_EINVAL);
  /* a short buffer is refused and the write can be retried */
  assert_int_equal(tr_hs_write(&hi, m1, TR_HS_MSG1_LEN - 1, &n), TR_ETOOBIG);
  assert_int_equal(tr_hs_write(&hi, m1, TR_HS_MSG1_LEN, &n), 0);
  assert_int_equal(tr_hs_write(&hi, m1, sizeof m1, &n), TR_EINVAL);
  assert_int_equal(tr_hs_read(&hr, m1, n), 0);
  tr_hs t = hr; /* a second message before we answered */
  assert_int_equal(tr_hs_read(&t, m1, TR_HS_MSG1_LEN), TR_EPROTO);
  assert_int_equal(tr_hs_write(&hr, m2, TR_HS_MSG2_LEN - 1, &n), TR_ETOOBIG);
  assert_int_equal(tr_hs_write(&hr, m2, sizeof m2, &n), 0);
  /* msg1 again where msg3 belongs, msg3 where msg2 belongs */
  t = hr;
  assert_int_equal(tr_hs_read(&t, m1, TR_HS_MSG1_LEN), TR_EPROTO);
  assert_int_equal(tr_hs_split(&hi, &tx, &rx, NULL, NULL, 0), TR_EINVAL);
  t = hi;
  assert_int_equal(tr_hs_read(&t, m2, TR_HS_MSG3_LEN), TR_EPROTO);
  assert_int_equal(tr_hs_read(&hi, m2, n), 0);
  t = hi; /* msg2 twice */
  assert_int_equal(tr_hs_read(&t, m2, n), TR_EPROTO);
  assert_int_equal(tr_hs_write(&hi, m3, TR_HS_MSG3_LEN - 1, &n), TR_ETOOBIG);
  assert_int_equal(tr_hs_write(&hi, m3, sizeof m3, &n), 0);
  assert_int_equal(tr_hs_read(&hr, m3, n), 0);
  /* nothing after the end */
  t = hr;
  assert_int_equal(tr_hs_read(&t, m3, n), TR_EPROTO);
  assert_int_equal(tr_hs_write(&hr, m3, sizeof m3, &n), TR_EINVAL);
  assert_int_equal(tr_hs_split(&hr, &tx, &rx, NULL, NULL, 0), 0);
  assert_int_equal(tr_hs_split(&hr, &tx, &rx, NULL, NULL, 0), TR_EINVAL);
  /* a zeroed handshake that never saw tr_hs_init does nothing */
  memset(&t, 0, sizeof t);
  assert_int_equal(tr_hs_next(&t), TR_HS_FAILED);
  assert_int_equal(tr_hs_write(&t, m1, sizeof m1, &n), TR_EINVAL);
  assert_int_equal(tr_hs_read(&t, m1, TR_HS_MSG1_LEN), TR_EPROTO);
  /* bad arguments */
  assert_int_equal(tr_hs_init(&hi, 1, NULL), TR_EINVAL);
  assert_int_equal(tr_hs_next(&hi), TR_HS_FAILED);
  assert_int_equal(tr_hs_init(NULL, 1, &a), TR_EINVAL);
  assert_int_equal(tr_hs_next(NULL), TR_HS_FAILED);
  tr_hs_clear(NULL);
}

/* Ephemeral secrets do not outlive the DH; keys do not outlive split. */
static void test_wiped(void **st) {
  tr_identity a, b;
  make_id(&a, secret_a);
  make_id(&b, secret_a);
  tr_hs hi, hr;
  uint8_t m[TR_HS_MSG_MAX], zero[32] = {0};
  size_t n;
  assert_int_equal(tr_hs_init(&hi, 1, &a), 0);
  assert_int_equal(tr_hs_init(&hr, 0, &b), 0);
  assert_memory_not_equal(hi.e_sk, zero, 32);
  assert_int_equal(tr_hs_write(&hi, m, sizeof m, &n), 0);
  assert_int_equal(tr_hs_read(&hr, m, n), 0);
  assert_memory_equal(hr.e_sk, zero, 32);
  assert_int_equal(tr_hs_write(&hr, m, sizeof m, &n), 0);
  assert_memory_equal(hr.k1, zero, 32);
  assert_int_equal(tr_hs_read(&hi, m, n), 0);
  assert_memory_equal(hi.e_sk, zero, 32);
  assert_memory_equal(hi.k1, zero, 32);
  assert_int_equal(tr_hs_write(&hi, m, sizeof m, &n), 0);
  assert_memory_equal(hi.k2, zero, 32);
  tr_hs_clear(&hi);
  tr_hs_clear(&hi);
  assert_memory_equal(hi.ck, zero, 32);
  assert_int_equal(tr_hs_next(&hi), TR_HS_FAILED);
  /* a failed handshake is wiped too */
  m[0] ^= 1;
  assert_int_equal(tr_hs_read(&hr, m, n), TR_EPERM);
  assert_memory_equal(hr.ck, zero, 32);
  assert_memory_equal(hr.k2, zero, 32);
}

int main(void) {
  if (sodium_init() < 0) return 1;
  randombytes_buf(secret_a, 32);
  randombytes_buf(secret_b, 32);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_agree),         cmocka_unit_test(test_fresh_keys),
      cmocka_unit_test(test_wrong_secret),  cmocka_unit_test(test_mac1_layout),
      cmocka_unit_test(test_schedule),
      cmocka_unit_test(test_low_order),     cmocka_unit_test(test_wrong_version),
      cmocka_unit_test(test_bit_flips),     cmocka_unit_test(test_lengths),
      cmocka_unit_test(test_impostor),      cmocka_unit_test(test_replayed),
      cmocka_unit_test(test_self),          cmocka_unit_test(test_out_of_order),
      cmocka_unit_test(test_wiped),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
