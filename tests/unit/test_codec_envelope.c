/* test_codec_envelope.c - the wire envelope and batches: the documented
 * bytes, round trips, truncation at every offset, every field with a wrong
 * type or out of range, names, limits, versions, trailing bytes, batches that
 * fill a frame, and randomized round trips (fixed seed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "troupe/troupe.h"

static const uint8_t PAYLOAD[] = {0x82, 0xa4, 'n', 'a', 'm', 'e', 0xa1, 'x', 0xa1, 'n', 0x03};

static tr_envelope sample(void) {
  return (tr_envelope){.type = 7, .flags = TR_MSG_F_ASK, .corr = 42, .sender = {1, 2},
                       .target = {3, 4}, .payload = PAYLOAD, .payload_len = sizeof PAYLOAD};
}

static void assert_same(const tr_envelope *a, const tr_envelope *b) {
  assert_int_equal(a->type, b->type);
  assert_int_equal(a->flags, b->flags);
  assert_true(a->corr == b->corr);
  assert_true(tr_ref_eq(a->sender, b->sender));
  assert_int_equal(a->target_name == NULL, b->target_name == NULL);
  if (a->target_name) {
    assert_int_equal(a->target_name_len, b->target_name_len);
    assert_memory_equal(a->target_name, b->target_name, a->target_name_len);
  } else {
    assert_true(tr_ref_eq(a->target, b->target));
  }
  assert_int_equal(a->payload_len, b->payload_len);
  if (a->payload_len) assert_memory_equal(a->payload, b->payload, a->payload_len);
}

/* The example in docs/wire.md, byte for byte. */
static void test_documented_bytes(void **st) {
  static const uint8_t want[] = {0x98, 0x01, 0x07, 0x01, 0x2a, 0x01, 0x02, 0x92, 0x03, 0x04,
                                 0xc4, 0x0b, 0x82, 0xa4, 'n',  'a',  'm',  'e',  0xa1, 'x',
                                 0xa1, 'n',  0x03};
  tr_envelope e = sample();
  uint8_t buf[64];
  size_t len;
  assert_int_equal(tr_envelope_encode_buf(&e, buf, sizeof buf, &len), 0);
  assert_int_equal(len, sizeof want);
  assert_memory_equal(buf, want, sizeof want);
  assert_int_equal(tr_envelope_size(&e), sizeof want);
  tr_envelope d;
  assert_int_equal(tr_envelope_decode(buf, len, &d), 0);
  assert_int_equal(d.version, 1);
  assert_same(&e, &d);
  assert_ptr_equal(d.payload, buf + 12); /* zero-copy */
}

static void test_named_target(void **st) {
  tr_envelope e = sample();
  e.target_name = "chat/telegram:42";
  e.target_name_len = strlen(e.target_name);
  tr_pack pk = TR_PACK_INIT;
  assert_int_equal(tr_envelope_encode(&e, &pk), 0);
  assert_int_equal(pk.len, tr_envelope_size(&e));
  tr_envelope d;
  assert_int_equal(tr_envelope_decode(pk.data, pk.len, &d), 0);
  assert_same(&e, &d);
  assert_true(tr_ref_is_none(d.target));
  assert_true(d.target_name >= (const char *)pk.data &&
              d.target_name < (const char *)pk.data + pk.len);
  tr_pack_free(&pk);
}

/* A valid name, and why each invalid one is refused. */
static void test_names(void **st) {
  char n255[256], n256[257];
  memset(n255, 'k', 255);
  n255[1] = '/';
  memset(n256, 'k', 256);
  n256[1] = '/';
  static const struct {
    const char *name;
    int rc;
  } cases[] = {
      {"k/", 0},  /* an empty key is allowed */
      {"wf/a/b", 0},
      {"chat/\xc3\xa9t\xc3\xa9 \xe2\x98\x83 \xf0\x9f\x98\x80", 0},
      {"chat", TR_EINVAL},
      {"/x", TR_EINVAL},
      {"", TR_EINVAL},
      {"a/b\nc", TR_EINVAL},
      {"a/b\x7f", TR_EINVAL},
      {"a/\xc0\xaf", TR_EINVAL},      /* overlong '/' */
      {"a/\xed\xa0\x80", TR_EINVAL},  /* surrogate */
      {"a/\xf4\x90\x80\x80", TR_EINVAL}, /* above U+10FFFF */
      {"a/\xe2\x98", TR_EINVAL},      /* cut sequence */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    tr_envelope e = sample();
    e.target_name = cases[i].name;
    e.target_name_len = strlen(cases[i].name);
    tr_pack pk = TR_PACK_INIT;
    assert_int_equal(tr_envelope_encode(&e, &pk), cases[i].rc);
    assert_int_equal(pk.len, cases[i].rc ? 0 : tr_envelope_size(&e));
    assert_int_equal(pk.err, 0); /* a bad envelope does not poison the pack */
    tr_pack_free(&pk);
  }
  tr_envelope e = sample();
  e.target_name = "a/b\0c";
  e.target_name_len = 5; /* NUL inside */
  uint8_t buf[600];
  size_t len;
  assert_int_equal(tr_envelope_encode_buf(&e, buf, sizeof buf, &len), TR_EINVAL);
  e.target_name = n255;
  e.target_name_len = 255;
  assert_int_equal(tr_envelope_encode_buf(&e, buf, sizeof buf, &len), 0);
  tr_envelope d;
  assert_int_equal(tr_envelope_decode(buf, len, &d), 0);
  assert_int_equal(d.target_name_len, 255);
  e.target_name = n256;
  e.target_name_len = 256;
  assert_int_equal(tr_envelope_encode_buf(&e, buf, sizeof buf, &len), TR_ETOOBIG);
  assert_int_equal(tr_envelope_size(&e), 0);
}

/* Envelope bytes built field by field, to craft what the encoder refuses. */
static size_t craft(uint8_t *b, const char *const *fields, int n) {
  size_t o = 0;
  b[o++] = (uint8_t)(0x90 | n);
  for (int i = 0; i < n; i++) {
    const char *f = fields[i];
    size_t k = strlen(f) / 2;
    for (size_t j = 0; j < k; j++) {
      unsigned v;
      sscanf(f + 2 * j, "%2x", &v);
      b[o++] = (uint8_t)v;
    }
  }
  return o;
}

static int decode_fields(const char *const *fields, int n, tr_envelope *out) {
  uint8_t b[512];
  size_t len = craft(b, fields, n);
  return tr_envelope_decode(b, len, out);
}

static void test_field_errors(void **st) {
  /* version, type, flags, corr, sender node, sender id, target, payload */
  const char *good[8] = {"01", "07", "00", "2a", "01", "02", "920304", "c400"};
  tr_envelope d;
  assert_int_equal(decode_fields(good, 8, &d), 0);
  static const struct {
    int field;
    const char *bytes;
    int rc;
  } cases[] = {
      {0, "02", TR_EVERSION},
      {0, "00", TR_EVERSION},
      {0, "ff", TR_EVERSION},
      {0, "cfffffffffffffffff", TR_EVERSION},
      {0, "a131", TR_ETYPE},
      {1, "ce00000001", 0},
      {1, "cf0000000100000000", TR_ERANGE},
      {1, "ff", TR_ERANGE},
      {1, "c0", TR_ETYPE},
      {2, "cdffff", 0},
      {2, "ce00010000", TR_ERANGE},
      {2, "c3", TR_ETYPE},
      {3, "cfffffffffffffffff", 0},
      {3, "d0ff", TR_ERANGE},
      {3, "cb3ff0000000000000", TR_ETYPE},
      {4, "a0", TR_ETYPE},
      {5, "90", TR_ETYPE},
      {6, "93010203", TR_EPROTO},
      {6, "9101", TR_EPROTO},
      {6, "80", TR_ETYPE},
      {6, "05", TR_ETYPE},
      {6, "92a13101", TR_ETYPE},
      {6, "92ff01", TR_ERANGE},
      {6, "a3612f62", 0},
      {6, "a3616263", TR_EPROTO},
      {7, "a0", TR_ETYPE},
      {7, "c0", TR_ETYPE},
      {7, "d40102", TR_ETYPE},
      {7, "c50000", 0},
      {7, "c6000000020102", 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const char *f[8];
    memcpy(f, good, sizeof f);
    f[cases[i].field] = cases[i].bytes;
    int rc = decode_fields(f, 8, &d);
    if (rc != cases[i].rc) fail_msg("field %d = %s: got %d", cases[i].field, cases[i].bytes, rc);
  }
  /* what a v1 reader tells of a v2 envelope of another shape */
  const char *v2[3] = {"02", "a3616263", "c0"};
  assert_int_equal(decode_fields(v2, 3, &d), TR_EVERSION);
  assert_int_equal(d.version, 2);
  const char *big[1] = {"cfffffffffffffffff"};
  assert_int_equal(decode_fields(big, 1, &d), TR_EVERSION);
  assert_int_equal(d.version, UINT32_MAX);
  /* a v1 with the wrong number of fields */
  assert_int_equal(decode_fields(good, 7, &d), TR_EPROTO);
  const char *nine[9] = {"01", "07", "00", "2a", "01", "02", "920304", "c400", "c0"};
  assert_int_equal(decode_fields(nine, 9, &d), TR_EPROTO);
  assert_int_equal(decode_fields(good, 0, &d), TR_EPROTO);
  /* not an array at all */
  assert_int_equal(tr_envelope_decode("\x81\x01\x02", 3, &d), TR_ETYPE);
  assert_int_equal(tr_envelope_decode("\xc1", 1, &d), TR_EPROTO);
  assert_int_equal(tr_envelope_decode("", 0, &d), TR_EPROTO);
  assert_int_equal(tr_envelope_decode(NULL, 0, &d), TR_EPROTO);
  assert_int_equal(tr_envelope_decode(NULL, 3, &d), TR_EINVAL);
}

/* Non-minimal encodings of every field are accepted. */
static void test_non_minimal(void **st) {
  const char *f[8] = {"d30000000000000001", "ce00000007", "cd0001", "cf000000000000002a",
                      "d001", "d10002", "dc0002cc03d204000000", "c600000001c0"};
  uint8_t b[128];
  size_t len = craft(b, f, 8);
  b[0] = 0xdc; /* array16 header instead of fixarray */
  memmove(b + 3, b + 1, len - 1);
  b[1] = 0;
  b[2] = 8;
  len += 2;
  tr_envelope d;
  assert_int_equal(tr_envelope_decode(b, len, &d), 0);
  assert_int_equal(d.type, 7);
  assert_int_equal(d.flags, 1);
  assert_int_equal(d.corr, 42);
  assert_true(tr_ref_eq(d.sender, (tr_ref){1, 2}));
  assert_true(tr_ref_eq(d.target, (tr_ref){3, 0x04000000}));
  assert_int_equal(d.payload_len, 1);
}

/* Every proper prefix of a valid envelope is refused, from a buffer of its
 * exact size (ASan: never a byte past it); a byte more is refused too. */
static void test_truncated_and_trailing(void **st) {
  tr_envelope e = sample();
  e.target_name = "jobs/llm";
  e.target_name_len = 8;
  tr_pack pk = TR_PACK_INIT;
  assert_int_equal(tr_envelope_encode(&e, &pk), 0);
  for (size_t cut = 0; cut < pk.len; cut++) {
    uint8_t *b = malloc(cut ? cut : 1);
    memcpy(b, pk.data, cut);
    tr_envelope d;
    assert_int_equal(tr_envelope_decode(b, cut, &d), TR_EPROTO);
    free(b);
  }
  uint8_t *b = malloc(pk.len + 1);
  memcpy(b, pk.data, pk.len);
  b[pk.len] = 0xc0;
  tr_envelope d;
  assert_int_equal(tr_envelope_decode(b, pk.len + 1, &d), TR_EPROTO);
  assert_int_equal(tr_envelope_decode(b, pk.len, &d), 0);
  free(b);
  tr_pack_free(&pk);
}

static void test_payload_limit(void **st) {
  size_t max = TR_ENVELOPE_PAYLOAD_MAX;
  uint8_t *big = calloc(max + 1, 1);
  assert_non_null(big);
  tr_envelope e = sample();
  e.payload = big;
  e.payload_len = max;
  tr_pack pk = TR_PACK_INIT;
  assert_int_equal(tr_envelope_encode(&e, &pk), 0);
  tr_envelope d;
  assert_int_equal(tr_envelope_decode(pk.data, pk.len, &d), 0);
  assert_int_equal(d.payload_len, max);
  e.payload_len = max + 1;
  assert_int_equal(tr_envelope_encode(&e, &pk), TR_ETOOBIG);
  /* one byte over, crafted: the bin32 length says max + 1 */
  tr_pack_reset(&pk);
  e.payload_len = max;
  assert_int_equal(tr_envelope_encode(&e, &pk), 0);
  assert_int_equal(tr_pack_raw(&pk, "x", 1), 0);
  size_t at = pk.len - 1 - max - 4; /* the length field of the bin32 */
  pk.data[at + 3] = 0x01;           /* 0x01000000 + 1 */
  assert_int_equal(tr_envelope_decode(pk.data, pk.len, &d), TR_ETOOBIG);
  tr_pack_free(&pk);
  free(big);
  e = sample();
  e.payload = NULL;
  assert_int_equal(tr_envelope_encode(&e, &pk), TR_EINVAL);
  e.payload_len = 0;
  assert_int_equal(tr_envelope_encode(&e, &pk), 0); /* empty payload */
  assert_int_equal(tr_envelope_decode(pk.data, pk.len, &d), 0);
  assert_int_equal(d.payload_len, 0);
  tr_pack_free(&pk);
}

static void test_encoder_errors(void **st) {
  tr_envelope e = sample();
  uint8_t buf[64];
  size_t len = 99;
  e.version = 2;
  assert_int_equal(tr_envelope_encode_buf(&e, buf, sizeof buf, &len), TR_EVERSION);
  assert_int_equal(len, 0);
  e.version = 1;
  assert_int_equal(tr_envelope_encode_buf(&e, buf, sizeof buf, &len), 0);
  size_t want = len;
  assert_int_equal(tr_envelope_encode_buf(&e, buf, want - 1, &len), TR_ETOOBIG);
  assert_int_equal(tr_envelope_encode_buf(&e, buf, want, &len), 0);
  assert_int_equal(tr_envelope_encode(NULL, NULL), TR_EINVAL);
  tr_pack pk = TR_PACK_INIT;
  assert_int_equal(tr_envelope_encode(NULL, &pk), TR_EINVAL);
  pk.err = TR_ENOMEM; /* a failed pack stays failed */
  assert_int_equal(tr_envelope_encode(&e, &pk), TR_ENOMEM);
  assert_int_equal(tr_envelope_size(NULL), 0);
}

static void test_batch_round_trip(void **st) {
  tr_pack pk = TR_PACK_INIT;
  tr_envelope_batch b;
  assert_int_equal(tr_envelope_batch_begin(&b, &pk), 0);
  char names[1000][16];
  for (int i = 0; i < 1000; i++) {
    tr_envelope e = sample();
    e.corr = (uint64_t)i;
    if (i % 3 == 0) {
      e.target_name_len = (size_t)snprintf(names[i], sizeof names[i], "k/%d", i);
      e.target_name = names[i];
    }
    assert_int_equal(tr_envelope_batch_add(&b, &e), 0);
  }
  assert_int_equal(tr_envelope_batch_end(&b), 0);
  tr_envelope_reader r;
  uint32_t count;
  assert_int_equal(tr_envelope_reader_open(&r, pk.data, pk.len, &count), 0);
  assert_int_equal(count, 1000);
  tr_envelope d;
  for (int i = 0; i < 1000; i++) {
    assert_int_equal(tr_envelope_reader_next(&r, &d), 0);
    assert_int_equal(d.corr, i);
    assert_int_equal(d.target_name != NULL, i % 3 == 0);
  }
  assert_int_equal(tr_envelope_reader_next(&r, &d), TR_ENOENT);
  tr_envelope *all = calloc(1000, sizeof *all);
  size_t n;
  assert_int_equal(tr_envelope_batch_decode(pk.data, pk.len, all, 1000, &n), 0);
  assert_int_equal(n, 1000);
  assert_int_equal(tr_envelope_batch_decode(pk.data, pk.len, all, 999, &n), TR_ETOOBIG);
  assert_int_equal(n, 0);
  free(all);
  tr_pack_free(&pk);
  /* empty batch, and a fixarray header (any array header reads) */
  assert_int_equal(tr_envelope_reader_open(&r, "\x90", 1, &count), 0);
  assert_int_equal(count, 0);
  assert_int_equal(tr_envelope_reader_next(&r, &d), TR_ENOENT);
  assert_int_equal(tr_envelope_reader_open(&r, "\x90\x00", 2, &count), TR_EPROTO);
  assert_int_equal(tr_envelope_reader_next(&r, &d), TR_EPROTO);
}

static void test_batch_errors(void **st) {
  tr_envelope e = sample();
  tr_pack pk = TR_PACK_INIT;
  tr_envelope_batch b;
  assert_int_equal(tr_envelope_batch_begin(&b, &pk), 0);
  assert_int_equal(tr_envelope_batch_add(&b, &e), 0);
  assert_int_equal(tr_envelope_batch_add(&b, &e), 0);
  assert_int_equal(tr_envelope_batch_end(&b), 0);
  tr_envelope d;
  tr_envelope_reader r;
  uint32_t count;
  size_t n;
  tr_envelope two[2];
  /* truncated anywhere: never the full batch */
  for (size_t cut = 0; cut < pk.len; cut++) {
    uint8_t *buf = malloc(cut ? cut : 1);
    memcpy(buf, pk.data, cut);
    assert_true(tr_envelope_batch_decode(buf, cut, two, 2, &n) < 0);
    assert_int_equal(n, 0);
    free(buf);
  }
  /* a byte after the last envelope: the last next() reports it */
  assert_int_equal(tr_pack_raw(&pk, "\xc0", 1), 0);
  assert_int_equal(tr_envelope_reader_open(&r, pk.data, pk.len, &count), 0);
  assert_int_equal(tr_envelope_reader_next(&r, &d), 0);
  assert_int_equal(tr_envelope_reader_next(&r, &d), TR_EPROTO);
  assert_int_equal(tr_envelope_reader_next(&r, &d), TR_EPROTO); /* sticky */
  /* a count the bytes cannot hold */
  assert_int_equal(tr_envelope_reader_open(&r, "\xdd\xff\xff\xff\xff\x90", 6, &count), TR_EPROTO);
  assert_int_equal(tr_envelope_reader_open(&r, "\x81\x01\x02", 3, &count), TR_ETYPE);
  assert_int_equal(tr_envelope_reader_open(&r, NULL, 0, &count), TR_EPROTO);
  tr_pack_free(&pk);
  /* a bad envelope in the middle */
  assert_int_equal(tr_envelope_batch_begin(&b, &pk), 0);
  assert_int_equal(tr_envelope_batch_add(&b, &e), 0);
  assert_int_equal(tr_pack_raw(&pk, "\x91\x02", 2), 0); /* v2 */
  b.count++;
  assert_int_equal(tr_envelope_batch_add(&b, &e), 0);
  assert_int_equal(tr_envelope_batch_end(&b), 0);
  assert_int_equal(tr_envelope_reader_open(&r, pk.data, pk.len, &count), 0);
  assert_int_equal(count, 3);
  assert_int_equal(tr_envelope_reader_next(&r, &d), 0);
  assert_int_equal(tr_envelope_reader_next(&r, &d), TR_EVERSION);
  tr_envelope three[3];
  assert_int_equal(tr_envelope_batch_decode(pk.data, pk.len, three, 3, &n), TR_EVERSION);
  assert_int_equal(n, 0);
  tr_pack_free(&pk);
}

/* A frame with a size limit: add until it is full, end it, and the frame
 * holds exactly the envelopes that were accepted. */
static void test_batch_fills_frame(void **st) {
  tr_pack pk = TR_PACK_INIT;
  pk.max = 1000;
  tr_envelope_batch b;
  assert_int_equal(tr_envelope_batch_begin(&b, &pk), 0);
  tr_envelope e = sample();
  int added = 0, rc;
  while ((rc = tr_envelope_batch_add(&b, &e)) == 0) added++;
  assert_int_equal(rc, TR_ETOOBIG);
  assert_int_equal(pk.err, 0);
  assert_int_equal(b.count, added);
  assert_int_equal(pk.len, 5 + (size_t)added * tr_envelope_size(&e));
  tr_envelope bad = e;
  bad.target_name = "nokind";
  bad.target_name_len = 6;
  assert_int_equal(tr_envelope_batch_add(&b, &bad), TR_EINVAL);
  assert_int_equal(tr_envelope_batch_end(&b), 0);
  tr_envelope_reader r;
  uint32_t count;
  assert_int_equal(tr_envelope_reader_open(&r, pk.data, pk.len, &count), 0);
  assert_int_equal(count, added);
  tr_envelope d;
  while ((rc = tr_envelope_reader_next(&r, &d)) == 0) assert_same(&e, &d);
  assert_int_equal(rc, TR_ENOENT);
  tr_pack_free(&pk);
  assert_int_equal(tr_envelope_batch_begin(NULL, &pk), TR_EINVAL);
}

static uint64_t rng_state = 0x13198a2e03707344ull;
static uint64_t rnd(void) {
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 0x2545f4914f6cdd1dull;
}

static void test_random_round_trips(void **st) {
  static uint8_t payload[100000];
  for (size_t i = 0; i < sizeof payload; i++) payload[i] = (uint8_t)rnd();
  char name[TR_ENVELOPE_NAME_MAX];
  for (int round = 0; round < 5000; round++) {
    tr_envelope e = {
        .version = (uint32_t)(rnd() % 2),
        .type = (uint32_t)(rnd() >> (rnd() % 64)),
        .flags = (uint16_t)rnd(),
        .corr = rnd() >> (rnd() % 64),
        .sender = {rnd() >> (rnd() % 64), rnd() >> (rnd() % 64)},
        .target = {rnd() >> (rnd() % 64), rnd() >> (rnd() % 64)},
        .payload = payload + rnd() % 1000,
        .payload_len = (rnd() % 8 == 0) ? rnd() % 90000 : rnd() % 300,
    };
    if (rnd() % 2) {
      size_t n = 2 + rnd() % (sizeof name - 1);
      for (size_t i = 0; i < n; i++) name[i] = (char)(' ' + rnd() % 95);
      name[rnd() % (n - 1) + 1] = '/';
      if (name[0] == '/') name[0] = 'k';
      e.target_name = name;
      e.target_name_len = n;
    }
    tr_pack pk = TR_PACK_INIT;
    assert_int_equal(tr_envelope_encode(&e, &pk), 0);
    assert_int_equal(pk.len, tr_envelope_size(&e));
    tr_envelope d;
    assert_int_equal(tr_envelope_decode(pk.data, pk.len, &d), 0);
    assert_same(&e, &d);
    tr_pack_free(&pk);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_documented_bytes),
      cmocka_unit_test(test_named_target),
      cmocka_unit_test(test_names),
      cmocka_unit_test(test_field_errors),
      cmocka_unit_test(test_non_minimal),
      cmocka_unit_test(test_truncated_and_trailing),
      cmocka_unit_test(test_payload_limit),
      cmocka_unit_test(test_encoder_errors),
      cmocka_unit_test(test_batch_round_trip),
      cmocka_unit_test(test_batch_errors),
      cmocka_unit_test(test_batch_fills_frame),
      cmocka_unit_test(test_random_round_trips),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
