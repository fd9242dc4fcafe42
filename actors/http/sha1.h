/* sha1.h - SHA-1 (FIPS 180-4), only for the WebSocket handshake: RFC 6455
 * fixes Sec-WebSocket-Accept as base64(SHA-1(key + GUID)). Not for anything
 * that needs collision resistance; none of the dependencies offers SHA-1
 * (libsodium has none), and the handshake alone does not justify OpenSSL. */
#ifndef TR_HTTP_SHA1_H
#define TR_HTTP_SHA1_H

#include <stddef.h>
#include <stdint.h>

/* The digest of data[0..len) (caller's) into out[20] (caller's). */
void tr_sha1(const void *data, size_t len, uint8_t out[20]);

/* Sec-WebSocket-Accept for a client's key (key[0..key_len), caller's):
 * 28 base64 characters and a NUL into out[29] (caller's). */
void tr_ws_accept_key(const char *key, size_t key_len, char out[29]);

#endif
