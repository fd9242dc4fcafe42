/* fuzz_json.c - the JSON bridge in both directions on arbitrary bytes.
 *
 * As JSON text: whatever converts to msgpack must convert back to JSON, and
 * that text must convert to the very same msgpack bytes (numbers, strings and
 * key order survive exactly). As msgpack: whatever converts to JSON must be
 * valid JSON to jansson itself, and after one more trip through the bridge
 * the msgpack must be a fixed point (bin and float32 change form once).
 */
#include <jansson.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_check.h"
#include "troupe/codec.h"

static int bridge_error(int rc) {
  return rc == TR_EPROTO || rc == TR_ETOOBIG || rc == TR_ERANGE || rc == TR_ENOTSUP;
}

/* Converts the JSON text to msgpack and the result back to text. */
static void from_json(const uint8_t *data, size_t size) {
  char err[256];
  tr_pack mp = TR_PACK_INIT, text = TR_PACK_INIT, mp2 = TR_PACK_INIT;
  int rc = tr_json_to_msgpack((const char *)data, size, NULL, &mp, err, sizeof err);
  CHECK(rc == 0 || bridge_error(rc));
  CHECK(rc == 0 ? mp.len > 0 : (mp.len == 0 && err[0] != 0));
  if (rc == 0) {
    CHECK(tr_json_from_msgpack(mp.data, mp.len, NULL, &text, err, sizeof err) == 0);
    CHECK(text.data[text.len] == 0 && strlen((char *)text.data) <= text.len);
    tr_json_opts big = {.max_size = 64u << 20};
    CHECK(tr_json_to_msgpack((const char *)text.data, text.len, &big, &mp2, err, sizeof err) == 0);
    CHECK(mp2.len == mp.len && memcmp(mp2.data, mp.data, mp.len) == 0);
  }
  tr_pack_free(&mp);
  tr_pack_free(&text);
  tr_pack_free(&mp2);
}

/* Converts the bytes as msgpack to JSON and checks the text. */
static void from_msgpack(const uint8_t *data, size_t size) {
  char err[256];
  tr_pack text = TR_PACK_INIT, mp2 = TR_PACK_INIT, text2 = TR_PACK_INIT, mp3 = TR_PACK_INIT;
  int rc = tr_json_from_msgpack(data, size, NULL, &text, err, sizeof err);
  CHECK(rc == 0 || bridge_error(rc));
  if (rc < 0) {
    CHECK(text.len == 0 && err[0] != 0);
    goto out;
  }
  /* valid JSON for jansson (integers as reals: uint64 over INT64_MAX is
   * valid JSON that jansson's integers cannot hold; duplicate keys are
   * valid JSON that our reader refuses; jansson alone cannot hold a NUL in
   * a key) */
  json_error_t je;
  json_t *j = json_loadb((const char *)text.data, text.len,
                         JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &je);
  CHECK(j != NULL || json_error_code(&je) == json_error_null_byte_in_key);
  json_decref(j);
  tr_json_opts big = {.max_size = 64u << 20};
  rc = tr_json_to_msgpack((const char *)text.data, text.len, &big, &mp2, err, sizeof err);
  CHECK(rc == 0 || rc == TR_ERANGE || rc == TR_EPROTO);
  if (rc < 0) goto out;
  CHECK(tr_json_from_msgpack(mp2.data, mp2.len, &big, &text2, err, sizeof err) == 0);
  CHECK(tr_json_to_msgpack((const char *)text2.data, text2.len, &big, &mp3, err, sizeof err) == 0);
  CHECK(mp3.len == mp2.len && memcmp(mp3.data, mp2.data, mp2.len) == 0);
out:
  tr_pack_free(&text);
  tr_pack_free(&mp2);
  tr_pack_free(&text2);
  tr_pack_free(&mp3);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  from_json(data, size);
  from_msgpack(data, size);
  return 0;
}
