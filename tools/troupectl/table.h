/* table.h - aligned text tables and human-readable numbers for troupectl.
 *
 * A table copies every cell it is given; tbl_print() sizes each column to
 * its widest cell (in characters, UTF-8 aware) and right-aligns the
 * numeric columns. */
#ifndef TROUPECTL_TABLE_H
#define TROUPECTL_TABLE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define TBL_COLS_MAX 16

typedef struct tbl {
  int ncols;
  const char *head[TBL_COLS_MAX]; /* static strings */
  int right[TBL_COLS_MAX];        /* right-aligned column */
  char **cells;                   /* rows * ncols, owned */
  size_t nrows, cap;
  int oom;                        /* a cell could not be stored */
} tbl;

/* head: ncols column titles (static storage); align: one letter a column,
 * 'l' or 'r'. */
void tbl_init(tbl *t, int ncols, const char *const *head, const char *align);
/* Adds a row of exactly ncols cells (NULL prints as ""). */
void tbl_row(tbl *t, const char *const *cells);
void tbl_print(const tbl *t, FILE *f);
void tbl_free(tbl *t);

/* Key/value lines with the keys aligned: kv[2i] is a key, kv[2i+1] its value. */
void tbl_kv(FILE *f, const char *const *kv, size_t npairs);

/* 1536 -> "1.5K", 12345678 -> "11.8M" */
void fmt_bytes(char *out, size_t n, uint64_t bytes);
/* 340 -> "340ms", 12300 -> "12.3s", 252000 -> "4m12s", 7500000 -> "2h05m",
 * 273600000 -> "3d04h" */
void fmt_ms(char *out, size_t n, uint64_t ms);

#endif
