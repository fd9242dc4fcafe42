/* arena.h - bump allocation for a compiled model.
 *
 * A model is built once and then only read; everything it points at (names,
 * expressions' ASTs, arrays) lives in one arena and is freed with it, so the
 * model has no per-field ownership to get wrong.
 */
#ifndef TR_WF_ARENA_H
#define TR_WF_ARENA_H

#include <stddef.h>

typedef struct tr_wf_chunk tr_wf_chunk;
typedef struct tr_wf_arena {
  tr_wf_chunk *head;
  size_t used; /* bytes handed out, for the model size limit */
} tr_wf_arena;

/* Zeroed, 16-byte aligned memory owned by the arena; NULL when out of memory. */
void *tr_wf_arena_alloc(tr_wf_arena *a, size_t n);
/* A NUL-terminated copy of s[0..len) owned by the arena; NULL when out of
 * memory. s is borrowed. */
char *tr_wf_arena_strndup(tr_wf_arena *a, const char *s, size_t len);
/* As above for a NUL-terminated s; NULL s gives NULL. */
char *tr_wf_arena_strdup(tr_wf_arena *a, const char *s);
/* Frees every chunk; the arena may be reused afterwards. */
void tr_wf_arena_free(tr_wf_arena *a);

#endif
