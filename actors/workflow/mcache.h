/* mcache.h - compiled models shared by the instances of a definition.
 *
 * An instance needs its definition's model to run, and parsing the BPMN
 * again for every instance that starts or recovers would cost more than
 * everything else the start does. A definition id names one immutable
 * source ("<key>:<version>:<hash of the source>"), and a finished model is
 * read-only and safe to share between threads (model.h), so every
 * instance of a definition on this process shares one model. The cache is
 * bounded: models no instance holds are evicted, least recently used
 * first, beyond TR_WF_MCACHE_MAX.
 */
#ifndef TR_WF_MCACHE_H
#define TR_WF_MCACHE_H

#include "actors/workflow/model.h"

#define TR_WF_MCACHE_MAX 256

/* The model of definition id, held for the caller (release it with
 * tr_wf_mcache_release), or TR_ENOENT. */
int tr_wf_mcache_get(const char *id, const tr_wf_model **out);

/* Adds model m (ownership passes to the cache) under id and holds it for
 * the caller in *out. When another thread added the same id first, m is
 * freed and *out is that one. 0 or TR_ENOMEM (then m is freed too). */
int tr_wf_mcache_put(const char *id, tr_wf_model *m, const tr_wf_model **out);

/* Lets go of a model from get or put (NULL is ignored). */
void tr_wf_mcache_release(const tr_wf_model *m);

/* Models cached now, and how many gets found theirs (for tests). */
void tr_wf_mcache_stats(unsigned *models, unsigned long long *hits);

#endif
