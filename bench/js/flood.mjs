// @directus/sdk realtime (the official JS SDK) against the flood server:
//   node flood.mjs iterator|callback|bare WS_URL EVENTS   (DCHAT_SDK_DIR: where @directus/sdk is)
// Handshake auth with a static token, the chat subscription, then either its async
// iterator as the SDK documents it (`iterator`), or the SDK's lower-level
// `onWebSocket('message', cb)` hook, which sees every parsed frame (`callback`).
// `bare` is no SDK at all: Node's own WebSocket and JSON.parse, for reference.
// Stops at EVENTS delivered or after 2 s without an event, and prints one JSON line.
// The iterator drops events that arrive between two pulls, so "delivered" is what a
// user of it actually sees.
import { pathToFileURL } from 'node:url';
import path from 'node:path';

const [mode, url, eventsArg] = process.argv.slice(2);
const sent = Number(eventsArg);
const sdkDir = process.env.DCHAT_SDK_DIR;
const sdk = await import(pathToFileURL(path.join(sdkDir, 'node_modules/@directus/sdk/dist/index.js')).href);
const { createDirectus, realtime, staticToken } = sdk;

const IDLE_MS = 2000;
const httpBase = url.replace(/^ws/, 'http').replace(/\/websocket$/, '');
const QUERY = { fields: ['*', 'user_created.first_name'], sort: '-date_created', limit: 100 };
let client, subscription, bare;
let hook = (msg) => { early.push(msg); };
const early = [];
if (mode === 'bare') {
  bare = new WebSocket(url);
  await new Promise((resolve, reject) => { bare.onopen = resolve; bare.onerror = reject; });
  bare.send(JSON.stringify({ type: 'auth', access_token: 'bench-token' }));
  bare.send(JSON.stringify({ type: 'subscribe', collection: 'messages', query: QUERY, uid: 'chat' }));
} else {
  client = createDirectus(httpBase).with(staticToken('bench-token')).with(realtime({ url, authMode: 'handshake' }));
  await client.connect();
  // The hook is in place before the subscribe goes out, so it can see the init.
  if (mode === 'callback') client.onWebSocket('message', (msg) => hook(msg));
  ({ subscription } = await client.subscribe('messages', { query: QUERY }));
}

let start = 0, last = 0, cpuStart = null, delivered = 0, textBytes = 0;
const onMessage = (msg) => {
  if (msg.type !== 'subscription') return false;
  if (msg.event === 'init') {
    start = last = performance.now();
    cpuStart = process.cpuUsage();
  } else if (msg.event === 'create' && cpuStart) {
    for (const item of msg.data) textBytes += item.text.length;
    delivered += msg.data.length;
    last = performance.now();
    if (delivered >= sent) return true;
  }
  return false;
};
if (mode === 'bare') {
  await new Promise((resolve) => {
    const timer = setInterval(() => { if (cpuStart && performance.now() - last > IDLE_MS) resolve(); }, 50);
    bare.onmessage = (e) => { if (onMessage(JSON.parse(e.data))) { clearInterval(timer); resolve(); } };
  });
} else if (mode === 'callback') {
  await new Promise((resolve) => {
    const timer = setInterval(() => { if (cpuStart && performance.now() - last > IDLE_MS) resolve(); }, 50);
    hook = (msg) => { if (onMessage(msg)) { clearInterval(timer); resolve(); } };
    for (const msg of early.splice(0)) hook(msg);
  });
} else {
  const it = subscription[Symbol.asyncIterator]();
  for (;;) {
    let timer;
    const idle = new Promise((resolve) => { timer = setTimeout(() => resolve({ idle: true }), IDLE_MS); });
    const r = await Promise.race([it.next(), idle]);
    clearTimeout(timer);
    if (r.idle || r.done) break;
    if (onMessage(r.value)) break;
  }
}
if (!cpuStart) { console.error('no init arrived'); process.exit(1); }
const cpu = process.cpuUsage(cpuStart);
const secs = Math.max((last - start) / 1000, 1e-9);
console.log(JSON.stringify({
  client: mode === 'bare' ? `Node ${process.versions.node} WebSocket + JSON.parse (no SDK)` : `@directus/sdk ${mode === 'callback' ? 'onWebSocket callback' : 'iterator'}, Node ${process.versions.node}`,
  sent, delivered, seconds: secs, events_per_s: delivered / secs,
  cpu_s: (cpu.user + cpu.system) / 1e6, max_rss_kib: process.resourceUsage().maxRSS, text_bytes: textBytes,
}));
process.exit(0);
