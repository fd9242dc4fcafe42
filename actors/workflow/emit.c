/* emit.c - engine events (index.h): sent as TR_WF_EVENT {type, time,
 * data} to one virtual name per process, or only counted.
 *
 * The target is a process-wide setting (one event bus per node), read on
 * every emit under a mutex: emits are per engine step, not per message. */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "actors/workflow/idx.h"

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static char g_target[TR_VIRTUAL_NAME_MAX + 1];
static _Atomic uint64_t g_count, g_lost;

void tr_wf_emit_target(tr_system *sys, const char *name) {
  (void)sys;
  pthread_mutex_lock(&g_lock);
  if (!name || tr_virtual_name_check(name) < 0) g_target[0] = 0; /* nowhere */
  else memcpy(g_target, name, strlen(name) + 1);
  pthread_mutex_unlock(&g_lock);
}

void tr_wf_emit(tr_ctx *ctx, const char *type, const void *data, size_t len) {
  atomic_fetch_add(&g_count, 1);
  char target[TR_VIRTUAL_NAME_MAX + 1];
  pthread_mutex_lock(&g_lock);
  memcpy(target, g_target, sizeof target);
  pthread_mutex_unlock(&g_lock);
  if (!target[0]) return; /* no bus: only counted */
  tr_pack pk = TR_PACK_INIT;
  tr_pack_map(&pk, 3);
  tr_pack_kv_str(&pk, "type", type ? type : "");
  tr_pack_str(&pk, "time");
  tr_pack_uint(&pk, idx_wall_ms());
  tr_pack_str(&pk, "data");
  if (data && len) tr_pack_raw(&pk, data, len);
  else tr_pack_map(&pk, 0);
  int rc = pk.err;
  if (!rc) rc = ctx ? tr_virtual_send(ctx, target, TR_WF_EVENT, pk.data, pk.len) : TR_EINVAL;
  if (rc < 0) atomic_fetch_add(&g_lost, 1);
  tr_pack_free(&pk);
}

uint64_t tr_wf_emit_count(void) { return atomic_load(&g_count); }
uint64_t tr_wf_emit_lost(void) { return atomic_load(&g_lost); }
