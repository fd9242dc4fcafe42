/* idx_map.c - a string-keyed hash map and the bounded set of recently
 * finished ids (idx.h). */
#include <stdlib.h>
#include <string.h>

#include "actors/workflow/idx.h"

struct idx_ent {
  idx_ent *next;
  void *val;
  size_t len;
  char key[]; /* NUL-terminated copy */
};

static uint64_t hash(const char *s, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
  return h;
}

static int grow(idx_map *m) {
  size_t nb = m->nb ? m->nb * 2 : 64;
  idx_ent **b = calloc(nb, sizeof *b);
  if (!b) return TR_ENOMEM;
  for (size_t i = 0; i < m->nb; i++)
    for (idx_ent *e = m->b[i], *x; e; e = x) {
      x = e->next;
      size_t k = hash(e->key, e->len) & (nb - 1);
      e->next = b[k];
      b[k] = e;
    }
  free(m->b);
  m->b = b;
  m->nb = nb;
  return 0;
}

static idx_ent **slot(const idx_map *m, const char *key, size_t len) {
  if (!m->nb) return NULL;
  idx_ent **p = &m->b[hash(key, len) & (m->nb - 1)];
  while (*p && ((*p)->len != len || memcmp((*p)->key, key, len))) p = &(*p)->next;
  return p;
}

int idx_map_put(idx_map *m, const char *key, size_t len, void *val) {
  idx_ent **p = slot(m, key, len);
  if (p && *p) return TR_EEXIST;
  if (m->n + 1 > m->nb && grow(m) < 0) return TR_ENOMEM;
  idx_ent *e = malloc(sizeof *e + len + 1);
  if (!e) return TR_ENOMEM;
  memcpy(e->key, key, len);
  e->key[len] = 0;
  e->len = len;
  e->val = val;
  size_t k = hash(key, len) & (m->nb - 1);
  e->next = m->b[k];
  m->b[k] = e;
  m->n++;
  return 0;
}

void *idx_map_get(const idx_map *m, const char *key, size_t len) {
  idx_ent **p = slot(m, key, len);
  return p && *p ? (*p)->val : NULL;
}

void *idx_map_del(idx_map *m, const char *key, size_t len) {
  idx_ent **p = slot(m, key, len);
  if (!p || !*p) return NULL;
  idx_ent *e = *p;
  void *v = e->val;
  *p = e->next;
  free(e);
  m->n--;
  return v;
}

void idx_map_free(idx_map *m) {
  for (size_t i = 0; i < m->nb; i++)
    for (idx_ent *e = m->b[i], *x; e; e = x) {
      x = e->next;
      free(e);
    }
  free(m->b);
  memset(m, 0, sizeof *m);
}

/* ------------------------------------------------------------ recent ids */

int idx_recent_add(idx_recent *r, const char *id, size_t len) {
  if (idx_recent_has(r, id, len)) return 0;
  if (!r->ring && !(r->ring = calloc(IDX_RECENT, sizeof *r->ring))) return TR_ENOMEM;
  char *c = malloc(len + 1);
  if (!c) return TR_ENOMEM;
  memcpy(c, id, len);
  c[len] = 0;
  int rc = idx_map_put(&r->set, c, len, (void *)1);
  if (rc < 0) {
    free(c);
    return rc;
  }
  char *old = r->ring[r->next]; /* the oldest goes: the set is bounded */
  if (old) {
    idx_map_del(&r->set, old, strlen(old));
    free(old);
  } else {
    r->n++;
  }
  r->ring[r->next] = c;
  r->next = (r->next + 1) % IDX_RECENT;
  return 0;
}

int idx_recent_has(const idx_recent *r, const char *id, size_t len) {
  return idx_map_get(&r->set, id, len) != NULL;
}

int idx_recent_pack(const idx_recent *r, tr_pack *pk) {
  tr_pack_array(pk, (uint32_t)r->n);
  size_t start = r->n < IDX_RECENT ? 0 : r->next;
  for (size_t i = 0; i < r->n; i++) tr_pack_str(pk, r->ring[(start + i) % IDX_RECENT]);
  return pk->err;
}

int idx_recent_load(idx_recent *r, tr_unpack *u) {
  uint32_t k;
  if (tr_unpack_array(u, &k) < 0) return TR_ECORRUPT;
  for (uint32_t i = 0; i < k; i++) {
    const char *s;
    size_t n;
    if (tr_unpack_str(u, &s, &n) < 0) return TR_ECORRUPT;
    int rc = idx_recent_add(r, s, n);
    if (rc < 0) return rc;
  }
  return 0;
}

void idx_recent_free(idx_recent *r) {
  if (r->ring)
    for (size_t i = 0; i < IDX_RECENT; i++) free(r->ring[i]);
  free(r->ring);
  idx_map_free(&r->set);
  memset(r, 0, sizeof *r);
}
