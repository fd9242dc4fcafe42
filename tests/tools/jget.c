/* jget - reads one JSON document on stdin and prints the values at a path,
 * one per line, so shell tests parse troupectl --json instead of grepping.
 *
 *   jget PATH          PATH: .key, [N] and [*] steps, e.g. .nodes[*].state
 *
 * Strings print bare, other values as compact JSON. Exit 0 if at least one
 * value matched, 1 if none, 2 on bad input (not JSON, bad path).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int matched;

static void print(const json_t *v) {
  if (json_is_string(v)) {
    puts(json_string_value(v));
  } else {
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (s) puts(s);
    free(s);
  }
  matched++;
}

/* Walks p (the rest of the path) from v. */
static int walk(const json_t *v, const char *p) {
  if (!*p) {
    print(v);
    return 0;
  }
  if (*p == '.') {
    size_t n = strcspn(p + 1, ".[");
    if (!n || n >= 256) return -1;
    char key[256];
    memcpy(key, p + 1, n);
    key[n] = 0;
    const json_t *c = json_is_object(v) ? json_object_get(v, key) : NULL;
    return c ? walk(c, p + 1 + n) : 0;
  }
  if (*p == '[') {
    const char *end = strchr(p, ']');
    if (!end) return -1;
    if (!json_is_array(v)) return 0;
    if (p[1] == '*' && end == p + 2) {
      for (size_t i = 0; i < json_array_size(v); i++)
        if (walk(json_array_get(v, i), end + 1) < 0) return -1;
      return 0;
    }
    char *e;
    long i = strtol(p + 1, &e, 10);
    if (e != end || i < 0) return -1;
    const json_t *c = json_array_get(v, (size_t)i);
    return c ? walk(c, end + 1) : 0;
  }
  return -1;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: jget PATH < doc.json\n");
    return 2;
  }
  json_error_t err;
  json_t *doc = json_loadf(stdin, 0, &err);
  if (!doc) {
    fprintf(stderr, "jget: not JSON: %s (line %d)\n", err.text, err.line);
    return 2;
  }
  int rc = walk(doc, argv[1]);
  json_decref(doc);
  if (rc < 0) {
    fprintf(stderr, "jget: bad path %s\n", argv[1]);
    return 2;
  }
  return matched ? 0 : 1;
}
