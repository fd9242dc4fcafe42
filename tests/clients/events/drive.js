// drive.js BASE [TOKEN]: the notifier with real clients from npm, ws and
// eventsource (versions pinned by package-lock.json). BASE is the HTTP
// server ("http://127.0.0.1:8080"); events are published with POST
// BASE/events, one JSON event each ({topic, type, bk, attrs, data}).
//  1. many subscribers at once: SUBS WebSocket clients and an SSE client
//     get every event of a fresh topic, in order, each exactly once;
//  2. filters: types (query), bk (a subscribe message, after a bad one
//     that gets an error);
//  3. reconnect and resume: a WebSocket client (from=) and an SSE client
//     (Last-Event-ID) leave in the middle and come back while events keep
//     coming: no gap, no duplicate;
//  4. a slow consumer (its socket paused) is cut off; a client beside it
//     gets every event.
// Prints "ok" and exits 0, or says what failed and exits 1.
import WebSocket from 'ws';
import { EventSource } from 'eventsource';

const BASE = process.argv[2] || 'http://127.0.0.1:8080';
const TOKEN = process.argv[3] || process.env.TROUPE_TOKEN || '';
const SUBS = +(process.env.SUBS || 200);
const M = +(process.env.EVENTS || 300);
const BIG = +(process.env.BIG_EVENTS || 250);
const WSBASE = BASE.replace(/^http/, 'ws');
const topic = `nodetest${Date.now()}`;
const auth = TOKEN ? { Authorization: `Bearer ${TOKEN}` } : {};
const qtok = TOKEN ? `&access_token=${encodeURIComponent(TOKEN)}` : '';
const deadline = Date.now() + 240000;

function fail(msg) {
  console.log(`FAIL: ${msg}`);
  process.exit(1);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(what, cond) {
  while (!cond()) {
    if (Date.now() > deadline) fail(`timed out waiting for ${what}`);
    await sleep(20);
  }
}
const num = (id) => +String(id).split(':').pop();

async function publish(t, i, pad = '') {
  const ev = { topic: t, type: i % 2 ? 'odd' : 'even', bk: `b${i % 5}`,
               attrs: { user: i % 3 ? 'ann' : 'bob' }, data: { n: i, pad } };
  const r = await fetch(`${BASE}/events`, { method: 'POST', body: JSON.stringify(ev),
                                            headers: { 'Content-Type': 'application/json', ...auth } });
  if (!r.ok) fail(`POST /events: ${r.status} ${await r.text()}`);
}

// A WebSocket subscriber: events (numbers) and the other messages it got.
class Sub {
  constructor(query, opts = {}) {
    this.ids = []; this.msgs = []; this.acks = 0; this.closed = null;
    this.ws = new WebSocket(`${WSBASE}/events?${query}${qtok}`, opts);
    this.ws.on('message', (b) => {
      const m = JSON.parse(b.toString());
      if (m.ack) this.acks++;
      else if (m.error) this.msgs.push(m);
      else { this.ids.push(num(m.id)); if (this.onEvent) this.onEvent(m); }
    });
    this.ws.on('close', (code, reason) => { this.closed = { code, reason: reason.toString() }; });
    this.ws.on('error', () => {});
  }
  send(o) { this.ws.send(typeof o === 'string' ? o : JSON.stringify(o)); }
}

// Each id once, in order, from 1 (the topic is fresh) up to n.
function exact(ids, n, who) {
  if (ids.length !== n) fail(`${who}: ${ids.length} events, want ${n}`);
  ids.forEach((id, k) => { if (id !== k + 1) fail(`${who}: event ${k} is ${id}, want ${k + 1}`); });
}

function sse(lastId, onEvent) {
  const headers = { ...auth };
  if (lastId) headers['Last-Event-ID'] = `${topic}:${lastId}`;
  const es = new EventSource(`${BASE}/events/sse?topic=${topic}`, {
    fetch: (input, init) => fetch(input, { ...init, headers: { ...init.headers, ...headers } }),
  });
  es.onmessage = (e) => onEvent(JSON.parse(e.data), e.lastEventId);
  es.onerror = () => {};
  return es;
}

// ---- 1-3: many subscribers, filters, resume
const subs = [];
for (let i = 0; i < SUBS; i++) subs.push(new Sub(`topic=${topic}`));
const odd = new Sub(`topic=${topic}&types=odd`);
const bySub = new Sub('');
await until('the WebSocket subscriptions', () => subs.every((s) => s.acks) && odd.acks &&
            bySub.ws.readyState === WebSocket.OPEN);
bySub.send({ action: 'subscribe', topic, filter: { colour: 'red' } });
await until('an error for a bad subscribe message', () => bySub.msgs.length === 1);
if (!/unknown filter field/.test(bySub.msgs[0].error)) fail(`error: ${bySub.msgs[0].error}`);
bySub.send('not json');
await until('an error for a message that is not JSON', () => bySub.msgs.length === 2);
bySub.send({ action: 'subscribe', topic, filter: { bk: 'b1' } });
await until('the subscribe message\'s ack', () => bySub.acks === 1);

const sseIds = [];
let es = sse(0, (ev) => sseIds.push(num(ev.id)));
await sleep(300); // the stream open (the SSE subscription is made on the request)

// the resuming WebSocket: leaves after 1/5 of the events, back later
const resIds = [];
let res = new Sub(`topic=${topic}`);
res.onEvent = (m) => resIds.push(num(m.id));
await until('the resuming client', () => res.acks);
let resLeft = false, sseLeft = false;
const pub = (async () => {
  for (let i = 1; i <= M; i++) {
    await publish(topic, i);
    if (!resLeft && resIds.length >= M / 5) {
      resLeft = true;
      res.ws.close();
      setTimeout(() => {
        res = new Sub(`topic=${topic}&from=${topic}:${resIds[resIds.length - 1]}`);
        res.onEvent = (m) => resIds.push(num(m.id));
      }, 300);
    }
    if (!sseLeft && sseIds.length >= M / 3) {
      sseLeft = true;
      es.close();
      const last = sseIds[sseIds.length - 1];
      setTimeout(() => { es = sse(last, (ev) => sseIds.push(num(ev.id))); }, 300);
    }
  }
})();
await pub;
await until('every subscriber to have every event', () =>
  subs.every((s) => s.ids.length >= M) && resIds.length >= M && sseIds.length >= M &&
  odd.ids.length >= M / 2 && bySub.ids.length >= M / 5);
subs.forEach((s, i) => exact(s.ids, M, `subscriber ${i}`));
exact(resIds, M, 'the resumed WebSocket');
exact(sseIds, M, 'the resumed SSE client');
odd.ids.forEach((id) => { if (id % 2 !== 1) fail(`types=odd got ${id}`); });
if (odd.ids.length !== Math.ceil(M / 2)) fail(`types=odd: ${odd.ids.length} events`);
bySub.ids.forEach((id) => { if (id % 5 !== 1) fail(`bk=b1 got ${id}`); });
console.error(`${SUBS} WebSocket subscribers and the filtered, resumed and SSE clients: ${M} events each, in order`);
subs.forEach((s) => s.ws.close());
[odd, bySub, res].forEach((s) => s.ws.close());
es.close();

// ---- 4: the slow consumer
const t2 = `${topic}slow`;
const slow = new Sub(`topic=${t2}`);
const fast = new Sub(`topic=${t2}`);
await until('the slow and the fast subscriber', () => slow.acks && fast.acks);
slow.ws._socket.pause(); // reads nothing from here: its buffer fills
const pad = 'x'.repeat(64 * 1024);
// in step with the fast subscriber: however starved this process is, it
// is never more than one event behind, so only the paused one can be cut
for (let i = 1; i <= BIG; i++) {
  await publish(t2, i, pad);
  await until(`the fast subscriber to have big event ${i}`, () => fast.ids.length >= i || fast.closed);
  if (fast.closed) fail(`the fast subscriber was cut at ${i}: ${fast.closed.code} ${fast.closed.reason}`);
}
exact(fast.ids, BIG, 'the fast subscriber beside the slow one');
slow.ws._socket.resume();
await until('the slow subscriber to be cut off', () => slow.closed);
if (slow.ids.length >= BIG) fail('the slow subscriber got everything: it was not cut');
console.error(`slow consumer cut after ${slow.ids.length} of ${BIG} events: close ${slow.closed.code} ${slow.closed.reason}`);
fast.ws.close();
console.log('ok');
process.exit(0);
