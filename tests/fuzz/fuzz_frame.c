/* fuzz_frame.c - libFuzzer target: frames into tr_seal_open().
 *
 * The first byte picks a mode:
 *   even  raw: the rest is a series of frames, each a 2-byte BE length then
 *         that many bytes (short tails are taken as they are), opened in
 *         turn by one receiver whose key is fixed (KEY below), so seeds can
 *         hold genuine frames, epoch changes included.
 *   odd   script: a sender and a receiver share a key; the rest is a list
 *         of operations on genuine frames (seal and open, flip a bit,
 *         replay, reorder, cut or extend, relabel the epoch), with rekey
 *         limits and clock steps from the input. Frames are never lost:
 *         the link runs over TCP.
 * Invariants: a refused frame leaves the receiver as it was (stats aside)
 * with a documented code counted in the right stat; an opened frame moves
 * the counter up and the epoch by at most one, and its plaintext lies
 * inside the frame; in the script, genuine frames in order always open with
 * the sender's plaintext, and anything else never does.
 */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/seal.h"
#include "fuzz_check.h"

#define KEY "troupe fuzz frame key, 32 bytes" /* 31 chars + NUL */
#define MAXF 4096

static int same_state(const tr_seal *a, const tr_seal *b) {
  tr_seal x = *a, y = *b;
  memset(&x.stats, 0, sizeof x.stats);
  memset(&y.stats, 0, sizeof y.stats);
  return memcmp(&x, &y, sizeof x) == 0;
}

static uint64_t rejected(const tr_seal *s) {
  return s->stats.rejected_auth + s->stats.rejected_replay + s->stats.rejected_size;
}

/* Opens a copy of f[0..n) in rx, checking every invariant; the result.
 * The plaintext of an opened frame goes to out (MAXF bytes) if set. */
static int open_checked(tr_seal *rx, const uint8_t *f, size_t n, uint8_t *out) {
  uint8_t *c = malloc(n ? n : 1);
  CHECK(c != NULL);
  if (n) memcpy(c, f, n);
  tr_seal before = *rx;
  uint8_t type = 0, *pt = NULL;
  size_t len = 0;
  int rc = tr_seal_open(rx, c, n, &type, &pt, &len);
  if (rc == 0) {
    CHECK(n >= TR_SEAL_OVERHEAD && n <= rx->max_frame);
    CHECK(pt == c + TR_SEAL_HEADER && len == n - TR_SEAL_OVERHEAD && type == f[0]);
    CHECK(rx->counter > before.counter && rx->stats.opened == before.stats.opened + 1);
    CHECK(rx->epoch == before.epoch || rx->epoch == before.epoch + 1);
    CHECK((uint8_t)rx->epoch == f[1]);
    CHECK(rejected(rx) == rejected(&before));
    if (out) memcpy(out, pt, len);
  } else {
    CHECK(same_state(rx, &before));
    CHECK(rejected(rx) == rejected(&before) + 1 && rx->stats.opened == before.stats.opened);
    if (rc == TR_EPROTO || rc == TR_ETOOBIG)
      CHECK(rx->stats.rejected_size == before.stats.rejected_size + 1);
    else if (rc == TR_SEAL_EREPLAY)
      CHECK(rx->stats.rejected_replay == before.stats.rejected_replay + 1);
    else
      CHECK(rc == TR_EPERM && rx->stats.rejected_auth == before.stats.rejected_auth + 1);
  }
  free(c);
  return rc;
}

static void raw(const uint8_t *d, size_t n) {
  tr_seal rx;
  tr_seal_init(&rx, (const uint8_t *)KEY, 0);
  rx.max_frame = MAXF;
  while (n > 0) {
    size_t len = n >= 2 ? (size_t)d[0] << 8 | d[1] : 0;
    size_t hdr = n >= 2 ? 2 : n;
    d += hdr, n -= hdr;
    if (len > n) len = n;
    open_checked(&rx, d, len, NULL);
    d += len, n -= len;
  }
  tr_seal_clear(&rx);
}

/* One genuine frame of plen bytes of pattern, sealed by tx into f. */
static size_t make(tr_seal *tx, uint8_t *f, size_t plen, uint8_t seed, uint64_t now) {
  uint8_t p[256];
  memset(p, seed, sizeof p);
  size_t n = 0;
  CHECK(tr_seal_frame(tx, seed, p, plen, f, MAXF, &n, now) == 0);
  CHECK(n == plen + TR_SEAL_OVERHEAD);
  return n;
}

/* A genuine frame, in order: it opens, to what make() put in it. */
static void expect_ok(tr_seal *tx, tr_seal *rx, const uint8_t *f, size_t n) {
  static uint8_t p[MAXF];
  CHECK(open_checked(rx, f, n, p) == 0);
  CHECK(rx->epoch == tx->epoch && memcmp(rx->key, tx->key, 32) == 0);
  for (size_t i = 0; i + TR_SEAL_OVERHEAD < n; i++) CHECK(p[i] == f[0]);
}

static void script(const uint8_t *d, size_t n) {
  if (n < 3) return;
  tr_seal tx, rx;
  tr_seal_init(&tx, (const uint8_t *)KEY, 0);
  tr_seal_init(&rx, (const uint8_t *)KEY, 0);
  tx.max_frame = rx.max_frame = MAXF;
  tx.rekey_frames = d[0] % 5;      /* 0: off */
  tx.rekey_bytes = d[1] * 4u;      /* 0: off */
  tx.rekey_ms = (d[2] % 4) * 100u; /* 0: off */
  d += 3, n -= 3;
  uint64_t now = 0;
  uint8_t f[MAXF], g[MAXF], x[MAXF];
  while (n >= 3) {
    uint8_t op = d[0], a = d[1], b = d[2];
    d += 3, n -= 3;
    now += (op >> 3) * 37u;
    size_t fn = make(&tx, f, a, b, now), k;
    switch (op & 7) {
    case 0: /* in order */
    default:
      expect_ok(&tx, &rx, f, fn);
      break;
    case 1: /* one bit flipped, then the genuine frame */
      memcpy(x, f, fn);
      k = ((size_t)a << 8 | b) % (fn * 8);
      x[k / 8] ^= (uint8_t)(1u << (k % 8));
      CHECK(open_checked(&rx, x, fn, NULL) != 0);
      expect_ok(&tx, &rx, f, fn);
      break;
    case 2: /* replayed */
      expect_ok(&tx, &rx, f, fn);
      CHECK(open_checked(&rx, f, fn, NULL) == TR_SEAL_EREPLAY);
      break;
    case 3: /* two frames swapped: the late one is a replay, unless the
             * early one skipped an epoch, which the receiver cannot follow */
    {
      size_t gn = make(&tx, g, b, a, now);
      if (g[1] == f[1] || g[1] == (uint8_t)(rx.epoch + 1) || g[1] == (uint8_t)rx.epoch) {
        CHECK(open_checked(&rx, g, gn, NULL) == 0);
        CHECK(open_checked(&rx, f, fn, NULL) == TR_SEAL_EREPLAY);
      } else {
        CHECK(open_checked(&rx, g, gn, NULL) == TR_EPERM);
        CHECK(open_checked(&rx, f, fn, NULL) == 0);
        CHECK(open_checked(&rx, g, gn, NULL) == 0);
      }
      CHECK(rx.epoch == tx.epoch && memcmp(rx.key, tx.key, 32) == 0);
      break;
    }
    case 4: /* cut short (b odd) or extended by a bytes */
    {
      size_t xn = b % 2 ? fn - (a < fn ? a : fn) : fn + a;
      memcpy(x, f, fn);
      memset(x + fn, b, a);
      if (xn != fn) CHECK(open_checked(&rx, x, xn, NULL) != 0);
      expect_ok(&tx, &rx, f, fn);
      break;
    }
    case 5: /* relabelled with another epoch */
      memcpy(x, f, fn);
      x[1] = (uint8_t)(x[1] + (a ? a : 1));
      CHECK(open_checked(&rx, x, fn, NULL) != 0);
      expect_ok(&tx, &rx, f, fn);
      break;
    }
  }
  tr_seal_clear(&tx);
  tr_seal_clear(&rx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int ready;
  if (!ready) {
    CHECK(sodium_init() >= 0);
    ready = 1;
  }
  if (size < 1) return 0;
  if (data[0] % 2)
    script(data + 1, size - 1);
  else
    raw(data + 1, size - 1);
  return 0;
}
