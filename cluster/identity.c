/* identity.c - see identity.h. Keys are written to a temporary file created
 * with O_EXCL and mode 0600, fsync'd, then linked into place, so a crash
 * never leaves a half-written key and an existing key is never replaced. */
#include "identity.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define B64 sodium_base64_VARIANT_ORIGINAL

static void say(char *err, size_t n, const char *fmt, ...) {
  if (!err || !n) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, n, fmt, ap);
  va_end(ap);
}

uint64_t tr_identity_node_id(const uint8_t pk[32]) {
  uint8_t h[8];
  crypto_generichash(h, sizeof h, pk, 32, NULL, 0);
  uint64_t id = 0;
  for (int i = 0; i < 8; i++) id = (id << 8) | h[i];
  return id ? id : 1;
}

void tr_identity_clear(tr_identity *id) {
  if (id) sodium_memzero(id, sizeof *id);
}

static void path_of(char *p, size_t n, const char *dir, const char *name) {
  snprintf(p, n, "%s/%s", dir, name);
}

/* Writes data as one base64 line to dir/name, which must not exist. */
static int write_key(const char *dir, const char *name, const uint8_t *data, size_t len, int mode,
                     char *err, size_t n) {
  char path[4096], tmp[4200], line[256];
  path_of(path, sizeof path, dir, name);
  snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
  sodium_bin2base64(line, sizeof line, data, len, B64);
  size_t ll = strlen(line);
  line[ll++] = '\n';
  int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    say(err, n, "cannot create %s: %s", tmp, strerror(errno));
    return TR_EIO;
  }
  int ok = write(fd, line, ll) == (ssize_t)ll && fchmod(fd, (mode_t)mode) == 0 && fsync(fd) == 0;
  close(fd);
  sodium_memzero(line, sizeof line);
  /* link() fails if the target exists: never replace a key */
  if (ok && link(tmp, path) != 0) {
    int e = errno;
    unlink(tmp);
    say(err, n, e == EEXIST ? "%s already exists" : "cannot write %s: %s", path, strerror(e));
    return e == EEXIST ? TR_EEXIST : TR_EIO;
  }
  unlink(tmp);
  if (!ok) {
    say(err, n, "cannot write %s: %s", path, strerror(errno));
    return TR_EIO;
  }
  return 0;
}

/* Reads dir/name (one base64 line) into want bytes. TR_ENOENT if absent. */
static int read_key(const char *dir, const char *name, uint8_t *out, size_t want, int secret,
                    char *err, size_t n) {
  char path[4096];
  path_of(path, sizeof path, dir, name);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return TR_ENOENT;
    say(err, n, "cannot read %s: %s", path, strerror(errno));
    return TR_EIO;
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    say(err, n, "%s is not a regular file", path);
    return TR_ECORRUPT;
  }
  if (secret && (st.st_mode & 077)) {
    close(fd);
    say(err, n, "%s is readable by others (mode %03o): chmod 600 it", path,
        (unsigned)(st.st_mode & 0777));
    return TR_EPERM;
  }
  char line[256];
  ssize_t got = read(fd, line, sizeof line - 1);
  close(fd);
  if (got <= 0) {
    say(err, n, "%s is empty or unreadable", path);
    return TR_ECORRUPT;
  }
  line[got] = 0;
  size_t len = (size_t)got;
  while (len && (line[len - 1] == '\n' || line[len - 1] == '\r' || line[len - 1] == ' ')) len--;
  size_t bin_len = 0;
  int rc = sodium_base642bin(out, want, line, len, NULL, &bin_len, NULL, B64);
  sodium_memzero(line, sizeof line);
  if (rc != 0 || bin_len != want) {
    say(err, n, "%s is not a base64 key of %zu bytes", path, want);
    return TR_ECORRUPT;
  }
  return 0;
}

static int ensure_dir(const char *dir, char *err, size_t n) {
  if (mkdir(dir, 0700) == 0 || errno == EEXIST) return 0;
  say(err, n, "cannot create %s: %s", dir, strerror(errno));
  return TR_EIO;
}

static int make_node_key(const char *dir, tr_identity *id, char *err, size_t n) {
  crypto_sign_keypair(id->pk, id->sk);
  int rc = write_key(dir, "node.key", id->sk, sizeof id->sk, 0600, err, n);
  if (rc == 0) rc = write_key(dir, "node.pub", id->pk, sizeof id->pk, 0644, err, n);
  return rc;
}

int tr_identity_init(const char *dir, tr_identity *out, char *err, size_t n) {
  if (!dir || !out) return TR_EINVAL;
  if (sodium_init() < 0) return TR_ENOMEM;
  memset(out, 0, sizeof *out);
  int rc = ensure_dir(dir, err, n);
  static const char *names[] = {"node.key", "node.pub", "cluster.secret", "admin.key"};
  for (int i = 0; rc == 0 && i < 4; i++) {
    char path[4096];
    struct stat st;
    path_of(path, sizeof path, dir, names[i]);
    if (stat(path, &st) == 0) {
      say(err, n, "%s already exists: this data dir is initialised", path);
      rc = TR_EEXIST;
    }
  }
  if (rc == 0) rc = make_node_key(dir, out, err, n);
  if (rc == 0) {
    randombytes_buf(out->secret, sizeof out->secret);
    rc = write_key(dir, "cluster.secret", out->secret, sizeof out->secret, 0600, err, n);
  }
  if (rc == 0) {
    randombytes_buf(out->admin, sizeof out->admin);
    rc = write_key(dir, "admin.key", out->admin, sizeof out->admin, 0600, err, n);
  }
  if (rc < 0) {
    tr_identity_clear(out);
    return rc;
  }
  out->node_id = tr_identity_node_id(out->pk);
  out->created = TR_ID_NODE | TR_ID_SECRET | TR_ID_ADMIN;
  return 0;
}

int tr_identity_load(const char *dir, int create, tr_identity *out, char *err, size_t n) {
  if (!dir || !out) return TR_EINVAL;
  if (sodium_init() < 0) return TR_ENOMEM;
  memset(out, 0, sizeof *out);
  int rc = create ? ensure_dir(dir, err, n) : 0;
  if (rc < 0) return rc;
  rc = read_key(dir, "node.key", out->sk, sizeof out->sk, 1, err, n);
  if (rc == TR_ENOENT && create) {
    rc = make_node_key(dir, out, err, n);
    if (rc == 0) out->created |= TR_ID_NODE;
  } else if (rc == 0) {
    crypto_sign_ed25519_sk_to_pk(out->pk, out->sk);
  }
  if (rc == TR_ENOENT) say(err, n, "%s/node.key is missing: run troupe init", dir);
  if (rc == 0) {
    rc = read_key(dir, "cluster.secret", out->secret, sizeof out->secret, 1, err, n);
    if (rc == TR_ENOENT && create) {
      randombytes_buf(out->secret, sizeof out->secret);
      rc = write_key(dir, "cluster.secret", out->secret, sizeof out->secret, 0600, err, n);
      if (rc == 0) out->created |= TR_ID_SECRET;
    }
    if (rc == TR_ENOENT) say(err, n, "%s/cluster.secret is missing", dir);
  }
  if (rc == 0) {
    rc = read_key(dir, "admin.key", out->admin, sizeof out->admin, 1, err, n);
    if (rc == TR_ENOENT && create) {
      randombytes_buf(out->admin, sizeof out->admin);
      rc = write_key(dir, "admin.key", out->admin, sizeof out->admin, 0600, err, n);
      if (rc == 0) out->created |= TR_ID_ADMIN;
    }
    if (rc == TR_ENOENT) say(err, n, "%s/admin.key is missing", dir);
  }
  if (rc < 0) {
    tr_identity_clear(out);
    return rc;
  }
  out->node_id = tr_identity_node_id(out->pk);
  return 0;
}
