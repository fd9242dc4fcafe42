/* engine.h - process instances: one persistent virtual actor per instance,
 * "wf/<instance id>", running a deployed definition (repo.h).
 *
 * An instance's journal holds only what came from outside: that it started
 * (definition, version, variables, business key) and what its jobs
 * answered. The state - where the tokens are, the variables - is computed
 * by running the model over those events, so recovery is a replay through
 * the same interpreter; what the interpreter does to the outside world
 * (creating a job) is idempotent (a job is created with a key the queue
 * deduplicates), so doing it again after a crash is harmless.
 *
 * Supported so far: none start events, none and terminate end events,
 * tasks and none intermediate throw events (pass through), external service
 * tasks (camunda:type="external" with a topic: a job on jobs/<topic>),
 * exclusive gateways (conditions, default flow), parallel gateways (fork
 * and join), conditional and default flows out of activities. Anything
 * else in a started definition makes an incident on the instance (state
 * "failed", with the element named) rather than a wrong run.
 */
#ifndef TR_WF_ENGINE_H
#define TR_WF_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "troupe/troupe.h"

#define TR_WF_KIND "wf"

enum {
  /* {key, vars?: map, bk?} -> {id, definition, version} once started durably */
  TR_WF_START = 0x57460101,
  /* {} -> {id, definition, key, version, bk, state: "running"|"completed"|
   * "failed", vars: map, at: [element ids with a token], error} */
  TR_WF_GET,
  TR_WF_REPLY,
  /* a note from a child instance to its parent (not an ask): {id: the
   * parent's wait id, from: "wf/<child>", vars: the child's variables,
   * error?: the code of a BPMN error nothing in the child caught}. The
   * parent acks with TR_WF_IDX_ACK {id} (index.h) to `from` once durable;
   * until then the child sends it again now and then and after restarts. */
  TR_WF_CHILD_DONE = 0x57460110
};
/* These values are stored and travel between nodes: they never change. */

/* Registers the kinds of instances (hosted by nodes with roles). The
 * definitions (tr_wf_repo_register) and job queues (tr_jobs_register) must
 * be registered too. */
int tr_wf_engine_register(tr_system *sys, uint32_t roles);

/* Starts an instance of the latest version of key with variables vars
 * (a msgpack map, or NULL) and business key bk (or NULL); the new
 * instance's id goes to id[0..cap). Blocks until it is durable: not on a
 * scheduler thread. TR_ENOENT: no such definition. */
int tr_wf_start(tr_system *sys, const char *key, const void *vars, size_t vars_len,
                const char *bk, char *id, size_t cap);

#endif
