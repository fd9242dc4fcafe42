/* fuzz_handshake.c - libFuzzer target: peer bytes into tr_hs_read().
 *
 * The first byte picks a mode, the rest is the input:
 *   0  raw bytes to a responder expecting msg1
 *   1  raw bytes to an initiator expecting msg2
 *   2  raw bytes to a responder expecting msg3
 *   3..5  the genuine msg1, msg2 or msg3 XORed with the input, at the
 *         input's length (shorter truncates, longer extends with the
 *         input's bytes)
 * Invariants: a message other than the genuine one is refused with one of
 * the documented codes and leaves the handshake failed; the genuine one is
 * accepted and the handshake then finishes with both sides agreeing.
 * Raw msg1 can be valid (the secret is fixed here, so a seed can carry a
 * good mac1); raw msg2 and msg3 cannot, as the ephemerals are fresh.
 */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/handshake.h"
#include "fuzz_check.h"

static tr_identity id_i, id_r;

static void setup(void) {
  static int done;
  if (done) return;
  CHECK(sodium_init() >= 0);
  uint8_t seed[32];
  memset(seed, 'i', 32);
  crypto_sign_seed_keypair(id_i.pk, id_i.sk, seed);
  memset(seed, 'r', 32);
  crypto_sign_seed_keypair(id_r.pk, id_r.sk, seed);
  memset(id_i.secret, 's', 32); /* tests/fuzz/corpus/handshake seeds use it */
  memcpy(id_r.secret, id_i.secret, 32);
  id_i.node_id = tr_identity_node_id(id_i.pk);
  id_r.node_id = tr_identity_node_id(id_r.pk);
  done = 1;
}

static int documented(int rc) {
  return rc == TR_EPROTO || rc == TR_EVERSION || rc == TR_EPERM || rc == TR_HS_ESELF;
}

static void check_failed(tr_hs *hs, int rc) {
  static const uint8_t zero[32];
  CHECK(documented(rc));
  CHECK(tr_hs_next(hs) == TR_HS_FAILED && !tr_hs_done(hs));
  CHECK(memcmp(hs->ck, zero, 32) == 0 && memcmp(hs->e_sk, zero, 32) == 0);
  uint8_t b[TR_HS_MSG_MAX];
  size_t n;
  CHECK(tr_hs_write(hs, b, sizeof b, &n) == TR_EINVAL);
  CHECK(tr_hs_read(hs, b, TR_HS_MSG1_LEN) == TR_EPROTO);
}

/* Plays the handshake on from wherever it stands; both must agree. */
static void finish(tr_hs *hi, tr_hs *hr) {
  uint8_t b[TR_HS_MSG_MAX];
  size_t n;
  while (!tr_hs_done(hi) || !tr_hs_done(hr)) {
    tr_hs *w = tr_hs_next(hi) == TR_HS_WRITE ? hi : hr, *r = w == hi ? hr : hi;
    CHECK(tr_hs_next(w) == TR_HS_WRITE && tr_hs_next(r) == TR_HS_READ);
    CHECK(tr_hs_write(w, b, sizeof b, &n) == 0);
    CHECK(tr_hs_read(r, b, n) == 0);
  }
  tr_seal it, ir, rt, rr;
  uint8_t pi[32], pr[32];
  CHECK(tr_hs_split(hi, &it, &ir, pi, NULL, 0) == 0);
  CHECK(tr_hs_split(hr, &rt, &rr, pr, NULL, 0) == 0);
  CHECK(memcmp(it.key, rr.key, 32) == 0 && memcmp(ir.key, rt.key, 32) == 0);
  CHECK(memcmp(pi, id_r.pk, 32) == 0 && memcmp(pr, id_i.pk, 32) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  setup();
  if (size < 1) return 0;
  int mode = data[0] % 6, stage = mode % 3;
  data++, size--;

  /* bring both sides to the stage where msg<stage+1> is read */
  tr_hs hi, hr;
  uint8_t m[3][TR_HS_MSG_MAX];
  size_t len[3];
  CHECK(tr_hs_init(&hi, 1, &id_i) == 0 && tr_hs_init(&hr, 0, &id_r) == 0);
  CHECK(tr_hs_write(&hi, m[0], TR_HS_MSG_MAX, &len[0]) == 0);
  if (stage >= 1) {
    CHECK(tr_hs_read(&hr, m[0], len[0]) == 0);
    CHECK(tr_hs_write(&hr, m[1], TR_HS_MSG_MAX, &len[1]) == 0);
  }
  if (stage >= 2) {
    CHECK(tr_hs_read(&hi, m[1], len[1]) == 0);
    CHECK(tr_hs_write(&hi, m[2], TR_HS_MSG_MAX, &len[2]) == 0);
  }
  tr_hs *reader = stage == 1 ? &hi : &hr;

  int genuine = 0;
  const uint8_t *in = data;
  uint8_t *x = NULL;
  if (mode >= 3) { /* the genuine message XOR the input */
    x = malloc(size ? size : 1);
    CHECK(x != NULL);
    int same = size == len[stage];
    for (size_t i = 0; i < size; i++) {
      x[i] = (uint8_t)((i < len[stage] ? m[stage][i] : 0) ^ data[i]);
      same &= data[i] == 0;
    }
    in = x;
    genuine = same;
  }
  int rc = tr_hs_read(reader, in, size);
  if (mode == 0 && rc == 0) {
    /* a valid msg1 of another initiator (a seed can hold one): the
     * responder answers it, and hi, whose msg1 it is not, cannot go on */
    uint8_t b[TR_HS_MSG_MAX];
    size_t n;
    CHECK(size == TR_HS_MSG1_LEN && tr_hs_write(&hr, b, sizeof b, &n) == 0);
    CHECK(n == TR_HS_MSG2_LEN && tr_hs_next(&hr) == TR_HS_READ);
    CHECK(tr_hs_read(&hi, b, n) == TR_EPERM);
  } else if (genuine) {
    CHECK(rc == 0);
    finish(&hi, &hr);
  } else {
    CHECK(rc != 0);
    check_failed(reader, rc);
  }
  free(x);
  tr_hs_clear(&hi);
  tr_hs_clear(&hr);
  return 0;
}
