/* troupe - the node daemon.
 *
 * With no arguments it starts a working single node with embedded defaults:
 * schedulers, the node supervisor, one log line saying it is up and where.
 * SIGINT or SIGTERM stops every actor in order (children first) and exits 0.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cluster/cluster.h"
#include "cluster/console.h"
#include "cluster/identity.h"
#include "actors/workflow/engine.h"
#include "actors/workflow/index.h"
#include "actors/workflow/repo.h"
#include "actors/camunda/camunda.h"
#include "actors/events/events_http.h"
#include "actors/events/notify.h"
#include "actors/http/http.h"
#include "config.h"
#include "troupe/troupe.h"

/* troupectl leave: the same path as SIGTERM (main's sigwait takes it). */
static void console_leave(void *arg) {
  (void)arg;
  kill(getpid(), SIGTERM);
}

/* troupectl drain [--off] */
static void console_drain(void *arg, int on) { tr_cluster_set_draining(arg, on); }

/* GET /healthz and /readyz: cheap answers on the connection's own thread.
 * arg is the JSON body, built once at start. */
static void probe(tr_http_server *srv, tr_http_rid rid, const tr_http_request *req, void *arg) {
  (void)req;
  const char *body = arg;
  tr_http_response r = {.status = 200, .content_type = "application/json", .body = body,
                        .body_len = strlen(body)};
  tr_http_respond(srv, rid, &r);
}

/* The HTTP server on c->http_listen with the configured limits and auth;
 * the probes are public (load balancers and kubelets carry no token). */
static int http_start(tr_system *sys, const tr_node_config *c, char *bodies[2],
                      tr_http_server **out) {
  char user[TR_CFG_ADDR_MAX] = "";
  const char *pass = NULL, *token = NULL;
  if (!strncmp(c->http_auth, "bearer:", 7)) token = c->http_auth + 7;
  if (!strncmp(c->http_auth, "basic:", 6)) {
    snprintf(user, sizeof user, "%s", c->http_auth + 6);
    char *colon = strchr(user, ':');
    if (colon) *colon = 0, pass = c->http_auth + 6 + (colon - user) + 1;
  }
  tr_http_opts o = {.listen = c->http_listen, .bearer_token = token,
                    .basic_user = pass ? user : NULL, .basic_password = pass,
                    .limits = {.header_timeout_ms = c->http_header_timeout_ms,
                               .body_timeout_ms = c->http_body_timeout_ms,
                               .idle_timeout_ms = c->http_idle_timeout_ms,
                               .max_body = c->http_max_body}};
  tr_http_server *srv;
  int rc = tr_http_new(sys, &o, &srv);
  if (rc < 0) return rc;
  tr_http_route_fn(srv, "GET", "/healthz", TR_HTTP_ROUTE_EXACT | TR_HTTP_ROUTE_PUBLIC, probe,
                   bodies[0]);
  tr_http_route_fn(srv, "GET", "/readyz", TR_HTTP_ROUTE_EXACT | TR_HTTP_ROUTE_PUBLIC, probe,
                   bodies[1]);
  if ((rc = tr_camunda_start(sys, srv)) < 0 || (rc = tr_events_http_start(sys, srv)) < 0) {
    tr_http_free(srv);
    return rc;
  }
  /* WebSocket and SSE clients of the event bus (GET /events, /events/sse) */
  if ((rc = tr_events_notify_start(sys, srv, NULL, NULL)) < 0) {
    tr_http_free(srv);
    return rc;
  }
  if ((rc = tr_http_start(srv)) < 0) {
    tr_http_free(srv);
    return rc;
  }
  *out = srv;
  return 0;
}

static int ensure_dir(const char *dir) {
  if (mkdir(dir, 0700) == 0 || errno == EEXIST) {
    struct stat st;
    if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) return 0;
    errno = ENOTDIR;
  }
  return -1;
}

int main(int argc, char **argv) {
  /* defaults < YAML file (--config / TROUPE_CONFIG) < TROUPE_* < flags */
  static tr_node_config c; /* large (seed buffers): not on the stack */
  char err[512];
  int cmd = -1;
  int rc = tr_node_config_resolve(&c, argc, argv, NULL, &cmd, err, sizeof err);
  if (rc == TR_CFG_HELP) {
    tr_node_config_usage(stdout);
    return 0;
  }
  if (rc == TR_CFG_VERSION) {
    printf("troupe %s\n", tr_version());
    return 0;
  }
  if (rc < 0) {
    fprintf(stderr, "troupe: %s\n", err);
    if (rc == TR_EINVAL) tr_node_config_usage(stderr);
    return 2;
  }
  const char *command = cmd >= 0 ? argv[cmd] : NULL;
  if (command && strcmp(command, "init") && strcmp(command, "config")) {
    fprintf(stderr, "troupe: unknown command '%s'\n", command);
    tr_node_config_usage(stderr);
    return 2;
  }
  if (command && cmd + 1 < argc) {
    fprintf(stderr, "troupe: unexpected argument '%s'\n", argv[cmd + 1]);
    return 2;
  }
  if (command && !strcmp(command, "config")) {
    tr_node_config_print(&c, stdout, c.json);
    return 0;
  }
  tr_log_set_level(c.log_level);
  if (ensure_dir(c.data_dir) < 0) {
    tr_log(TR_LOG_ERROR, "troupe", "cannot use data dir %s: %s", c.data_dir, strerror(errno));
    return 1;
  }
  char abs_dir[PATH_MAX];
  if (!realpath(c.data_dir, abs_dir)) snprintf(abs_dir, sizeof abs_dir, "%s", c.data_dir);

  tr_identity id;
  if (command) { /* init */
    if ((rc = tr_identity_init(abs_dir, &id, err, sizeof err)) < 0) {
      tr_log(TR_LOG_ERROR, "troupe", "init: %s", err);
      return 1;
    }
    printf("initialised %s: node %016llx\n"
           "  node.key, node.pub   this node's key pair (keep node.key here)\n"
           "  cluster.secret       copy to every node of the cluster (mode 0600)\n"
           "  admin.key            copy to operators for troupectl (mode 0600)\n",
           abs_dir, (unsigned long long)id.node_id);
    tr_identity_clear(&id);
    return 0;
  }
  if ((rc = tr_identity_load(abs_dir, 1, &id, err, sizeof err)) < 0) {
    tr_log(TR_LOG_ERROR, "troupe", "%s", err);
    return 1;
  }
  if (id.created)
    tr_log(TR_LOG_INFO, "troupe", "created %s%s%sin %s (single node: no set-up needed)",
           id.created & TR_ID_NODE ? "a node key pair, " : "",
           id.created & TR_ID_SECRET ? "a cluster secret, " : "",
           id.created & TR_ID_ADMIN ? "an admin key " : "", abs_dir);
  uint64_t node_id = id.node_id;

  /* signals are taken by sigwait on this thread, never by the schedulers */
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, NULL);
  signal(SIGPIPE, SIG_IGN);

  /* the node's store lives in the data dir; a second node on the same dir
   * is refused (the store takes an exclusive lock) */
  tr_config cfg = {.threads = c.threads, .data_dir = abs_dir, .node_id = node_id,
                   .durability = c.durability, .map_limit = c.map_limit};
  tr_system *sys;
  if ((rc = tr_system_new(&cfg, &sys)) < 0) {
    tr_log(TR_LOG_ERROR, "troupe", "cannot start the node: %s", tr_strerror(rc));
    return 1;
  }
  /* the platform's kinds: job queues, definitions and process instances
   * live on engine nodes */
  if ((rc = tr_jobs_register(sys, TR_ROLE_ENGINE)) < 0 ||
      (rc = tr_wf_repo_register(sys, TR_ROLE_ENGINE)) < 0 ||
      (rc = tr_wf_engine_register(sys, TR_ROLE_ENGINE)) < 0 ||
      (rc = tr_wf_index_register(sys, TR_ROLE_ENGINE)) < 0 ||
      (rc = tr_events_register(sys, TR_ROLE_ENGINE)) < 0) {
    tr_log(TR_LOG_ERROR, "troupe", "cannot register the platform's kinds: %s", tr_strerror(rc));
    tr_system_free(sys);
    return 1;
  }
  /* the engine's events go to the bus, where they are stored and pushed */
  tr_wf_emit_target(sys, "events/engine");
  /* the node supervisor: platform services start under it (later issues) */
  tr_supervisor_spec node = {TR_ONE_FOR_ONE, 10, 10000, NULL, 0};
  tr_spawn_opts nopts = {.name = "node"};
  tr_ref node_ref;
  if ((rc = tr_system_supervisor_start(sys, &node, &nopts, &node_ref)) < 0) {
    tr_log(TR_LOG_ERROR, "troupe", "cannot start the node supervisor: %s", tr_strerror(rc));
    tr_system_free(sys);
    return 1;
  }
  /* the cluster layer: listener, seeds, membership, routes to other nodes */
  const char *seeds[TR_CFG_SEEDS_MAX];
  for (uint32_t i = 0; i < c.nseeds; i++) seeds[i] = c.seeds[i];
  tr_cluster_opts copts = {.listen = c.cluster_listen, .seeds = seeds, .nseeds = c.nseeds,
                           .name = c.node_name, .roles = c.roles,
                           .console = c.console_listen};
  tr_cluster *cl;
  rc = tr_cluster_start(sys, &id, &copts, &cl);
  if (rc < 0) {
    tr_identity_clear(&id);
    tr_log(TR_LOG_ERROR, "troupe", "cannot listen on %s: %s", c.cluster_listen, tr_strerror(rc));
    tr_system_free(sys);
    return 1;
  }
  /* the admin console (troupectl): authenticated with the admin key */
  tr_console *con;
  tr_console_opts conopts = {.name = c.node_name, .leave = console_leave,
                             .drain = console_drain, .arg = cl};
  rc = tr_console_start(sys, cl, &id, c.console_listen, &conopts, &con);
  tr_identity_clear(&id); /* the cluster and console keep what they need */
  if (rc < 0) {
    tr_log(TR_LOG_ERROR, "troupe", "cannot open the console on %s: %s", c.console_listen,
           tr_strerror(rc));
    tr_system_shutdown(sys);
    tr_system_wait(sys);
    tr_cluster_free(cl);
    tr_system_free(sys);
    return 1;
  }
  /* HTTP last: it answers /readyz, so it opens when the rest is up */
  char health[160], ready[160];
  snprintf(health, sizeof health, "{\"status\":\"ok\",\"node\":\"%016llx\",\"version\":\"%s\"}",
           (unsigned long long)node_id, tr_version());
  snprintf(ready, sizeof ready, "{\"status\":\"ready\",\"node\":\"%016llx\"}",
           (unsigned long long)node_id);
  char *bodies[2] = {health, ready};
  tr_http_server *http = NULL;
  if ((rc = http_start(sys, &c, bodies, &http)) < 0) {
    tr_log(TR_LOG_ERROR, "troupe", "cannot serve HTTP on %s: %s", c.http_listen, tr_strerror(rc));
    tr_console_stop(con);
    tr_system_shutdown(sys);
    tr_system_wait(sys);
    tr_cluster_free(cl);
    tr_system_free(sys);
    return 1;
  }
  tr_log(TR_LOG_INFO, "troupe",
         "node %016llx up: version %s, pid %d, %u schedulers, data dir %s, cluster %s, %u seeds, "
         "http %s",
         (unsigned long long)node_id, tr_version(), (int)getpid(), tr_system_threads(sys), abs_dir,
         tr_cluster_address(cl), c.nseeds, tr_http_address(http));
  /* instances that were running before a restart: their timers fire only
   * once they are active again (actors/workflow/wake.c) */
  if ((c.roles & TR_ROLE_ENGINE) && (rc = tr_wf_wake_start(sys)) < 0)
    tr_log(TR_LOG_WARN, "troupe", "cannot wake the running instances: %s", tr_strerror(rc));

  int sig = 0;
  sigwait(&sigs, &sig);
  tr_log(TR_LOG_INFO, "troupe", "%s: leaving the cluster, stopping %llu actors",
         sig == SIGINT ? "SIGINT" : "SIGTERM", (unsigned long long)tr_system_actor_count(sys));
  /* HTTP first: no new requests, those in flight finish (their handlers
   * still run), idle connections close; its handles must be gone from the
   * schedulers' loops before the system stops */
  tr_http_stop(http, c.http_drain_ms);
  tr_cluster_leave(cl, 1000);
  tr_console_stop(con);
  tr_system_shutdown(sys);
  tr_system_wait(sys);
  tr_cluster_free(cl);
  tr_system_free(sys);
  tr_http_free(http); /* after the system: no answer can reach it any more */
  tr_log(TR_LOG_INFO, "troupe", "stopped");
  return 0;
}
