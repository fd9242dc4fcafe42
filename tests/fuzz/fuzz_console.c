/* fuzz_console.c - libFuzzer target: the admin console's parsers.
 *
 * The first byte picks a mode:
 *   even  raw: the rest goes as it is into tr_console_request_open (the
 *         node's side), tr_console_reply_open and tr_console_snapshot_open
 *         (the client's side), all under a fixed key (KEY below).
 *   odd   signed: the rest is a body that gets a good MAC (request key and
 *         reply key in turn), so the parsers behind the MAC are reached;
 *         a request that opens then goes through the replay guard.
 * Invariants: nothing is read outside the input (ASan); a request opens
 * only with a good MAC; an opened request has a valid command and its args
 * are one map inside the input; building it again yields a request that
 * opens to the same fields; a reply's error is a NUL-terminated string and
 * its data lies inside the input; the guard refuses a nonce it let through.
 */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/console.h"
#include "fuzz_check.h"

#define KEY "troupe fuzz console admin key!!" /* 31 chars + NUL */

static tr_console_keys keys;

static void init(void) {
  static int done;
  if (!done) {
    CHECK(sodium_init() >= 0);
    tr_console_keys_derive((const uint8_t *)KEY, &keys);
    done = 1;
  }
}

static int inside(const uint8_t *p, size_t n, const uint8_t *in, size_t len) {
  return p >= in && p + n <= in + len;
}

static void check_request(const uint8_t *p, size_t n) {
  tr_console_req q;
  int rc = tr_console_request_open(&keys, p, n, &q);
  CHECK(rc == 0 || rc == TR_ETOOBIG || rc == TR_EPERM || rc == TR_EPROTO || rc == TR_EVERSION);
  if (rc != 0) return;
  size_t cl = strlen(q.cmd);
  CHECK(cl > 0 && cl < TR_CONSOLE_CMD_MAX);
  for (size_t i = 0; i < cl; i++) CHECK((q.cmd[i] >= 'a' && q.cmd[i] <= 'z') || q.cmd[i] == '-');
  if (q.args) {
    CHECK(inside(q.args, q.args_len, p, n));
    tr_unpack u;
    tr_unpack_init(&u, q.args, q.args_len);
    CHECK(tr_unpack_peek(&u) == TR_MP_MAP);
  }
  /* the same fields, built again, open to the same fields */
  tr_pack pk = TR_PACK_INIT;
  CHECK(tr_console_request_build(&keys, q.cmd, q.args, q.args_len, q.ts_ms, q.nonce, &pk) == 0);
  tr_console_req r;
  CHECK(tr_console_request_open(&keys, pk.data, pk.len, &r) == 0 || pk.len > TR_CONSOLE_REQ_MAX);
  if (pk.len <= TR_CONSOLE_REQ_MAX) {
    CHECK(!strcmp(r.cmd, q.cmd) && r.ts_ms == q.ts_ms && !memcmp(r.nonce, q.nonce, 16));
    CHECK(r.args_len == q.args_len && (!q.args || !memcmp(r.args, q.args, q.args_len)));
  }
  tr_pack_free(&pk);
  /* the guard: a fresh nonce passes once (at any time a clock can show) */
  tr_console_guard *g = tr_console_guard_new();
  CHECK(g != NULL);
  int first = tr_console_guard_check(g, q.ts_ms, q.nonce, q.ts_ms);
  if (q.ts_ms > 0 && q.ts_ms < (1ull << 62)) CHECK(first == 0);
  if (first == 0) CHECK(tr_console_guard_check(g, q.ts_ms, q.nonce, q.ts_ms) == TR_EEXIST);
  tr_console_guard_free(g);
}

static void check_reply(const uint8_t *p, size_t n, int signed_) {
  tr_console_reply r;
  int rc = tr_console_reply_open(&keys, p, n, &r);
  CHECK(rc == 0 || rc == TR_EPROTO);
  if (rc != 0) return;
  if (signed_) CHECK(r.authentic);
  CHECK(memchr(r.error, 0, sizeof r.error) != NULL);
  CHECK(r.ok == (r.code == 0));
  if (r.data) CHECK(inside(r.data, r.data_len, p, n));
}

static void check_snapshot(const uint8_t *p, size_t n) {
  uint8_t *out = malloc(n ? n : 1);
  CHECK(out != NULL);
  size_t len = 0;
  int rc = tr_console_snapshot_open(&keys, p, n, out, n, &len);
  CHECK(rc == TR_EPROTO || rc == TR_EPERM || rc == 0);
  if (rc == 0) CHECK(len + TR_CONSOLE_SEAL_OVERHEAD == n);
  free(out);
}

/* body || HMAC(key, body) */
static uint8_t *sign(const uint8_t *body, size_t n, const uint8_t key[32]) {
  uint8_t *m = malloc(n + TR_CONSOLE_MAC);
  CHECK(m != NULL);
  if (n) memcpy(m, body, n);
  crypto_auth_hmacsha256(m + n, m, n, key);
  return m;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  init();
  if (size == 0) return 0;
  const uint8_t *p = data + 1;
  size_t n = size - 1;
  if (!(data[0] & 1)) {
    check_request(p, n);
    check_reply(p, n, 0);
    check_snapshot(p, n);
    return 0;
  }
  uint8_t *m = sign(p, n, keys.req);
  check_request(m, n + TR_CONSOLE_MAC);
  free(m);
  m = sign(p, n, keys.rep);
  check_reply(m, n + TR_CONSOLE_MAC, 1);
  free(m);
  return 0;
}
