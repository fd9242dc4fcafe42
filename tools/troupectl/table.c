/* table.c - see table.h. */
#include "table.h"

#include <stdlib.h>
#include <string.h>

void tbl_init(tbl *t, int ncols, const char *const *head, const char *align) {
  memset(t, 0, sizeof *t);
  t->ncols = ncols < TBL_COLS_MAX ? ncols : TBL_COLS_MAX;
  for (int i = 0; i < t->ncols; i++) {
    t->head[i] = head[i];
    t->right[i] = align && align[i] == 'r';
  }
}

void tbl_row(tbl *t, const char *const *cells) {
  if (t->nrows == t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 16;
    char **c = realloc(t->cells, cap * (size_t)t->ncols * sizeof *c);
    if (!c) {
      t->oom = 1;
      return;
    }
    t->cells = c;
    t->cap = cap;
  }
  char **row = &t->cells[t->nrows * (size_t)t->ncols];
  for (int i = 0; i < t->ncols; i++) {
    row[i] = strdup(cells[i] ? cells[i] : "");
    if (!row[i]) t->oom = 1;
  }
  t->nrows++;
}

/* characters, not bytes: UTF-8 continuation bytes take no column */
static size_t width(const char *s) {
  size_t w = 0;
  for (; s && *s; s++) w += ((unsigned char)*s & 0xC0) != 0x80;
  return w;
}

static void cell(FILE *f, const char *s, size_t w, int right, int last) {
  size_t pad = w - width(s);
  if (right) fprintf(f, "%*s", (int)pad, "");
  fputs(s ? s : "", f);
  if (!right && !last) fprintf(f, "%*s", (int)pad, "");
}

void tbl_print(const tbl *t, FILE *f) {
  size_t w[TBL_COLS_MAX];
  for (int i = 0; i < t->ncols; i++) w[i] = width(t->head[i]);
  for (size_t r = 0; r < t->nrows; r++)
    for (int i = 0; i < t->ncols; i++) {
      size_t x = width(t->cells[r * (size_t)t->ncols + i]);
      if (x > w[i]) w[i] = x;
    }
  for (int i = 0; i < t->ncols; i++) {
    cell(f, t->head[i], w[i], t->right[i], i == t->ncols - 1);
    fputs(i == t->ncols - 1 ? "\n" : "  ", f);
  }
  for (size_t r = 0; r < t->nrows; r++)
    for (int i = 0; i < t->ncols; i++) {
      const char *s = t->cells[r * (size_t)t->ncols + i];
      cell(f, s ? s : "", w[i], t->right[i], i == t->ncols - 1);
      fputs(i == t->ncols - 1 ? "\n" : "  ", f);
    }
}

void tbl_free(tbl *t) {
  for (size_t i = 0; i < t->nrows * (size_t)t->ncols; i++) free(t->cells[i]);
  free(t->cells);
  memset(t, 0, sizeof *t);
}

void tbl_kv(FILE *f, const char *const *kv, size_t npairs) {
  size_t w = 0;
  for (size_t i = 0; i < npairs; i++)
    if (width(kv[2 * i]) > w) w = width(kv[2 * i]);
  for (size_t i = 0; i < npairs; i++) {
    fputs(kv[2 * i], f);
    fprintf(f, "%*s  %s\n", (int)(w - width(kv[2 * i])), "", kv[2 * i + 1] ? kv[2 * i + 1] : "");
  }
}

void fmt_bytes(char *out, size_t n, uint64_t b) {
  static const char units[] = "KMGTPE";
  if (b < 1024) {
    snprintf(out, n, "%lluB", (unsigned long long)b);
    return;
  }
  double v = (double)b;
  int u = -1;
  while (v >= 1024 && u < 5) {
    v /= 1024;
    u++;
  }
  snprintf(out, n, v < 10 ? "%.1f%c" : "%.0f%c", v, units[u]);
}

typedef unsigned long long ull;

void fmt_ms(char *out, size_t n, uint64_t ms) {
  uint64_t s = ms / 1000, m = s / 60, h = m / 60, d = h / 24;
  if (ms < 1000) snprintf(out, n, "%llums", (ull)ms);
  else if (s < 60) snprintf(out, n, "%.1fs", (double)ms / 1000.0);
  else if (m < 60) snprintf(out, n, "%llum%02llus", (ull)m, (ull)(s % 60));
  else if (h < 24) snprintf(out, n, "%lluh%02llum", (ull)h, (ull)(m % 60));
  else snprintf(out, n, "%llud%02lluh", (ull)d, (ull)(h % 24));
}
