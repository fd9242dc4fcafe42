/* camunda.h - the Camunda 7 REST API under /engine-rest, on the node's HTTP
 * server (actors/http) and the workflow engine (actors/workflow,
 * actors/jobs): what existing Camunda clients and external-task workers
 * talk to. docs/http-api.md lists the endpoints and how they differ from
 * Camunda's.
 *
 * Every request becomes a short-lived actor of its own: it reads the
 * request, asks the engine's actors (definitions, instances, job queues,
 * indexes) and answers, so a slow request (a long-polling fetchAndLock, a
 * query over every process key) never holds up another. Nothing here
 * blocks a scheduler thread; a deployment, which parses the model, runs on
 * the blocking pool.
 */
#ifndef TR_CAMUNDA_H
#define TR_CAMUNDA_H

#include "actors/http/http.h"
#include "troupe/troupe.h"

#define TR_CAMUNDA_PREFIX "/engine-rest"

/* Spawns the API's router actor on sys and routes TR_CAMUNDA_PREFIX of srv
 * to it; call before tr_http_start. The engine's kinds must be registered
 * on sys (or reachable in its cluster). */
int tr_camunda_start(tr_system *sys, tr_http_server *srv);

#endif
