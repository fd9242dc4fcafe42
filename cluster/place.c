/* place.c - where a virtual actor lives: rendezvous (highest random
 * weight) hashing of its name over the members that may host its kind.
 *
 * Every node computes the same owner from the same view, with no
 * coordination, and a membership change moves only the names whose top
 * node joined or left (about 1/N of them), which is why rendezvous hashing
 * rather than a ring with virtual nodes: there is no ring to keep.
 *
 * Who may host: members that are up or suspect (a suspect node is not moved
 * away from: a short stall must not reshuffle the cluster), that said they
 * are up (not joining, not leaving), are not draining, and have one of the
 * kind's roles (or the kind has none). This node counts when it is up and
 * neither leaving nor draining.
 */
#include <string.h>

#include "internal.h"

static uint64_t mix64(uint64_t x) { /* splitmix64's finaliser */
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

static uint64_t name_hash(const char *s, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
  return h;
}

static int has_role(uint32_t have, uint32_t want) { return !want || (have & want); }

/* Caller holds c->mu. */
static int self_hosts(tr_cluster *c, uint32_t roles) {
  return c->state == TR_MEMBER_UP && !c->draining && has_role(c->o.roles, roles);
}

/* Caller holds c->mu. */
static int member_hosts(const member *m, uint32_t roles) {
  return (m->state == TR_MEMBER_UP || m->state == TR_MEMBER_SUSPECT) &&
         m->said == TR_MEMBER_UP && !m->draining && has_role(m->roles, roles);
}

int tr_place_owner(void *arg, uint32_t roles, const char *name, size_t len, uint64_t *node) {
  tr_cluster *c = arg;
  uint64_t h = name_hash(name, len), best = 0, best_score = 0;
  int found = 0;
  pthread_mutex_lock(&c->mu);
  if (self_hosts(c, roles)) {
    best = c->id.node_id;
    best_score = mix64(h ^ mix64(best));
    found = 1;
  }
  for (size_t i = 0; i < c->nm; i++) {
    const member *m = &c->m[i];
    if (!member_hosts(m, roles)) continue;
    uint64_t s = mix64(h ^ mix64(m->id));
    /* ties (never in practice) go to the smaller id, on every node alike */
    if (!found || s > best_score || (s == best_score && m->id < best)) {
      best = m->id;
      best_score = s;
      found = 1;
    }
  }
  pthread_mutex_unlock(&c->mu);
  if (!found) return TR_ENOENT;
  *node = best;
  return 0;
}

int tr_place_hosts(void *arg, uint32_t roles) {
  tr_cluster *c = arg;
  pthread_mutex_lock(&c->mu);
  int ok = self_hosts(c, roles);
  pthread_mutex_unlock(&c->mu);
  return ok;
}

uint64_t tr_place_digest(tr_cluster *c) {
  /* order-independent: members move around in c->m */
  uint64_t d = self_hosts(c, 0) ? mix64(c->id.node_id ^ c->o.roles) : 0;
  for (size_t i = 0; i < c->nm; i++)
    if (member_hosts(&c->m[i], 0)) d += mix64(c->m[i].id ^ mix64(c->m[i].roles));
  return d;
}

int tr_place_kind_roles(void *arg, const char *kind, size_t len, uint32_t *roles) {
  tr_cluster *c = arg;
  int rc = TR_ENOENT;
  pthread_mutex_lock(&c->mu);
  for (size_t i = 0; i < c->nm && rc < 0; i++) {
    const member *m = &c->m[i];
    if (m->state != TR_MEMBER_UP && m->state != TR_MEMBER_SUSPECT) continue;
    for (int k = 0; k < m->nkinds; k++)
      if (strlen(m->kinds[k].name) == len && !memcmp(m->kinds[k].name, kind, len)) {
        *roles = m->kinds[k].roles;
        rc = 0;
        break;
      }
  }
  pthread_mutex_unlock(&c->mu);
  return rc;
}
