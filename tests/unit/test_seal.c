/* test_seal.c - sealed frames: they open on the other side and nowhere
 * else; any change, replay or reordering is refused and counted without
 * disturbing the receiver; rekeying by volume and by time is followed by
 * the receiver, but never on the word of a forged frame. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sodium.h>
#include <string.h>

#include "cluster/seal.h"

static uint8_t key[32];

static void pair(tr_seal *tx, tr_seal *rx) {
  tr_seal_init(tx, key, 0);
  tr_seal_init(rx, key, 0);
}

/* rx as it was, stats aside */
static int same_state(const tr_seal *a, const tr_seal *b) {
  tr_seal x = *a, y = *b;
  memset(&x.stats, 0, sizeof x.stats);
  memset(&y.stats, 0, sizeof y.stats);
  return memcmp(&x, &y, sizeof x) == 0;
}

static size_t seal(tr_seal *tx, uint8_t type, const char *s, uint8_t *out, size_t cap,
                   uint64_t now) {
  size_t n;
  assert_int_equal(tr_seal_frame(tx, type, (const uint8_t *)s, strlen(s), out, cap, &n, now), 0);
  assert_int_equal(n, strlen(s) + TR_SEAL_OVERHEAD);
  return n;
}

static void expect_open(tr_seal *rx, uint8_t *f, size_t n, uint8_t type, const char *s) {
  uint8_t t = 0, *p = NULL;
  size_t pl = 0;
  assert_int_equal(tr_seal_open(rx, f, n, &t, &p, &pl), 0);
  assert_int_equal(t, type);
  assert_int_equal(pl, strlen(s));
  assert_ptr_equal(p, f + TR_SEAL_HEADER);
  assert_memory_equal(p, s, pl);
}

static void test_round_trip(void **st) {
  tr_seal tx, rx;
  pair(&tx, &rx);
  uint8_t f[256];
  size_t n = seal(&tx, 1, "hello", f, sizeof f, 0);
  /* the header in clear: type, epoch 0, counter 1 */
  const uint8_t hdr[TR_SEAL_HEADER] = {1, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  assert_memory_equal(f, hdr, TR_SEAL_HEADER);
  expect_open(&rx, f, n, 1, "hello");
  n = seal(&tx, 3, "", f, sizeof f, 0); /* empty frames are fine */
  expect_open(&rx, f, n, 3, "");
  size_t m;
  assert_int_equal(tr_seal_frame(&tx, 2, NULL, 0, f, sizeof f, &m, 0), 0);
  expect_open(&rx, f, m, 2, "");
  assert_true(tx.stats.sealed == 3 && rx.stats.opened == 3);
  assert_true(tx.counter == 3 && rx.counter == 3);
  /* NULL outputs are allowed */
  n = seal(&tx, 1, "x", f, sizeof f, 0);
  assert_int_equal(tr_seal_open(&rx, f, n, NULL, NULL, NULL), 0);
}

/* The documented layout: nonce = 16 zero bytes | counter BE, associated
 * data = the 10-byte header. Anyone with libsodium and the key can open a
 * frame by hand. */
static void test_layout(void **st) {
  tr_seal tx, rx;
  pair(&tx, &rx);
  tx.counter = 0x0102030405060707ull; /* the next frame gets ...0708 */
  uint8_t f[64], pt[64], nonce[24] = {0};
  size_t n = seal(&tx, 9, "layout", f, sizeof f, 0);
  const uint8_t hdr[TR_SEAL_HEADER] = {9, 0, 1, 2, 3, 4, 5, 6, 7, 8};
  assert_memory_equal(f, hdr, TR_SEAL_HEADER);
  for (int i = 0; i < 8; i++) nonce[16 + i] = hdr[2 + i];
  unsigned long long pl;
  assert_int_equal(crypto_aead_xchacha20poly1305_ietf_decrypt(pt, &pl, NULL, f + TR_SEAL_HEADER,
                                                              n - TR_SEAL_HEADER, f,
                                                              TR_SEAL_HEADER, nonce, key),
                   0);
  assert_true(pl == 6 && memcmp(pt, "layout", 6) == 0);
  /* the ratchet: crypto_kdf subkey <new epoch> of context "troupeRK" */
  uint8_t k1[32];
  crypto_kdf_derive_from_key(k1, 32, 1, "troupeRK", key);
  tx.rekey_frames = 1;
  seal(&tx, 9, "x", f, sizeof f, 0);
  assert_int_equal(tx.epoch, 1);
  assert_int_equal(f[1], 1);
  assert_memory_equal(tx.key, k1, 32);
}

/* Sealing in place (plaintext already at out + header), and with other
 * overlaps, gives the same frame as from a separate buffer. */
static void test_in_place(void **st) {
  tr_seal tx, tx2, tx3, rx;
  pair(&tx, &rx);
  tx2 = tx;
  tx3 = tx;
  const char *s = "sealed where it lies";
  size_t len = strlen(s), n, n2, n3;
  uint8_t ref[64], buf[64], buf2[64];
  n = seal(&tx, 4, s, ref, sizeof ref, 0);
  memcpy(buf + TR_SEAL_HEADER, s, len);
  assert_int_equal(tr_seal_frame(&tx2, 4, buf + TR_SEAL_HEADER, len, buf, sizeof buf, &n2, 0), 0);
  assert_int_equal(n2, n);
  assert_memory_equal(buf, ref, n);
  memcpy(buf2, s, len); /* plaintext at the very start of out */
  assert_int_equal(tr_seal_frame(&tx3, 4, buf2, len, buf2, sizeof buf2, &n3, 0), 0);
  assert_memory_equal(buf2, ref, n);
  expect_open(&rx, buf, n, 4, s);
}

/* Every single-bit flip anywhere in a frame is refused and counted, rx is
 * left as it was, and the genuine frame opens afterwards. */
static void test_bit_flips(void **st) {
  tr_seal tx, rx;
  pair(&tx, &rx);
  uint8_t f[64], x[64];
  size_t n = seal(&tx, 1, "first", f, sizeof f, 0);
  expect_open(&rx, f, n, 1, "first");
  n = seal(&tx, 1, "tamper with me", f, sizeof f, 0);
  tr_seal before = rx;
  uint64_t auth = 0, replay = 0;
  for (size_t bit = 0; bit < n * 8; bit++) {
    memcpy(x, f, n);
    x[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    int rc = tr_seal_open(&rx, x, n, NULL, NULL, NULL);
    /* the counter is 2 and 1 was accepted: flipping it to 0 makes a
     * replay; every other flip fails authentication */
    if (rc == TR_SEAL_EREPLAY) {
      assert_int_equal(bit, 9 * 8 + 1);
      replay++;
    } else {
      if (rc != TR_EPERM) fail_msg("bit %zu: %d", bit, rc);
      auth++;
    }
    assert_true(same_state(&rx, &before));
  }
  assert_true(rx.stats.rejected_auth == auth && rx.stats.rejected_replay == replay);
  assert_true(auth + replay == n * 8 && replay == 1);
  expect_open(&rx, f, n, 1, "tamper with me");
}

/* Replays and reorderings are refused with TR_SEAL_EREPLAY and counted. */
static void test_replay(void **st) {
  tr_seal tx, rx;
  pair(&tx, &rx);
  uint8_t f1[64], f2[64], f3[64], c[64];
  size_t n1 = seal(&tx, 1, "one", f1, sizeof f1, 0);
  size_t n2 = seal(&tx, 1, "two", f2, sizeof f2, 0);
  size_t n3 = seal(&tx, 1, "three", f3, sizeof f3, 0);
  memcpy(c, f1, n1);
  expect_open(&rx, c, n1, 1, "one");
  memcpy(c, f1, n1);
  assert_int_equal(tr_seal_open(&rx, c, n1, NULL, NULL, NULL), TR_SEAL_EREPLAY);
  memcpy(c, f3, n3);
  expect_open(&rx, c, n3, 1, "three");
  memcpy(c, f2, n2); /* late: reordered */
  assert_int_equal(tr_seal_open(&rx, c, n2, NULL, NULL, NULL), TR_SEAL_EREPLAY);
  memcpy(c, f3, n3);
  assert_int_equal(tr_seal_open(&rx, c, n3, NULL, NULL, NULL), TR_SEAL_EREPLAY);
  assert_true(rx.stats.rejected_replay == 3 && rx.stats.opened == 2);
  assert_true(TR_SEAL_EREPLAY != TR_EPERM);
  size_t n4 = seal(&tx, 1, "four", c, sizeof c, 0);
  expect_open(&rx, c, n4, 1, "four");
}

/* The sender ratchets after rekey_frames frames; the receiver follows; the
 * counter keeps growing across epochs. */
static void test_rekey_frames(void **st) {
  tr_seal tx, rx;
  pair(&tx, &rx);
  tx.rekey_frames = 3;
  uint8_t f[64];
  for (int i = 0; i < 10; i++) {
    size_t n = seal(&tx, 1, "tick", f, sizeof f, 0);
    assert_int_equal(f[1], i / 3);
    assert_int_equal(f[9], i + 1);
    expect_open(&rx, f, n, 1, "tick");
    assert_int_equal(rx.epoch, tx.epoch);
    assert_memory_equal(rx.key, tx.key, 32);
  }
  assert_int_equal(tx.epoch, 3);
  assert_true(tx.stats.rekeys == 3 && rx.stats.rekeys == 3);
  assert_memory_not_equal(tx.key, key, 32);
}

static void test_rekey_bytes(void **st) {
  tr_seal tx, rx;
  pair(&tx, &rx);
  tx.rekey_bytes = 100;
  uint8_t f[128];
  char s[61];
  memset(s, 'b', 60);
  s[60] = 0;
  for (int i = 0; i < 6; i++) {
    size_t n = seal(&tx, 1, s, f, sizeof f, 0);
    expect_open(&rx, f, n, 1, s);
  }
  /* 60 + 60 >= 100: a new key every second frame */
  assert_int_equal(tx.epoch, 2);
  assert_int_equal(rx.epoch, 2);
}

static void test_rekey_time(void **st) {
  tr_seal tx, rx;
  tr_seal_init(&tx, key, 1000);
  tr_seal_init(&rx, key, 1000);
  tx.rekey_ms = 500;
  uint8_t f[64];
  const uint64_t at[] = {1000, 1499, 1500, 1600, 1999, 2000, 900, 2400, 2500};
  const uint32_t ep[] = {0, 0, 1, 1, 1, 2, 2, 2, 3};
  for (int i = 0; i < 9; i++) { /* 900: a clock going back is no time */
    size_t n = seal(&tx, 1, "t", f, sizeof f, at[i]);
    assert_int_equal(tx.epoch, ep[i]);
    expect_open(&rx, f, n, 1, "t");
    assert_int_equal(rx.epoch, ep[i]);
  }
  /* limits of 0 are off */
  tx.rekey_ms = tx.rekey_frames = tx.rekey_bytes = 0;
  for (int i = 0; i < 5; i++) seal(&tx, 1, "t", f, sizeof f, 1000000u * (uint64_t)i);
  assert_int_equal(tx.epoch, 3);
}

/* A frame claiming the next epoch ratchets the receiver only if it opens
 * under the next key. */
static void test_forged_epoch(void **st) {
  tr_seal tx, rx;
  pair(&tx, &rx);
  uint8_t f[64], x[64];
  size_t n = seal(&tx, 1, "zero", f, sizeof f, 0);
  expect_open(&rx, f, n, 1, "zero");
  tr_seal before = rx;
  /* a genuine epoch-0 frame relabelled epoch 1 */
  n = seal(&tx, 1, "still zero", f, sizeof f, 0);
  memcpy(x, f, n);
  x[1] = 1;
  assert_int_equal(tr_seal_open(&rx, x, n, NULL, NULL, NULL), TR_EPERM);
  assert_true(same_state(&rx, &before));
  /* noise claiming epoch 1, and epochs further on */
  for (int e = 1; e < 256; e++) {
    randombytes_buf(x, sizeof x);
    x[1] = (uint8_t)e;
    memset(x + 2, 0, 8); /* counter 100: above rx's */
    x[9] = 100;
    assert_int_equal(tr_seal_open(&rx, x, sizeof x, NULL, NULL, NULL), TR_EPERM);
    assert_true(same_state(&rx, &before));
  }
  expect_open(&rx, f, n, 1, "still zero");
  /* a genuine epoch-1 frame, tampered, does not ratchet; intact, it does */
  tx.rekey_frames = 1;
  n = seal(&tx, 1, "one", f, sizeof f, 0);
  assert_int_equal(f[1], 1);
  before = rx;
  memcpy(x, f, n);
  x[n - 1] ^= 0x80;
  assert_int_equal(tr_seal_open(&rx, x, n, NULL, NULL, NULL), TR_EPERM);
  assert_true(same_state(&rx, &before));
  assert_int_equal(rx.epoch, 0);
  expect_open(&rx, f, n, 1, "one");
  assert_int_equal(rx.epoch, 1);
  /* the old epoch is gone for good: an epoch-0 label no longer opens */
  n = seal(&tx, 1, "two", f, sizeof f, 0);
  assert_int_equal(f[1], 2);
  expect_open(&rx, f, n, 1, "two");
  assert_true(rx.stats.rejected_auth == 257 && rx.stats.rekeys == 2);
}

static void test_sizes(void **st) {
  tr_seal tx, rx;
  pair(&tx, &rx);
  uint8_t f[256], pt[200] = {0};
  size_t n;
  tr_seal before = tx;
  /* the sender: short buffers and frames over the limit */
  assert_int_equal(tr_seal_frame(&tx, 1, pt, 10, f, 10 + TR_SEAL_OVERHEAD - 1, &n, 0),
                   TR_ETOOBIG);
  tx.max_frame = before.max_frame = 100;
  assert_int_equal(tr_seal_frame(&tx, 1, pt, 100 - TR_SEAL_OVERHEAD + 1, f, sizeof f, &n, 0),
                   TR_ETOOBIG);
  assert_int_equal(tr_seal_frame(&tx, 1, pt, SIZE_MAX - 4, f, sizeof f, &n, 0), TR_ETOOBIG);
  assert_int_equal(tr_seal_frame(&tx, 1, NULL, 5, f, sizeof f, &n, 0), TR_EINVAL);
  assert_memory_equal(&tx, &before, sizeof tx);
  assert_int_equal(tr_seal_frame(&tx, 1, pt, 100 - TR_SEAL_OVERHEAD, f, sizeof f, &n, 0), 0);
  assert_int_equal(n, 100);

  /* the receiver: over its limit, and under the overhead */
  rx.max_frame = 99;
  tr_seal rb = rx;
  assert_int_equal(tr_seal_open(&rx, f, n, NULL, NULL, NULL), TR_ETOOBIG);
  for (size_t k = 0; k < TR_SEAL_OVERHEAD; k++)
    assert_int_equal(tr_seal_open(&rx, f, k, NULL, NULL, NULL), TR_EPROTO);
  assert_int_equal(tr_seal_open(&rx, NULL, 0, NULL, NULL, NULL), TR_EPROTO);
  assert_true(same_state(&rx, &rb));
  assert_true(rx.stats.rejected_size == 2 + TR_SEAL_OVERHEAD);
  rx.max_frame = 100;
  assert_int_equal(tr_seal_open(&rx, f, n, NULL, NULL, NULL), 0);
  /* a truncated or extended genuine frame fails authentication */
  n = seal(&tx, 1, "length", f, sizeof f, 0);
  uint8_t x[64];
  memset(x, 0x5a, sizeof x);
  for (size_t k = TR_SEAL_OVERHEAD; k < sizeof x; k++) {
    if (k == n) continue;
    memcpy(x, f, n);
    assert_int_equal(tr_seal_open(&rx, x, k, NULL, NULL, NULL), TR_EPERM);
  }
  expect_open(&rx, f, n, 1, "length");
}

/* Keys of another link, or the other direction, open nothing. */
static void test_wrong_key(void **st) {
  tr_seal tx, rx;
  uint8_t other[32], f[64];
  memcpy(other, key, 32);
  other[31] ^= 1;
  tr_seal_init(&tx, key, 0);
  tr_seal_init(&rx, other, 0);
  size_t n = seal(&tx, 1, "not yours", f, sizeof f, 0);
  assert_int_equal(tr_seal_open(&rx, f, n, NULL, NULL, NULL), TR_EPERM);
  assert_int_equal(rx.counter, 0);
}

static void test_counter_end(void **st) {
  tr_seal tx, rx;
  pair(&tx, &rx);
  uint8_t f[64];
  tx.counter = UINT64_MAX - 1;
  rx.counter = UINT64_MAX - 2;
  size_t n = seal(&tx, 1, "last", f, sizeof f, 0);
  expect_open(&rx, f, n, 1, "last");
  tr_seal before = tx;
  assert_int_equal(tr_seal_frame(&tx, 1, f, 1, f + 32, 32, &n, 0), TR_ERANGE);
  assert_memory_equal(&tx, &before, sizeof tx);
  tr_seal_clear(&tx);
  uint8_t zero[32] = {0};
  assert_memory_equal(tx.key, zero, 32);
  tr_seal_clear(NULL);
}

int main(void) {
  if (sodium_init() < 0) return 1;
  randombytes_buf(key, sizeof key);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip),   cmocka_unit_test(test_layout),
      cmocka_unit_test(test_in_place),     cmocka_unit_test(test_bit_flips),
      cmocka_unit_test(test_replay),       cmocka_unit_test(test_rekey_frames),
      cmocka_unit_test(test_rekey_bytes),  cmocka_unit_test(test_rekey_time),
      cmocka_unit_test(test_forged_epoch), cmocka_unit_test(test_sizes),
      cmocka_unit_test(test_wrong_key),    cmocka_unit_test(test_counter_end),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
