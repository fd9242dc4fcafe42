/* arena.c - chunked bump allocator (see arena.h). */
#include "actors/workflow/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct tr_wf_chunk {
  tr_wf_chunk *next;
  size_t cap, off;
  _Alignas(16) unsigned char data[];
};

enum { CHUNK = 16384 };

void *tr_wf_arena_alloc(tr_wf_arena *a, size_t n) {
  n = (n + 15) & ~(size_t)15;
  if (n == 0) n = 16;
  tr_wf_chunk *c = a->head;
  if (!c || c->cap - c->off < n) {
    size_t cap = n > CHUNK ? n : CHUNK;
    if (cap > SIZE_MAX - sizeof *c) return NULL;
    c = malloc(sizeof *c + cap);
    if (!c) return NULL;
    c->cap = cap;
    c->off = 0;
    c->next = a->head;
    a->head = c;
  }
  void *p = c->data + c->off;
  c->off += n;
  a->used += n;
  memset(p, 0, n);
  return p;
}

char *tr_wf_arena_strndup(tr_wf_arena *a, const char *s, size_t len) {
  if (len == SIZE_MAX) return NULL;
  char *p = tr_wf_arena_alloc(a, len + 1);
  if (!p) return NULL;
  if (len) memcpy(p, s, len);
  p[len] = 0;
  return p;
}

char *tr_wf_arena_strdup(tr_wf_arena *a, const char *s) {
  return s ? tr_wf_arena_strndup(a, s, strlen(s)) : NULL;
}

void tr_wf_arena_free(tr_wf_arena *a) {
  tr_wf_chunk *c = a->head;
  while (c) {
    tr_wf_chunk *n = c->next;
    free(c);
    c = n;
  }
  a->head = NULL;
  a->used = 0;
}
