/* config.h - the node's configuration: defaults, a YAML file, TROUPE_*
 * environment variables and command-line flags.
 *
 * Precedence, lowest first: defaults < YAML file < environment < flags.
 * The YAML file is the one named by --config, else by TROUPE_CONFIG, else
 * none. A layer that sets a list (roles, seeds) replaces it whole.
 *
 * Every setting has one name used everywhere: `data_dir` in YAML (data-dir
 * accepted too), TROUPE_DATA_DIR in the environment, --data-dir as a flag.
 *
 * tr_node_config is plain data with fixed-size buffers: copy it freely; no
 * function keeps a pointer into a caller's buffer. Functions return 0 or a
 * negative TR_E* code and never abort on bad input; on error they leave *c
 * unchanged and write a one-line message to err (if err and errlen are set).
 */
#ifndef TROUPE_TOOLS_CONFIG_H
#define TROUPE_TOOLS_CONFIG_H

#include "troupe/virtual.h"
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "troupe/error.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
  TR_CFG_PATH_MAX = 1024, /* data_dir, config_path (with the NUL) */
  TR_CFG_ADDR_MAX = 256,  /* any address (with the NUL) */
  TR_CFG_NAME_MAX = 64,   /* node_name (with the NUL) */
  TR_CFG_SEEDS_MAX = 32,  /* entries in the seed list */
  TR_CFG_FILE_MAX = 1 << 20 /* a YAML file larger than this is refused */
};

/* Roles a node may take: TR_ROLE_* in troupe/virtual.h. */

/* Positive results of tr_node_config_parse_args/resolve (not errors). */
enum { TR_CFG_HELP = 1, TR_CFG_VERSION = 2 };

typedef struct tr_node_config {
  char data_dir[TR_CFG_PATH_MAX];  /* default "troupe-data" */
  uint32_t threads;                /* scheduler threads 0..64; 0 = one per core */
  int log_level;                   /* TR_LOG_*; default TR_LOG_INFO */
  unsigned roles;                  /* TR_ROLE_* bits, never 0; default all */
  char node_name[TR_CFG_NAME_MAX]; /* default: the host name */
  char cluster_listen[TR_CFG_ADDR_MAX]; /* nng URL; default tcp://127.0.0.1:7400 */
  char console_listen[TR_CFG_ADDR_MAX]; /* nng URL; default tcp://127.0.0.1:7401 */
  char http_listen[TR_CFG_ADDR_MAX];    /* host:port; default 127.0.0.1:8080 */
  char http_auth[TR_CFG_ADDR_MAX];      /* "" (none), bearer:TOKEN, basic:USER:PASSWORD */
  uint32_t http_header_timeout_ms;      /* default 10000 */
  uint32_t http_body_timeout_ms;        /* default 30000 */
  uint32_t http_idle_timeout_ms;        /* default 60000 */
  uint64_t http_max_body;               /* bytes; default 1M */
  uint32_t http_drain_ms;               /* on stop; default 10000 */
  char seeds[TR_CFG_SEEDS_MAX][TR_CFG_ADDR_MAX]; /* nng URLs of other nodes */
  uint32_t nseeds;                 /* default 0: a single node */
  int durability;                  /* TR_DURABLE_SYNC (default) or _NOSYNC */
  uint64_t map_limit;              /* bytes the store may grow to; default 32 GiB */
  char config_path[TR_CFG_PATH_MAX]; /* the YAML file loaded, "" if none */
  /* not configuration: the output format `troupe config --json` asks for;
   * set by flags only and never printed */
  int json;
} tr_node_config;

/* Fills *c with the defaults above. */
void tr_node_config_defaults(tr_node_config *c);

/* Applies the YAML file at path: one document holding one mapping of the
 * keys printed by tr_node_config_print (an empty file sets nothing). roles
 * is a list or a comma-separated string; seeds is a list. Errors name the
 * file, line and column: TR_ENOENT (missing), TR_ETOOBIG (over
 * TR_CFG_FILE_MAX), TR_EIO, TR_EPROTO (not YAML, not one mapping, anchors
 * or aliases), TR_EINVAL (unknown or repeated key, wrong type, bad value).
 * Sets c->config_path on success. */
int tr_node_config_load_yaml(tr_node_config *c, const char *path, char *err, size_t errlen);

/* Applies TROUPE_* variables from envp (a NULL-terminated "NAME=value"
 * array; NULL means the process environment). TROUPE_SEEDS and TROUPE_ROLES
 * are comma-separated. TROUPE_CONFIG only sets c->config_path (the file is
 * read by tr_node_config_resolve). Unknown TROUPE_* names are ignored, so
 * other tools may share the prefix. TR_EINVAL on a bad value. */
int tr_node_config_load_env(tr_node_config *c, char *const *envp, char *err, size_t errlen);

/* Applies flags from argv[1..argc-1] with getopt_long (which permutes argv
 * and is not thread-safe): --data-dir, --threads, --log-level, --roles,
 * --node-name, --cluster-listen, --console-listen, --http-listen, --http-auth,
 * --http-header-timeout-ms, --http-body-timeout-ms, --http-idle-timeout-ms,
 * --http-max-body, --http-drain-ms, --seed
 * (repeatable; the first one replaces the list), --durability, --map-limit,
 * --config FILE (only recorded in c->config_path), --json, --help,
 * --version. *command_index gets the index in (the permuted) argv of the
 * first non-option argument, the subcommand such as "init" or "config", or
 * -1 if there is none; later non-options are its arguments.
 * Returns 0, TR_CFG_HELP, TR_CFG_VERSION, or TR_EINVAL for an unknown flag,
 * a missing or bad value: the caller prints err and the usage, exits 2. */
int tr_node_config_parse_args(tr_node_config *c, int argc, char **argv, int *command_index,
                              char *err, size_t errlen);

/* The whole thing: defaults, then the YAML file (--config, else
 * TROUPE_CONFIG), then envp (NULL: the process environment), then flags.
 * Returns what parse_args returns, or the first error of a layer. */
int tr_node_config_resolve(tr_node_config *c, int argc, char **argv, char *const *envp,
                           int *command_index, char *err, size_t errlen);

/* Prints the effective configuration as YAML that tr_node_config_load_yaml
 * reads back to the same configuration, or as one JSON object (json != 0,
 * map_limit in bytes). */
void tr_node_config_print(const tr_node_config *c, FILE *f, int json);

/* The flags, one per line, for --help and usage errors. */
void tr_node_config_usage(FILE *f);

#ifdef __cplusplus
}
#endif
#endif
