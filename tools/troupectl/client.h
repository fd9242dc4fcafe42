/* client.h - the client side of the admin console (cluster/console.h):
 * the admin key file, authenticated requests over req0, and the sealed
 * snapshot stream over sub0. troupectl and tests/unit/test_console.c both
 * use it, so the tests exercise what the tool sends.
 *
 * Every function returns one of the TC_EXIT_* codes below (troupectl's exit
 * status) and, when it is not TC_EXIT_OK, writes a sentence for the user
 * into the caller's err buffer.
 */
#ifndef TROUPECTL_CLIENT_H
#define TROUPECTL_CLIENT_H

#include <jansson.h>
#include <nng/nng.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster/console.h"

enum {
  TC_EXIT_OK = 0,
  TC_EXIT_FAILED = 1,      /* the node answered with an error */
  TC_EXIT_USAGE = 2,       /* bad command line */
  TC_EXIT_UNREACHABLE = 3, /* no connection, or no reply in time */
  TC_EXIT_AUTH = 4         /* no usable key, or authentication refused */
};

#define TC_TIMEOUT_MS 5000
#define TC_DEFAULT_NODE "tcp://127.0.0.1:7401"
#define TC_DEFAULT_KEY "./troupe-data/admin.key"

/* Reads a base64 admin key file into key (32 bytes). Refuses a file that
 * group or others can read, as the node does. */
int tc_key_load(const char *path, uint8_t key[32], char *err, size_t n);

typedef struct tc_client {
  nng_socket s;
  int open;
  tr_console_keys keys;
  uint32_t timeout_ms;
  char url[256];
} tc_client;

/* Connects a req0 socket to url (waits for the first connection). */
int tc_open(tc_client *c, const char *url, const uint8_t admin[32], uint32_t timeout_ms,
            char *err, size_t n);
void tc_close(tc_client *c);

typedef struct tc_result {
  tr_console_reply r; /* borrows from raw */
  uint8_t *raw;       /* the reply bytes; owned, freed by tc_result_free */
  size_t raw_len;
  char err[384];      /* the sentence when the call did not return TC_EXIT_OK */
} tc_result;

/* One command: args is one msgpack map (the caller's) or NULL. On
 * TC_EXIT_OK res->r.data holds the node's data. Always tc_result_free. */
int tc_call(tc_client *c, const char *cmd, const void *args, size_t args_len, tc_result *res);

/* Sends req[0..len) as it is and reads the reply, checking it as tc_call
 * does (nonce: the one the request carries, or NULL not to check). For
 * tests of replays and garbage. */
int tc_call_raw(tc_client *c, const void *req, size_t len, const uint8_t *nonce,
                tc_result *res);
void tc_result_free(tc_result *res);

typedef struct tc_sub {
  nng_socket s;
  int open;
  tr_console_keys keys;
  uint64_t last_seq;
  uint64_t refused; /* messages that did not open with our key */
} tc_sub;

/* Subscribes to a node's snapshot stream at url. */
int tc_sub_open(tc_sub *s, const char *url, const uint8_t admin[32], char *err, size_t n);
/* The next snapshot that opens under our key and is newer than the last,
 * within timeout_ms: *out is a malloc'd msgpack map (caller frees). */
int tc_sub_next(tc_sub *s, uint32_t timeout_ms, uint8_t **out, size_t *len, char *err,
                size_t n);
void tc_sub_close(tc_sub *s);

/* One msgpack value as a jansson value (caller owns); NULL if it is not
 * expressible in JSON. */
json_t *tc_json(const void *mp, size_t len);

/* The URL to dial for the stream of a node reached at node_url, given the
 * pub URL the node reports: a tcp stream is dialled on node_url's host (the
 * node may listen on a wildcard address). */
void tc_stream_url(const char *node_url, const char *pub, char *out, size_t n);

#endif
