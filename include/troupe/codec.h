/* troupe/codec.h - msgpack payloads, the wire envelope, JSON <-> msgpack.
 *
 * Four parts; reading msgpack (payloads, envelopes) never allocates:
 *
 *  - tr_pack: a growable (or caller-supplied, fixed) byte buffer that writes
 *    msgpack. Errors are sticky: after the first failure every write returns
 *    that error, so a payload is built with a run of calls and checked once.
 *  - tr_unpack: a bounds-checked cursor over msgpack bytes with typed
 *    accessors. Strings and binaries are borrowed pointers into the input. A
 *    failed read returns its error and leaves the cursor where it was.
 *  - tr_envelope: the header a message travels in between nodes, and batches
 *    of envelopes in one frame (docs/wire.md has the layout).
 *  - tr_json_*: JSON text <-> msgpack, with limits on size and depth.
 *
 * Building {"name": "x", "n": 3} and reading it back:
 *
 *   tr_pack pk = TR_PACK_INIT;
 *   tr_pack_map(&pk, 2);
 *   tr_pack_kv_str(&pk, "name", "x");
 *   tr_pack_kv_int(&pk, "n", 3);
 *   if (pk.err == 0) tr_actor_send(ctx, to, MSG_HELLO, pk.data, pk.len);
 *   tr_pack_free(&pk);
 *
 *   tr_unpack u;
 *   tr_unpack_init(&u, msg->data, msg->len);
 *   const char *name; size_t name_len; int64_t n;
 *   if (tr_unpack_find_str(&u, "name", &name, &name_len) < 0 ||
 *       tr_unpack_find_int(&u, "n", &n) < 0) return TR_EPROTO;
 *
 * Errors: TR_EPROTO malformed or truncated input, TR_ETYPE a value of another
 * type than asked for, TR_ERANGE an integer that does not fit, TR_ETOOBIG
 * over a limit (size, depth, buffer room), TR_EVERSION an envelope of an
 * unknown version, TR_ENOENT a key not found, TR_EINVAL a bad argument.
 */
#ifndef TROUPE_CODEC_H
#define TROUPE_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "actor.h"
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ================================================================ writer */

/* The largest buffer a tr_pack grows to unless its max says less: msgpack
 * lengths and tr_msg.len are 32-bit. */
#define TR_PACK_MAX ((size_t)UINT32_MAX)

typedef struct tr_pack {
  uint8_t *data; /* bytes written so far; owned by the pack unless fixed */
  size_t len;    /* bytes written */
  size_t cap;    /* bytes allocated (or the fixed buffer's size) */
  size_t max;    /* growth limit in bytes; 0 = TR_PACK_MAX */
  int err;       /* first error (sticky); 0 while all is well */
  int fixed;     /* data is the caller's buffer: never grown, never freed */
} tr_pack;

#define TR_PACK_INIT {0}

/* An empty, growable pack. Same as TR_PACK_INIT. */
void tr_pack_init(tr_pack *pk);
/* A pack over the caller's buffer buf[0..cap): the caller keeps ownership;
 * the pack never grows or frees it, and writes past cap fail with
 * TR_ETOOBIG. */
void tr_pack_init_fixed(tr_pack *pk, void *buf, size_t cap);
/* Forgets the bytes and the error; keeps the memory for reuse. */
void tr_pack_reset(tr_pack *pk);
/* Frees the pack's memory (not a fixed buffer) and empties it; max stays. */
void tr_pack_free(tr_pack *pk);
/* Hands the bytes over: returns pk->data, which the caller then owns and
 * frees with free(), stores the length in *len and empties the pack. NULL
 * (and *len = 0) if the pack has an error, is empty or is fixed; the pack
 * then keeps its memory, for tr_pack_free(). */
uint8_t *tr_pack_detach(tr_pack *pk, size_t *len);

/* Each write appends one msgpack value (or a container header: the next n
 * values, or n key/value pairs, belong to it; the writer does not count
 * them). Returns 0 or the pack's (sticky) error. Integers use the smallest
 * encoding; doubles are always float64. Input buffers are copied. */
int tr_pack_nil(tr_pack *pk);
int tr_pack_bool(tr_pack *pk, int v);
int tr_pack_int(tr_pack *pk, int64_t v);
int tr_pack_uint(tr_pack *pk, uint64_t v);
int tr_pack_double(tr_pack *pk, double v);
int tr_pack_str(tr_pack *pk, const char *s); /* NUL-terminated */
int tr_pack_strn(tr_pack *pk, const char *s, size_t len);
int tr_pack_bin(tr_pack *pk, const void *p, size_t len);
int tr_pack_ext(tr_pack *pk, int8_t type, const void *p, size_t len);
int tr_pack_array(tr_pack *pk, uint32_t n);
int tr_pack_map(tr_pack *pk, uint32_t n);
/* Appends bytes as they are: an already encoded value, or any text. */
int tr_pack_raw(tr_pack *pk, const void *p, size_t len);
/* A map entry with a string key, for the common cases. */
int tr_pack_kv_str(tr_pack *pk, const char *key, const char *val);
int tr_pack_kv_int(tr_pack *pk, const char *key, int64_t val);

/* The answer shape of the platform's actors (job queues, definitions,
 * instances): {ok: true, ...} or {ok: false, code: TR_E*, error: text}.
 * tr_pack_error appends the failure (text copied); tr_reply_status reads
 * either from data[0..len) (the caller's): 0, the code, or TR_EPROTO. */
int tr_pack_error(tr_pack *pk, int code, const char *text);
int tr_reply_status(const void *data, size_t len);

/* ================================================================ reader */

/* Types tr_unpack_peek() reports. */
enum {
  TR_MP_NIL = 1,
  TR_MP_BOOL,
  TR_MP_INT,   /* any integer encoding, negative or not */
  TR_MP_FLOAT, /* float32 or float64 */
  TR_MP_STR,
  TR_MP_BIN,
  TR_MP_ARRAY,
  TR_MP_MAP,
  TR_MP_EXT
};

#define TR_UNPACK_DEPTH 64      /* default nesting limit of skip and find */
#define TR_UNPACK_DEPTH_MAX 512 /* the largest max_depth allowed */

typedef struct tr_unpack {
  const uint8_t *p;   /* next byte to read */
  const uint8_t *end; /* one past the last byte */
  uint32_t max_depth; /* nesting limit for skip/find; 0 = TR_UNPACK_DEPTH */
} tr_unpack;

/* A cursor over data[0..len), which the caller owns and must keep valid and
 * unchanged while the cursor or anything read through it is in use. */
void tr_unpack_init(tr_unpack *u, const void *data, size_t len);
static inline size_t tr_unpack_left(const tr_unpack *u) { return (size_t)(u->end - u->p); }

/* The type of the next value (TR_MP_*), or TR_EPROTO at the end of input or
 * on a malformed or truncated value. Does not move the cursor. */
int tr_unpack_peek(const tr_unpack *u);

/* Typed reads: each returns 0 and moves past the value, or returns an error
 * and leaves the cursor unchanged: TR_ETYPE for another type, TR_ERANGE for
 * an integer that does not fit, TR_EPROTO for malformed input. */
int tr_unpack_nil(tr_unpack *u);
int tr_unpack_bool(tr_unpack *u, int *v);
int tr_unpack_int(tr_unpack *u, int64_t *v);
int tr_unpack_uint(tr_unpack *u, uint64_t *v);
/* Accepts float32, float64 and integers (converted; |v| > 2^53 may round). */
int tr_unpack_double(tr_unpack *u, double *v);
/* Borrowed: *s points into the input (not NUL-terminated). The bytes are
 * not checked to be UTF-8. */
int tr_unpack_str(tr_unpack *u, const char **s, size_t *len);
/* Copies the string with a NUL into buf[0..cap), which the caller owns;
 * TR_ETOOBIG (cursor unchanged) if len + 1 > cap. */
int tr_unpack_str_copy(tr_unpack *u, char *buf, size_t cap);
/* Borrowed: *p points into the input. */
int tr_unpack_bin(tr_unpack *u, const void **p, size_t *len);
int tr_unpack_ext(tr_unpack *u, int8_t *type, const void **p, size_t *len);
/* Container headers: *n items (array) or *n key/value pairs (map) follow.
 * The count comes from the input: bound loops by it only together with the
 * reads failing at the end of the data. */
int tr_unpack_array(tr_unpack *u, uint32_t *n);
int tr_unpack_map(tr_unpack *u, uint32_t *n);

/* Moves past one whole value, however nested (iteratively; containers
 * nested deeper than max_depth give TR_ETOOBIG). */
int tr_unpack_skip(tr_unpack *u);
/* Like skip, and returns the value's encoded bytes (borrowed). */
int tr_unpack_raw(tr_unpack *u, const void **p, size_t *len);

/* Looks up a string key in the map at the cursor, which does not move. On
 * success *val is a cursor at the key's value (the first such key wins).
 * TR_ENOENT if absent, TR_ETYPE if the value at the cursor is not a map.
 * Keys of other types are skipped. */
int tr_unpack_find(const tr_unpack *map, const char *key, tr_unpack *val);
/* find followed by the typed read; borrowed pointers as above. */
int tr_unpack_find_int(const tr_unpack *map, const char *key, int64_t *v);
int tr_unpack_find_uint(const tr_unpack *map, const char *key, uint64_t *v);
int tr_unpack_find_bool(const tr_unpack *map, const char *key, int *v);
int tr_unpack_find_double(const tr_unpack *map, const char *key, double *v);
int tr_unpack_find_str(const tr_unpack *map, const char *key, const char **s, size_t *len);

/* ============================================================== envelope */

#define TR_ENVELOPE_VERSION 1
#define TR_ENVELOPE_PAYLOAD_MAX (16u << 20) /* bytes of payload */
#define TR_ENVELOPE_NAME_MAX 255            /* bytes of a virtual actor name */

/* A message as it travels between nodes (docs/wire.md). The target is a ref,
 * or, when target_name is not NULL, a virtual actor name "kind/key": UTF-8,
 * 1..255 bytes, a non-empty kind before the first '/', no control bytes.
 *
 * After decoding, target_name and payload are borrowed: they point into the
 * decoded buffer (target_name is not NUL-terminated) and are valid as long as
 * it is. For encoding they are the caller's and are copied. */
typedef struct tr_envelope {
  uint32_t version;        /* decode: as read; encode: 0 or 1 (both mean 1) */
  uint32_t type;           /* message type */
  uint16_t flags;          /* TR_MSG_F_*; carried, not interpreted */
  uint64_t corr;           /* correlation id */
  tr_ref sender;
  tr_ref target;           /* when target_name is NULL */
  const char *target_name; /* virtual actor name, or NULL */
  size_t target_name_len;
  const void *payload; /* msgpack by convention; the codec does not look inside */
  size_t payload_len;
} tr_envelope;

/* Exact encoded size of e, or 0 if e is invalid. */
size_t tr_envelope_size(const tr_envelope *e);
/* Appends e to pk. On failure pk is left as it was (its error is not set by
 * a bad envelope): TR_EINVAL bad name or arguments, TR_ETOOBIG payload or
 * name over the limit or no room, TR_EVERSION version other than 0 or 1. */
int tr_envelope_encode(const tr_envelope *e, tr_pack *pk);
/* Encodes e into the caller's buffer buf[0..cap); *len gets the size. */
int tr_envelope_encode_buf(const tr_envelope *e, void *buf, size_t cap, size_t *len);
/* Decodes exactly one envelope from data[0..len) without allocating. *out's
 * pointers borrow from data (see above). Errors: TR_EPROTO malformed,
 * truncated or trailing bytes; TR_ETYPE a field of the wrong type; TR_ERANGE
 * a number out of its field's range; TR_ETOOBIG payload or name over the
 * limit; TR_EVERSION another version (out->version tells which). */
int tr_envelope_decode(const void *data, size_t len, tr_envelope *out);

/* Batches: many envelopes in one frame, as a msgpack array of envelopes.
 *
 * Writing: begin, add envelopes, end. The array header is written with room
 * for any count and filled in by end. An add that fails (no room in a pack
 * with a max, a bad envelope) adds nothing and leaves the batch valid: end it
 * and start another frame. */
typedef struct tr_envelope_batch {
  tr_pack *pk;
  size_t start;   /* offset of the array header in pk */
  uint32_t count; /* envelopes added */
} tr_envelope_batch;

int tr_envelope_batch_begin(tr_envelope_batch *b, tr_pack *pk);
int tr_envelope_batch_add(tr_envelope_batch *b, const tr_envelope *e);
int tr_envelope_batch_end(tr_envelope_batch *b);

/* Reading without allocating: open reads the count, next decodes one
 * envelope at a time (borrowing from data) and TR_ENOENT after the last. The
 * last next also checks that no bytes trail the batch. An error on one
 * envelope ends the reading; envelopes already returned stay valid. */
typedef struct tr_envelope_reader {
  const uint8_t *p, *end;
  uint32_t left; /* envelopes not yet read */
  int err;       /* sticky error */
} tr_envelope_reader;

int tr_envelope_reader_open(tr_envelope_reader *r, const void *data, size_t len,
                            uint32_t *count);
int tr_envelope_reader_next(tr_envelope_reader *r, tr_envelope *out);
/* All or nothing: decodes the whole batch into out[0..max) (caller-owned
 * array; pointers borrow from data) and sets *n, or fails without a partial
 * result. TR_ETOOBIG if the batch has more than max envelopes. */
int tr_envelope_batch_decode(const void *data, size_t len, tr_envelope *out, size_t max,
                             size_t *n);

/* ================================================================== JSON */

#define TR_JSON_DEPTH 64             /* default nesting limit */
#define TR_JSON_DEPTH_MAX 512        /* the largest max_depth allowed */
#define TR_JSON_SIZE ((size_t)1 << 20) /* default input size limit (bytes) */

typedef struct tr_json_opts {
  uint32_t max_depth; /* nested arrays/objects (maps); 0 = TR_JSON_DEPTH */
  size_t max_size;    /* input bytes; 0 = TR_JSON_SIZE */
} tr_json_opts;

/* JSON text json[0..len) (UTF-8, caller-owned) to one msgpack value,
 * appended to out. opts may be NULL (defaults). On failure returns TR_EPROTO
 * (bad JSON), TR_ETOOBIG (size or depth over the limit), TR_ERANGE (a number
 * beyond int64 or double), TR_ENOMEM, and writes a NUL-terminated message
 * with line and column into err[0..err_len) if err is not NULL; out is then
 * left as it was. Mapping (docs/wire.md): integers -> int, other numbers ->
 * float64, strings -> str, objects -> map (keys in order, duplicates
 * rejected), arrays -> array, true/false/null -> bool/nil. */
int tr_json_to_msgpack(const char *json, size_t len, const tr_json_opts *opts, tr_pack *out,
                       char *err, size_t err_len);

/* One msgpack value mp[0..len) (caller-owned, nothing may trail it) to JSON
 * text, appended to out and followed by a NUL that out->len does not count.
 * bin becomes a base64 string (RFC 4648, padded); a float is written with
 * the fewest of 15, 16 or 17 significant digits (6..9 for float32) that read
 * back to the same value. TR_ENOTSUP for what JSON cannot
 * express (ext, non-string map keys, NaN, infinities), TR_EPROTO for
 * malformed msgpack or strings that are not UTF-8, TR_ETOOBIG for size or
 * depth; err as above (with the byte offset). out is left as it was. */
int tr_json_from_msgpack(const void *mp, size_t len, const tr_json_opts *opts, tr_pack *out,
                         char *err, size_t err_len);

#ifdef __cplusplus
}
#endif
#endif
