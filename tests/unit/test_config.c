/* test_config.c - the node configuration loader: defaults, YAML (good and
 * every kind of bad), environment, flags, their precedence, and printing
 * that loads back to the same configuration. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "troupe/troupe.h"

static char dir[64];
static char err[512];

static int setup(void **st) {
  snprintf(dir, sizeof dir, "/tmp/troupe-test-config.XXXXXX");
  return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **st) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  return system(cmd) == 0 ? 0 : -1;
}

/* writes text to a file in the test dir; returns its path (static buffer) */
static const char *file_with(const char *text) {
  static char path[128];
  snprintf(path, sizeof path, "%s/troupe.yaml", dir);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
  return path;
}

/* loads text over the defaults; err gets the message */
static int load(const char *text, tr_node_config *c) {
  tr_node_config_defaults(c);
  err[0] = 0;
  return tr_node_config_load_yaml(c, file_with(text), err, sizeof err);
}

static void test_defaults(void **st) {
  tr_node_config c;
  tr_node_config_defaults(&c);
  assert_string_equal(c.data_dir, "troupe-data");
  assert_int_equal(c.threads, 0);
  assert_int_equal(c.log_level, TR_LOG_INFO);
  assert_int_equal(c.roles, TR_ROLE_ALL);
  char host[64] = "";
  gethostname(host, sizeof host - 1);
  assert_string_equal(c.node_name, host[0] ? host : "troupe");
  assert_string_equal(c.cluster_listen, "tcp://127.0.0.1:7400");
  assert_string_equal(c.console_listen, "tcp://127.0.0.1:7401");
  assert_string_equal(c.http_listen, "127.0.0.1:8080");
  assert_int_equal(c.nseeds, 0);
  assert_int_equal(c.durability, TR_DURABLE_SYNC);
  assert_true(c.map_limit == (uint64_t)32 << 30);
  assert_string_equal(c.http_auth, "");
  assert_int_equal(c.http_header_timeout_ms, 10000);
  assert_int_equal(c.http_body_timeout_ms, 30000);
  assert_int_equal(c.http_idle_timeout_ms, 60000);
  assert_true(c.http_max_body == 1u << 20);
  assert_int_equal(c.http_drain_ms, 10000);
  assert_string_equal(c.config_path, "");
}

static void test_yaml_good(void **st) {
  tr_node_config c;
  int rc = load("# a node\n"
                "data-dir: /var/lib/troupe\n"
                "threads: 8\n"
                "log_level: debug\n"
                "roles: [engine, gateway]\n"
                "node_name: n1.example\n"
                "cluster_listen: tcp://0.0.0.0:7400\n"
                "console_listen: \"ipc:///tmp/console.ipc\"\n"
                "http_listen: '[::1]:9090'\n"
                "seeds:\n  - tcp://10.0.0.1:7400\n  - tcp://seed.example:7400\n"
                "durability: nosync\n"
                "map_limit: 64G\n",
                &c);
  assert_int_equal(rc, 0);
  assert_string_equal(c.data_dir, "/var/lib/troupe");
  assert_int_equal(c.threads, 8);
  assert_int_equal(c.log_level, TR_LOG_DEBUG);
  assert_int_equal(c.roles, TR_ROLE_ENGINE | TR_ROLE_GATEWAY);
  assert_string_equal(c.node_name, "n1.example");
  assert_string_equal(c.cluster_listen, "tcp://0.0.0.0:7400");
  assert_string_equal(c.console_listen, "ipc:///tmp/console.ipc");
  assert_string_equal(c.http_listen, "[::1]:9090");
  assert_int_equal(c.nseeds, 2);
  assert_string_equal(c.seeds[1], "tcp://seed.example:7400");
  assert_int_equal(c.durability, TR_DURABLE_NOSYNC);
  assert_true(c.map_limit == (uint64_t)64 << 30);
  assert_string_equal(c.config_path, file_with(""));

  /* roles as a comma string; an empty file sets nothing */
  assert_int_equal(load("roles: worker, engine\n", &c), 0);
  assert_int_equal(c.roles, TR_ROLE_WORKER | TR_ROLE_ENGINE);
  assert_int_equal(load("# nothing yet\n", &c), 0);
  assert_int_equal(c.roles, TR_ROLE_ALL);
}

/* each bad file: the code, and a message naming line:column and the cause */
static void test_yaml_errors(void **st) {
  static const struct {
    const char *text;
    int rc;
    const char *where, *what;
  } cases[] = {
      {"threads: 4\nbogus: 1\n", TR_EINVAL, ":2:1:", "unknown setting 'bogus'"},
      {"threads: [1, 2]\n", TR_EINVAL, ":1:10:", "threads: wants a single value"},
      {"data_dir: {a: 1}\n", TR_EINVAL, ":1:11:", "data_dir: wants a single value"},
      {"threads: \"4\"\n", TR_EINVAL, ":1:10:", "wants a number"},
      {"threads: four\n", TR_EINVAL, ":1:10:", "threads wants a number"},
      {"threads: 65\n", TR_EINVAL, ":1:10:", "threads wants a number"},
      {"threads: -1\n", TR_EINVAL, ":1:10:", "threads wants a number"},
      {"threads: 99999999999999999999999\n", TR_EINVAL, ":1:10:", "threads wants"},
      {"threads:\n", TR_EINVAL, ":1:9:", "threads: wants a value"},
      {"roles: [engine, cook]\n", TR_EINVAL, ":1:17:", "not 'cook'"},
      {"roles: engine,,worker\n", TR_EINVAL, ":1:8:", "empty item"},
      {"roles: []\n", TR_EINVAL, ":1:9:", "at least one role"},
      {"map_limit: 10X\n", TR_EINVAL, ":1:12:", "map_limit wants a size"},
      {"map_limit: 64GB\n", TR_EINVAL, ":1:12:", "map_limit wants a size"},
      {"map_limit: 99999999999T\n", TR_EINVAL, ":1:12:", "map_limit wants a size"},
      {"map_limit: 1K\n", TR_EINVAL, ":1:12:", "at least 1M"},
      {"log_level: loud\n", TR_EINVAL, ":1:12:", "not 'loud'"},
      {"durability: maybe\n", TR_EINVAL, ":1:13:", "sync or nosync"},
      {"node_name: 'a b'\n", TR_EINVAL, ":1:12:", "node_name wants"},
      {"http_listen: localhost\n", TR_EINVAL, ":1:14:", "wants host:port"},
      {"http_auth: s3cret\n", TR_EINVAL, ":1:12:", "wants none, bearer:TOKEN or basic"},
      {"http_auth: 'basic:nocolon'\n", TR_EINVAL, ":1:12:", "basic:USER:PASSWORD"},
      {"http_auth: 'bearer:'\n", TR_EINVAL, ":1:12:", "bearer:TOKEN"},
      {"http_header_timeout_ms: 0\n", TR_EINVAL, ":1:25:", "wants milliseconds"},
      {"http_idle_timeout_ms: '5'\n", TR_EINVAL, ":1:23:", "wants a number"},
      {"http_max_body: 2G\n", TR_EINVAL, ":1:16:", "from 1 to 1G"},
      {"cluster_listen: http://x:1\n", TR_EINVAL, ":1:17:", "tcp://host:port"},
      {"seeds: tcp://a:1\n", TR_EINVAL, ":1:8:", "seeds: wants a list"},
      {"seeds: [tcp://a:1, [tcp://b:1]]\n", TR_EINVAL, ":1:20:", "list of strings"},
      {"seeds: [tcp://a:1, {x: 1}]\n", TR_EINVAL, ":1:20:", "list of strings"},
      {"seeds: [tcp://a:0]\n", TR_EINVAL, ":1:9:", "tcp://host:port"},
      {"threads: 1\nthreads: 2\n", TR_EINVAL, ":2:1:", "set twice"},
      {"threads: 1\n---\nthreads: 2\n", TR_EPROTO, ":2:1:", "one document"},
      {"- threads\n", TR_EPROTO, ":1:1:", "mapping of settings"},
      {"just text\n", TR_EPROTO, ":1:1:", "mapping of settings"},
      {"---\n", TR_EPROTO, ":2:1:", "mapping of settings"},
      {"data_dir: &d /x\nnode_name: *d\n", TR_EPROTO, ":1:11:", "anchors and aliases"},
      {"seeds: &s [tcp://a:1]\n", TR_EPROTO, ":1:8:", "anchors and aliases"},
      {"data_dir: /x\nnode_name: *d\n", TR_EPROTO, ":2:12:", "anchors and aliases"},
      {"? [a]\n: 1\n", TR_EINVAL, ":1:3:", "wants a setting name"},
      {"seeds: [tcp://a:1\n", TR_EPROTO, ":2:1:", "not valid YAML"},
      {"data_dir: 'open\n", TR_EPROTO, ":2:1:", "quoted scalar at 1:11"},
      {"data_dir: b: c\n", TR_EPROTO, ":1:12:", "not valid YAML"},
      {"data_dir: \"\\x01\"\n", TR_EINVAL, ":1:11:", "control character"},
      {"data_dir: \"a\\0b\"\n", TR_EINVAL, ":1:11:", "NUL"},
      {"data_dir: /a\xc3\x28\n", TR_EPROTO, "byte 13", "not valid YAML"}, /* bad UTF-8 */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    tr_node_config c, before;
    tr_node_config_defaults(&before);
    int rc = load(cases[i].text, &c);
    print_message("case %zu: %s\n", i, err);
    assert_int_equal(rc, cases[i].rc);
    assert_non_null(strstr(err, "troupe.yaml"));
    assert_non_null(strstr(err, cases[i].where));
    assert_non_null(strstr(err, cases[i].what));
    assert_memory_equal(&c, &before, sizeof c); /* a failed load changes nothing */
  }
}

static void test_yaml_file_errors(void **st) {
  tr_node_config c;
  tr_node_config_defaults(&c);
  char path[128];
  snprintf(path, sizeof path, "%s/missing.yaml", dir);
  assert_int_equal(tr_node_config_load_yaml(&c, path, err, sizeof err), TR_ENOENT);
  assert_non_null(strstr(err, "missing.yaml"));
  assert_int_equal(tr_node_config_load_yaml(&c, dir, err, sizeof err), TR_EIO);

  /* exactly the limit is read (then fails as YAML); one byte over is refused */
  char *big = malloc(TR_CFG_FILE_MAX + 2);
  memset(big, '#', TR_CFG_FILE_MAX + 1);
  big[TR_CFG_FILE_MAX + 1] = 0;
  assert_int_equal(load(big, &c), TR_ETOOBIG);
  assert_non_null(strstr(err, "larger than"));
  big[TR_CFG_FILE_MAX] = 0;
  assert_int_equal(load(big, &c), 0); /* one long comment */
  /* deep nesting is refused at the first level, without building it */
  memset(big, '[', TR_CFG_FILE_MAX);
  memcpy(big, "seeds: ", 7);
  assert_int_equal(load(big, &c), TR_EINVAL);
  free(big);
  /* no error buffer is fine */
  assert_int_equal(tr_node_config_load_yaml(&c, path, NULL, 0), TR_ENOENT);
}

static void test_env(void **st) {
  tr_node_config c;
  assert_int_equal(load("threads: 2\nlog_level: warn\nnode_name: fromfile\n", &c), 0);
  char *env[] = {"PATH=/bin",
                 "TROUPE_THREADS=6",
                 "TROUPE_NODE_NAME=",
                 "TROUPE_ROLES=worker",
                 "TROUPE_SEEDS=tcp://a:1, tcp://b:2",
                 "TROUPE_MAP_LIMIT=512m",
                 "TROUPE_DATA_DIR=/data",
                 "TROUPE_UNRELATED=x",
                 "TROUPE_CONFIG=/etc/troupe.yaml",
                 NULL};
  assert_int_equal(tr_node_config_load_env(&c, env, err, sizeof err), 0);
  assert_int_equal(c.threads, 6);                    /* env over the file */
  assert_int_equal(c.log_level, TR_LOG_WARN);        /* the file's, env silent */
  assert_string_equal(c.node_name, "fromfile");      /* empty = unset */
  assert_int_equal(c.roles, TR_ROLE_WORKER);
  assert_int_equal(c.nseeds, 2);
  assert_string_equal(c.seeds[1], "tcp://b:2");
  assert_true(c.map_limit == 512u << 20);
  assert_string_equal(c.data_dir, "/data");
  assert_string_equal(c.config_path, "/etc/troupe.yaml");

  tr_node_config before = c;
  char *bad[] = {"TROUPE_THREADS=1", "TROUPE_DURABILITY=fast", NULL};
  assert_int_equal(tr_node_config_load_env(&c, bad, err, sizeof err), TR_EINVAL);
  assert_non_null(strstr(err, "TROUPE_DURABILITY"));
  assert_memory_equal(&c, &before, sizeof c);

  /* NULL: the process environment */
  setenv("TROUPE_LOG_LEVEL", "error", 1);
  assert_int_equal(tr_node_config_load_env(&c, NULL, err, sizeof err), 0);
  assert_int_equal(c.log_level, TR_LOG_ERROR);
  unsetenv("TROUPE_LOG_LEVEL");
}

static int args(tr_node_config *c, int *cmd, ...) {
  static char *argv[32];
  va_list ap;
  va_start(ap, cmd);
  int argc = 0;
  argv[argc++] = "troupe";
  for (char *a; (a = va_arg(ap, char *)) != NULL;) argv[argc++] = a;
  argv[argc] = NULL;
  va_end(ap);
  err[0] = 0;
  return tr_node_config_parse_args(c, argc, argv, cmd, err, sizeof err);
}

static void test_flags(void **st) {
  tr_node_config c;
  int cmd;
  tr_node_config_defaults(&c);
  assert_int_equal(args(&c, &cmd, NULL), 0);
  assert_int_equal(cmd, -1);
  assert_int_equal(args(&c, &cmd, "-t", "3", "--data-dir=/d", "--log-level", "debug", "--roles",
                        "engine", "--node-name", "x", "--cluster-listen", "tcp://h:1",
                        "--console-listen", "tcp://h:2", "--http-listen", "h:3", "--seed",
                        "tcp://s:1", "--seed", "tcp://s:2,tcp://s:3", "--durability", "nosync",
                        "--map-limit", "1T", "--config", "/c.yaml", NULL),
                   0);
  assert_int_equal(c.threads, 3);
  assert_string_equal(c.data_dir, "/d");
  assert_int_equal(c.log_level, TR_LOG_DEBUG);
  assert_int_equal(c.roles, TR_ROLE_ENGINE);
  assert_string_equal(c.http_listen, "h:3");
  assert_int_equal(c.nseeds, 3);
  assert_string_equal(c.seeds[2], "tcp://s:3");
  assert_true(c.map_limit == (uint64_t)1 << 40);
  assert_string_equal(c.config_path, "/c.yaml");
  /* the first --seed replaces seeds from earlier layers */
  assert_int_equal(args(&c, &cmd, "--seed", "tcp://only:1", NULL), 0);
  assert_int_equal(c.nseeds, 1);

  /* subcommands: the first non-option, with flags before or after it */
  assert_int_equal(args(&c, &cmd, "config", "--json", "-t", "5", NULL), 0);
  assert_int_equal(c.json, 1);
  assert_int_equal(c.threads, 5);
  assert_true(cmd > 0);

  assert_int_equal(args(&c, &cmd, "--help", NULL), TR_CFG_HELP);
  assert_int_equal(args(&c, &cmd, "-V", NULL), TR_CFG_VERSION);

  /* usage errors: unknown flags, missing or bad values; nothing changes */
  tr_node_config before = c;
  static const struct {
    const char *a, *b, *what;
  } bad[] = {{"--bogus", NULL, "unknown option '--bogus'"},
             {"-x", NULL, "unknown option '-x'"},
             {"--threads", NULL, "needs a value"},
             {"--threads", "lots", "--threads wants"},
             {"--roles", "cook", "--roles wants"},
             {"--map-limit", "1Q", "--map-limit wants"},
             {"--seed", "host:1", "--seed wants"},
             {"--node-name", "", "--node-name wants"},
             {"--help=x", NULL, "--help"}};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_int_equal(args(&c, &cmd, "-t", "9", bad[i].a, bad[i].b, NULL), TR_EINVAL);
    print_message("%s\n", err);
    assert_non_null(strstr(err, bad[i].what));
    assert_memory_equal(&c, &before, sizeof c);
  }
}

/* defaults < file < env < flags, with the file found by --config or env */
static void test_resolve(void **st) {
  const char *path = file_with("threads: 2\nlog_level: warn\ndurability: nosync\nroles: gateway\n");
  char flag[160];
  snprintf(flag, sizeof flag, "--config=%s", path);
  char *argv[] = {"troupe", "-t", "4", flag, "init", NULL};
  char *env[] = {"TROUPE_THREADS=3", "TROUPE_LOG_LEVEL=error", "TROUPE_CONFIG=/nonexistent", NULL};
  tr_node_config c;
  int cmd;
  assert_int_equal(tr_node_config_resolve(&c, 5, argv, env, &cmd, err, sizeof err), 0);
  assert_int_equal(c.threads, 4);                     /* flag */
  assert_int_equal(c.log_level, TR_LOG_ERROR);        /* env */
  assert_int_equal(c.durability, TR_DURABLE_NOSYNC);  /* file */
  assert_int_equal(c.roles, TR_ROLE_GATEWAY);         /* file */
  assert_string_equal(c.http_listen, "127.0.0.1:8080"); /* default */
  assert_string_equal(c.config_path, path);
  assert_string_equal(argv[cmd], "init");

  /* TROUPE_CONFIG names the file when no --config does */
  char cfgvar[160];
  snprintf(cfgvar, sizeof cfgvar, "TROUPE_CONFIG=%s", path);
  char *env2[] = {cfgvar, NULL};
  char *argv2[] = {"troupe", NULL};
  assert_int_equal(tr_node_config_resolve(&c, 1, argv2, env2, &cmd, err, sizeof err), 0);
  assert_int_equal(c.threads, 2);
  assert_int_equal(cmd, -1);

  /* a missing file named by TROUPE_CONFIG is an error, as is a bad flag */
  assert_int_equal(tr_node_config_resolve(&c, 1, argv2, env, &cmd, err, sizeof err), TR_ENOENT);
  char *argv3[] = {"troupe", "--nope", NULL};
  assert_int_equal(tr_node_config_resolve(&c, 2, argv3, env2, &cmd, err, sizeof err), TR_EINVAL);
  char *argv4[] = {"troupe", "--help", NULL};
  assert_int_equal(tr_node_config_resolve(&c, 2, argv4, env2, &cmd, err, sizeof err), TR_CFG_HELP);
}

/* field by field: bytes after a string's NUL are not part of it */
static void assert_same(const tr_node_config *a, const tr_node_config *b) {
  assert_string_equal(a->data_dir, b->data_dir);
  assert_int_equal(a->threads, b->threads);
  assert_int_equal(a->log_level, b->log_level);
  assert_int_equal(a->roles, b->roles);
  assert_string_equal(a->node_name, b->node_name);
  assert_string_equal(a->cluster_listen, b->cluster_listen);
  assert_string_equal(a->console_listen, b->console_listen);
  assert_string_equal(a->http_listen, b->http_listen);
  assert_int_equal(a->nseeds, b->nseeds);
  for (uint32_t i = 0; i < a->nseeds; i++) assert_string_equal(a->seeds[i], b->seeds[i]);
  assert_int_equal(a->durability, b->durability);
  assert_true(a->map_limit == b->map_limit);
}

static char *print_to_string(const tr_node_config *c, int json) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  tr_node_config_print(c, f, json);
  fclose(f);
  return buf;
}

static void test_print_round_trip(void **st) {
  tr_node_config c, back;
  assert_int_equal(load("data_dir: '/odd \"dir\" \\ # : x'\nthreads: 7\nroles: worker\n"
                        "seeds: [tcp://a:1, 'ipc:///tmp/s']\nmap_limit: 1536M\n"
                        "log_level: error\ndurability: nosync\n",
                        &c),
                   0);
  char *y = print_to_string(&c, 0);
  print_message("%s", y);
  assert_int_equal(load(y, &back), 0);
  assert_same(&c, &back);
  assert_non_null(strstr(y, "map_limit: 1536M"));
  free(y);

  /* the HTTP settings round trip; the auth secret is never printed */
  assert_int_equal(load("http_header_timeout_ms: 250\nhttp_max_body: 64K\nhttp_drain_ms: 1\n"
                        "http_idle_timeout_ms: 86400000\nhttp_body_timeout_ms: 7\n",
                        &c),
                   0);
  y = print_to_string(&c, 0);
  assert_int_equal(load(y, &back), 0);
  assert_int_equal(back.http_header_timeout_ms, 250);
  assert_true(back.http_max_body == 64u << 10);
  assert_int_equal(back.http_drain_ms, 1);
  assert_int_equal(back.http_idle_timeout_ms, 86400000);
  assert_int_equal(back.http_body_timeout_ms, 7);
  free(y);
  assert_int_equal(load("http_auth: 'bearer:t0ken'\n", &c), 0);
  assert_string_equal(c.http_auth, "bearer:t0ken");
  y = print_to_string(&c, 0);
  assert_null(strstr(y, "t0ken"));
  assert_non_null(strstr(y, "http_auth: \"<hidden>\""));
  assert_int_equal(load(y, &back), TR_EINVAL); /* fails loudly, never drops auth */
  free(y);
  assert_int_equal(load("http_auth: none\n", &c), 0);
  assert_string_equal(c.http_auth, "");

  /* defaults round trip too (empty seeds, all roles) */
  tr_node_config_defaults(&c);
  y = print_to_string(&c, 0);
  assert_int_equal(load(y, &back), 0);
  assert_same(&c, &back);
  free(y);

  char *j = print_to_string(&c, 1);
  print_message("%s", j);
  assert_non_null(strstr(j, "\"map_limit\": 34359738368\n}"));
  assert_non_null(strstr(j, "\"roles\": [\"engine\", \"worker\", \"gateway\"]"));
  assert_null(strstr(j, "json"));
  free(j);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_defaults),         cmocka_unit_test(test_yaml_good),
      cmocka_unit_test(test_yaml_errors),      cmocka_unit_test(test_yaml_file_errors),
      cmocka_unit_test(test_env),              cmocka_unit_test(test_flags),
      cmocka_unit_test(test_resolve),          cmocka_unit_test(test_print_round_trip),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
