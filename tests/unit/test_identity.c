/* test_identity.c - node keys, cluster secret and admin key on disk:
 * created 0600, never replaced, loaded back the same, and refused when
 * loose, missing or malformed. */
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <sys/stat.h>

#include "cluster/identity.h"
#include "harness.h"

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f) { return remove(p); }

static void scratch(char *dir, size_t n) {
  snprintf(dir, n, "/tmp/troupe-test-id.XXXXXX");
  assert_non_null(mkdtemp(dir));
}

static int mode_of(const char *dir, const char *name) {
  char p[512];
  struct stat st;
  snprintf(p, sizeof p, "%s/%s", dir, name);
  if (stat(p, &st) != 0) return -1;
  return (int)(st.st_mode & 0777);
}

static void put_file(const char *dir, const char *name, const char *text, int mode) {
  char p[512];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  unlink(p);
  int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, mode);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
  fchmod(fd, (mode_t)mode);
  close(fd);
}

static void test_init_and_load(void **st) {
  char dir[64], err[256];
  scratch(dir, sizeof dir);
  tr_identity a, b;
  assert_int_equal(tr_identity_init(dir, &a, err, sizeof err), 0);
  assert_true(a.node_id != 0);
  assert_int_equal(a.created, TR_ID_NODE | TR_ID_SECRET | TR_ID_ADMIN);
  assert_int_equal(mode_of(dir, "node.key"), 0600);
  assert_int_equal(mode_of(dir, "cluster.secret"), 0600);
  assert_int_equal(mode_of(dir, "admin.key"), 0600);
  assert_int_equal(mode_of(dir, "node.pub"), 0644);
  assert_int_equal(tr_identity_load(dir, 0, &b, err, sizeof err), 0);
  assert_memory_equal(a.pk, b.pk, 32);
  assert_memory_equal(a.sk, b.sk, 64);
  assert_memory_equal(a.secret, b.secret, 32);
  assert_memory_equal(a.admin, b.admin, 32);
  assert_true(a.node_id == b.node_id);
  assert_int_equal(b.created, 0);
  assert_true(tr_identity_node_id(a.pk) == a.node_id);
  /* a second init refuses and replaces nothing */
  tr_identity c;
  assert_int_equal(tr_identity_init(dir, &c, err, sizeof err), TR_EEXIST);
  assert_non_null(strstr(err, "already exists"));
  assert_int_equal(tr_identity_load(dir, 0, &c, err, sizeof err), 0);
  assert_memory_equal(a.secret, c.secret, 32);
  tr_identity_clear(&a);
  nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

static void test_created_on_first_start(void **st) {
  char dir[64], sub[128], err[256];
  scratch(dir, sizeof dir);
  snprintf(sub, sizeof sub, "%s/data", dir);
  tr_identity a, b;
  assert_int_equal(tr_identity_load(sub, 0, &a, err, sizeof err), TR_ENOENT);
  assert_int_equal(tr_identity_load(sub, 1, &a, err, sizeof err), 0);
  assert_int_equal(a.created, TR_ID_NODE | TR_ID_SECRET | TR_ID_ADMIN);
  assert_int_equal(tr_identity_load(sub, 1, &b, err, sizeof err), 0);
  assert_int_equal(b.created, 0);
  assert_true(a.node_id == b.node_id);
  /* a copied cluster secret is used, not replaced */
  char other[64];
  scratch(other, sizeof other);
  put_file(other, "cluster.secret", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", 0600);
  assert_int_equal(tr_identity_load(other, 1, &b, err, sizeof err), 0);
  assert_int_equal(b.created, TR_ID_NODE | TR_ID_ADMIN);
  for (int i = 0; i < 32; i++) assert_int_equal(b.secret[i], i);
  nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
  nftw(other, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

static void test_bad_files(void **st) {
  char dir[64], err[256];
  scratch(dir, sizeof dir);
  tr_identity a;
  assert_int_equal(tr_identity_init(dir, &a, err, sizeof err), 0);
  /* loose permissions */
  char p[512];
  snprintf(p, sizeof p, "%s/cluster.secret", dir);
  chmod(p, 0644);
  assert_int_equal(tr_identity_load(dir, 1, &a, err, sizeof err), TR_EPERM);
  assert_non_null(strstr(err, "chmod 600"));
  chmod(p, 0600);
  /* malformed contents, each refused without crashing */
  static const char *bad[] = {"", "\n", "not base64!!\n", "AAAA\n",
                              "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gIQ==\n"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    put_file(dir, "admin.key", bad[i], 0600);
    assert_int_equal(tr_identity_load(dir, 1, &a, err, sizeof err), TR_ECORRUPT);
    assert_non_null(strstr(err, "admin.key"));
  }
  /* a directory where a key should be */
  snprintf(p, sizeof p, "%s/admin.key", dir);
  unlink(p);
  mkdir(p, 0700);
  assert_int_equal(tr_identity_load(dir, 1, &a, err, sizeof err), TR_ECORRUPT);
  assert_int_equal(tr_identity_load(NULL, 1, &a, err, sizeof err), TR_EINVAL);
  nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_init_and_load),
      cmocka_unit_test(test_created_on_first_start),
      cmocka_unit_test(test_bad_files),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
