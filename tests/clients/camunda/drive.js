// drive.js BASE_URL [N]: Camunda's own JavaScript external task client
// (camunda-external-task-client-js) against a Camunda 7 REST API, e.g.
// http://127.0.0.1:8080/engine-rest.
//
// Deploys order.bpmn (multipart, as Camunda Modeler and the REST docs do),
// starts N (default 1000) instances with typed variables and a business
// key, and works every external task with two clients subscribed to every
// topic:
//   reserve  completes with typed variables; every 13th instance's first
//            delivery is left unanswered so that its lock (2 s) expires and
//            it is fetched again (same task id)
//   charge   every 7th fails once (handleFailure with retries and a retry
//            timeout) and is fetched again; every 10th then throws the BPMN
//            error card_declined (the boundary event: refund); the rest
//            complete
//   refund, review  complete
// Every handler outcome is recorded per instance; at the end the REST API
// must show all N finished and none running, every topic completed exactly
// once per instance, and the 10th ones refunded. Prints "ok N" and exits
// 0, or says what is wrong and exits 1. A global deadline bounds the run.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Client, Variables } from "camunda-external-task-client-js";

const BASE = (process.argv[2] || "").replace(/\/$/, "");
const N = Number(process.argv[3] || 1000);
const DEADLINE_MS = Number(process.env.DRIVE_DEADLINE_MS || 240000);
const STALL_MS = Number(process.env.DRIVE_STALL_MS || 60000);
const IN_FLIGHT = 32;
const HERE = dirname(fileURLToPath(import.meta.url));
if (!BASE || !(N > 0)) {
  console.error("usage: node drive.js BASE_URL [N]   e.g. http://127.0.0.1:8080/engine-rest");
  process.exit(2);
}

const t0 = Date.now();
// problems grouped by kind (numbers and ids blanked out), so that a server
// that gets one thing wrong 1,000 times says so once, with examples
const problems = new Map(); // kind -> {count, examples}
let nProblems = 0;
const remarks = new Set(); // documented deviations seen: said, not failed
const problem = (m) => {
  const kind = m.replace(/[0-9a-f]{8,}(-[0-9a-f]{4,})*/g, "#").replace(/\d+/g, "#");
  const p = problems.get(kind) || { count: 0, examples: [] };
  p.count++;
  if (p.examples.length < 3) p.examples.push(m);
  problems.set(kind, p);
  nProblems++;
};
const note = (m) => console.error(`[drive ${((Date.now() - t0) / 1000).toFixed(1)}s] ${m}`);
function finish(ok) {
  for (const r of remarks) console.log(`remark: ${r}`);
  if (ok && nProblems === 0) {
    console.log(`ok ${N}`);
    process.exit(0);
  }
  console.log(`FAIL: ${nProblems} problem(s) of ${problems.size} kind(s)`);
  for (const { count, examples } of problems.values()) {
    console.log(`  ${count} x ${examples[0]}`);
    for (const e of examples.slice(1)) console.log(`        ${e}`);
  }
  process.exit(1);
}
setTimeout(() => {
  problem(`global deadline of ${DEADLINE_MS} ms passed; ${stateSummary()}`);
  finish(false);
}, DEADLINE_MS).unref();

// --- what the model should do with instance n ----------------------------
const totalOf = (n) => (n * 37) % 200 + 1; // 1..200: about half over 100
const declined = (n) => n % 10 === 0;
const failsOnce = (n) => n % 7 === 0;
const expires = (n) => n % 13 === 0;
function expectedTopics(n) {
  const t = ["reserve", "charge"]; // charge: completed, or ended by the BPMN error
  if (declined(n)) t.push("refund");
  else if (totalOf(n) > 100) t.push("review");
  return t;
}

// --- REST helpers ------------------------------------------------------------
async function rest(method, path, body, okStatus = [200]) {
  const init = { method, headers: {} };
  if (body instanceof FormData) init.body = body;
  else if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  const res = await fetch(BASE + path, init);
  const text = await res.text();
  if (!okStatus.includes(res.status))
    throw new Error(`${method} ${path}: HTTP ${res.status} ${text.slice(0, 300)}`);
  return text ? JSON.parse(text) : null;
}

async function deploy() {
  const xml = readFileSync(join(HERE, "order.bpmn"));
  const form = () => {
    const f = new FormData();
    f.append("deployment-name", "troupe-camunda-client-test");
    f.append("enable-duplicate-filtering", "true");
    f.append("deployment-source", "drive.js");
    f.append("order.bpmn", new Blob([xml], { type: "application/octet-stream" }), "order.bpmn");
    return f;
  };
  const d = await rest("POST", "/deployment/create", form());
  if (!d || typeof d.id !== "string") throw new Error(`deployment: no id in ${JSON.stringify(d)}`);
  const defs = Object.values(d.deployedProcessDefinitions || {});
  const def = defs.find((x) => x.key === "order");
  if (!def) throw new Error(`deployment: no process definition with key order in ${JSON.stringify(d)}`);
  // the same resources again with duplicate filtering: the existing deployment
  const again = await rest("POST", "/deployment/create", form());
  const againDefs = Object.values((again && again.deployedProcessDefinitions) || {});
  if (againDefs.length)
    problem(`duplicate filtering: a second identical deployment deployed ${JSON.stringify(againDefs)}`);
  // Camunda returns the existing deployment
  if (!again || again.id !== d.id)
    problem(`duplicate filtering answered deployment ${again && again.id}, not the existing ${d.id}`);
  note(`deployed ${d.id}: definition ${def.id} version ${def.version}`);
  return def;
}

// --- per-instance records ----------------------------------------------------
const byN = new Map(); // n -> {pi, done: {topic: count}, deliveries: {topic: count}, ...}
const piToN = new Map();
function rec(n) {
  let r = byN.get(n);
  if (!r) byN.set(n, (r = { pi: null, done: {}, deliveries: {}, taskIds: {}, failed: 0, bpmnError: 0 }));
  return r;
}
let completions = 0;
const finishedByWorkers = new Set(); // n with every expected outcome recorded
function stateSummary() {
  let missing = 0;
  for (let n = 1; n <= N; n++) {
    const r = byN.get(n);
    for (const t of expectedTopics(n)) if (!r || !r.done[t]) missing++;
  }
  return `${completions} task outcomes recorded, ${missing} expected outcomes missing`;
}

async function startAll() {
  let next = 1;
  async function lane() {
    while (next <= N) {
      const n = next++;
      const body = {
        variables: {
          total: { value: totalOf(n), type: "Integer" },
          n: { value: n, type: "Integer" },
        },
        businessKey: `order-${n}`,
      };
      const pi = await rest("POST", "/process-definition/key/order/start", body);
      if (!pi || typeof pi.id !== "string") {
        problem(`start ${n}: no id in ${JSON.stringify(pi)}`);
        continue;
      }
      if (pi.businessKey !== `order-${n}`) problem(`start ${n}: businessKey ${pi.businessKey}`);
      if (piToN.has(pi.id)) problem(`start ${n}: instance id ${pi.id} given twice`);
      piToN.set(pi.id, n);
      rec(n).pi = pi.id;
    }
  }
  await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
  note(`started ${piToN.size} instances`);
}

// --- workers -----------------------------------------------------------------
// One handler for every topic of both clients; what a task of instance n
// gets depends on n and on what already happened to it (shared state, so
// "first delivery" means first across both workers).
const skipped = new Set(); // n whose reserve was left to expire
const failedOnce = new Set(); // n whose charge failed once

function taskN(task, topic) {
  const v = task.variables;
  const n = v.get("n");
  if (!Number.isInteger(n) || n < 1 || n > N) {
    problem(`${topic} task ${task.id}: variable n is ${JSON.stringify(n)} (${JSON.stringify(v.getAllTyped())})`);
    return null;
  }
  const r = rec(n);
  r.deliveries[topic] = (r.deliveries[topic] || 0) + 1;
  (r.taskIds[topic] ||= new Set()).add(task.id);
  if (r.done[topic]) problem(`${topic} of instance ${n} delivered again after it was done (task ${task.id})`);
  if (task.topicName !== topic) problem(`task ${task.id}: topicName ${task.topicName}, want ${topic}`);
  if (task.businessKey !== `order-${n}`) problem(`${topic} of ${n}: businessKey ${task.businessKey}`);
  if (r.pi && task.processInstanceId !== r.pi)
    problem(`${topic} of ${n}: processInstanceId ${task.processInstanceId}, started as ${r.pi}`);
  // troupe documents processDefinitionKey as null on external tasks (a
  // deviation no client here relies on): counted and said, not failed
  if (task.processDefinitionKey !== "order")
    problem(`fetchAndLock gave processDefinitionKey ${task.processDefinitionKey}, not order`);
  else if (task.processDefinitionKey !== "order")
    problem(`${topic} of ${n}: processDefinitionKey ${task.processDefinitionKey}`);
  const total = v.getTyped("total");
  if (!total || total.type.toLowerCase() !== "integer" || total.value !== totalOf(n))
    problem(`${topic} of ${n}: variable total is ${JSON.stringify(total)}, want Integer ${totalOf(n)}`);
  if (topic !== "reserve") {
    const rv = v.getTyped("reservation");
    if (!rv || rv.type.toLowerCase() !== "string" || rv.value !== `R-${n}`)
      problem(`${topic} of ${n}: variable reservation is ${JSON.stringify(rv)}, want String R-${n}`);
    // written as Long: it must come back a Long
    const q = v.getTyped("reservedQty");
    if (!q || q.type.toLowerCase() !== "long" || q.value !== n * 2)
      problem(`${topic} of ${n}: variable reservedQty is ${JSON.stringify(q)}, want Long ${n * 2}`);
  }
  return n;
}

function done(n, topic, how) {
  const r = rec(n);
  r.done[topic] = (r.done[topic] || 0) + 1;
  if (r.done[topic] > 1) problem(`${topic} of instance ${n} ${how} a second time`);
  completions++;
  if (expectedTopics(n).every((t) => r.done[t])) finishedByWorkers.add(n);
}

async function outcome(n, topic, how, fn) {
  try {
    await fn();
    done(n, topic, how);
  } catch (e) {
    problem(`${topic} of ${n}: ${how} failed: ${e.message}`);
  }
}

const handlers = {
  async reserve({ task, taskService }) {
    const n = taskN(task, "reserve");
    if (n === null) return;
    if (expires(n) && !skipped.has(n)) {
      skipped.add(n); // never answered: the lock must expire, then another fetch gets it
      return;
    }
    if (expires(n) && !rec(n).taskIds.reserve.has(task.id))
      problem(`reserve of ${n}: fetched again with another task id`);
    const vars = new Variables()
      .setTyped("reservation", { type: "String", value: `R-${n}`, valueInfo: {} })
      .setTyped("reservedQty", { type: "Long", value: n * 2, valueInfo: {} });
    await outcome(n, "reserve", "completed", () => taskService.complete(task, vars));
  },
  async charge({ task, taskService }) {
    const n = taskN(task, "charge");
    if (n === null) return;
    if (failsOnce(n) && !failedOnce.has(n)) {
      failedOnce.add(n);
      try {
        await taskService.handleFailure(task, {
          errorMessage: "card terminal offline",
          errorDetails: `instance ${n}: first attempt fails on purpose`,
          retries: 2,
          retryTimeout: 500,
        });
        rec(n).failed++;
      } catch (e) {
        problem(`charge of ${n}: handleFailure failed: ${e.message}`);
      }
      return;
    }
    if (failsOnce(n) && task.retries !== 2)
      problem(`charge of ${n}: fetched after a failure with retries ${task.retries}, want 2`);
    if (declined(n)) {
      const vars = new Variables().set("declineReason", "insufficient funds");
      await outcome(n, "charge", "ended with BPMN error", async () => {
        await taskService.handleBpmnError(task, "card_declined", "card declined", vars);
        rec(n).bpmnError++;
      });
      return;
    }
    await outcome(n, "charge", "completed", () =>
      taskService.complete(task, new Variables().set("charged", true)));
  },
  async refund({ task, taskService }) {
    const n = taskN(task, "refund");
    if (n === null) return;
    if (!declined(n)) problem(`refund of ${n}: only every 10th instance is declined`);
    const reason = task.variables.get("declineReason");
    if (reason !== "insufficient funds") problem(`refund of ${n}: declineReason ${JSON.stringify(reason)}`);
    await outcome(n, "refund", "completed", () => taskService.complete(task));
  },
  async review({ task, taskService }) {
    const n = taskN(task, "review");
    if (n === null) return;
    if (!(totalOf(n) > 100) || declined(n)) problem(`review of ${n}: total ${totalOf(n)} should not be reviewed`);
    if (task.variables.get("charged") !== true) problem(`review of ${n}: charged is not true`);
    await outcome(n, "review", "completed", () => taskService.complete(task));
  },
};

function worker(id) {
  const client = new Client({
    baseUrl: BASE,
    workerId: id,
    asyncResponseTimeout: 5000,
    maxTasks: 20,
    lockDuration: 20000,
    interval: 50,
    autoPoll: false,
  });
  let pollErrors = 0; // said once in a while: a server that is down fails every poll
  client.on("poll:error", (e) => {
    if (pollErrors++ % 100 === 0) note(`${id}: fetchAndLock failed (${pollErrors} so far): ${e.message}`);
  });
  client.on("handler:error", (e) => problem(`${id}: a handler threw: ${e && e.stack}`));
  for (const topic of Object.keys(handlers)) {
    // reserve's lock is short so that the unanswered ones come back soon
    const opts = topic === "reserve" ? { lockDuration: 2000 } : {};
    client.subscribe(topic, opts, handlers[topic]);
  }
  return client;
}

// --- the run -----------------------------------------------------------------
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
  await deploy();
  const clients = [worker("drive-a"), worker("drive-b")];
  clients.forEach((c) => c.start());
  await startAll();

  // until every instance's expected outcomes are recorded; a minute
  // without a single new outcome means the rest will not come (a liveness
  // bound, not a timing assertion: the run is over by then either way)
  let last = -1, lastAt = Date.now();
  while (finishedByWorkers.size < N) {
    await sleep(200);
    if (completions !== last) (last = completions), (lastAt = Date.now());
    else if (Date.now() - lastAt > STALL_MS) {
      problem(`no task outcome for ${STALL_MS / 1000} s; ${stateSummary()}`);
      const c = await rest("GET", "/history/process-instance/count?processDefinitionKey=order&finished=true").catch((e) => ({ count: e.message }));
      const run = await rest("GET", "/process-instance?processDefinitionKey=order").catch(() => null);
      problem(`then: ${c && c.count} finished in the history, ${Array.isArray(run) ? run.length : "?"} running`);
      finish(false);
    }
  }
  note(`workers recorded all ${completions} outcomes`);

  // the engine's view: every instance finished, none running
  let count = -1;
  for (;;) {
    const c = await rest("GET", "/history/process-instance/count?processDefinitionKey=order&finished=true");
    count = c && c.count;
    if (count === N) break;
    if (count > N) {
      problem(`history counts ${count} finished instances, started ${N}`);
      break;
    }
    await sleep(200);
  }
  clients.forEach((c) => c.stop());
  const hist = await rest("GET", "/history/process-instance?processDefinitionKey=order&finished=true&maxResults=2000");
  if (!Array.isArray(hist)) problem(`history list is not an array: ${JSON.stringify(hist).slice(0, 200)}`);
  else {
    if (hist.length !== N) problem(`history lists ${hist.length} finished instances, want ${N}`);
    const seen = new Set();
    for (const h of hist) {
      const n = piToN.get(h.id);
      if (n === undefined) problem(`history lists unknown instance ${h.id}`);
      else if (seen.has(n)) problem(`history lists instance ${n} twice`);
      else seen.add(n);
      if (n !== undefined && h.businessKey !== `order-${n}`) problem(`history: ${h.id} businessKey ${h.businessKey}`);
      if (h.state !== undefined && h.state !== "COMPLETED") problem(`history: instance ${n} state ${h.state}`);
      if (h.processDefinitionKey !== undefined && h.processDefinitionKey !== "order")
        problem(`history: instance ${n} processDefinitionKey ${h.processDefinitionKey}`);
    }
  }
  const running = await rest("GET", "/process-instance?processDefinitionKey=order");
  if (!Array.isArray(running) || running.length !== 0)
    problem(`instances still running: ${JSON.stringify(running).slice(0, 300)}`);

  // every instance: its topics exactly once, none other; the paths taken
  let refunded = 0, expired = 0, retried = 0;
  for (let n = 1; n <= N; n++) {
    const r = byN.get(n);
    if (!r || !r.pi) {
      problem(`instance ${n} was not started`);
      continue;
    }
    const want = expectedTopics(n);
    for (const t of want) if (r.done[t] !== 1) problem(`instance ${n}: ${t} done ${r.done[t] || 0} times, want 1`);
    for (const t of Object.keys(r.deliveries))
      if (!want.includes(t)) problem(`instance ${n}: unexpected ${t} task`);
    if (declined(n)) {
      if (r.bpmnError !== 1) problem(`instance ${n}: ${r.bpmnError} BPMN errors, want 1`);
      if (r.done.refund === 1) refunded++;
    }
    if (expires(n)) {
      if ((r.deliveries.reserve || 0) < 2) problem(`instance ${n}: reserve delivered ${r.deliveries.reserve} times; its lock should have expired and it fetched again`);
      else expired++;
    }
    if (failsOnce(n)) {
      if (r.failed !== 1 || (r.deliveries.charge || 0) < 2)
        problem(`instance ${n}: charge failed ${r.failed} times, delivered ${r.deliveries.charge}: want a failure and a retry`);
      else retried++;
    }
  }
  note(`${refunded} refunded, ${expired} locks expired and fetched again, ${retried} failed and retried`);
  finish(true);
}

main().catch((e) => {
  problem(`aborted: ${e && e.stack}`);
  finish(false);
});
