/* identity.h - who a node is, and what lets it into a cluster.
 *
 * A data dir holds, as files of mode 0600:
 *   node.key        the node's Ed25519 secret key (base64); node.pub is its
 *                   public half (mode 0644)
 *   cluster.secret  32 random bytes shared by every node of a cluster
 *   admin.key       32 random bytes the admin console proves it knows
 * `troupe init` creates all of them for the first node; the secret and the
 * admin key are then copied to the other nodes and to operators. A node
 * that starts without them creates its own, so a single node needs no
 * set-up. The node id used in refs is derived from the public key.
 */
#ifndef TR_CLUSTER_IDENTITY_H
#define TR_CLUSTER_IDENTITY_H

#include <stddef.h>
#include <stdint.h>

#include "troupe/error.h"

typedef struct tr_identity {
  uint8_t pk[32];     /* Ed25519 public key */
  uint8_t sk[64];     /* Ed25519 secret key (libsodium layout: seed | pk) */
  uint8_t secret[32]; /* cluster secret */
  uint8_t admin[32];  /* admin key */
  uint64_t node_id;   /* first 8 bytes of BLAKE2b(pk), never 0 */
  int created;        /* files this call created (TR_ID_* bits) */
} tr_identity;

enum { TR_ID_NODE = 1, TR_ID_SECRET = 2, TR_ID_ADMIN = 4 };

/* Creates node.key, node.pub, cluster.secret and admin.key in dir (made if
 * missing, mode 0700). TR_EEXIST, naming the file, if any already exists.
 * err (caller-owned, n bytes) gets a sentence on failure. */
int tr_identity_init(const char *dir, tr_identity *out, char *err, size_t n);

/* Loads the identity of dir, creating what is missing when create is set.
 * Refuses secrets readable by group or others (TR_EPERM) and malformed
 * files (TR_ECORRUPT), naming the file in err. */
int tr_identity_load(const char *dir, int create, tr_identity *out, char *err, size_t n);

/* The node id of a public key (the same derivation every node uses). */
uint64_t tr_identity_node_id(const uint8_t pk[32]);

/* Wipes the secrets from memory. */
void tr_identity_clear(tr_identity *id);

#endif
