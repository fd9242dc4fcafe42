/* fuzz_check.h - invariant checks for the fuzz targets.
 *
 * A broken invariant must stop the run loudly both under libFuzzer (which
 * saves the input) and under the replay driver (which fails the ctest), and
 * must not be compiled out by NDEBUG, hence not assert(). */
#ifndef TR_FUZZ_CHECK_H
#define TR_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond)                                                               \
  do {                                                                            \
    if (!(cond)) {                                                                \
      fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond); \
      abort();                                                                    \
    }                                                                             \
  } while (0)

#endif
