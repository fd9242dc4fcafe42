/* seqmap.c - the writer's map from a pid's journal key prefix to the last
 * seq appended, and the per-transaction byte arena.
 *
 * Open addressing with linear probing and backward-shift deletion (no
 * tombstones), power-of-two capacity kept under half full. Only the writer
 * thread touches it. The writer keeps two: the committed map (entries own a
 * copy of their prefix) and an overlay for the transaction being built
 * (entries borrow prefixes from the arena; cleared per transaction by
 * zeroing only the slots it used). */
#include <stdlib.h>

#include "storage/internal.h"

int st_seqmap_init(st_seqmap *m, size_t cap) {
  memset(m, 0, sizeof *m);
  size_t c = 16;
  while (c < cap) c <<= 1;
  m->e = calloc(c, sizeof *m->e);
  if (!m->e) return TR_ENOMEM;
  m->cap = c;
  return 0;
}

void st_seqmap_free(st_seqmap *m) {
  if (!m->e) return;
  for (size_t i = 0; i < m->cap; i++)
    if (m->e[i].hash && m->e[i].owned) free(m->e[i].prefix);
  free(m->e);
  free(m->used);
  memset(m, 0, sizeof *m);
}

static bool same(const st_seqent *e, uint64_t hash, const uint8_t *p, size_t plen) {
  return e->hash == hash && e->plen == plen && memcmp(e->prefix, p, plen) == 0;
}

static uint64_t fix(uint64_t h) { return h ? h : 1; } /* 0 marks an empty slot */

st_seqent *st_seqmap_get(st_seqmap *m, uint64_t hash, const uint8_t *prefix, size_t plen) {
  hash = fix(hash);
  for (size_t i = hash & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
    st_seqent *e = &m->e[i];
    if (!e->hash) return NULL;
    if (same(e, hash, prefix, plen)) return e;
  }
}

static int note_used(st_seqmap *m, size_t i) {
  if (m->n_used == m->cap_used) {
    size_t nc = m->cap_used ? m->cap_used * 2 : 64;
    size_t *u = realloc(m->used, nc * sizeof *u);
    if (!u) return TR_ENOMEM;
    m->used = u;
    m->cap_used = nc;
  }
  m->used[m->n_used++] = i;
  return 0;
}

static int grow(st_seqmap *m) {
  size_t nc = m->cap * 2;
  st_seqent *ne = calloc(nc, sizeof *ne);
  if (!ne) return TR_ENOMEM;
  m->n_used = 0;
  for (size_t i = 0; i < m->cap; i++) {
    st_seqent *e = &m->e[i];
    if (!e->hash) continue;
    size_t j = e->hash & (nc - 1);
    while (ne[j].hash) j = (j + 1) & (nc - 1);
    ne[j] = *e;
    if (m->used) (void)note_used(m, j); /* cannot fail: n_used <= the old count */
  }
  free(m->e);
  m->e = ne;
  m->cap = nc;
  return 0;
}

int st_seqmap_put(st_seqmap *m, uint64_t hash, const uint8_t *prefix, size_t plen, uint64_t last,
                  bool copy) {
  hash = fix(hash);
  st_seqent *e = st_seqmap_get(m, hash, prefix, plen);
  if (e) {
    e->last = last;
    return 0;
  }
  if ((m->n + 1) * 2 > m->cap && grow(m)) return TR_ENOMEM;
  uint8_t *p = (uint8_t *)prefix;
  if (copy) {
    p = malloc(plen);
    if (!p) return TR_ENOMEM;
    memcpy(p, prefix, plen);
  }
  size_t i = hash & (m->cap - 1);
  while (m->e[i].hash) i = (i + 1) & (m->cap - 1);
  if (!copy && note_used(m, i)) return TR_ENOMEM;
  m->e[i] = (st_seqent){hash, last, p, (uint16_t)plen, copy};
  m->n++;
  return 0;
}

void st_seqmap_del(st_seqmap *m, uint64_t hash, const uint8_t *prefix, size_t plen) {
  hash = fix(hash);
  size_t mask = m->cap - 1, i = hash & mask;
  for (;; i = (i + 1) & mask) {
    if (!m->e[i].hash) return;
    if (same(&m->e[i], hash, prefix, plen)) break;
  }
  if (m->e[i].owned) free(m->e[i].prefix);
  /* backward shift: pull later entries of the probe run into the hole if
   * their home slot is not between the hole and them */
  size_t j = i;
  for (;;) {
    j = (j + 1) & mask;
    if (!m->e[j].hash) break;
    size_t home = m->e[j].hash & mask;
    bool movable = i <= j ? (home <= i || home > j) : (home <= i && home > j);
    if (movable) {
      m->e[i] = m->e[j];
      i = j;
    }
  }
  memset(&m->e[i], 0, sizeof m->e[i]);
  m->n--;
}

void st_seqmap_clear(st_seqmap *m) {
  /* overlay only (borrowed prefixes): zero the slots used, not the table */
  for (size_t k = 0; k < m->n_used; k++) memset(&m->e[m->used[k]], 0, sizeof m->e[0]);
  m->n_used = 0;
  m->n = 0;
}

/* ---- arena ---- */

struct st_chunk {
  st_chunk *next;
  size_t len, cap;
  uint8_t data[];
};

uint8_t *st_arena_push(st_arena *a, const void *data, size_t len) {
  st_chunk *c = a->head;
  if (!c || c->cap - c->len < len) {
    size_t cap = len > 65536 ? len : 65536;
    st_chunk *n = malloc(sizeof *n + cap);
    if (!n) return NULL;
    n->next = c;
    n->len = 0;
    n->cap = cap;
    a->head = c = n;
  }
  uint8_t *p = c->data + c->len;
  memcpy(p, data, len);
  c->len += len;
  return p;
}

void st_arena_reset(st_arena *a) {
  /* keep one chunk for the next transaction */
  st_chunk *c = a->head;
  if (!c) return;
  st_chunk *rest = c->next;
  c->next = NULL;
  c->len = 0;
  while (rest) {
    st_chunk *n = rest->next;
    free(rest);
    rest = n;
  }
}

void st_arena_free(st_arena *a) {
  st_arena_reset(a);
  free(a->head);
  a->head = NULL;
}
