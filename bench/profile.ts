import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freePort } from '../scripts/ports.js';
import { databaseCpuMs, statCpuMs } from './cpu.js';
import { closedLoop, type LoadRequest } from './load.js';

/**
 * `npm run bench:profile`: where a create's CPU goes. Starts the built service (or another build,
 * e.g. an older checkout's `dist/src/main.js`) under `--cpu-prof` on a fresh database of the server
 * PostgreSQL (BENCH_SERVER_URL), drives `POST /v1/orders` at 16 connections for
 * BENCH_PROFILE_SECONDS (a paused subscription, so every order fans out one held delivery), and
 * prints the profile's self time by package and its top functions. The .cpuprofile file stays in
 * BENCH_PROFILE_DIR for Chrome DevTools or speedscope.
 *
 * With BENCH_PROFILE_DRAIN=N it then also drains as a black box, through the API only (so any
 * build answers it, for a before/after on one machine): N orders made while a second subscription
 * is paused, then resumed; the time to the receiver's N-th distinct delivery.
 *
 *   node dist/bench/profile.js [path/to/dist/src/main.js]
 *   node dist/bench/profile.js some.cpuprofile      (summarize a profile taken otherwise)
 */
const main = path.resolve(process.argv[2] ?? 'dist/src/main.js');
const seconds = Number(process.env.BENCH_PROFILE_SECONDS ?? 10);
const drainCount = Number(process.env.BENCH_PROFILE_DRAIN ?? 0);
const serverUrl = process.env.BENCH_SERVER_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const profileDir = path.resolve(
  process.env.BENCH_PROFILE_DIR ?? fs.mkdtempSync(path.join(os.tmpdir(), 'waybill-profile-')),
);
const ADMIN_TOKEN = 'bench-admin-token-0123456789';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

function owner(url: string): string {
  if (!url) return '(native / runtime)';
  if (url.startsWith('node:')) return 'node core';
  const modules = url.lastIndexOf('/node_modules/');
  if (modules >= 0) {
    const rest = url.slice(modules + '/node_modules/'.length).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  const src = url.indexOf('/dist/src/');
  if (src >= 0) return `waybill ${url.slice(src + '/dist/src/'.length).split('/')[0]}/`;
  return url;
}

/** V8 stamps samples with the monotonic clock in µs, as process.hrtime does in every process. */
const monotonicUs = () => Number(process.hrtime.bigint() / 1000n);

/** Self time by owner and the heaviest functions, from a V8 .cpuprofile, within [fromUs, toUs]. */
function summarize(file: string, fromUs: number, toUs: number): string {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as {
    nodes: ProfileNode[];
    samples: number[];
    timeDeltas: number[];
    startTime: number;
  };
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  let at = profile.startTime;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    at += delta;
    if (at >= fromUs && at <= toUs) selfUs.set(id, (selfUs.get(id) ?? 0) + delta);
  });
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const child of n.children ?? []) parent.set(child, n.id);
  /** Time with at least one frame of the owner on the stack (a package's calls into others included). */
  const inclusive = new Map<string, number>();
  let total = 0;
  let idle = 0;
  const byOwner = new Map<string, number>();
  const byFunction = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)!.callFrame;
    if (frame.functionName === '(idle)') {
      idle += us;
      continue;
    }
    total += us;
    const owners = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const url = byId.get(at)!.callFrame.url;
      if (url) owners.add(owner(url));
    }
    for (const o of owners) inclusive.set(o, (inclusive.get(o) ?? 0) + us);
    const who = ['(garbage collector)', '(program)'].includes(frame.functionName)
      ? frame.functionName
      : owner(frame.url);
    byOwner.set(who, (byOwner.get(who) ?? 0) + us);
    const fn = `${frame.functionName || '(anonymous)'} ${owner(frame.url)}:${frame.lineNumber + 1}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + us);
  }
  const pct = (us: number) => `${((us / total) * 100).toFixed(1)} %`;
  const top = (map: Map<string, number>, n: number) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, us]) => `  ${pct(us).padStart(7)}  ${name}`);
  return [
    `busy ${(total / 1e6).toFixed(1)} s, idle ${(idle / 1e6).toFixed(1)} s`,
    'self time by package:',
    ...top(byOwner, 15),
    'inclusive time by package (its frame anywhere on the stack):',
    ...top(inclusive, 15),
    'top functions (self):',
    ...top(byFunction, 20),
  ].join('\n');
}

/** One call of the service's API; answers its JSON body (null when it has none). */
async function send(origin: string, request: LoadRequest): Promise<any> {
  const { path: route, ...init } = request;
  const response = await fetch(`${origin}${route}`, init);
  if (!response.ok) throw new Error(`${route}: ${response.status} ${await response.text()}`);
  return response.status === 204 ? null : response.json();
}

const call = (key: string, method: LoadRequest['method'], route: string, body: unknown): LoadRequest => ({
  path: route,
  method,
  headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

/** Where the CPU is read: the service process, and the database but for the script's own backend. */
interface Meter {
  service: number;
  postmaster: number | undefined;
  own: number;
}

/** CPU (ms) of the service and of the database from now until the returned function is called, per unit. */
function cpuFrom(meter: Meter): (units: number) => string {
  const [service0, database0] = [statCpuMs(meter.service)?.ms ?? NaN, databaseCpuMs(meter.postmaster, [meter.own])];
  return (units) => {
    const service = ((statCpuMs(meter.service)?.ms ?? NaN) - service0) / units;
    const database = (databaseCpuMs(meter.postmaster, [meter.own]) - database0) / units;
    return `CPU per unit: service ${service.toFixed(3)} ms, database ${database.toFixed(3)} ms`;
  };
}

/** The black-box drain: `drainCount` orders made while a subscription is paused, then resumed. */
async function drain(
  origin: string,
  apiKey: string,
  order: (n: number) => LoadRequest,
  meter: Meter,
): Promise<{ from: number; to: number }> {
  const seen = new Set<string>();
  let drained: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (drained = resolve));
  const receiver = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      seen.add(String(req.headers['webhook-id']));
      res.writeHead(204).end();
      if (seen.size === drainCount) drained();
    });
  });
  const port = await freePort();
  await new Promise<void>((resolve) => receiver.listen(port, '127.0.0.1', resolve));
  try {
    const hook = await send(
      origin,
      call(apiKey, 'POST', '/v1/webhooks', {
        name: 'drain',
        url: `http://127.0.0.1:${port}/drain`,
        eventTypes: ['order.created'],
        paused: true,
      }),
    );
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < drainCount) await send(origin, order(1_000_000 + next++));
      }),
    );
    const cpu = cpuFrom(meter);
    const t0 = monotonicUs();
    await send(origin, call(apiKey, 'PATCH', `/v1/webhooks/${hook.id}`, { paused: false }));
    await done;
    const t1 = monotonicUs();
    const ms = (t1 - t0) / 1000;
    console.log(
      `${main}: drained ${drainCount} deliveries in ${(ms / 1000).toFixed(2)} s, ${Math.round((drainCount / ms) * 1000)}/s; ${cpu(drainCount)}`,
    );
    return { from: t0, to: t1 };
  } finally {
    receiver.close();
  }
}

async function run(): Promise<void> {
  const dbName = `waybill_profile_${process.pid}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${dbName}`);
  const url = new URL(serverUrl);
  url.pathname = `/${dbName}`;
  const port = await freePort();
  const child = spawn(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, main], {
    env: {
      ...process.env,
      DATABASE_URL: url.toString(),
      PORT: String(port),
      HOST: '127.0.0.1',
      ADMIN_TOKEN,
      ENCRYPTION_KEY: 'ab'.repeat(32),
      WEBHOOK_ALLOW_PRIVATE: 'true',
      LOG_LEVEL: 'warn',
      NODE_ENV: 'production',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const origin = `http://127.0.0.1:${port}`;
  const window = { from: 0, to: 0 };
  let drainWindow: { from: number; to: number } | undefined;
  try {
    for (let i = 0; ; i++) {
      const up = await fetch(`${origin}/health`).then(
        (r) => r.ok,
        () => false,
      );
      if (up) break;
      if (child.exitCode !== null || i > 600) throw new Error('the service did not start');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const { apiKey } = await send(origin, call(ADMIN_TOKEN, 'POST', '/v1/tenants', { name: 'profile' }));
    await send(
      origin,
      call(apiKey, 'POST', '/v1/webhooks', {
        name: 'erp',
        url: 'http://127.0.0.1:9/erp',
        eventTypes: ['*'],
        paused: true,
      }),
    );
    const request = (n: number): LoadRequest =>
      call(apiKey, 'POST', '/v1/orders', {
        orderNumber: `SO-${n}`,
        externalRef: 'PO-88231',
        customer: { name: 'Acme Retail GmbH', ref: 'C-42' },
        shipFrom: { name: 'DC Hamburg', street: 'Am Kaiserkai 1', city: 'Hamburg', postalCode: '20457', country: 'DE' },
        shipTo: { name: 'Store Munich', street: 'Marienplatz 8', city: 'Munich', postalCode: '80331', country: 'DE' },
        lines: [
          { sku: 'PAL-EUR-01', description: 'Euro pallet', quantity: 4, unit: 'PLT', weightKg: 1480 },
          { sku: 'CTN-12', description: 'Carton, 12 units', quantity: 30, unit: 'CTN', weightKg: 210 },
        ],
        notes: 'Dock 4',
      });
    // Warm up, then measure; the summary counts the samples of the measured window only.
    await closedLoop([origin], 16, 2, (n) => request(-1 - n), 201);
    const own = (await admin.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid;
    const meter: Meter = { service: child.pid!, postmaster: statCpuMs(own)?.ppid, own };
    const cpu = cpuFrom(meter);
    window.from = monotonicUs();
    const load = await closedLoop([origin], 16, seconds, request, 201);
    window.to = monotonicUs();
    console.log(
      `${main}: ${Math.round(load.perSec)} orders/s, p50 ${load.p50Ms.toFixed(1)} ms, p99 ${load.p99Ms.toFixed(1)} ms; ${cpu(load.requests)}`,
    );
    if (drainCount > 0) drainWindow = await drain(origin, apiKey, request, meter);
  } finally {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.end();
  }
  const files = fs.readdirSync(profileDir).filter((f) => f.endsWith('.cpuprofile'));
  const newest = files
    .map((f) => path.join(profileDir, f))
    .sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs)[0];
  if (!newest) throw new Error(`no profile written to ${profileDir}`);
  console.log(`profile: ${newest}`);
  console.log(summarize(newest, window.from, window.to));
  if (drainWindow) console.log(`the drain:\n${summarize(newest, drainWindow.from, drainWindow.to)}`);
}

// Given a .cpuprofile instead of a build: summarize it whole.
if (main.endsWith('.cpuprofile')) console.log(summarize(main, 0, Number.MAX_SAFE_INTEGER));
else
  run().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
