/* replay.c - runs a fuzz target over saved inputs, without libFuzzer.
 *
 * Usage: replay DIR|FILE...  Every regular file (directories are read one
 * level deep) goes through LLVMFuzzerTestOneInput once. The targets abort on
 * a broken invariant, so a clean exit means every input passed; this is how
 * the corpora run as regression tests under ctest and the sanitizers.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    perror(path);
    return -1;
  }
  size_t cap = 4096, len = 0;
  uint8_t *buf = malloc(cap);
  size_t k;
  while (buf && (k = fread(buf + len, 1, cap - len, f)) > 0) {
    len += k;
    if (len == cap) {
      uint8_t *nb = realloc(buf, cap *= 2);
      if (!nb) free(buf);
      buf = nb;
    }
  }
  fclose(f);
  if (!buf) return -1;
  /* an exact-size copy, so that ASan sees a read one byte past the input */
  uint8_t *exact = malloc(len ? len : 1);
  if (!exact) {
    free(buf);
    return -1;
  }
  memcpy(exact, buf, len);
  free(buf);
  LLVMFuzzerTestOneInput(exact, len);
  free(exact);
  return 0;
}

int main(int argc, char **argv) {
  long files = 0, failed = 0;
  for (int i = 1; i < argc; i++) {
    struct stat st;
    if (stat(argv[i], &st) < 0) {
      perror(argv[i]);
      return 2;
    }
    if (!S_ISDIR(st.st_mode)) {
      files++;
      failed += run_file(argv[i]) < 0;
      continue;
    }
    DIR *d = opendir(argv[i]);
    if (!d) {
      perror(argv[i]);
      return 2;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
      char path[4096];
      snprintf(path, sizeof path, "%s/%s", argv[i], de->d_name);
      if (stat(path, &st) < 0 || !S_ISREG(st.st_mode)) continue;
      files++;
      failed += run_file(path) < 0;
    }
    closedir(d);
  }
  printf("replayed %ld inputs, %ld unreadable\n", files, failed);
  return files == 0 || failed ? 1 : 0;
}
