/* emit_stub.c - TEMPORARY: a stand-in for tr_wf_emit (index.h) until the
 * indexes' implementation is merged; delete this file then. It is weak so
 * that linking both never clashes. It only counts. */
#include <stdatomic.h>

#include "actors/workflow/index.h"

static _Atomic uint64_t stub_count;

__attribute__((weak)) void tr_wf_emit(tr_ctx *ctx, const char *type, const void *data,
                                      size_t len) {
  (void)ctx, (void)type, (void)data, (void)len;
  atomic_fetch_add(&stub_count, 1);
}

__attribute__((weak)) uint64_t tr_wf_emit_count(void) { return atomic_load(&stub_count); }
