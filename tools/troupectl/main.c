/* troupectl - the admin console's command-line client (docs/console.md).
 *
 * Reads the admin key, asks one node's console, prints the answer as an
 * aligned table or (--json) one JSON document. The exit status says what
 * happened: TC_EXIT_* in client.h.
 */
#include <getopt.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "events.h"
#include "table.h"
#include "troupe/system.h"

typedef struct ctl {
  char url[256];     /* the console we talk to */
  char member[128];  /* --node ID|NAME: the member whose console to ask */
  char key[1024];
  int json;
  uint32_t timeout_ms;
  char kind[128], sort[16];
  long limit;        /* -1: not given */
  long count;        /* top: refreshes; 0 = until interrupted */
  int opt_actors, opt_top; /* which command-specific options were given */
  tc_events_opts ev;       /* events: --topic, --type, --pi, --bk, --follow, --after */
  int opt_events;
  uint8_t admin[32];
  tc_client cl;
  int connected;
} ctl;

static void usage(FILE *f) {
  fputs("usage: troupectl [options] COMMAND [ARGS]\n"
        "\n"
        "commands:\n"
        "  status              this node and a summary of the cluster\n"
        "  nodes               every member of the cluster\n"
        "  actors              this node's actors, busiest first\n"
        "       [--kind B] [--sort depth|processed|id|name] [--limit N]\n"
        "  actor ACTOR         one actor (ACTOR: ID, NODE:ID or a registered name)\n"
        "  top [-n N|--once] [--limit N]\n"
        "                      live view of the nodes and the busiest actors\n"
        "  stop ACTOR          stop an actor\n"
        "  restart ACTOR       make the actor's supervisor restart it\n"
        "  drain [on|off]      stop (resume) placing new virtual actors on the node\n"
        "  leave               leave the cluster gracefully, then shut the node down\n"
        "  events [--topic T] [--type X[,Y]] [--pi ID] [--bk KEY] [--limit N]\n"
        "         [--after ID] [--follow]\n"
        "                      stored events of a topic (default engine), newest N\n"
        "                      (default 20) or all after ID; --follow keeps printing\n"
        "                      new ones; --json: one event per line\n"
        "\n"
        "options:\n"
        "  --node URL          the console to ask (TROUPE_CONSOLE; default " TC_DEFAULT_NODE ")\n"
        "  --node ID|NAME      ask that member's console instead (found with `nodes`)\n"
        "  --key FILE          admin key (TROUPE_ADMIN_KEY_FILE; default " TC_DEFAULT_KEY ")\n"
        "  --json              one JSON document on stdout (top: one per line)\n"
        "  --timeout MS        how long to wait for the node (default 5000)\n"
        "  -h, --help          this text\n"
        "  --version           troupectl's version\n"
        "\n"
        "exit status: 0 ok, 1 the node reported an error, 2 usage, 3 cannot reach the\n"
        "node or no reply in time, 4 authentication (no usable key, or refused)\n",
        f);
}

/* Reports a failure (stderr, and stdout as JSON with --json); returns ex. */
static int fail(ctl *x, int ex, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  fprintf(stderr, "troupectl: %s\n", msg);
  if (x && x->json) {
    json_t *j = json_pack("{s:b, s:i, s:s}", "ok", 0, "exit", ex, "error", msg);
    if (j) {
      json_dumpf(j, stdout, JSON_COMPACT);
      fputc('\n', stdout);
      json_decref(j);
    }
  }
  return ex;
}

/* ------------------------------------------------------------ json access */

static const char *js(const json_t *o, const char *k) {
  const char *s = json_string_value(json_object_get(o, k));
  return s ? s : "";
}
static long long ji(const json_t *o, const char *k) {
  return json_integer_value(json_object_get(o, k));
}
static double jd(const json_t *o, const char *k) {
  return json_number_value(json_object_get(o, k));
}
static int jb(const json_t *o, const char *k) { return json_is_true(json_object_get(o, k)); }

static void print_json(const json_t *j, int compact) {
  json_dumpf(j, stdout, compact ? JSON_COMPACT : JSON_INDENT(2));
  fputc('\n', stdout);
  fflush(stdout);
}

/* ------------------------------------------------------------ requests */

static int connect_to(ctl *x, const char *url) {
  if (x->connected) tc_close(&x->cl);
  x->connected = 0;
  if (url != x->url) snprintf(x->url, sizeof x->url, "%s", url);
  char err[384];
  int ex = tc_open(&x->cl, url, x->admin, x->timeout_ms, err, sizeof err);
  if (ex != TC_EXIT_OK) return fail(x, ex, "%s", err);
  x->connected = 1;
  return TC_EXIT_OK;
}

/* One command; *data gets the reply's data as JSON (caller decrefs). */
static int call(ctl *x, const char *cmd, const tr_pack *args, json_t **data) {
  tc_result res;
  int ex = tc_call(&x->cl, cmd, args ? args->data : NULL, args ? args->len : 0, &res);
  if (ex == TC_EXIT_OK) {
    *data = res.r.data ? tc_json(res.r.data, res.r.data_len) : json_object();
    if (!*data) ex = fail(x, TC_EXIT_FAILED, "%s: the reply's data is not valid JSON", x->url);
  } else {
    fail(x, ex, "%s", res.err);
  }
  tc_result_free(&res);
  return ex;
}

/* A one-entry args map {key: str}. */
static void args_str(tr_pack *pk, const char *key, const char *val) {
  tr_pack_map(pk, 1);
  tr_pack_kv_str(pk, key, val);
}

/* The console URL of a member: a wildcard listen address (0.0.0.0, [::])
 * is replaced by the host of the member's cluster address. */
static void member_console(const json_t *m, char *out, size_t n) {
  const char *con = js(m, "console"), *addr = js(m, "addr");
  const char *h = strstr(con, "://"), *c = strrchr(con, ':');
  snprintf(out, n, "%s", con);
  if (!h || !c || c < h + 3) return;
  size_t hl = (size_t)(c - (h + 3));
  int wild = hl == 0 || (hl == 7 && !strncmp(h + 3, "0.0.0.0", 7)) ||
             (hl == 4 && !strncmp(h + 3, "[::]", 4)) || (hl == 1 && h[3] == '*');
  const char *ah = strstr(addr, "://"), *ac = strrchr(addr, ':');
  if (wild && ah && ac && ac > ah + 3)
    snprintf(out, n, "%.*s%.*s%s", (int)(h + 3 - con), con, (int)(ac - (ah + 3)), ah + 3, c);
}

/* Switches to the console of the member named by sel (its id, a unique id
 * prefix of at least 4 digits, or its name). */
static int goto_member(ctl *x, const char *sel) {
  json_t *d;
  int ex = call(x, "nodes", NULL, &d);
  if (ex) return ex;
  json_t *nodes = json_object_get(d, "nodes"), *hit = NULL, *m;
  size_t i, prefix_hits = 0, sl = strlen(sel);
  json_t *prefix = NULL;
  json_array_foreach(nodes, i, m) {
    if (!strcasecmp(js(m, "id"), sel) || !strcmp(js(m, "name"), sel)) {
      hit = m;
      break;
    }
    if (sl >= 4 && !strncasecmp(js(m, "id"), sel, sl)) {
      prefix = m;
      prefix_hits++;
    }
  }
  if (!hit && prefix_hits == 1) hit = prefix;
  if (!hit) {
    json_decref(d);
    return fail(x, TC_EXIT_FAILED, "no %smember '%s' in the cluster seen by %s",
                prefix_hits > 1 ? "unique " : "", sel, x->url);
  }
  char url[256];
  member_console(hit, url, sizeof url);
  int self = jb(hit, "self");
  json_decref(d);
  if (self) return TC_EXIT_OK;
  if (!url[0]) return fail(x, TC_EXIT_FAILED, "member '%s' does not advertise a console", sel);
  return connect_to(x, url);
}

/* ------------------------------------------------------------ commands */

static int do_status(ctl *x) {
  json_t *d;
  int ex = call(x, "status", NULL, &d);
  if (ex) return ex;
  if (x->json) {
    print_json(d, 0);
    json_decref(d);
    return 0;
  }
  json_t *mem = json_object_get(d, "members"), *rq = json_object_get(d, "requests");
  char node[128], uptime[32], rss[32], cpu[32], threads[32], actors[96], dl[32], console[600],
      members[256], reqs[256], state[64];
  snprintf(node, sizeof node, "%s (%s)", js(d, "node"), js(d, "name"));
  snprintf(state, sizeof state, "%s%s", js(d, "state"), jb(d, "draining") ? ", draining" : "");
  fmt_ms(uptime, sizeof uptime, (uint64_t)ji(d, "uptime_ms"));
  fmt_bytes(rss, sizeof rss, (uint64_t)ji(d, "rss"));
  snprintf(cpu, sizeof cpu, "%.2f", jd(d, "cpu"));
  snprintf(threads, sizeof threads, "%lld", ji(d, "threads"));
  snprintf(actors, sizeof actors, "%lld here, %lld in the cluster", ji(d, "actors"),
           ji(d, "actors_total"));
  snprintf(dl, sizeof dl, "%lld", ji(d, "dead_letters"));
  snprintf(console, sizeof console, "%s (stream %s)", js(d, "console"), js(d, "pub"));
  snprintf(members, sizeof members,
           "%lld: %lld up, %lld joining, %lld suspect, %lld down, %lld leaving, %lld removed",
           ji(mem, "total"), ji(mem, "up"), ji(mem, "joining"), ji(mem, "suspect"),
           ji(mem, "down"), ji(mem, "leaving"), ji(mem, "removed"));
  snprintf(reqs, sizeof reqs,
           "%lld received, %lld served; refused: %lld auth, %lld stale, %lld replay, "
           "%lld malformed, %lld too large",
           ji(rq, "received"), ji(rq, "served"), ji(rq, "refused_auth"), ji(rq, "refused_stale"),
           ji(rq, "refused_replay"), ji(rq, "refused_malformed"), ji(rq, "refused_size"));
  const char *cluster = js(d, "cluster")[0] ? js(d, "cluster") : "(none: single node)";
  const char *kv[] = {"node", node, "state", state, "version", js(d, "version"),
                      "uptime", uptime, "console", console, "cluster", cluster,
                      "cpu", cpu, "rss", rss, "threads", threads,
                      "actors", actors, "dead letters", dl, "members", members,
                      "requests", reqs};
  tbl_kv(stdout, kv, sizeof kv / sizeof kv[0] / 2);
  json_decref(d);
  return 0;
}

static void roles_text(const json_t *m, char *out, size_t n) {
  json_t *r;
  size_t i, off = 0;
  out[0] = 0;
  json_array_foreach(json_object_get(m, "roles"), i, r) {
    int w = snprintf(out + off, n - off, "%s%s", i ? "," : "", json_string_value(r));
    if (w < 0 || (size_t)w >= n - off) break;
    off += (size_t)w;
  }
  if (!out[0]) snprintf(out, n, "-");
}

static void print_nodes(const json_t *nodes) {
  static const char *h1[] = {"ID", "NAME", "ADDRESS", "STATE", "ROLES", "PHI", "HEARD",
                             "CPU", "RSS", "ACTORS", "UPTIME", "VERSION"};
  static const char *h2[] = {"ID", "CONSOLE", "INCARNATION", "MSGS OUT", "MSGS IN",
                             "FRAMES OUT", "FRAMES IN", "REJ AUTH", "REJ REPLAY", "REJ SIZE"};
  tbl a, b;
  tbl_init(&a, 12, h1, "lllllrrrrrrl");
  tbl_init(&b, 10, h2, "llrrrrrrrr");
  json_t *m;
  size_t i;
  json_array_foreach(nodes, i, m) {
    char id[24], roles[64], phi[24], heard[24], cpu[24], rss[24], actors[24], up[24];
    snprintf(id, sizeof id, "%s%s", js(m, "id"), jb(m, "self") ? "*" : "");
    roles_text(m, roles, sizeof roles);
    if (jb(m, "self")) {
      snprintf(phi, sizeof phi, "-");
      snprintf(heard, sizeof heard, "-");
    } else {
      snprintf(phi, sizeof phi, "%.2f", jd(m, "phi"));
      fmt_ms(heard, sizeof heard, (uint64_t)ji(m, "last_heard_ms"));
    }
    snprintf(cpu, sizeof cpu, "%.2f", jd(m, "cpu"));
    fmt_bytes(rss, sizeof rss, (uint64_t)ji(m, "rss"));
    snprintf(actors, sizeof actors, "%lld", ji(m, "actors"));
    fmt_ms(up, sizeof up, (uint64_t)ji(m, "uptime_ms"));
    const char *addr = js(m, "addr")[0] ? js(m, "addr") : "-";
    char st[32];
    snprintf(st, sizeof st, "%s%s", js(m, "state"), jb(m, "draining") ? ", draining" : "");
    const char *r1[] = {id, js(m, "name"), addr, st, roles, phi, heard,
                        cpu, rss, actors, up, js(m, "version")};
    tbl_row(&a, r1);
    json_t *l = json_object_get(m, "link");
    char inc[24], c[7][24];
    snprintf(inc, sizeof inc, "%lld", ji(m, "incarnation"));
    static const char *keys[] = {"msgs_out", "msgs_in", "frames_out", "frames_in",
                                 "rejected_auth", "rejected_replay", "rejected_size"};
    for (int k = 0; k < 7; k++) snprintf(c[k], sizeof c[k], "%lld", ji(l, keys[k]));
    const char *con = js(m, "console")[0] ? js(m, "console") : "-";
    const char *r2[] = {id, con, inc, c[0], c[1], c[2], c[3], c[4], c[5], c[6]};
    tbl_row(&b, r2);
  }
  tbl_print(&a, stdout);
  fputc('\n', stdout);
  tbl_print(&b, stdout);
  printf("\n* this node\n");
  tbl_free(&a);
  tbl_free(&b);
}

static int do_nodes(ctl *x) {
  json_t *d;
  int ex = call(x, "nodes", NULL, &d);
  if (ex) return ex;
  if (x->json) print_json(d, 0);
  else print_nodes(json_object_get(d, "nodes"));
  json_decref(d);
  return 0;
}

static void print_actors(const json_t *d) {
  static const char *h[] = {"ID", "NAME", "BEHAVIOR", "STATUS", "DEPTH", "PROCESSED",
                            "CHILDREN", "PARENT"};
  tbl t;
  tbl_init(&t, 8, h, "llllrrrl");
  json_t *a;
  size_t i;
  json_array_foreach(json_object_get(d, "actors"), i, a) {
    char depth[24], proc[24], kids[24];
    snprintf(depth, sizeof depth, "%lld", ji(a, "depth"));
    snprintf(proc, sizeof proc, "%lld", ji(a, "processed"));
    snprintf(kids, sizeof kids, "%lld", ji(a, "children"));
    const char *parent = js(a, "parent"), *pc = strchr(parent, ':');
    const char *row[] = {js(a, "id"), js(a, "name")[0] ? js(a, "name") : "-", js(a, "behavior"),
                         js(a, "status"), depth, proc, kids, pc ? pc + 1 : "-"};
    tbl_row(&t, row);
  }
  tbl_print(&t, stdout);
  printf("\n%zu of %lld actors on node %s%s\n", json_array_size(json_object_get(d, "actors")),
         ji(d, "total"), js(d, "node"),
         jb(d, "truncated") ? " (list cut at the node's limit)" : "");
  tbl_free(&t);
}

static int do_actors(ctl *x) {
  tr_pack pk = TR_PACK_INIT;
  tr_pack_map(&pk, (uint32_t)(!!x->kind[0] + !!x->sort[0] + (x->limit >= 0)));
  if (x->kind[0]) tr_pack_kv_str(&pk, "kind", x->kind);
  if (x->sort[0]) tr_pack_kv_str(&pk, "sort", x->sort);
  if (x->limit >= 0) tr_pack_kv_int(&pk, "limit", x->limit);
  json_t *d;
  int ex = call(x, "actors", &pk, &d);
  tr_pack_free(&pk);
  if (ex) return ex;
  if (x->json) print_json(d, 0);
  else print_actors(d);
  json_decref(d);
  return 0;
}

static int do_actor(ctl *x, const char *target) {
  tr_pack pk = TR_PACK_INIT;
  args_str(&pk, "target", target);
  json_t *d;
  int ex = call(x, "actor", &pk, &d);
  tr_pack_free(&pk);
  if (ex) return ex;
  if (x->json) {
    print_json(d, 0);
    json_decref(d);
    return 0;
  }
  char depth[24], proc[24], kids[24], parent[160];
  snprintf(depth, sizeof depth, "%lld", ji(d, "depth"));
  snprintf(proc, sizeof proc, "%lld", ji(d, "processed"));
  snprintf(kids, sizeof kids, "%lld", ji(d, "children"));
  snprintf(parent, sizeof parent, "%s%s%s%s", js(d, "parent")[0] ? js(d, "parent") : "-",
           js(d, "parent_behavior")[0] ? " (" : "", js(d, "parent_behavior"),
           js(d, "parent_behavior")[0] ? ")" : "");
  const char *kv[] = {"ref", js(d, "ref"), "name", js(d, "name")[0] ? js(d, "name") : "-",
                      "behavior", js(d, "behavior"), "status", js(d, "status"),
                      "mailbox depth", depth, "processed", proc, "children", kids,
                      "parent", parent, "supervised", jb(d, "supervised") ? "yes" : "no"};
  tbl_kv(stdout, kv, sizeof kv / sizeof kv[0] / 2);
  json_decref(d);
  return 0;
}

static int do_stop_restart(ctl *x, const char *cmd, const char *target) {
  tr_pack pk = TR_PACK_INIT;
  args_str(&pk, "target", target);
  json_t *d;
  int ex = call(x, cmd, &pk, &d);
  tr_pack_free(&pk);
  if (ex) return ex;
  if (x->json) print_json(d, 0);
  else if (!strcmp(cmd, "stop")) printf("stopped %s (%s)\n", js(d, "stopped"), js(d, "behavior"));
  else
    printf("restart requested: %s (%s) exits, supervisor %s starts a new one\n",
           js(d, "restarted"), js(d, "behavior"), js(d, "supervisor"));
  json_decref(d);
  return 0;
}

static int do_leave(ctl *x) {
  json_t *d;
  int ex = call(x, "leave", NULL, &d);
  if (ex) return ex;
  if (x->json) print_json(d, 0);
  else printf("%s: leaving the cluster, then shutting down\n", x->url);
  json_decref(d);
  return 0;
}

static int do_drain(ctl *x, int on) {
  tr_pack pk = TR_PACK_INIT;
  tr_pack_map(&pk, 1);
  tr_pack_str(&pk, "on");
  tr_pack_bool(&pk, on);
  json_t *d;
  int ex = call(x, "drain", &pk, &d);
  tr_pack_free(&pk);
  if (ex) return ex;
  if (x->json) print_json(d, 0);
  else if (jb(d, "draining")) printf("%s: draining (no new virtual actors placed here)\n", x->url);
  else printf("%s: not draining\n", x->url);
  json_decref(d);
  return 0;
}

/* ------------------------------------------------------------ top */

typedef struct busy {
  const char *node, *ref, *name;
  long long depth, processed; /* processed: -1 when unknown (other nodes) */
} busy;

static int busy_cmp(const void *a, const void *b) {
  const busy *x = a, *y = b;
  return (x->depth < y->depth) - (x->depth > y->depth);
}

static void render_top(const json_t *s, long limit, int tty) {
  json_t *st = json_object_get(s, "status"), *nodes = json_object_get(s, "nodes"), *m, *a;
  size_t i, j;
  char clock[16] = "";
  time_t t = (time_t)(ji(s, "ts") / 1000);
  struct tm tm;
  if (localtime_r(&t, &tm)) strftime(clock, sizeof clock, "%H:%M:%S", &tm);
  if (tty) fputs("\033[H\033[2J", stdout);
  json_t *mem = json_object_get(st, "members");
  printf("troupe top - node %s (%s) - %s - %lld nodes, %lld up - %lld actors in the cluster\n\n",
         js(s, "node"), js(st, "name"), clock, ji(mem, "total"), ji(mem, "up"),
         ji(st, "actors_total"));
  static const char *h1[] = {"NODE", "NAME", "STATE", "CPU", "RSS", "ACTORS", "DEAD LETTERS",
                             "UPTIME", "HEARD"};
  tbl a1;
  tbl_init(&a1, 9, h1, "lllrrrrrr");
  size_t nb = 0, cap = 64;
  busy *b = calloc(cap, sizeof *b);
  json_array_foreach(nodes, i, m) {
    char cpu[24], rss[24], act[24], dl[24], up[24], heard[24];
    snprintf(cpu, sizeof cpu, "%.2f", jd(m, "cpu"));
    fmt_bytes(rss, sizeof rss, (uint64_t)ji(m, "rss"));
    snprintf(act, sizeof act, "%lld", ji(m, "actors"));
    snprintf(dl, sizeof dl, "%lld", ji(m, "dead_letters"));
    fmt_ms(up, sizeof up, (uint64_t)ji(m, "uptime_ms"));
    if (jb(m, "self")) snprintf(heard, sizeof heard, "-");
    else fmt_ms(heard, sizeof heard, (uint64_t)ji(m, "last_heard_ms"));
    const char *row[] = {js(m, "id"), js(m, "name"), js(m, "state"), cpu, rss, act, dl, up, heard};
    tbl_row(&a1, row);
    if (jb(m, "self")) continue; /* this node's busiest come in detail below */
    json_array_foreach(json_object_get(m, "top"), j, a) {
      if (b && nb == cap) {
        busy *nbp = realloc(b, (cap *= 2) * sizeof *b);
        if (!nbp) break;
        b = nbp;
      }
      if (b) b[nb++] = (busy){js(m, "name"), js(a, "ref"), js(a, "name"), ji(a, "depth"), -1};
    }
  }
  json_array_foreach(json_object_get(s, "actors"), j, a) {
    if (b && nb == cap) {
      busy *nbp = realloc(b, (cap *= 2) * sizeof *b);
      if (!nbp) break;
      b = nbp;
    }
    const char *name = js(a, "name")[0] ? js(a, "name") : js(a, "behavior");
    if (b) b[nb++] = (busy){js(st, "name"), js(a, "ref"), name, ji(a, "depth"), ji(a, "processed")};
  }
  tbl_print(&a1, stdout);
  tbl_free(&a1);
  if (b) qsort(b, nb, sizeof *b, busy_cmp);
  static const char *h2[] = {"NODE", "ACTOR", "NAME", "DEPTH", "PROCESSED"};
  tbl a2;
  tbl_init(&a2, 5, h2, "lllrr");
  for (size_t k = 0; b && k < nb && (long)k < limit; k++) {
    char depth[24], proc[24];
    snprintf(depth, sizeof depth, "%lld", b[k].depth);
    if (b[k].processed >= 0) snprintf(proc, sizeof proc, "%lld", b[k].processed);
    else snprintf(proc, sizeof proc, "-");
    const char *row[] = {b[k].node, b[k].ref, b[k].name, depth, proc};
    tbl_row(&a2, row);
  }
  printf("\nbusiest actors\n");
  tbl_print(&a2, stdout);
  tbl_free(&a2);
  free(b);
  fflush(stdout);
}

static int do_top(ctl *x) {
  json_t *d;
  int ex = call(x, "status", NULL, &d);
  if (ex) return ex;
  char url[512], err[384];
  tc_stream_url(x->url, js(d, "pub"), url, sizeof url);
  json_decref(d);
  tc_sub sub;
  if ((ex = tc_sub_open(&sub, url, x->admin, err, sizeof err)) != TC_EXIT_OK)
    return fail(x, ex, "%s", err);
  int tty = isatty(STDOUT_FILENO);
  long limit = x->limit > 0 ? x->limit : 10;
  /* a snapshot a second: a few seconds without one means trouble */
  uint32_t wait = x->timeout_ms > 3000 ? x->timeout_ms : 3000;
  for (long n = 0; x->count == 0 || n < x->count; n++) {
    uint8_t *p;
    size_t len;
    if ((ex = tc_sub_next(&sub, wait, &p, &len, err, sizeof err)) != TC_EXIT_OK) {
      fail(x, ex, "%s: %s", url, err);
      break;
    }
    json_t *s = tc_json(p, len);
    free(p);
    if (!s) {
      ex = fail(x, TC_EXIT_FAILED, "%s: a snapshot is not valid JSON", url);
      break;
    }
    if (x->json) print_json(s, 1);
    else render_top(s, limit, tty);
    json_decref(s);
  }
  tc_sub_close(&sub);
  return ex;
}

/* ------------------------------------------------------------ main */

enum { O_NODE = 256, O_KEY, O_JSON, O_TIMEOUT, O_KIND, O_SORT, O_LIMIT, O_ONCE, O_VERSION,
       O_TOPIC, O_TYPE, O_PI, O_BK, O_FOLLOW, O_AFTER };

static int parse_long(const char *s, long lo, long hi, long *out) {
  char *end;
  long v = strtol(s, &end, 10);
  if (!*s || *end || v < lo || v > hi) return -1;
  *out = v;
  return 0;
}

static int set_node(ctl *x, const char *v) {
  if (strstr(v, "://")) snprintf(x->url, sizeof x->url, "%s", v);
  else snprintf(x->member, sizeof x->member, "%s", v);
  return strlen(v) < sizeof x->url - 1 ? 0 : -1;
}

/* Fills x from the environment and argv (getopt_long permutes argv, so
 * options may come before or after the command); returns the index of the
 * first word (command and arguments follow it), or -1 on a usage error. */
static int parse(ctl *x, int argc, char **argv) {
  static const struct option longs[] = {
      {"node", required_argument, 0, O_NODE},       {"key", required_argument, 0, O_KEY},
      {"json", no_argument, 0, O_JSON},             {"timeout", required_argument, 0, O_TIMEOUT},
      {"kind", required_argument, 0, O_KIND},       {"behavior", required_argument, 0, O_KIND},
      {"sort", required_argument, 0, O_SORT},       {"limit", required_argument, 0, O_LIMIT},
      {"once", no_argument, 0, O_ONCE},             {"help", no_argument, 0, 'h'},
      {"version", no_argument, 0, O_VERSION},       {"topic", required_argument, 0, O_TOPIC},
      {"type", required_argument, 0, O_TYPE},       {"pi", required_argument, 0, O_PI},
      {"bk", required_argument, 0, O_BK},           {"follow", no_argument, 0, O_FOLLOW},
      {"after", required_argument, 0, O_AFTER},     {0, 0, 0, 0}};
  const char *env = getenv("TROUPE_CONSOLE");
  snprintf(x->url, sizeof x->url, "%s", env && *env ? env : TC_DEFAULT_NODE);
  env = getenv("TROUPE_ADMIN_KEY_FILE");
  snprintf(x->key, sizeof x->key, "%s", env && *env ? env : TC_DEFAULT_KEY);
  x->timeout_ms = TC_TIMEOUT_MS;
  x->limit = -1;
  int c;
  long v;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":hn:", longs, NULL)) != -1) {
    switch (c) {
      case O_NODE:
        if (set_node(x, optarg) < 0) return fail(x, 2, "--node: value too long"), -1;
        break;
      case O_KEY:
        snprintf(x->key, sizeof x->key, "%s", optarg);
        break;
      case O_JSON:
        x->json = 1;
        break;
      case O_TIMEOUT:
        if (parse_long(optarg, 1, 3600000, &v) < 0)
          return fail(x, 2, "--timeout: bad value '%s'", optarg), -1;
        x->timeout_ms = (uint32_t)v;
        break;
      case O_KIND:
        snprintf(x->kind, sizeof x->kind, "%s", optarg);
        x->opt_actors = 1;
        break;
      case O_SORT:
        snprintf(x->sort, sizeof x->sort, "%s", optarg);
        x->opt_actors = 1;
        break;
      case O_LIMIT:
        if (parse_long(optarg, 1, 1000000, &x->limit) < 0)
          return fail(x, 2, "--limit: bad value '%s'", optarg), -1;
        break;
      case O_ONCE:
        x->count = 1;
        x->opt_top = 1;
        break;
      case 'n':
        if (parse_long(optarg, 1, 1000000000, &x->count) < 0)
          return fail(x, 2, "-n: bad value '%s'", optarg), -1;
        x->opt_top = 1;
        break;
      case O_TOPIC: x->ev.topic = optarg, x->opt_events = 1; break;
      case O_TYPE: x->ev.type = optarg, x->opt_events = 1; break;
      case O_PI: x->ev.pi = optarg, x->opt_events = 1; break;
      case O_BK: x->ev.bk = optarg, x->opt_events = 1; break;
      case O_FOLLOW: x->ev.follow = 1, x->opt_events = 1; break;
      case O_AFTER:
        if (parse_long(optarg, 1, 0x7fffffffffffffffL, &v) < 0)
          return fail(x, 2, "--after: bad id '%s'", optarg), -1;
        x->ev.after = (uint64_t)v;
        x->opt_events = 1;
        break;
      case 'h':
        usage(stdout);
        exit(0);
      case O_VERSION:
        printf("troupectl %s\n", tr_version());
        exit(0);
      case ':':
        return fail(x, 2, "option '%s' needs a value", argv[optind - 1]), -1;
      default:
        return fail(x, 2, "unknown option '%s' (troupectl --help)", argv[optind - 1]), -1;
    }
  }
  return optind;
}

int main(int argc, char **argv) {
  static ctl x; /* zeroed */
  int first = parse(&x, argc, argv);
  if (first < 0) return 2;
  char **words = argv + first;
  int nw = argc - first;
  if (nw == 0) {
    usage(stderr);
    return 2;
  }
  const char *cmd = words[0];
  int nargs = nw - 1;
  struct { const char *name; int min, max, actors_opts, top_opts; } cmds[] = {
      {"status", 0, 0, 0, 0}, {"nodes", 0, 0, 0, 0}, {"actors", 0, 0, 1, 0},
      {"actor", 1, 1, 0, 0},  {"top", 0, 0, 0, 1},   {"stop", 1, 1, 0, 0},
      {"restart", 1, 1, 0, 0}, {"drain", 0, 1, 0, 0}, {"leave", 0, 0, 0, 0},
      {"events", 0, 0, 0, 0}};
  int k = -1;
  for (int i = 0; i < (int)(sizeof cmds / sizeof cmds[0]); i++)
    if (!strcmp(cmds[i].name, cmd)) k = i;
  if (k < 0) return fail(&x, 2, "unknown command '%s' (troupectl --help lists them)", cmd);
  if (nargs < cmds[k].min || nargs > cmds[k].max)
    return fail(&x, 2, "%s takes %s", cmd,
                cmds[k].max == 0 ? "no arguments"
                : cmds[k].min    ? "one argument"
                                 : "at most one argument");
  if (x.opt_actors && !cmds[k].actors_opts)
    return fail(&x, 2, "--kind and --sort go with the actors command");
  if (x.opt_top && !cmds[k].top_opts) return fail(&x, 2, "-n and --once go with the top command");
  int is_events = !strcmp(cmd, "events");
  if (x.limit >= 0 && !cmds[k].actors_opts && !cmds[k].top_opts && !is_events)
    return fail(&x, 2, "--limit goes with actors, top and events");
  if (x.opt_events && !is_events)
    return fail(&x, 2, "--topic, --type, --pi, --bk, --after and --follow go with events");
  int drain_on = 1;
  if (!strcmp(cmd, "drain") && nargs == 1) {
    if (!strcmp(words[1], "on")) drain_on = 1;
    else if (!strcmp(words[1], "off")) drain_on = 0;
    else return fail(&x, 2, "drain takes 'on' or 'off', not '%s'", words[1]);
  }
  /* a NODE:ID target is asked of its own node's console */
  tr_ref ref;
  if (nargs == 1 && strcmp(cmd, "drain") && !x.member[0] &&
      tr_console_parse_ref(words[1], &ref) == 0 && ref.node)
    snprintf(x.member, sizeof x.member, "%016llx", (unsigned long long)ref.node);

  char err[512];
  int ex = tc_key_load(x.key, x.admin, err, sizeof err);
  if (ex != TC_EXIT_OK) return fail(&x, ex, "%s", err);
  if ((ex = connect_to(&x, x.url)) != TC_EXIT_OK) return ex;
  if (x.member[0] && (ex = goto_member(&x, x.member)) != TC_EXIT_OK) goto out;

  if (!strcmp(cmd, "status")) ex = do_status(&x);
  else if (!strcmp(cmd, "nodes")) ex = do_nodes(&x);
  else if (!strcmp(cmd, "actors")) ex = do_actors(&x);
  else if (!strcmp(cmd, "actor")) ex = do_actor(&x, words[1]);
  else if (!strcmp(cmd, "top")) ex = do_top(&x);
  else if (!strcmp(cmd, "stop") || !strcmp(cmd, "restart")) ex = do_stop_restart(&x, cmd, words[1]);
  else if (!strcmp(cmd, "drain")) ex = do_drain(&x, drain_on);
  else if (is_events) {
    x.ev.json = x.json;
    x.ev.limit = x.limit;
    ex = tc_events(&x.cl, &x.ev, err, sizeof err);
    if (ex != TC_EXIT_OK) {
      int j = x.json;
      x.json = 0; /* stdout has JSON lines: the error goes to stderr only */
      fail(&x, ex, "%s", err);
      x.json = j;
    }
  }
  else ex = do_leave(&x);
out:
  if (x.connected) tc_close(&x.cl);
  sodium_memzero(x.admin, sizeof x.admin);
  return ex;
}
