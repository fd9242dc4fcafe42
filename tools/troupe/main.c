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

#include "cluster/identity.h"
#include "troupe/troupe.h"

typedef struct {
  uint32_t threads;
  const char *data_dir;
  int log_level;
  const char *command; /* "init", or NULL: run the node */
} options;

static void usage(FILE *f) {
  fprintf(f,
          "usage: troupe [options]          start a node\n"
          "       troupe [options] init     create the data dir's keys: the node's\n"
          "                                 key pair, a cluster secret and an admin key\n"
          "\n"
          "Starts a troupe node. With no options: a single node with data in\n"
          "./troupe-data and one scheduler thread per core; missing keys are\n"
          "created on first start.\n"
          "\n"
          "options:\n"
          "  -t, --threads N      scheduler threads (default: number of cores)\n"
          "  -d, --data-dir DIR   data directory (default: ./troupe-data)\n"
          "  -l, --log-level L    debug, info, warn or error (default: info)\n"
          "  -h, --help           this text\n"
          "  -V, --version        print the version and exit\n"
          "\n"
          "Stop with SIGINT or SIGTERM: actors stop in order and troupe exits 0.\n");
}

static int parse_level(const char *s) {
  static const char *names[] = {"debug", "info", "warn", "error"};
  for (int i = 0; i < 4; i++)
    if (strcmp(s, names[i]) == 0) return i;
  return -1;
}

/* 0: run; 1: exit 0 (help/version); 2: usage error */
static int parse(int argc, char **argv, options *o) {
  static const struct option longs[] = {{"threads", required_argument, NULL, 't'},
                                        {"data-dir", required_argument, NULL, 'd'},
                                        {"log-level", required_argument, NULL, 'l'},
                                        {"help", no_argument, NULL, 'h'},
                                        {"version", no_argument, NULL, 'V'},
                                        {NULL, 0, NULL, 0}};
  o->threads = 0;
  o->data_dir = "troupe-data";
  o->log_level = TR_LOG_INFO;
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, ":t:d:l:hV", longs, NULL)) != -1) {
    switch (c) {
    case 't': {
      char *end;
      errno = 0;
      long v = strtol(optarg, &end, 10);
      if (errno || *end || v < 1 || v > 64) {
        fprintf(stderr, "troupe: --threads wants a number from 1 to 64, not '%s'\n", optarg);
        return 2;
      }
      o->threads = (uint32_t)v;
      break;
    }
    case 'd':
      if (!*optarg) {
        fprintf(stderr, "troupe: --data-dir wants a directory\n");
        return 2;
      }
      o->data_dir = optarg;
      break;
    case 'l':
      if ((o->log_level = parse_level(optarg)) < 0) {
        fprintf(stderr, "troupe: --log-level wants debug, info, warn or error, not '%s'\n",
                optarg);
        return 2;
      }
      break;
    case 'h':
      usage(stdout);
      return 1;
    case 'V':
      printf("troupe %s\n", tr_version());
      return 1;
    case ':':
      fprintf(stderr, "troupe: option '%s' needs a value\n", argv[optind - 1]);
      usage(stderr);
      return 2;
    default:
      fprintf(stderr, "troupe: unknown option '%s'\n", argv[optind - 1]);
      usage(stderr);
      return 2;
    }
  }
  o->command = NULL;
  if (optind < argc && strcmp(argv[optind], "init") == 0) o->command = argv[optind++];
  if (optind < argc) {
    fprintf(stderr, "troupe: unexpected argument '%s'\n", argv[optind]);
    usage(stderr);
    return 2;
  }
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
  options o;
  int rc = parse(argc, argv, &o);
  if (rc) return rc == 1 ? 0 : 2;
  tr_log_set_level(o.log_level);
  if (ensure_dir(o.data_dir) < 0) {
    tr_log(TR_LOG_ERROR, "troupe", "cannot use data dir %s: %s", o.data_dir, strerror(errno));
    return 1;
  }
  char abs_dir[PATH_MAX];
  if (!realpath(o.data_dir, abs_dir)) snprintf(abs_dir, sizeof abs_dir, "%s", o.data_dir);

  tr_identity id;
  char err[512];
  if (o.command) { /* init */
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
  tr_identity_clear(&id); /* the cluster layer will keep what it needs */

  /* signals are taken by sigwait on this thread, never by the schedulers */
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, NULL);
  signal(SIGPIPE, SIG_IGN);

  /* the node's store lives in the data dir; a second node on the same dir
   * is refused (the store takes an exclusive lock) */
  tr_config cfg = {.threads = o.threads, .data_dir = abs_dir, .node_id = node_id};
  tr_system *sys;
  if ((rc = tr_system_new(&cfg, &sys)) < 0) {
    tr_log(TR_LOG_ERROR, "troupe", "cannot start the node: %s", tr_strerror(rc));
    return 1;
  }
  /* the node supervisor: platform services start under it (later issues) */
  tr_supervisor_spec node = {TR_ONE_FOR_ONE, 10, 10000, NULL, 0};
  tr_spawn_opts nopts = {.name = "node"};
  tr_ref node_ref;
  if ((rc = tr_system_supervisor_start(sys, &node, &nopts, &node_ref)) < 0) {
    tr_log(TR_LOG_ERROR, "troupe", "cannot start the node supervisor: %s", tr_strerror(rc));
    tr_system_free(sys);
    return 1;
  }
  tr_log(TR_LOG_INFO, "troupe", "node %016llx up: version %s, pid %d, %u schedulers, data dir %s",
         (unsigned long long)node_id, tr_version(), (int)getpid(), tr_system_threads(sys), abs_dir);

  int sig = 0;
  sigwait(&sigs, &sig);
  tr_log(TR_LOG_INFO, "troupe", "%s: stopping %llu actors", sig == SIGINT ? "SIGINT" : "SIGTERM",
         (unsigned long long)tr_system_actor_count(sys));
  tr_system_free(sys);
  tr_log(TR_LOG_INFO, "troupe", "stopped");
  return 0;
}
