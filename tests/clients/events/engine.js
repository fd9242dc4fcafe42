// engine.js BASE [TOKEN]: the engine's own events (topic `engine`) with the
// real clients from npm, ws and eventsource (pinned by package-lock.json),
// against a troupe daemon. BASE is its HTTP server ("http://127.0.0.1:8080").
//  1. deploys engine.bpmn (external task Pack, user task Confirm, external
//     task Ship) with POST /engine-rest/deployment/create, and runs WARM
//     instances to their end before anyone listens (more than a page of
//     history, and the notifier's ring of the topic starts after them);
//  2. opens many WebSocket and SSE subscribers to the topic, some filtered:
//     by business key, by types (query), by a subscribe message (types and
//     key), and later by pi; the late ones resume from before the warm-up
//     (history pages, then the ring, then live);
//  3. starts INSTANCES instances with business keys and works them off
//     through the Camunda REST API (fetchAndLock and complete, the task
//     list and complete) in three phases: start, Pack, then Confirm and
//     Ship together;
//  4. meanwhile a WebSocket (terminated) and two SSE streams (one cut under
//     the eventsource client, which reconnects by itself with
//     Last-Event-ID, one closed and opened again with the header) drop,
//     miss a phase and come back while events keep coming;
//  5. takes GET /warehouse/events as the truth: each instance has its eight
//     events in the engine's order, and every client got exactly the events
//     its filter takes after its start, each once, ids strictly increasing,
//     nothing missing, across its reconnections.
// Waits are for conditions, under one overall deadline; no timing is
// asserted. Prints "ok" and exits 0, or says what failed and exits 1.
import WebSocket from 'ws';
import { EventSource } from 'eventsource';
import { readFileSync } from 'node:fs';

const BASE = process.argv[2] || 'http://127.0.0.1:8080';
const TOKEN = process.argv[3] || process.env.TROUPE_TOKEN || '';
const N = +(process.env.INSTANCES || 200);
const WARM = +(process.env.WARM || 150); // instances run before anyone listens
const WS_SUBS = +(process.env.WS_SUBS || 30);
const SSE_SUBS = +(process.env.SSE_SUBS || 6);
const PAR = 16; // REST requests in flight at once
const WSBASE = BASE.replace(/^http/, 'ws');
const KEY = 'evship';
const RUN = `ev${Date.now().toString(36)}`; // business keys: RUN-0, RUN-1, ...
const auth = TOKEN ? { Authorization: `Bearer ${TOKEN}` } : {};
const qtok = TOKEN ? `&access_token=${encodeURIComponent(TOKEN)}` : '';
const deadline = Date.now() + +(process.env.DEADLINE_MS || 120000);
// each instance's events, in the engine's order: [type, activity]
const MODEL = [['process.started'], ['job.created', 'Pack'], ['job.completed', 'Pack'],
  ['task.created', 'Confirm'], ['task.completed', 'Confirm'], ['job.created', 'Ship'],
  ['job.completed', 'Ship'], ['process.completed']];

function fail(msg) {
  console.log(`FAIL: ${msg}`);
  process.exit(1);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(what, cond, detail = () => '') {
  while (!cond()) {
    if (Date.now() > deadline) fail(`timed out waiting for ${what} ${detail()}`);
    await sleep(20);
  }
}
const num = (id) => +String(id).split(':').pop();

// ---- REST
async function rest(method, path, body) {
  const init = { method, headers: { ...auth } };
  if (body instanceof FormData) init.body = body;
  else if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers['Content-Type'] = 'application/json';
  }
  let r;
  try {
    r = await fetch(BASE + path, init);
  } catch (e) {
    fail(`${method} ${path}: ${e.cause ? e.cause.message : e.message}`);
  }
  const text = await r.text();
  if (!r.ok) fail(`${method} ${path}: ${r.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

// f(x) for every x, at most PAR at once
async function each(xs, f) {
  let next = 0;
  const lane = async () => { while (next < xs.length) await f(xs[next++]); };
  await Promise.all(Array.from({ length: Math.min(PAR, xs.length) }, lane));
}

// every stored event of the topic after id `after` that the query takes,
// page by page
async function warehouse(after, query = '') {
  const out = [];
  for (;;) {
    const p = await rest('GET', `/warehouse/events?topic=engine&max=1000&after=${after}${query}`);
    for (const e of p.events) {
      if (e.seq <= after) fail(`the warehouse went back: ${e.seq} after ${after}`);
      out.push(e);
      after = e.seq;
    }
    if (!p.more) return out;
    if (!p.events.length) fail('the warehouse said more but gave nothing');
  }
}

// ---- clients: each keeps the events of each of its connections
const clients = [];
class Client {
  constructor(name, filter) {
    this.name = name;
    this.filter = filter; // {types?, bk?, pi?, key?, after?}: what it should get
    this.conns = [];      // per connection: [{id, type, pi, bk, key, act}]
    clients.push(this);
  }
  got(m) {
    if (!this.conns.length) this.conns.push([]);
    this.conns[this.conns.length - 1].push({ id: num(m.id), topic: String(m.id).split(':')[0],
      type: m.type, pi: m.pi, bk: m.bk, key: m.key, act: m.data && m.data.act });
  }
  all() { return this.conns.flat(); }
  count() { return this.conns.reduce((n, c) => n + c.length, 0); }
  last() { const a = this.all(); return a.length ? a[a.length - 1].id : 0; }
  takes(e) { // a stored event: after the client's start (L0 unless said), and its filter's
    const f = this.filter;
    return e.seq > (f.after === undefined ? L0 : f.after) && (!f.types || f.types.includes(e.type)) &&
      (!f.bk || e.bk === f.bk) && (!f.pi || e.pi === f.pi) && (!f.key || e.key === f.key);
  }
}

// A WebSocket subscriber: query (URL) or sub (a subscribe message).
class WsClient extends Client {
  constructor(name, filter, { query = '', sub = null, from = null } = {}) {
    super(name, filter);
    this.query = query; this.sub = sub;
    this.acks = []; this.open(from);
  }
  open(from) { // from: an id to resume after (0 too), or null: from now
    this.conns.push([]);
    const at = from === null ? null : `engine:${from}`;
    let url = `${WSBASE}/events?`;
    if (this.sub) url += qtok.slice(1);
    else url += `topic=engine${this.query}${at ? `&from=${at}` : ''}${qtok}`;
    const ws = this.ws = new WebSocket(url);
    ws.on('open', () => {
      if (this.sub) ws.send(JSON.stringify({ ...this.sub, ...(at ? { from: at } : {}) }));
    });
    ws.on('message', (b) => {
      const m = JSON.parse(b.toString());
      if (m.ack) this.acks.push(m);
      else if (m.error) fail(`${this.name}: error message ${JSON.stringify(m)}`);
      else { this.got(m); if (this.onEvent) this.onEvent(m); }
    });
    ws.on('close', (code, reason) => {
      if (ws === this.ws && !this.leaving) fail(`${this.name}: closed by the server: ${code} ${reason}`);
    });
    ws.on('error', (e) => { if (ws === this.ws && !this.leaving) fail(`${this.name}: ${e.message}`); });
  }
  drop() { this.leaving = true; this.ws.terminate(); } // the TCP connection, abruptly
  reopen(from) { this.leaving = false; this.open(from); }
  close() { this.leaving = true; this.ws.close(); }
}

// An SSE subscriber with the eventsource package; its fetch is wrapped so
// that the test can cut the stream under it (it then reconnects by itself
// with Last-Event-ID) and see which Last-Event-ID each request carried.
class SseClient extends Client {
  constructor(name, filter, query = '', lastId = null) {
    super(name, filter);
    this.query = query; this.opens = 0; this.asked = [];
    this.open(lastId);
  }
  open(lastId) { // lastId: the id to resume after (0 too), or null: from now
    const extra = lastId === null ? {} : { 'Last-Event-ID': `engine:${lastId}` };
    const es = this.es = new EventSource(`${BASE}/events/sse?topic=engine${this.query}${qtok}`, {
      fetch: (input, init) => {
        const mine = new AbortController();
        init.signal.addEventListener('abort', () => mine.abort(init.signal.reason));
        this.cut = () => mine.abort(new Error('cut by the test'));
        const headers = { ...extra, ...init.headers, ...auth }; // its own Last-Event-ID first
        this.asked.push(headers['Last-Event-ID'] || '');
        return fetch(input, { ...init, headers, signal: mine.signal });
      },
    });
    es.onopen = () => { this.opens++; this.conns.push([]); };
    es.onmessage = (e) => {
      const m = JSON.parse(e.data);
      if (e.lastEventId !== m.id) fail(`${this.name}: SSE id ${e.lastEventId} for event ${m.id}`);
      this.got(m);
      if (this.onEvent) this.onEvent(m);
    };
    es.addEventListener('error', (e) => {
      if (e.data) fail(`${this.name}: error event ${e.data}`); // the server's (slow consumer...)
      if (es === this.es && !this.leaving && e.code) fail(`${this.name}: ${e.code} ${e.message}`);
    });
  }
  close() { this.leaving = true; this.es.close(); }
  reopen(lastId) { this.leaving = false; this.open(lastId); }
}

// ---- 1. the model, and the work on it through the Camunda REST API
const xml = readFileSync(new URL('./engine.bpmn', import.meta.url));
const form = new FormData();
form.append('deployment-name', 'engine.js');
form.append('engine.bpmn', new Blob([xml], { type: 'application/octet-stream' }), 'engine.bpmn');
const dep = await rest('POST', '/engine-rest/deployment/create', form);
if (!Object.values(dep.deployedProcessDefinitions || {}).some((d) => d.key === KEY))
  fail(`the deployment has no ${KEY}: ${JSON.stringify(dep)}`);

const bk = (i) => `${RUN}-${i}`;
const pis = [];            // by instance number
const piIndex = new Map(); // pi -> instance number
// starts instances first..first+n-1 (each: started, Pack's job created)
async function start(first, n, onStart = () => {}) {
  await each([...Array(n).keys()].map((k) => first + k), async (i) => {
    const r = await rest('POST', `/engine-rest/process-definition/key/${KEY}/start`,
      { businessKey: bk(i), variables: { n: { value: i, type: 'Integer' } } });
    if (!r || typeof r.id !== 'string' || r.businessKey !== bk(i)) fail(`start ${i}: ${JSON.stringify(r)}`);
    if (piIndex.has(r.id)) fail(`two starts answered the instance id ${r.id}`);
    pis[i] = r.id;
    piIndex.set(r.id, i);
    onStart(i, r.id);
  });
}
// fetchAndLock + complete until `want` jobs of the topic are done
async function jobs(topic, want) {
  let done = 0;
  while (done < want) {
    if (Date.now() > deadline) fail(`timed out: ${done} of ${want} ${topic} jobs done`);
    const got = await rest('POST', '/engine-rest/external-task/fetchAndLock',
      { workerId: 'engine.js', maxTasks: 100, topics: [{ topicName: topic, lockDuration: 120000 }] });
    if (!got.length) { await sleep(20); continue; }
    await each(got, async (t) => {
      if (!piIndex.has(t.processInstanceId)) fail(`${topic}: a job of a stranger ${JSON.stringify(t)}`);
      await rest('POST', `/engine-rest/external-task/${t.id}/complete`, { workerId: 'engine.js' });
    });
    done += got.length;
  }
}
// the user tasks: list and complete until `want` are done
async function userTasks(want) {
  const done = new Set();
  while (done.size < want) {
    if (Date.now() > deadline) fail(`timed out: ${done.size} of ${want} user tasks done`);
    const list = (await rest('GET', `/engine-rest/task?processDefinitionKey=${KEY}&maxResults=1000`))
      .filter((t) => !done.has(t.id));
    if (!list.length) { await sleep(20); continue; }
    await each(list, async (t) => {
      done.add(t.id);
      await rest('POST', `/engine-rest/task/${encodeURIComponent(t.id)}/complete`, {});
    });
  }
}
async function poll(what, f) {
  while (!(await f())) {
    if (Date.now() > deadline) fail(`timed out waiting for ${what}`);
    await sleep(50);
  }
}
const newest = async () => {
  const p = await rest('GET', '/warehouse/events?topic=engine&desc=true&max=1');
  return p.events.length ? p.events[0].seq : 0;
};
const ended = async (after) => (await warehouse(after, `&type=process.completed&key=${KEY}`)).length;

// ---- 2. a warm-up before anyone listens: WARM instances run to their end
// (more than a history page of events), so that the notifier's ring starts
// after them and a client that resumes from before them reads the history
const LW = await newest();
await start(N, WARM);
await jobs('evpack', WARM);
await Promise.all([userTasks(WARM), jobs('evship', WARM)]);
await poll(`the warm-up's ${WARM} process.completed in the warehouse`, async () => (await ended(LW)) >= WARM);
const L0 = await newest(); // the clients opened now start after L0

// ---- 3. subscribers, before the run's instances start
const wsAll = [];
for (let i = 0; i < WS_SUBS; i++) wsAll.push(new WsClient(`ws ${i}`, {}));
const wsBk = new WsClient('ws bk', { bk: bk(7) }, { query: `&bk=${bk(7)}` });
const wsTypes = new WsClient('ws types', { types: ['job.completed', 'process.completed'] },
  { query: '&types=job.completed,process.completed' });
const wsSub = new WsClient('ws subscribe message', { types: ['process.started', 'task.created'], key: KEY },
  { sub: { action: 'subscribe', topic: 'engine', filter: { types: ['process.started', 'task.created'], key: KEY } } });
const wsDrop = new WsClient('ws dropped', {});
const wsFirst = [...wsAll, wsBk, wsTypes, wsSub, wsDrop];
await until('the WebSocket subscriptions\' acks', () => wsFirst.every((c) => c.acks.length === 1),
  () => wsFirst.filter((c) => !c.acks.length).map((c) => c.name).join(', '));
for (const c of wsFirst)
  if (c.acks[0].ack !== 'subscribe' || c.acks[0].from !== `engine:${L0}`)
    fail(`${c.name}: ack ${JSON.stringify(c.acks[0])}, want a subscription from engine:${L0}`);
// the topic is live at the notifier now: an SSE stream that is open has its
// start point (the notifier answers a stream once it has placed it)
const sseAll = [];
for (let i = 0; i < SSE_SUBS; i++) sseAll.push(new SseClient(`sse ${i}`, {}));
const sseBk = new SseClient('sse bk', { bk: bk(11) }, `&bk=${bk(11)}`);
const sseTypes = new SseClient('sse types', { types: ['task.completed', 'job.created'] },
  '&types=task.completed,job.created');
const sseCut = new SseClient('sse cut', {});
const sseAgain = new SseClient('sse reopened', {});
const sseFirst = [...sseAll, sseBk, sseTypes, sseCut, sseAgain];
await until('the SSE streams to open', () => sseFirst.every((c) => c.opens === 1),
  () => sseFirst.filter((c) => !c.opens).map((c) => c.name).join(', '));

// the drops: by how much each has got, so they happen while phase A's
// events come in, whatever the speed
let wsDropped = false, sseCutDone = false, sseClosed = false;
wsDrop.onEvent = () => {
  if (!wsDropped && wsDrop.count() >= Math.ceil(N / 2)) { wsDropped = true; wsDrop.drop(); }
};
sseCut.onEvent = () => {
  if (!sseCutDone && sseCut.count() >= N) { sseCutDone = true; sseCut.cut(); }
};
sseAgain.onEvent = () => {
  if (!sseClosed && sseAgain.count() >= Math.ceil(3 * N / 2)) { sseClosed = true; sseAgain.close(); }
};

// ---- 4. phase A: start the run's instances; one more client, filtered
// by the first instance, resumes from before the warm-up
let wsPi = null;
await start(0, N, (i, pi) => {
  if (i === 0) wsPi = new WsClient('ws pi (from before the warm-up)', { pi, after: LW }, { query: `&pi=${pi}`, from: LW });
});

// ---- phase B: Pack (its job completed, Confirm's task created), while
// the dropped clients are away
await until('the drops (each after so many of phase A\'s events)',
  () => wsDropped && sseCutDone && sseClosed,
  () => `(ws ${wsDrop.count()}, sse cut ${sseCut.count()}, sse reopened ${sseAgain.count()})`);
await jobs('evpack', N);

// ---- phase C: Confirm and Ship, while the dropped ones come back and
// late ones replay from before the warm-up (pages of history, the ring,
// then live)
wsDrop.reopen(wsDrop.last());
sseAgain.reopen(sseAgain.last());
const wsLate = new WsClient('ws late (from before the warm-up)', { after: LW }, { from: LW });
const sseLate = new SseClient('sse late (from the warm-up\'s middle)', { after: LW + 5 * MODEL.length },
  '', LW + 5 * MODEL.length);
await Promise.all([userTasks(N), jobs('evship', N)]);

// ---- 5. the truth: the warehouse, once every instance has completed
await poll(`${N} process.completed events in the warehouse`, async () => (await ended(L0)) >= N);
const truth = await warehouse(LW);
const byId = new Map(truth.map((e) => [e.seq, e]));
const per = new Map(pis.map((p) => [p, []]));
for (const e of truth) {
  if (e.topic !== 'engine' || e.id !== `engine:${e.seq}`) fail(`a stored event's id: ${JSON.stringify(e)}`);
  if (!per.has(e.pi) || e.key !== KEY || e.bk !== bk(piIndex.get(e.pi)))
    fail(`an event that is not of this run's instances: ${JSON.stringify(e)}`);
  per.get(e.pi).push(e);
}
const show = (xs) => xs.map((x) => x.join(' ')).join(', ');
for (const [pi, evs] of per) {
  const got = evs.map((e) => (e.data && e.data.act ? [e.type, e.data.act] : [e.type]));
  if (show(got) !== show(MODEL))
    fail(`instance ${piIndex.get(pi)} (${pi}): the engine emitted [${show(got)}] (ids ${evs.map((e) => e.seq)}), want [${show(MODEL)}]`);
}
if (truth.length !== (N + WARM) * MODEL.length)
  fail(`${truth.length} events stored, want ${(N + WARM) * MODEL.length}`);

// ---- 6. each client: exactly its share of the truth, in order, once
const want = (c) => truth.filter((e) => c.takes(e));
const short = (c) => {
  const have = new Set(c.all().map((e) => e.id)), miss = want(c).filter((e) => !have.has(e.seq));
  return miss.length ? `${c.name}: has ${c.count()} of ${want(c).length}, first missing ` +
    `engine:${miss[0].seq} (${miss[0].type} of ${miss[0].bk}), last has engine:${c.last()}` : '';
};
await until('every client to have all its events', () => clients.every((c) => c.count() >= want(c).length),
  () => clients.map(short).filter((x) => x).join('; '));
for (const c of clients) {
  const got = c.all(), w = want(c);
  c.conns.forEach((conn, k) => conn.forEach((e, j) => {
    if (j && e.id <= conn[j - 1].id)
      fail(`${c.name}, connection ${k + 1}: engine:${e.id} after engine:${conn[j - 1].id}`);
  }));
  got.forEach((e, j) => {
    if (j && e.id <= got[j - 1].id)
      fail(`${c.name}: engine:${e.id} after engine:${got[j - 1].id} across a reconnection (a ${e.id === got[j - 1].id ? 'duplicate' : 'step back'})`);
    const t = byId.get(e.id);
    if (e.topic !== 'engine' || !t) fail(`${c.name}: engine:${e.id} is not in the warehouse`);
    if (e.type !== t.type || e.pi !== t.pi || e.bk !== t.bk || e.key !== t.key || e.act !== (t.data && t.data.act))
      fail(`${c.name}: engine:${e.id} is ${JSON.stringify(e)}, the warehouse has ${JSON.stringify(t)}`);
  });
  for (let j = 0; j < Math.max(got.length, w.length); j++) {
    if (got[j] && w[j] && got[j].id === w[j].seq) continue;
    if (!got[j] || (w[j] && got[j].id > w[j].seq))
      fail(`${c.name}: missing engine:${w[j].seq} (${w[j].type}); it has ${got.length} of ${w.length}`);
    fail(`${c.name}: engine:${got[j].id} (${got[j].type}), which its filter ${JSON.stringify(c.filter)} does not take or it had`);
  }
}
// the drops happened where they should, and came back as they should
const second = (c) => c.conns.length === 2 && c.conns[0].length && c.conns[1].length;
if (!second(wsDrop)) fail(`the dropped WebSocket: connections of ${wsDrop.conns.map((x) => x.length)} events`);
for (const c of [sseCut, sseAgain]) {
  if (!second(c) || c.opens !== 2)
    fail(`${c.name}: ${c.opens} streams, with ${c.conns.map((x) => x.length)} events`);
  const last = c.conns[0][c.conns[0].length - 1].id;
  if (c.asked[1] !== `engine:${last}`) fail(`${c.name}: came back with Last-Event-ID '${c.asked[1]}', want engine:${last}`);
}
for (const c of clients)
  if (c instanceof SseClient && c !== sseCut && c !== sseAgain && c.opens !== 1)
    fail(`${c.name}: ${c.opens} streams: the server ended one`);
const sizes = [wsBk, wsTypes, wsSub, wsPi, sseBk, sseTypes, wsLate, sseLate].map((c) => `${c.name} ${c.count()}`).join(', ');
console.error(`${N} instances, ${truth.length} engine events, each instance's in the engine's order; ` +
  `${clients.length} clients each got exactly its share (${sizes}); ` +
  `resumed: ws after ${wsDrop.conns[0].length}, sse (cut) after ${sseCut.conns[0].length}, ` +
  `sse (reopened) after ${sseAgain.conns[0].length}`);
for (const c of clients) c.close();
console.log('ok');
process.exit(0);
