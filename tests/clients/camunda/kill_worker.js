// kill_worker.js: the client side of tests/integration/camunda_kill.sh,
// where the engine is killed with SIGKILL and restarted while this works.
//
//   node kill_worker.js start BASE_URL N
//     deploys work.bpmn (process kill_work: start -> external task "work"
//     -> end) and starts N instances (business key job-<n>, Integer n);
//     exits 0 once every start was answered 200.
//
//   node kill_worker.js work BASE_URL N LOG GO [HOLD]
//     two camunda-external-task-client-js clients complete "work" tasks,
//     appending one line per attempt to LOG: "fetch n task worker" when a
//     task is delivered, "204 n task worker" when a completion was
//     accepted, "<status> n task worker" when refused, "neterr n task
//     worker" when the outcome is unknown (the connection broke). After
//     HOLD (default 300) accepted completions, handlers wait for the file GO
//     before completing (the test kills the engine meanwhile, restarts it
//     and creates GO). The clients keep polling through the outage. Once
//     the history counts N finished instances it stops and checks:
//       - N finished in the history, each business key once; none running;
//       - per instance exactly one accepted completion (204), or none and
//         an attempt whose outcome is unknown, the task being gone (404)
//         when completed once more: no job done twice, no job lost;
//       - a second completion of a completed task is answered 404.
//     Prints "ok N ..." and exits 0, or what is wrong and exits 1.
import { appendFileSync, existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "camunda-external-task-client-js";

const [mode, baseArg, nArg, LOG, GO, holdArg] = process.argv.slice(2);
const BASE = (baseArg || "").replace(/\/$/, "");
const N = Number(nArg);
const HOLD = Number(holdArg || 300);
const DEADLINE_MS = Number(process.env.KILL_DEADLINE_MS || 300000);
const KEY = "kill_work";
const HERE = dirname(fileURLToPath(import.meta.url));
if (!["start", "work"].includes(mode) || !BASE || !(N > 0) || (mode === "work" && (!LOG || !GO))) {
  console.error("usage: node kill_worker.js start BASE_URL N | work BASE_URL N LOG GO [HOLD]");
  process.exit(2);
}
const t0 = Date.now();
const note = (m) => console.error(`[kill_worker ${((Date.now() - t0) / 1000).toFixed(1)}s] ${m}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let lastHistory = "no answer yet"; // what the history said last, for the deadline's message
setTimeout(() => {
  console.log(`FAIL: deadline of ${DEADLINE_MS} ms passed in ${mode}; the history's last answer: ${lastHistory}`);
  process.exit(1);
}, DEADLINE_MS).unref();

async function rest(method, path, body) {
  const init = { method, headers: {} };
  if (body instanceof FormData) init.body = body;
  else if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  const res = await fetch(BASE + path, init);
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = text;
  }
  return { status: res.status, json };
}
async function restOk(method, path, body) {
  const r = await rest(method, path, body);
  if (r.status !== 200) throw new Error(`${method} ${path}: HTTP ${r.status} ${JSON.stringify(r.json).slice(0, 300)}`);
  return r.json;
}

async function start() {
  const f = new FormData();
  f.append("deployment-name", "troupe-camunda-kill-test");
  f.append("enable-duplicate-filtering", "true");
  f.append("work.bpmn", new Blob([readFileSync(join(HERE, "work.bpmn"))]), "work.bpmn");
  const d = await restOk("POST", "/deployment/create", f);
  if (!Object.values(d.deployedProcessDefinitions || {}).some((x) => x.key === KEY))
    throw new Error(`deployment: no definition ${KEY} in ${JSON.stringify(d)}`);
  let next = 1;
  const ids = new Set();
  async function lane() {
    while (next <= N) {
      const n = next++;
      const pi = await restOk("POST", `/process-definition/key/${KEY}/start`, {
        variables: { n: { value: n, type: "Integer" } },
        businessKey: `job-${n}`,
      });
      if (!pi || typeof pi.id !== "string" || ids.has(pi.id)) throw new Error(`start ${n}: ${JSON.stringify(pi)}`);
      ids.add(pi.id);
    }
  }
  await Promise.all(Array.from({ length: 32 }, lane));
  console.log(`started ${ids.size}`);
}

async function work() {
  let accepted = 0;
  const record = (line) => appendFileSync(LOG, line + "\n"); // sync: the log is the evidence
  const handler = (workerId) => async ({ task, taskService }) => {
    const n = task.variables.get("n");
    record(`fetch ${n} ${task.id} ${workerId}`);
    if (accepted >= HOLD) while (!existsSync(GO)) await sleep(50);
    try {
      await taskService.complete(task);
      accepted++;
      record(`204 ${n} ${task.id} ${workerId}`);
    } catch (e) {
      // an answer from the server (EngineError: httpStatusCode) or none
      record(e.httpStatusCode ? `${e.httpStatusCode} ${n} ${task.id} ${workerId}` : `neterr ${n} ${task.id} ${workerId} ${e.code || e.message}`);
    }
  };
  const clients = ["kw-a", "kw-b"].map((id) => {
    const c = new Client({
      baseUrl: BASE,
      workerId: id,
      asyncResponseTimeout: 5000,
      maxTasks: 10,
      maxParallelExecutions: 10, // holding at most 10 each while the engine is down
      lockDuration: 5000,
      interval: 50,
      autoPoll: false,
    });
    let errors = 0;
    c.on("poll:error", (e) => {
      if (errors++ % 100 === 0) note(`${id}: fetchAndLock failed (${errors} so far): ${e.message}`);
    });
    c.subscribe("work", handler(id));
    return c;
  });
  clients.forEach((c) => c.start());

  // until the engine says all N are finished
  for (;;) {
    await sleep(500);
    try {
      const r = await rest("GET", `/history/process-instance/count?processDefinitionKey=${KEY}&finished=true`);
      lastHistory = `HTTP ${r.status} ${JSON.stringify(r.json).slice(0, 200)}`;
      if (r.status === 200 && r.json.count >= N) break;
    } catch (e) {
      lastHistory = e.message; // the engine is down (killed on purpose): keep waiting
    }
  }
  clients.forEach((c) => c.stop());
  for (let i = 0; i < 200 && clients.some((c) => c.activeTasksCount > 0); i++) await sleep(50);
  note("history counts every instance finished; checking");
  await verify();
}

async function verify() {
  const problems = [];
  const lines = readFileSync(LOG, "utf8").split("\n").filter(Boolean).map((l) => l.split(" "));
  const per = new Map(); // n -> {ok: [task ids], unknown: [task ids], refused: [status], fetched}
  const get = (n) => {
    if (!per.has(n)) per.set(n, { ok: [], unknown: [], refused: [], fetched: 0, worker: {} });
    return per.get(n);
  };
  for (const [what, n, task, worker] of lines) {
    const r = get(Number(n));
    if (what === "fetch") r.fetched++;
    else if (what === "204") r.ok.push(task), (r.worker[task] = worker);
    else if (what === "neterr" || what === "500" || what === "502" || what === "503" || what === "504") r.unknown.push(task);
    else r.refused.push(what);
  }
  const count = await restOk("GET", `/history/process-instance/count?processDefinitionKey=${KEY}&finished=true`);
  if (count.count !== N) problems.push(`history counts ${count.count} finished instances, want ${N}`);
  const hist = await restOk("GET", `/history/process-instance?processDefinitionKey=${KEY}&finished=true&maxResults=${2 * N}`);
  const keys = new Set();
  for (const h of hist) {
    if (keys.has(h.businessKey)) problems.push(`history lists ${h.businessKey} twice`);
    keys.add(h.businessKey);
  }
  for (let n = 1; n <= N; n++) if (!keys.has(`job-${n}`)) problems.push(`job-${n} is not finished in the history (lost)`);
  const running = await restOk("GET", `/process-instance?processDefinitionKey=${KEY}`);
  if (!Array.isArray(running) || running.length) problems.push(`still running: ${JSON.stringify(running).slice(0, 300)}`);

  let ambiguous = 0;
  const tryAgain = async (task, worker) => {
    const r = await rest("POST", `/external-task/${task}/complete`, { workerId: worker });
    return r.status;
  };
  for (let n = 1; n <= N; n++) {
    const r = get(n);
    if (r.fetched === 0) problems.push(`job ${n} was never delivered to a worker`);
    if (r.ok.length > 1) problems.push(`job ${n} completed ${r.ok.length} times (tasks ${r.ok.join(", ")})`);
    if (r.ok.length === 0) {
      if (!r.unknown.length) problems.push(`job ${n}: no completion accepted and none whose outcome is unknown`);
      else {
        // the answer was lost with the engine: the completion must have happened
        ambiguous++;
        for (const task of r.unknown) {
          const s = await tryAgain(task, "kw-check");
          if (s !== 404) problems.push(`job ${n}: completing task ${task} again gave ${s}, want 404 (it finished)`);
        }
      }
    }
  }
  // a second completion of a completed task: 404 (sampled: every 20th)
  for (let n = 1; n <= N; n += 20) {
    const r = get(n);
    if (r.ok.length !== 1) continue;
    const s = await tryAgain(r.ok[0], r.worker[r.ok[0]]);
    if (s !== 404) problems.push(`job ${n}: a second completion of task ${r.ok[0]} gave ${s}, want 404`);
  }
  const refused = [...per.values()].reduce((a, r) => a + r.refused.length, 0);
  if (problems.length) {
    console.log(`FAIL: ${problems.length} problem(s)`);
    for (const p of problems.slice(0, 50)) console.log(`  ${p}`);
    process.exit(1);
  }
  console.log(`ok ${N}: each completed once; ${ambiguous} whose answer was lost in the kill, ${refused} completions refused (lock lost)`);
  process.exit(0);
}

(mode === "start" ? start() : work()).then(
  () => process.exit(0),
  (e) => {
    console.log(`FAIL: ${e && e.stack}`);
    process.exit(1);
  },
);
