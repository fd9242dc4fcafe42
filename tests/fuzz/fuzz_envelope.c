/* fuzz_envelope.c - the envelope decoder and the batch reader on arbitrary
 * bytes.
 *
 * Beyond "no crash, no read past the input" (ASan), every envelope that
 * decodes must encode again, to the size tr_envelope_size() predicts and no
 * larger than the input (the encoder writes the minimal form; at equal
 * length the bytes may still differ, e.g. 256 as int16 or as uint16), and
 * decode back to the same fields.
 */
#include <stdint.h>
#include <string.h>

#include "fuzz_check.h"
#include "troupe/codec.h"

static int known_error(int rc) {
  return rc == TR_EPROTO || rc == TR_ETYPE || rc == TR_ERANGE || rc == TR_ETOOBIG ||
         rc == TR_EVERSION;
}

static void same(const tr_envelope *a, const tr_envelope *b) {
  CHECK(a->version == b->version && a->type == b->type && a->flags == b->flags);
  CHECK(a->corr == b->corr && tr_ref_eq(a->sender, b->sender));
  CHECK((a->target_name == NULL) == (b->target_name == NULL));
  if (a->target_name) {
    CHECK(a->target_name_len == b->target_name_len);
    CHECK(memcmp(a->target_name, b->target_name, a->target_name_len) == 0);
  } else {
    CHECK(tr_ref_eq(a->target, b->target));
  }
  CHECK(a->payload_len == b->payload_len);
  CHECK(a->payload_len == 0 || memcmp(a->payload, b->payload, a->payload_len) == 0);
}

/* e was decoded from n bytes (0: from a batch, no size bound). */
static void round_trip(const tr_envelope *e, size_t n) {
  CHECK(e->version == TR_ENVELOPE_VERSION);
  CHECK(e->payload_len <= TR_ENVELOPE_PAYLOAD_MAX);
  CHECK(!e->target_name || e->target_name_len <= TR_ENVELOPE_NAME_MAX);
  size_t want = tr_envelope_size(e);
  CHECK(want > 0);
  tr_pack pk = TR_PACK_INIT;
  CHECK(tr_envelope_encode(e, &pk) == 0);
  CHECK(pk.len == want);
  if (n) CHECK(pk.len <= n);
  tr_envelope back;
  CHECK(tr_envelope_decode(pk.data, pk.len, &back) == 0);
  same(e, &back);
  /* a buffer one byte short must be refused, not overrun */
  uint8_t small[512];
  size_t len = 0;
  if (want - 1 <= sizeof small)
    CHECK(tr_envelope_encode_buf(e, small, want - 1, &len) == TR_ETOOBIG && len == 0);
  tr_pack_free(&pk);
}

#define MAX_BATCH 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  tr_envelope e;
  int rc = tr_envelope_decode(data, size, &e);
  CHECK(rc == 0 || known_error(rc));
  if (rc == 0) round_trip(&e, size);

  /* the same bytes as a batch: stream them, then decode all at once and
   * re-encode as one batch, which must read back the same */
  tr_envelope_reader r;
  uint32_t count = 0;
  rc = tr_envelope_reader_open(&r, data, size, &count);
  CHECK(rc == 0 || known_error(rc));
  if (rc < 0) return 0;
  CHECK(count <= size);
  uint32_t got = 0;
  tr_envelope seen[MAX_BATCH];
  while ((rc = tr_envelope_reader_next(&r, &e)) == 0) {
    round_trip(&e, 0);
    if (got < MAX_BATCH) seen[got] = e;
    got++;
  }
  CHECK(rc == TR_ENOENT || known_error(rc));
  CHECK(tr_envelope_reader_next(&r, &e) == rc); /* errors and the end stick */
  if (rc == TR_ENOENT) CHECK(got == count);

  tr_envelope all[MAX_BATCH];
  size_t n = 0;
  int rc2 = tr_envelope_batch_decode(data, size, all, MAX_BATCH, &n);
  if (rc != TR_ENOENT) {
    CHECK(rc2 < 0 && n == 0);
    return 0;
  }
  if (count > MAX_BATCH) {
    CHECK(rc2 == TR_ETOOBIG);
    return 0;
  }
  CHECK(rc2 == 0 && n == count);
  tr_pack pk = TR_PACK_INIT;
  tr_envelope_batch b;
  CHECK(tr_envelope_batch_begin(&b, &pk) == 0);
  for (size_t i = 0; i < n; i++) {
    same(&all[i], &seen[i]);
    CHECK(tr_envelope_batch_add(&b, &all[i]) == 0);
  }
  CHECK(tr_envelope_batch_end(&b) == 0);
  tr_envelope again[MAX_BATCH];
  size_t n2 = 0;
  CHECK(tr_envelope_batch_decode(pk.data, pk.len, again, MAX_BATCH, &n2) == 0 && n2 == n);
  for (size_t i = 0; i < n; i++) same(&all[i], &again[i]);
  tr_pack_free(&pk);
  return 0;
}
