/* httpc - the HTTP client of tests/integration/http.sh: raw requests to a
 * troupe daemon on loopback, one connection, answers printed one per line.
 *
 *   httpc [-1] [-n N] [-w MS] [-p FILE] PORT REQUEST [REQUEST...]
 *
 * Each REQUEST (raw bytes, as the shell's $'...' gives them) is sent, then
 * N answers (default 1) are read, before the next REQUEST: one REQUEST
 * holding several requests is pipelining; several REQUESTs are keep-alive.
 *   -1       send a byte at a time
 *   -p FILE  before each REQUEST after the first, print "ready" and wait
 *            until FILE exists (the script does something in between)
 *   -w MS    wait at most MS for each answer (default 20000): a liveness
 *            bound only
 * Each answer prints "status=S closed=C body=BODY" (C: the server closed
 * the connection after it). A connection closed with no answer prints
 * "eof". Exit 0 when every expected answer or eof was seen, else 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client.h"

int main(int argc, char **argv) {
  int bytewise = 0, n = 1, wait_ms = 20000, opt;
  const char *gate = NULL;
  while ((opt = getopt(argc, argv, "1n:w:p:")) != -1) {
    switch (opt) {
    case '1': bytewise = 1; break;
    case 'n': n = atoi(optarg); break;
    case 'w': wait_ms = atoi(optarg); break;
    case 'p': gate = optarg; break;
    default: return 2;
    }
  }
  if (argc - optind < 2) {
    fprintf(stderr, "usage: httpc [-1] [-n N] [-w MS] [-p FILE] PORT REQUEST...\n");
    return 2;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  hc_conn c;
  if (hc_connect(&c, atoi(argv[optind]), wait_ms) < 0) {
    perror("connect");
    return 1;
  }
  for (int i = optind + 1; i < argc; i++) {
    if (gate && i > optind + 1) {
      printf("ready\n");
      struct stat st;
      for (int k = 0; k < wait_ms / 10 && stat(gate, &st) < 0; k++) usleep(10000);
    }
    int rc = bytewise ? hc_send_bytewise(&c, argv[i]) : hc_send_str(&c, argv[i]);
    if (rc < 0) {
      printf("eof\n"); /* the server closed first */
      return 0;
    }
    for (int k = 0; k < n; k++) {
      hc_resp r;
      if (hc_read(&c, &r, 0) < 0) {
        hc_free(&r);
        if (c.eof && c.len == 0) {
          printf("eof\n");
          return 0;
        }
        fprintf(stderr, "httpc: no answer within %d ms\n", wait_ms);
        return 1;
      }
      printf("status=%d closed=%d body=%s\n", r.status, r.closed, r.body);
      hc_free(&r);
    }
  }
  hc_close(&c);
  return 0;
}
