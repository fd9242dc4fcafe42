/* test_wfrepo.c - process definitions: deploying realistic models (BPMN
 * and YAML) versions them per key, duplicate filtering, latest and
 * specific versions, the list, a document with errors answered in
 * Camunda's ParseException shape, bad requests, and versions surviving a
 * restart. */
#include <ftw.h>
#include <stdio.h>

#include "harness.h"
#include "actors/workflow/repo.h"

static tr_system *g_sys;
static char g_dir[64];

static int rm_cb(const char *p, const struct stat *sb, int f, struct FTW *ftw) {
  (void)sb, (void)f, (void)ftw;
  return remove(p);
}

static void start(void) {
  tr_config cfg = {.data_dir = g_dir, .durability = TR_DURABLE_NOSYNC};
  assert_int_equal(tr_system_new(&cfg, &g_sys), 0);
  assert_int_equal(tr_wf_repo_register(g_sys, 0), 0);
}

static int setup(void **st) {
  (void)st;
  snprintf(g_dir, sizeof g_dir, "/tmp/trwfrXXXXXX");
  if (!mkdtemp(g_dir)) return -1;
  start();
  return 0;
}

static int teardown(void **st) {
  (void)st;
  tr_system_free(g_sys);
  nftw(g_dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
  return 0;
}

static char *slurp(const char *name, size_t *len) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", TR_WF_MODELS, name);
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  static char buf[1 << 20];
  *len = fread(buf, 1, sizeof buf, f);
  fclose(f);
  return buf;
}

static int get(const char *key, int version, tr_msg **out) {
  char name[200], req[64];
  snprintf(name, sizeof name, "wfdef/%s", key);
  tr_pack pk = TR_PACK_INIT;
  if (version) snprintf(req, sizeof req, "{\"version\":%d}", version);
  else snprintf(req, sizeof req, "{}");
  assert_int_equal(tr_json_to_msgpack(req, strlen(req), NULL, &pk, NULL, 0), 0);
  int rc = tr_system_virtual_ask(g_sys, name, TR_WF_DEF_GET, pk.data, pk.len, WAIT_MS, out);
  tr_pack_free(&pk);
  if (rc < 0) return rc;
  rc = tr_reply_status((*out)->data, (*out)->len);
  if (rc < 0) {
    tr_msg_free(*out);
    *out = NULL;
  }
  return rc;
}

static int64_t field_int(const tr_msg *m, const char *k) {
  tr_unpack u;
  int64_t v = -1;
  tr_unpack_init(&u, m->data, m->len);
  tr_unpack_find_int(&u, k, &v);
  return v;
}

static void test_deploy_versions(void **st) {
  (void)st;
  size_t len;
  char *xml = slurp("order.bpmn", &len);
  tr_wf_deployed d[4];
  char *problems = NULL;
  int n = tr_wf_deploy(g_sys, "order.bpmn", xml, len, "dep-1", 0, d, 4, &problems);
  assert_true(n >= 1);
  assert_null(problems);
  assert_int_equal(d[0].version, 1);
  assert_true(d[0].is_new);
  char key[128];
  assert_int_equal(tr_wf_def_id_key(d[0].id, key, sizeof key), 0);
  assert_string_equal(key, d[0].key);
  /* the same source again: version 2, unless filtered */
  tr_wf_deployed d2[4];
  assert_int_equal(tr_wf_deploy(g_sys, "order.bpmn", xml, len, "dep-2", 0, d2, 4, NULL), n);
  assert_int_equal(d2[0].version, 2);
  assert_string_not_equal(d2[0].id, d[0].id);
  tr_wf_deployed d3[4];
  assert_int_equal(tr_wf_deploy(g_sys, "order.bpmn", xml, len, "dep-3", 1, d3, 4, NULL), n);
  assert_int_equal(d3[0].version, 2);
  assert_false(d3[0].is_new);
  assert_string_equal(d3[0].id, d2[0].id);

  tr_msg *r;
  assert_int_equal(get(d[0].key, 0, &r), 0); /* latest */
  assert_int_equal(field_int(r, "version"), 2);
  tr_unpack u;
  tr_unpack_init(&u, r->data, r->len);
  tr_unpack src;
  const void *p;
  size_t sl;
  assert_int_equal(tr_unpack_find(&u, "source", &src), 0);
  assert_int_equal(tr_unpack_bin(&src, &p, &sl), 0);
  assert_int_equal(sl, len);
  assert_memory_equal(p, xml, len);
  tr_msg_free(r);
  assert_int_equal(get(d[0].key, 1, &r), 0);
  assert_int_equal(field_int(r, "version"), 1);
  tr_msg_free(r);
  assert_int_equal(get(d[0].key, 3, &r), TR_ENOENT);
  assert_int_equal(get("nokey", 0, &r), TR_ENOENT);

  /* versions survive a restart; the next deployment is version 3 */
  tr_system_free(g_sys);
  start();
  assert_int_equal(get(d[0].key, 0, &r), 0);
  assert_int_equal(field_int(r, "version"), 2);
  tr_msg_free(r);
  assert_int_equal(tr_wf_deploy(g_sys, "order.bpmn", xml, len, "dep-4", 0, d3, 4, NULL), n);
  assert_int_equal(d3[0].version, 3);
}

static void test_yaml_and_list(void **st) {
  (void)st;
  size_t len;
  char *y = slurp("order.yaml", &len);
  tr_wf_deployed d[4];
  int n = tr_wf_deploy(g_sys, "order.yaml", y, len, "dep-y", 0, d, 4, NULL);
  assert_true(n >= 1);
  char name[200];
  snprintf(name, sizeof name, "wfdef/%s", d[0].key);
  tr_msg *r;
  assert_int_equal(tr_system_virtual_ask(g_sys, name, TR_WF_DEF_LIST, "\x80", 1, WAIT_MS, &r), 0);
  tr_pack js = TR_PACK_INIT;
  assert_int_equal(tr_json_from_msgpack(r->data, r->len, NULL, &js, NULL, 0), 0);
  assert_non_null(strstr((const char *)js.data, "\"resource\":\"order.yaml\""));
  assert_null(strstr((const char *)js.data, "\"source\""));
  tr_pack_free(&js);
  tr_msg_free(r);
}

static void test_bad_documents(void **st) {
  (void)st;
  size_t len;
  char *bad = slurp("bad_semantics.bpmn", &len);
  tr_wf_deployed d[4];
  char *problems = NULL;
  assert_int_equal(tr_wf_deploy(g_sys, "bad.bpmn", bad, len, "dep", 0, d, 4, &problems),
                   TR_EPROTO);
  assert_non_null(problems);
  assert_non_null(strstr(problems, "\"type\":\"ParseException\""));
  assert_non_null(strstr(problems, "\"bad.bpmn\""));
  free(problems);
  assert_int_equal(tr_wf_deploy(g_sys, "x.bpmn", "<nope", 5, "dep", 0, d, 4, &problems),
                   TR_EPROTO);
  free(problems);
  assert_int_equal(tr_wf_deploy(NULL, "x.bpmn", "x", 1, "dep", 0, d, 4, NULL), TR_EINVAL);
  assert_int_equal(tr_wf_deploy(g_sys, "x.bpmn", "", 0, "dep", 0, d, 4, NULL), TR_EINVAL);
  /* bad requests to the actor itself */
  tr_msg *r;
  assert_int_equal(tr_system_virtual_ask(g_sys, "wfdef/k", TR_WF_DEF_ADD, "\x91\x01", 2, WAIT_MS,
                                         &r), 0);
  tr_unpack u;
  tr_unpack_init(&u, r->data, r->len);
  int64_t code = 0;
  assert_int_equal(tr_unpack_find_int(&u, "code", &code), 0);
  assert_int_equal(code, TR_EPROTO);
  tr_msg_free(r);
  assert_int_equal(tr_system_virtual_ask(g_sys, "wfdef/k", TR_WF_DEF_ADD, "\x80", 1, WAIT_MS, &r),
                   0);
  tr_unpack_init(&u, r->data, r->len);
  assert_int_equal(tr_unpack_find_int(&u, "code", &code), 0);
  assert_int_equal(code, TR_EINVAL);
  tr_msg_free(r);
  char key[16];
  assert_int_equal(tr_wf_def_id_key("nocolon", key, sizeof key), TR_EINVAL);
  assert_int_equal(tr_wf_def_id_key(":1:x", key, sizeof key), TR_EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_deploy_versions, setup, teardown),
      cmocka_unit_test_setup_teardown(test_yaml_and_list, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_documents, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
