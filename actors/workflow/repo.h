/* repo.h - process definitions: deployments, versions per key.
 *
 * Every process key (the BPMN process id) has one persistent virtual actor,
 * "wfdef/<key>", whose journal holds the versions deployed under that key:
 * the source document, where it came from, and when. Deploying a document
 * parses it once (tr_wf_deploy), then adds one version to each executable
 * process's actor; starting by key uses the latest version, and a version
 * is never changed or reused. The engine parses a version's source again
 * when it needs the model (models are not stored: the source is the truth).
 *
 * Requests are asks with msgpack maps; replies TR_WF_DEF_REPLY {ok: true,
 * ...} or {ok: false, code, error}. Ownership: everything is copied.
 */
#ifndef TR_WF_REPO_H
#define TR_WF_REPO_H

#include <stddef.h>
#include <stdint.h>

#include "troupe/troupe.h"

#define TR_WF_DEF_KIND "wfdef"

enum {
  /* {source: bin, resource, deployment, name?, dedupe?: bool} ->
   * {id, key, version, new: bool}. With dedupe, the same source as the
   * latest version returns that version (Camunda's duplicate filtering). */
  TR_WF_DEF_ADD = 0x57460001,
  /* {version?: int (default: latest), source?: bool (default true)} -> a
   * definition: {id, key, version, deployment, resource, name, source: bin
   * (unless source: false), time} */
  TR_WF_DEF_GET,
  /* {} -> {versions: [definition without source, ...]} oldest first */
  TR_WF_DEF_LIST,
  TR_WF_DEF_REPLY,
  /* to wfcat/keys (catalog.c): {key} -> {ok} once durable; {} -> {keys: [..]}
   * in the order first deployed */
  TR_WF_CAT_ADD,
  TR_WF_CAT_LIST
};
/* These values are stored and travel between nodes: they never change. */

/* Registers the kinds wfdef and wfcat (hosted by nodes with roles; 0 = any). */
int tr_wf_repo_register(tr_system *sys, uint32_t roles);

/* The catalog of keys: every key deployed, "wfcat/keys". */
#define TR_WF_CAT_KIND "wfcat"
#define TR_WF_CAT_NAME "wfcat/keys"
int tr_wf_catalog_register(tr_system *sys, uint32_t roles);

/* One deployed definition, as tr_wf_deploy reports it. */
typedef struct tr_wf_deployed {
  char id[160];  /* "<key>:<version>:<16 hex>" */
  char key[128];
  uint32_t version;
  int is_new;    /* 0: deduplicated to an existing version */
  char deployment[64]; /* the deployment the version came with (an earlier one when !is_new) */
} tr_wf_deployed;

/* Deploys source[0..len) (BPMN XML, or YAML when resource ends in .yaml or
 * .yml) as deployment `deployment`: parses it, and adds a version for every
 * executable process in it. Returns the number of definitions written into
 * out[0..max) (>= 0), or: TR_EPROTO with *problems_json (the caller frees
 * it) in Camunda's ParseException shape when the document has errors;
 * TR_EINVAL (no executable process, bad arguments); errors of the
 * repository's actors. Blocks: not on a scheduler thread. */
int tr_wf_deploy(tr_system *sys, const char *resource, const void *source, size_t len,
                 const char *deployment, int dedupe, tr_wf_deployed *out, size_t max,
                 char **problems_json);

/* The key of a definition id ("<key>:<version>:..."), into buf. */
int tr_wf_def_id_key(const char *id, char *buf, size_t cap);

#endif
