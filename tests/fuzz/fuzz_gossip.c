/* fuzz_gossip.c - libFuzzer target: heartbeats into tr_mb_gossip_apply().
 *
 * The input is a heartbeat as a member's link would deliver it (already
 * authenticated: links admit only nodes with the secret, but such a node
 * may still be buggy or hostile). It is applied twice to a fresh view, once
 * as from node 2 and once as from node 3.
 * Invariants: no crash or overread (the sanitizers); a refused heartbeat
 * changes nothing (checked whole before applied); an accepted one is from the node that
 * sent it and leaves this node out of its own view; every member has a
 * valid state and a NUL-terminated name and address.
 *
 * Compiled with member.c and phi.c alone (plus the codec): the three
 * functions of other layers it reaches are stubbed below.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/internal.h"
#include "fuzz_check.h"

void tr_log(int level, const char *component, const char *fmt, ...) {
  (void)level, (void)component, (void)fmt;
}
uint64_t tr_now_ms(void) { return 1000; }
int tr_link_is_up(const tr_link *l) { return l != NULL; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  tr_cluster c;
  memset(&c, 0, sizeof c);
  c.id.node_id = 1;
  c.o.heartbeat_ms = 200;
  c.o.pause_ms = 2500;
  c.o.phi_suspect = 1;
  c.o.phi_down = 8;
  c.o.forget_ms = 60000;
  c.state = TR_MEMBER_UP;
  for (uint64_t from = 2; from <= 3; from++) {
    size_t before = c.nm;
    int rc = tr_mb_gossip_apply(&c, from, data, size, 1000 + from);
    CHECK(rc <= 1);
    if (rc < 0) CHECK(c.nm == before); /* refused whole: nothing applied */
    else CHECK(tr_mb_find(&c, from) != NULL);
    CHECK(tr_mb_find(&c, c.id.node_id) == NULL);
  }
  for (size_t i = 0; i < c.nm; i++) {
    member *m = &c.m[i];
    CHECK(m->state >= TR_MEMBER_JOINING && m->state <= TR_MEMBER_REMOVED);
    CHECK(memchr(m->name, 0, sizeof m->name) && memchr(m->addr, 0, sizeof m->addr));
    CHECK(m->id != 0);
  }
  free(c.m);
  return 0;
}
