/* api.c - what a running actor can do: send, ask and reply, stop and signal
 * others, link and monitor. All of it is a message to the other side; the
 * local half of links and monitors lives in the actor's ext. */
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "timer.h"

int tr_actor_send_via(tr_ctx *ctx, tr_route_fn route, void *rarg, uint32_t type,
                      uint16_t flags, uint64_t corr, const void *data, size_t len) {
  if (!ctx || (len && !data)) return TR_EINVAL;
  if (type >= TR_MSG_SYSTEM) return TR_EINVAL;
  tr_system *sys = tr_tls_sys;
  tr_sched_checkpoint(sys);
  tr_mnode *n = tr_msg_new(sys, tr_actor_ref(sys, ctx), type, flags, corr, data, len);
  if (!n) return len > TR_MSG_MAX ? TR_ETOOBIG : TR_ENOMEM;
  return route(sys, n, rarg);
}

int tr_actor_ask_via(tr_ctx *ctx, tr_route_fn route, void *rarg, uint32_t type,
                     const void *data, size_t len, uint32_t timeout_ms, uint64_t *corr) {
  if (!ctx || (len && !data) || type >= TR_MSG_SYSTEM) return TR_EINVAL;
  uint64_t id;
  /* the timeout timer's id doubles as the ask's correlation id */
  int rc = tr_timer_create(ctx, timeout_ms, 0, 0, NULL, 0, 1, &id);
  if (rc < 0) return rc;
  rc = tr_actor_send_via(ctx, route, rarg, type, TR_MSG_F_ASK, id, data, len);
  if (rc < 0) {
    tr_timer_cancel_id(ctx, id);
    return rc;
  }
  if (corr) *corr = id;
  return 0;
}

int tr_route_ref(tr_system *sys, tr_mnode *n, void *arg) {
  return tr_deliver(sys, *(const tr_ref *)arg, n, 0);
}

int tr_actor_send(tr_ctx *ctx, tr_ref to, uint32_t type, const void *data, size_t len) {
  return tr_actor_send_via(ctx, tr_route_ref, &to, type, 0, 0, data, len);
}

int tr_actor_reply(tr_ctx *ctx, const tr_msg *req, uint32_t type, const void *data, size_t len) {
  if (!req || !(req->flags & TR_MSG_F_ASK)) return TR_EINVAL;
  tr_ref to = req->sender;
  return tr_actor_send_via(ctx, tr_route_ref, &to, type, TR_MSG_F_REPLY, req->corr, data, len);
}

int tr_actor_ask(tr_ctx *ctx, tr_ref to, uint32_t type, const void *data, size_t len,
                 uint32_t timeout_ms, uint64_t *corr) {
  return tr_actor_ask_via(ctx, tr_route_ref, &to, type, data, len, timeout_ms, corr);
}

int tr_actor_stop(tr_ctx *ctx, tr_ref who) {
  if (!ctx) return TR_EINVAL;
  if (tr_ref_eq(who, tr_actor_self(ctx))) {
    ctx->flags |= TR_AF_STOP_AFTER; /* a normal exit after this callback */
    return 0;
  }
  tr_system *sys = tr_tls_sys;
  return tr_sys_send(sys, tr_actor_self(ctx), who, TR_SYS_STOP, NULL, 0);
}

int tr_actor_exit_signal(tr_ctx *ctx, tr_ref who, int reason) {
  if (!ctx) return TR_EINVAL;
  tr_ref self = tr_actor_self(ctx);
  uint64_t v[4] = {self.node, self.id, (uint64_t)(int64_t)reason, 0};
  return tr_sys_send(tr_tls_sys, self, who, TR_SYS_EXIT_SIGNAL, v, 4);
}

int tr_actor_link(tr_ctx *ctx, tr_ref other) {
  if (!ctx || tr_ref_is_none(other)) return TR_EINVAL;
  tr_ref self = tr_actor_self(ctx);
  if (tr_ref_eq(self, other)) return 0;
  tr_actor_ext *x = tr_actor_ext_get(ctx);
  if (!x) return TR_ENOMEM;
  int rc = tr_linkset_add(&x->links, other);
  if (rc < 0) return rc;
  uint64_t v[2] = {self.node, self.id};
  /* a dead target answers with an exit signal (TR_ENOPROC) */
  tr_sys_send(tr_tls_sys, self, other, TR_SYS_LINK, v, 2);
  return 0;
}

int tr_actor_unlink(tr_ctx *ctx, tr_ref other) {
  if (!ctx) return TR_EINVAL;
  tr_actor_ext *x = atomic_load_explicit(&ctx->ext, memory_order_relaxed);
  if (!x || !tr_linkset_del(&x->links, other)) return 0;
  tr_ref self = tr_actor_self(ctx);
  uint64_t v[2] = {self.node, self.id};
  tr_sys_send(tr_tls_sys, self, other, TR_SYS_UNLINK, v, 2);
  return 0;
}

int tr_actor_monitor(tr_ctx *ctx, tr_ref other, uint64_t *monitor_id) {
  if (!ctx || tr_ref_is_none(other)) return TR_EINVAL;
  tr_system *sys = tr_tls_sys;
  tr_actor_ext *x = tr_actor_ext_get(ctx);
  if (!x) return TR_ENOMEM;
  uint64_t id = tr_next_id(sys);
  int rc = tr_monitors_add(&x->watching, &x->nwatching, &x->capwatching, other, id);
  if (rc < 0) return rc;
  tr_ref self = tr_actor_self(ctx);
  uint64_t v[3] = {self.node, self.id, id};
  /* a dead target answers with DOWN (TR_ENOPROC) */
  tr_sys_send(sys, self, other, TR_SYS_MONITOR, v, 3);
  if (monitor_id) *monitor_id = id;
  return 0;
}

int tr_actor_demonitor(tr_ctx *ctx, uint64_t monitor_id) {
  if (!ctx) return TR_EINVAL;
  tr_actor_ext *x = atomic_load_explicit(&ctx->ext, memory_order_relaxed);
  if (!x) return TR_ENOENT;
  for (uint32_t i = 0; i < x->nwatching; i++) {
    if (x->watching[i].id != monitor_id) continue;
    tr_ref target = x->watching[i].who;
    x->watching[i] = x->watching[--x->nwatching];
    tr_ref self = tr_actor_self(ctx);
    uint64_t v[3] = {self.node, self.id, monitor_id};
    tr_sys_send(tr_tls_sys, self, target, TR_SYS_DEMONITOR, v, 3);
    return 0;
  }
  return TR_ENOENT;
}

void tr_actor_trap_exit(tr_ctx *ctx, int on) {
  if (!ctx) return;
  if (on)
    ctx->flags |= TR_AF_TRAP_EXIT;
  else
    ctx->flags &= (uint16_t)~TR_AF_TRAP_EXIT;
}
