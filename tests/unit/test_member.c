/* Membership heartbeats (cluster/member.c): what a valid one does to the
 * view, and that bad ones - truncated, flipped, spoofed, of another
 * version, or random - are refused whole and change nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cluster/internal.h"

static void fake(tr_cluster *c, uint64_t id, const char *name, const char *addr) {
  memset(c, 0, sizeof *c);
  c->id.node_id = id;
  c->o.heartbeat_ms = 200;
  c->o.pause_ms = 2500;
  c->o.phi_suspect = 1;
  c->o.phi_down = 8;
  c->o.forget_ms = 60000;
  c->o.roles = 3;
  c->inc = 1000 + id;
  c->state = TR_MEMBER_UP;
  snprintf(c->name, sizeof c->name, "%s", name);
  snprintf(c->addr, sizeof c->addr, "%s", addr);
}

/* node 2's heartbeat, knowing node 3 and node 1 (the receiver) */
static void heartbeat(tr_pack *pk) {
  tr_cluster b;
  fake(&b, 2, "two", "tcp://127.0.0.1:2");
  member *m3 = tr_mb_add(&b, 3, 100), *m1;
  snprintf(m3->addr, sizeof m3->addr, "tcp://127.0.0.1:3");
  m3->inc = 7;
  m1 = tr_mb_add(&b, 1, 100);
  snprintf(m1->addr, sizeof m1->addr, "tcp://127.0.0.1:1");
  /* the kinds it hosts: how others learn the roles of kinds they lack */
  snprintf(b.kinds[0].name, sizeof b.kinds[0].name, "jobs");
  b.kinds[0].roles = 1;
  snprintf(b.kinds[1].name, sizeof b.kinds[1].name, "chat");
  b.kinds[1].roles = 4;
  b.nkinds = 2;
  assert_int_equal(tr_mb_gossip_build(&b, pk), 0);
  free(b.m);
}

static void test_valid(void **state) {
  (void)state;
  tr_pack pk = TR_PACK_INIT;
  heartbeat(&pk);
  tr_cluster c;
  fake(&c, 1, "one", "tcp://127.0.0.1:1");
  c.state = TR_MEMBER_JOINING;
  assert_int_equal(tr_mb_gossip_apply(&c, 2, pk.data, pk.len, 5000), 1); /* 3 is new */
  assert_int_equal(c.nm, 2);
  member *m2 = tr_mb_find(&c, 2), *m3 = tr_mb_find(&c, 3);
  assert_non_null(m2);
  assert_non_null(m3);
  assert_string_equal(m2->name, "two");
  assert_string_equal(m2->addr, "tcp://127.0.0.1:2");
  assert_int_equal(m2->roles, 3);
  assert_int_equal(m2->nkinds, 2);
  assert_string_equal(m2->kinds[1].name, "chat");
  assert_int_equal(m2->kinds[1].roles, 4);
  uint32_t roles = 0;
  assert_int_equal(tr_place_kind_roles(&c, "jobs", 4, &roles), 0);
  assert_int_equal(roles, 1);
  assert_int_equal(tr_place_kind_roles(&c, "nope", 4, &roles), TR_ENOENT);
  assert_int_equal(m2->state, TR_MEMBER_UP);
  assert_int_equal(m3->state, TR_MEMBER_JOINING); /* hearsay: dial it, not up yet */
  assert_string_equal(m3->addr, "tcp://127.0.0.1:3");
  assert_null(tr_mb_find(&c, 1));                 /* never ourselves */
  assert_int_equal(c.state, TR_MEMBER_UP);        /* a member talked to us: joined */
  /* the same again: nothing new */
  assert_int_equal(tr_mb_gossip_apply(&c, 2, pk.data, pk.len, 5200), 0);
  assert_int_equal(c.nm, 2);
  free(c.m);
  tr_pack_free(&pk);
}

static void test_spoofed(void **state) {
  (void)state;
  tr_pack pk = TR_PACK_INIT;
  heartbeat(&pk);
  tr_cluster c;
  fake(&c, 1, "one", "tcp://127.0.0.1:1");
  /* node 3's link cannot speak for node 2 */
  assert_int_equal(tr_mb_gossip_apply(&c, 3, pk.data, pk.len, 5000), TR_EPERM);
  assert_int_equal(tr_mb_gossip_apply(&c, 0, pk.data, pk.len, 5000), TR_EPERM);
  assert_int_equal(c.nm, 0);
  free(c.m);
  tr_pack_free(&pk);
}

static void test_truncated_and_flipped(void **state) {
  (void)state;
  tr_pack pk = TR_PACK_INIT;
  heartbeat(&pk);
  for (size_t len = 0; len < pk.len; len++) {
    tr_cluster c;
    fake(&c, 1, "one", "tcp://127.0.0.1:1");
    assert_true(tr_mb_gossip_apply(&c, 2, pk.data, len, 5000) < 0);
    assert_int_equal(c.nm, 0); /* refused whole */
    free(c.m);
  }
  /* every bit flip: refused whole, or accepted as a heartbeat of node 2 */
  uint8_t *buf = malloc(pk.len);
  for (size_t bit = 0; bit < pk.len * 8; bit++) {
    memcpy(buf, pk.data, pk.len);
    buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    tr_cluster c;
    fake(&c, 1, "one", "tcp://127.0.0.1:1");
    int rc = tr_mb_gossip_apply(&c, 2, buf, pk.len, 5000);
    if (rc < 0) assert_int_equal(c.nm, 0);
    else assert_non_null(tr_mb_find(&c, 2));
    assert_null(tr_mb_find(&c, 1));
    free(c.m);
  }
  free(buf);
  tr_pack_free(&pk);
}

static void test_version_and_state(void **state) {
  (void)state;
  tr_cluster c;
  fake(&c, 1, "one", "tcp://127.0.0.1:1");
  tr_pack pk = TR_PACK_INIT;
  tr_pack_map(&pk, 4);
  tr_pack_kv_int(&pk, "v", 2);
  tr_pack_kv_int(&pk, "id", 2);
  tr_pack_kv_int(&pk, "inc", 5);
  tr_pack_kv_int(&pk, "st", TR_MEMBER_UP);
  assert_int_equal(tr_mb_gossip_apply(&c, 2, pk.data, pk.len, 5000), TR_EVERSION);
  tr_pack_reset(&pk);
  tr_pack_map(&pk, 3);
  tr_pack_kv_int(&pk, "id", 2);
  tr_pack_kv_int(&pk, "inc", 5);
  tr_pack_kv_int(&pk, "st", TR_MEMBER_DOWN); /* a node cannot say it is down */
  assert_int_equal(tr_mb_gossip_apply(&c, 2, pk.data, pk.len, 5000), TR_EPROTO);
  tr_pack_reset(&pk);
  tr_pack_map(&pk, 4); /* a view that is not an array of [id, inc, addr, state] */
  tr_pack_kv_int(&pk, "id", 2);
  tr_pack_kv_int(&pk, "inc", 5);
  tr_pack_kv_int(&pk, "st", TR_MEMBER_UP);
  tr_pack_str(&pk, "view");
  tr_pack_array(&pk, 2);
  tr_pack_array(&pk, 4);
  tr_pack_uint(&pk, 9);
  tr_pack_uint(&pk, 1);
  tr_pack_str(&pk, "tcp://127.0.0.1:9");
  tr_pack_int(&pk, TR_MEMBER_UP);
  tr_pack_array(&pk, 3);
  tr_pack_uint(&pk, 8);
  tr_pack_uint(&pk, 1);
  tr_pack_str(&pk, "tcp://127.0.0.1:8");
  assert_int_equal(tr_mb_gossip_apply(&c, 2, pk.data, pk.len, 5000), TR_EPROTO);
  assert_int_equal(c.nm, 0); /* not even member 9, which came first */
  free(c.m);
  tr_pack_free(&pk);
}

/* a view cannot grow the member table without bound */
static void test_members_max(void **state) {
  (void)state;
  tr_cluster c;
  fake(&c, 1, "one", "tcp://127.0.0.1:1");
  tr_pack pk = TR_PACK_INIT;
  tr_pack_map(&pk, 4);
  tr_pack_kv_int(&pk, "id", 2);
  tr_pack_kv_int(&pk, "inc", 5);
  tr_pack_kv_int(&pk, "st", TR_MEMBER_UP);
  tr_pack_str(&pk, "view");
  tr_pack_array(&pk, 3 * TR_MEMBERS_MAX);
  for (uint64_t i = 0; i < 3 * TR_MEMBERS_MAX; i++) {
    tr_pack_array(&pk, 4);
    tr_pack_uint(&pk, 100 + i);
    tr_pack_uint(&pk, 1);
    tr_pack_str(&pk, "tcp://127.0.0.1:9");
    tr_pack_int(&pk, TR_MEMBER_UP);
  }
  assert_int_equal(tr_mb_gossip_apply(&c, 2, pk.data, pk.len, 5000), 1);
  assert_int_equal(c.nm, TR_MEMBERS_MAX);
  free(c.m);
  tr_pack_free(&pk);
}

static void test_random(void **state) {
  (void)state;
  uint8_t buf[512];
  srand(7);
  for (int i = 0; i < 20000; i++) {
    size_t n = (size_t)(rand() % (int)sizeof buf);
    for (size_t j = 0; j < n; j++) buf[j] = (uint8_t)rand();
    if (n) buf[0] = (uint8_t)(0x80 | (rand() % 16)); /* mostly maps */
    tr_cluster c;
    fake(&c, 1, "one", "tcp://127.0.0.1:1");
    if (tr_mb_gossip_apply(&c, 2, buf, n, 5000) < 0) assert_int_equal(c.nm, 0);
    free(c.m);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_valid),
      cmocka_unit_test(test_spoofed),
      cmocka_unit_test(test_truncated_and_flipped),
      cmocka_unit_test(test_version_and_state),
      cmocka_unit_test(test_members_max),
      cmocka_unit_test(test_random),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
