import { fork } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { Pool } from 'undici';
import { freePort } from '../scripts/ports.js';
import { startEmbeddedPostgres } from '../src/database/embedded-postgres.js';
import { catalogEntry } from '../src/events/event-catalog.js';
import { signatureHeader, signingKey } from '../src/webhooks/transport/signer.js';
import { databaseCpuMs, statCpuMs } from './cpu.js';
import { closedLoop, type LoadRequest, percentile } from './load.js';
import { Remote, wallNow } from './rpc.js';

/**
 * `npm run bench`: the service against yardsticks measured in the same run — the HTTP ceiling
 * (undici alone), a graphile-worker peer for the drain, a bare node:http + pg server for ingest —
 * plus how its costs behave as the backlog grows and as instances are added. Processes: this one
 * (load generator and referee), the service, a receiver each for the service and the peer, the
 * peer, the bare server, and the extra instances of the `instances` scenario.
 */
const here = path.dirname(fileURLToPath(import.meta.url));
const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const ROUNDS = env('BENCH_ROUNDS', 3);
const DRAIN = env('BENCH_DRAIN', 20_000);
const INGEST_SECONDS = env('BENCH_INGEST_SECONDS', 10);
const INGEST_CONNECTIONS = 16;
const LATENCY_SECONDS = env('BENCH_LATENCY_SECONDS', 10);
const BACKLOG = env('BENCH_BACKLOG', 1_000_000);
const BACKLOG_SMALL = env('BENCH_BACKLOG_SMALL', 10_000);
const BACKLOG_SUBSCRIPTIONS = env('BENCH_BACKLOG_SUBSCRIPTIONS', 2_000);
const BACKLOG_ORDERED = env('BENCH_BACKLOG_ORDERED', 100);
const BACKLOG_SAMPLE = env('BENCH_BACKLOG_SAMPLE', 6_000);
const BACKLOG_TIMEOUT_SECONDS = env('BENCH_BACKLOG_TIMEOUT_SECONDS', 120);
const INSTANCES_DRAIN = env('BENCH_INSTANCES_DRAIN', 10_000);
const INSTANCES_INGEST_SECONDS = env('BENCH_INSTANCES_INGEST_SECONDS', 8);
/** Deliveries per instance drained (and seconds of ingest) to warm each fresh instance up before it is measured. */
const INSTANCES_WARMUP = env('BENCH_INSTANCES_WARMUP', 2_000);
const AUDIT_ROWS = env('BENCH_AUDIT_ROWS', 1_000_000);
const OUT = process.env.BENCH_OUT ?? 'bench-results.json';
const SERVER_URL = process.env.BENCH_SERVER_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const SCENARIOS = [
  'ceiling_http',
  'drain',
  'peer',
  'fanout',
  'isolation',
  'latency',
  'ingest',
  'backlog',
  'instances',
  'audit_query',
] as const;
type Scenario = (typeof SCENARIOS)[number];
/** For working on one scenario: BENCH_ONLY=drain,peer (the report then lacks the others). */
const ONLY = process.env.BENCH_ONLY ? new Set(process.env.BENCH_ONLY.split(',')) : undefined;
for (const name of ONLY ?? []) {
  if (!SCENARIOS.includes(name as Scenario)) throw new Error(`BENCH_ONLY: unknown scenario ${name}`);
}
const runs = (name: Scenario) => !ONLY || ONLY.has(name);
const ADMIN_TOKEN = 'bench-admin-token-0123456789';
const median = (values: number[]) => {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const round1 = (n: number) => Math.round(n * 10) / 10;
const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100;
const log = (message: string) => process.stderr.write(`[bench] ${message}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function databaseUrl(base: string, name: string): string {
  const url = new URL(base);
  url.pathname = `/${name}`;
  return url.toString();
}

async function recreateDatabase(adminUrl: string, name: string): Promise<string> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  return databaseUrl(adminUrl, name);
}

async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).finally(() => admin.end());
}

/**
 * Every measured drain starts from the same database state: what earlier steps wrote is vacuumed
 * and checkpointed, and no autovacuum is running (on a 2-core machine one would take a core from
 * whichever side happens to be measured).
 */
async function quiesce(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('VACUUM ANALYZE');
    await client.query('CHECKPOINT');
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const { rows } = await client.query(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'`,
      );
      if (rows[0].n === 0) break;
      await sleep(100);
    }
  } finally {
    await client.end();
  }
}

function serviceProcess(url: string, port: number): Remote {
  return new Remote(
    fork(path.join(here, 'service.js'), {
      stdio: 'inherit',
      execArgv: process.env.BENCH_SERVICE_NODE_ARGS ? process.env.BENCH_SERVICE_NODE_ARGS.split(' ') : [],
      env: {
        ...process.env,
        DATABASE_URL: url,
        PORT: String(port),
        ADMIN_TOKEN,
        ENCRYPTION_KEY: 'ab'.repeat(32),
        WEBHOOK_ALLOW_PRIVATE: 'true',
        LOG_LEVEL: 'warn',
        NODE_ENV: 'production',
      },
    }),
    'service',
  );
}

/** The REST API of one or more service instances. */
class Api {
  private readonly pools: Pool[];
  private next = 0;
  constructor(readonly origins: string[]) {
    this.pools = origins.map((origin) => new Pool(origin, { connections: 32 }));
  }
  async call(key: string, method: string, route: string, body?: unknown): Promise<any> {
    const pool = this.pools[this.next++ % this.pools.length];
    const response = await pool.request({
      path: route,
      method: method as 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.body.text();
    if (response.statusCode >= 300) throw new Error(`${method} ${route}: ${response.statusCode} ${text}`);
    return text ? JSON.parse(text) : undefined;
  }
  close(): Promise<void[]> {
    return Promise.all(this.pools.map((p) => p.close()));
  }
}

const ORDER_LINES = [
  { sku: 'PAL-EUR-01', description: 'Euro pallet', quantity: 4, unit: 'PLT', weightKg: 1480 },
  { sku: 'CTN-12', description: 'Carton, 12 units', quantity: 30, unit: 'CTN', weightKg: 210 },
];
/** A realistic `POST /v1/orders` body (addresses, two lines), unique by `orderNumber`. */
function orderRequest(key: string, orderNumber: string): LoadRequest {
  return {
    path: '/v1/orders',
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      orderNumber,
      externalRef: 'PO-88231',
      customer: { name: 'Acme Retail GmbH', ref: 'C-42' },
      shipFrom: { name: 'DC Hamburg', street: 'Am Kaiserkai 1', city: 'Hamburg', postalCode: '20457', country: 'DE' },
      shipTo: { name: 'Store Munich', street: 'Marienplatz 8', city: 'Munich', postalCode: '80331', country: 'DE' },
      requestedPickupAt: '2026-11-23T08:00:00.000Z',
      requestedDeliveryAt: '2026-11-25T16:00:00.000Z',
      lines: ORDER_LINES,
      notes: 'Dock 4',
    }),
  };
}

async function main(): Promise<void> {
  const startedAt = Date.now();
  let embedded: Awaited<ReturnType<typeof startEmbeddedPostgres>> | undefined;
  let baseUrl = process.env.DATABASE_URL;
  let dataDir: string | undefined;
  if (!baseUrl) {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'waybill-bench-'));
    fs.chmodSync(dataDir, 0o755);
    embedded = await startEmbeddedPostgres({
      dataDir,
      port: 54000 + Math.floor(Math.random() * 900),
      database: 'postgres',
    });
    baseUrl = embedded.url;
    const stopEmbedded = embedded;
    onFailure.push(() => stopEmbedded.stop());
  }
  const serviceDb = await recreateDatabase(baseUrl, 'waybill_bench');
  const peerDb = await recreateDatabase(baseUrl, 'waybill_bench_peer');
  const admin = new pg.Client({ connectionString: baseUrl });
  await admin.connect();
  const machine = {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGb: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    postgres: (await admin.query('SHOW server_version')).rows[0].server_version as string,
    database: embedded ? 'embedded' : 'DATABASE_URL',
    loadAverage: os.loadavg().map(round1),
  };
  await admin.end();

  const children: Remote[] = [];
  const spawn = async (remote: Remote) => {
    children.push(remote);
    await remote.ready;
    return remote;
  };
  const receiverProcess = (name: string) =>
    spawn(new Remote(fork(path.join(here, 'receiver.js'), { stdio: 'inherit' }), name));
  const receiver = await receiverProcess('receiver');
  const receiverUrl = `http://127.0.0.1:${await receiver.call<number>('port')}`;
  const servicePort = await freePort();
  const service = await spawn(serviceProcess(serviceDb, servicePort));
  const api = new Api([`http://127.0.0.1:${servicePort}`]);
  const call = api.call.bind(api);
  const db = new pg.Client({ connectionString: serviceDb });
  await db.connect();
  // CPU per unit of work of one process and of the database (see databaseCpuMs): unlike a rate,
  // it hardly moves with what else loads the machine.
  const benchBackend = (await db.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid;
  const postmaster = statCpuMs(benchBackend)?.ppid;
  const cpuMeter = (pid: number) => {
    const process0 = statCpuMs(pid)?.ms ?? NaN;
    const database0 = databaseCpuMs(postmaster, [benchBackend]);
    return (units: number) => ({
      processCpuMs: ((statCpuMs(pid)?.ms ?? NaN) - process0) / units,
      databaseCpuMs: (databaseCpuMs(postmaster, [benchBackend]) - database0) / units,
    });
  };

  const fresh = async () => {
    // The live service's own transactions (sweep, retention, health) may hold one of these tables
    // and want another the TRUNCATE already holds: PostgreSQL then ends one side with a deadlock
    // (40P01, seen on the audit_query step right after start); the TRUNCATE is simply tried again.
    for (let attempt = 1; ; attempt++) {
      try {
        await db.query(
          'TRUNCATE delivery_attempt, delivery, event, webhook, tracking_event, shipment, "order" CASCADE',
        );
        break;
      } catch (error) {
        if ((error as { code?: string }).code !== '40P01' || attempt === 5) throw error;
        await sleep(100 * attempt);
      }
    }
    await receiver.call('reset');
    return service.call<{ id: string; key: string }>('createTenant');
  };
  const subscribe = (key: string, body: Record<string, unknown>, via = api) =>
    via.call(key, 'POST', '/v1/webhooks', { name: 'bench', eventTypes: ['*'], ...body }) as Promise<{ id: string }>;
  const deliveredCount = async (client: pg.Client, webhookId?: string) =>
    Number(
      (
        await client.query(
          `SELECT count(*) AS n FROM delivery WHERE status = 'delivered' ${webhookId ? 'AND webhook_id = $1' : ''}`,
          webhookId ? [webhookId] : [],
        )
      ).rows[0].n,
    );
  const untilDelivered = async (n: number, webhookId?: string, client = db) => {
    while ((await deliveredCount(client, webhookId)) < n) await sleep(10);
    return wallNow();
  };

  const payload = JSON.stringify(catalogEntry('shipment.status_changed').example);
  const results: Record<string, number[]> = {};
  const note = (name: string, value: number) => (results[name] ??= []).push(value);
  const m = (name: string) => (results[name] ? median(results[name]) : NaN);

  // ceiling_http: the sender alone, no database.
  const ceiling = async () => {
    const pool = new Pool(receiverUrl, { connections: 32 });
    const key = signingKey('whsec_' + Buffer.alloc(32, 3).toString('base64'));
    const total = 20_000;
    let sent = 0;
    const t0 = wallNow();
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (sent < total) {
          sent += 1;
          const ts = Math.floor(Date.now() / 1000);
          const response = await pool.request({
            path: '/ceiling',
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              'webhook-id': 'evt_x',
              'webhook-timestamp': String(ts),
              'webhook-signature': signatureHeader([key], 'evt_x', ts, payload),
            },
            body: payload,
          });
          await response.body.text();
        }
      }),
    );
    await pool.close();
    return (total / (wallNow() - t0)) * 1000;
  };

  // drain: a committed backlog, drained to a healthy receiver with audit rows.
  const drain = async (count: number, withDeadEndpoint: boolean) => {
    const tenant = await fresh();
    const healthy = await subscribe(tenant.key, { url: `${receiverUrl}/drain`, paused: true });
    const dead = withDeadEndpoint
      ? await subscribe(tenant.key, { url: `${receiverUrl}/dead`, paused: true, timeoutMs: 2000 })
      : undefined;
    await service.call('seed', { tenantId: tenant.id, count, perTransaction: 100 });
    await quiesce(serviceDb);
    // The dead subscription's backlog is live (its requests hanging) before the clock starts.
    if (dead) await call(tenant.key, 'PATCH', `/v1/webhooks/${dead.id}`, { paused: false });
    await service.call('rssStart');
    const cpu = cpuMeter(service.child.pid!);
    const t0 = wallNow();
    await call(tenant.key, 'PATCH', `/v1/webhooks/${healthy.id}`, { paused: false });
    await receiver.call('waitFor', { key: 'drain', n: count });
    const t1 = await untilDelivered(count, healthy.id);
    const { processCpuMs, databaseCpuMs } = cpu(count);
    const rss = await service.call<number>('rssStop');
    if (dead) await call(tenant.key, 'PATCH', `/v1/webhooks/${dead.id}`, { paused: true });
    return { perSec: (count / (t1 - t0)) * 1000, rss, serviceCpuMs: processCpuMs, databaseCpuMs };
  };

  // peer: graphile-worker doing the same work from the same starting state, with its own receiver.
  let peerRemote: Remote | undefined;
  let peerRound = 0;
  const peer = async (count: number) => {
    if (!peerRemote) {
      const peerReceiver = await receiverProcess('peer-receiver');
      const peerReceiverUrl = `http://127.0.0.1:${await peerReceiver.call<number>('port')}`;
      peerRemote = await spawn(
        new Remote(
          fork(path.join(here, 'peer.js'), {
            stdio: 'inherit',
            env: { ...process.env, DATABASE_URL: peerDb, RECEIVER_URL: peerReceiverUrl },
          }),
          'peer',
        ),
      );
      await peerRemote.call('prepare');
    }
    await peerRemote.call('queue', { count, payload, prefix: `r${peerRound++}` });
    await quiesce(peerDb);
    const cpu = cpuMeter(peerRemote.child.pid!);
    const { perSec } = await peerRemote.call<{ perSec: number }>('drain', { count });
    const { processCpuMs, databaseCpuMs } = cpu(count);
    return { perSec, peerCpuMs: processCpuMs, databaseCpuMs };
  };

  // latency: 200 events/s committed inside the service; commit → receipt.
  const latency = async () => {
    const tenant = await fresh();
    await subscribe(tenant.key, { url: `${receiverUrl}/latency` });
    const committed = await service.call<Record<string, number>>('produce', {
      tenantId: tenant.id,
      perSecond: 200,
      seconds: LATENCY_SECONDS,
    });
    const ids = Object.keys(committed);
    await receiver.call('waitFor', { key: 'latency', n: ids.length });
    const arrivals = await receiver.call<Record<string, number>>('arrivals');
    const samples = ids.map((id) => arrivals[id] - committed[id]);
    return { p50: percentile(samples, 50), p99: percentile(samples, 99), max: Math.max(...samples) };
  };

  // ingest: POST /v1/orders at 16 connections, Waybill and the bare server on the same tables
  // (same tenant, key and paused subscription), in alternating order from round to round.
  let bare: { remote: Remote; origin: string } | undefined;
  const ingest = async (round: number) => {
    if (!bare) {
      const remote = await spawn(
        new Remote(
          fork(path.join(here, 'bare-ingest.js'), {
            stdio: 'inherit',
            env: { ...process.env, DATABASE_URL: serviceDb },
          }),
          'bare',
        ),
      );
      bare = { remote, origin: `http://127.0.0.1:${await remote.call<number>('port')}` };
    }
    const tenant = await fresh();
    await subscribe(tenant.key, { url: `${receiverUrl}/ingest`, eventTypes: ['order.created'], paused: true });
    const measure = async (target: 'waybill' | 'bare') => {
      // DELETE, not TRUNCATE: the live service's sweep must not meet an exclusive lock.
      await db.query('DELETE FROM delivery');
      await db.query('DELETE FROM event');
      await db.query('DELETE FROM "order"');
      await quiesce(serviceDb);
      const origin = target === 'waybill' ? api.origins[0] : bare!.origin;
      const cpu = cpuMeter((target === 'waybill' ? service : bare!.remote).child.pid!);
      const load = await closedLoop(
        [origin],
        INGEST_CONNECTIONS,
        INGEST_SECONDS,
        (n) => orderRequest(tenant.key, `SO-${target}-${round}-${n}`),
        201,
      );
      const { processCpuMs, databaseCpuMs } = cpu(load.requests);
      return { ...load, serverCpuMsPerOrder: processCpuMs, databaseCpuMsPerOrder: databaseCpuMs };
    };
    const order: Array<'waybill' | 'bare'> = round % 2 ? ['waybill', 'bare'] : ['bare', 'waybill'];
    const out: Record<string, Awaited<ReturnType<typeof measure>>> = {};
    for (const target of order) out[target] = await measure(target);
    return out as Record<'waybill' | 'bare', Awaited<ReturnType<typeof measure>>>;
  };

  // fanout: 500 events (one per transaction) to 50 matching subscriptions.
  const fanout = async () => {
    const tenant = await fresh();
    for (let i = 0; i < 50; i++) await subscribe(tenant.key, { url: `${receiverUrl}/fanout/${i}` });
    const t0 = wallNow();
    await service.call('seed', { tenantId: tenant.id, count: 500, perTransaction: 1 });
    await receiver.call('waitFor', { key: 'fanout', n: 25_000 });
    const t1 = await untilDelivered(25_000);
    return (25_000 / (t1 - t0)) * 1000;
  };

  // backlog: claim times and drain rate with a small and a huge backlog over the same 2,000
  // subscriptions, 100 of them ordered with failing heads (every later delivery of their
  // aggregates blocked behind a retry due in an hour).
  const backlog = async () => {
    const tenant = await fresh();
    log(`backlog: ${BACKLOG_SUBSCRIPTIONS} subscriptions`);
    const hooks: Array<{ id: string; ordered: boolean }> = [];
    for (let i = 0; i < BACKLOG_SUBSCRIPTIONS; i += 16) {
      const made = await Promise.all(
        Array.from({ length: Math.min(16, BACKLOG_SUBSCRIPTIONS - i) }, (_, j) => {
          const n = i + j;
          const ordered = n < BACKLOG_ORDERED;
          return subscribe(tenant.key, {
            url: `${receiverUrl}/${ordered ? 'fail' : 'backlog'}/${n}`,
            paused: true,
            ordered,
          }).then((hook) => ({ id: hook.id, ordered }));
        }),
      );
      hooks.push(...made);
    }
    const orderedIds = hooks.filter((h) => h.ordered).map((h) => h.id);
    const measure = async (pending: number) => {
      await db.query(`UPDATE webhook SET paused = true WHERE tenant_id = $1`, [tenant.id]);
      await sleep(1000);
      await db.query('TRUNCATE delivery_attempt, delivery, event');
      await receiver.call('reset');
      const events = Math.max(1, Math.round(pending / hooks.length));
      const aggregates = Math.max(1, Math.round(events / 10));
      log(`backlog: seeding ${pending} pending deliveries (${events} events × ${hooks.length} subscriptions)`);
      await db.query(
        `INSERT INTO event (id, tenant_id, type, aggregate_type, aggregate_id, sequence, api_version, data, created_at)
         SELECT 'evt_backlog_' || g, $1, 'shipment.status_changed', 'shipment', a.id, (g / $3) + 1, '2026-11-01', $4::json,
                now() - interval '1 hour' + g * interval '1 millisecond'
           FROM generate_series(0, $2 - 1) g
           JOIN (SELECT n, gen_random_uuid() AS id FROM generate_series(0, $3 - 1) n) a ON a.n = g % $3`,
        [tenant.id, events, aggregates, JSON.stringify(catalogEntry('shipment.status_changed').example.data)],
      );
      await db.query(
        `INSERT INTO delivery (tenant_id, webhook_id, event_id, event_type, aggregate_id, event_sequence, status,
                               next_attempt_at, created_at, updated_at)
         SELECT e.tenant_id, w.id, e.id, e.type, e.aggregate_id, e.sequence, 'pending', e.created_at, e.created_at, e.created_at
           FROM event e CROSS JOIN webhook w WHERE w.tenant_id = $1`,
        [tenant.id],
      );
      await db.query(
        `UPDATE delivery SET attempt_count = 1, next_attempt_at = now() + interval '1 hour', last_response_status = 500,
                last_error_class = 'http_status'
          WHERE webhook_id = ANY($1::uuid[]) AND event_sequence = 1`,
        [orderedIds],
      );
      // As the engine keeps them: behind an open head, an ordered subscription's followers await it, not due.
      await db.query(
        `UPDATE delivery SET next_attempt_at = NULL, awaiting_predecessor = true
          WHERE webhook_id = ANY($1::uuid[]) AND event_sequence > 1`,
        [orderedIds],
      );
      await quiesce(serviceDb);
      await service.call('claimTimingStart');
      const t0 = wallNow();
      await db.query(`UPDATE webhook SET paused = false WHERE tenant_id = $1`, [tenant.id]);
      // Bounded: a service that cannot drain this backlog is a result (the rate so far), not a hung bench.
      const sample = Math.min(BACKLOG_SAMPLE, Math.floor(pending * 0.6));
      let received = 0;
      while ((received = await receiver.call<number>('count', { key: 'backlog' })) < sample) {
        if (wallNow() - t0 > BACKLOG_TIMEOUT_SECONDS * 1000) {
          log(`backlog: only ${received} of ${sample} receipts after ${BACKLOG_TIMEOUT_SECONDS} s`);
          break;
        }
        await sleep(50);
      }
      const t1 = wallNow();
      const claims = await service.call<number[]>('claimTimingStop');
      return {
        perSec: (Math.min(received, sample) / (t1 - t0)) * 1000,
        claimP50: percentile(claims, 50),
        claimP99: percentile(claims, 99),
        complete: received >= sample ? 1 : 0,
      };
    };
    const small = await measure(BACKLOG_SMALL);
    const large = await measure(BACKLOG);
    await db.query(`UPDATE webhook SET paused = true WHERE tenant_id = $1`, [tenant.id]);
    await sleep(1000);
    await db.query('TRUNCATE delivery_attempt, delivery, event');
    return { small, large };
  };

  // instances: 1, 2 and 3 instances of the service on one (server) PostgreSQL; drain and ingest.
  const instances = async () => {
    let adminUrl = SERVER_URL;
    try {
      const probe = new pg.Client({ connectionString: adminUrl });
      await probe.connect();
      await probe.end();
    } catch {
      log(`instances: ${SERVER_URL} does not answer; using the bench's own PostgreSQL`);
      adminUrl = baseUrl!;
    }
    const url = await recreateDatabase(adminUrl, 'waybill_bench_instances');
    const client = new pg.Client({ connectionString: url });
    const out: Record<
      number,
      {
        drain: number;
        ingest: number;
        ingestP99: number;
        serviceCpuUs: number;
        databaseCpuUs: number;
        idlePercent: number;
      }
    > = {};
    await client.connect();
    // What limits the drain: CPU per delivery of the instances together and of the database, and
    // how much of the machine was left idle (on 2 cores they all share the same two).
    const ownBackend = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid;
    const postmaster = statCpuMs(ownBackend)?.ppid;
    const idleMs = () => {
      const [cpu] = fs.readFileSync('/proc/stat', 'utf8').split('\n');
      const fields = cpu.split(/\s+/).slice(1).map(Number);
      return { idle: (fields[3] + fields[4]) * 10, total: fields.reduce((a, b) => a + b, 0) * 10 };
    };
    try {
      for (const n of [1, 2, 3]) {
        log(`instances: ${n}`);
        const ports: number[] = [];
        for (let i = 0; i < n; i++) ports.push(await freePort());
        const procs = await Promise.all(
          ports.map(async (port) => {
            const remote = serviceProcess(url, port);
            await remote.ready;
            return remote;
          }),
        );
        const many = new Api(ports.map((port) => `http://127.0.0.1:${port}`));
        try {
          await receiver.call('reset');
          const tenant = await procs[0].call<{ id: string; key: string }>('createTenant');
          const hook = await subscribe(tenant.key, { url: `${receiverUrl}/instances`, paused: true }, many);
          // Warm-up (unmeasured): each fresh instance compiles its hot paths on a small drain and a
          // short ingest first, as the one service of the other scenarios does in their warm-up;
          // otherwise every added instance pays its JIT inside the measured drain.
          await procs[0].call('seed', { tenantId: tenant.id, count: INSTANCES_WARMUP * n, perTransaction: 100 });
          await many.call(tenant.key, 'PATCH', `/v1/webhooks/${hook.id}`, { paused: false });
          await untilDelivered(INSTANCES_WARMUP * n, hook.id, client);
          await many.call(tenant.key, 'PATCH', `/v1/webhooks/${hook.id}`, { paused: true });
          await closedLoop(many.origins, INGEST_CONNECTIONS, 2, (i) => orderRequest(tenant.key, `SO-w${n}-${i}`), 201);
          await client.query('TRUNCATE delivery, delivery_attempt, event CASCADE');
          await receiver.call('reset');
          await procs[0].call('seed', { tenantId: tenant.id, count: INSTANCES_DRAIN, perTransaction: 100 });
          await quiesce(url);
          const servicesMs = () => procs.reduce((sum, p) => sum + (statCpuMs(p.child.pid!)?.ms ?? NaN), 0);
          const [service0, database0, machine0] = [servicesMs(), databaseCpuMs(postmaster, [ownBackend]), idleMs()];
          const t0 = wallNow();
          await many.call(tenant.key, 'PATCH', `/v1/webhooks/${hook.id}`, { paused: false });
          await receiver.call('waitFor', { key: 'instances', n: INSTANCES_DRAIN });
          const t1 = await untilDelivered(INSTANCES_DRAIN, hook.id, client);
          const machine1 = idleMs();
          const serviceCpuUs = ((servicesMs() - service0) / INSTANCES_DRAIN) * 1000;
          const databaseCpuUs = ((databaseCpuMs(postmaster, [ownBackend]) - database0) / INSTANCES_DRAIN) * 1000;
          const idlePercent = (100 * (machine1.idle - machine0.idle)) / (machine1.total - machine0.total);
          await many.call(tenant.key, 'PATCH', `/v1/webhooks/${hook.id}`, { paused: true });
          await client.query('TRUNCATE delivery, delivery_attempt, event CASCADE');
          await quiesce(url);
          const load = await closedLoop(
            many.origins,
            INGEST_CONNECTIONS,
            INSTANCES_INGEST_SECONDS,
            (i) => orderRequest(tenant.key, `SO-i${n}-${i}`),
            201,
          );
          out[n] = {
            drain: (INSTANCES_DRAIN / (t1 - t0)) * 1000,
            ingest: load.perSec,
            ingestP99: load.p99Ms,
            serviceCpuUs,
            databaseCpuUs,
            idlePercent,
          };
        } finally {
          await many.close();
          await Promise.all(procs.map((p) => p.stop()));
          // Emptied for the next count once these instances are gone; the TRUNCATEs beside running
          // instances take `delivery` first, as their claims and write-backs do (`delivery_attempt`
          // first deadlocked with a claim that held `delivery`).
          await client.query('TRUNCATE delivery_attempt, delivery, event, webhook, "order" CASCADE');
        }
      }
    } finally {
      await client.end().catch(() => undefined);
      await dropDatabase(adminUrl, 'waybill_bench_instances');
    }
    return { database: adminUrl === SERVER_URL ? 'server' : 'bench', ...out };
  };

  // audit_query: 1,000,000 deliveries with an attempt each; the delivery log's first and deep
  // pages by webhook (with and without status), by event type and by tenant.
  const auditQuery = async () => {
    const tenant = await fresh();
    const hook = await subscribe(tenant.key, { url: `${receiverUrl}/audit`, paused: true });
    log(`audit_query: seeding ${AUDIT_ROWS} deliveries and attempts`);
    await db.query(
      `INSERT INTO delivery (tenant_id, webhook_id, event_id, event_type, aggregate_id, status, attempt_count, created_at, updated_at)
       SELECT $1, $2, 'evt_bench_' || g,
              (ARRAY['shipment.status_changed', 'shipment.tracking_updated', 'order.updated', 'shipment.delivered'])[g % 4 + 1],
              gen_random_uuid(), CASE WHEN g % 10 = 0 THEN 'failed' ELSE 'delivered' END, 1,
              now() - g * interval '1 second', now() - g * interval '1 second'
         FROM generate_series(1, $3::int) g`,
      [tenant.id, hook.id, AUDIT_ROWS],
    );
    await db.query(
      `INSERT INTO delivery_attempt (delivery_id, tenant_id, webhook_id, number, trigger, started_at, duration_ms, url,
                                     request_headers, request_body, response_status, response_headers, response_body)
       SELECT id, tenant_id, webhook_id, 1, 'auto', created_at, 12, $2, '{"content-type":"application/json"}', $3, 200, '{}', 'ok'
         FROM delivery WHERE webhook_id = $1`,
      [hook.id, `${receiverUrl}/audit`, payload],
    );
    await quiesce(serviceDb);
    const variants: Record<string, { query: string; where: string; params: unknown[] }> = {
      webhookStatus: {
        query: `webhookId=${hook.id}&status=delivered`,
        where: `webhook_id = $1 AND status = 'delivered'`,
        params: [hook.id],
      },
      webhook: { query: `webhookId=${hook.id}`, where: 'webhook_id = $1', params: [hook.id] },
      eventType: {
        query: 'eventType=shipment.delivered',
        where: `tenant_id = $1 AND event_type = 'shipment.delivered'`,
        params: [tenant.id],
      },
      tenant: { query: '', where: 'tenant_id = $1', params: [tenant.id] },
    };
    const out: Record<string, { first: number; deep: number }> = {};
    for (const [name, v] of Object.entries(variants)) {
      const { rows } = await db.query(`SELECT count(*)::int AS n FROM delivery WHERE ${v.where}`, v.params);
      const deep = (
        await db.query(
          `SELECT created_at, id FROM delivery WHERE ${v.where} ORDER BY created_at DESC, id DESC OFFSET $${v.params.length + 1} LIMIT 1`,
          [...v.params, Math.floor(rows[0].n * 0.8)],
        )
      ).rows[0];
      const cursor = Buffer.from(JSON.stringify([deep.created_at.toISOString(), deep.id])).toString('base64url');
      const timeQuery = async (route: string) => {
        const samples: number[] = [];
        for (let i = 0; i < 50; i++) {
          const t0 = performance.now();
          const page = await call(tenant.key, 'GET', route);
          samples.push(performance.now() - t0);
          if (page.data.length !== 50) throw new Error(`expected a full page from ${route}`);
        }
        return percentile(samples, 95);
      };
      const base = `/v1/deliveries?limit=50${v.query ? `&${v.query}` : ''}`;
      out[name] = { first: await timeQuery(base), deep: await timeQuery(`${base}&cursor=${cursor}`) };
    }
    return out;
  };

  // Warm-up (unmeasured): both drains once, small, so neither side's first round pays for its JIT.
  if (runs('drain')) {
    log('warm-up: drain');
    await drain(2_000, false);
  }
  if (runs('peer')) {
    log('warm-up: peer');
    await peer(2_000);
  }

  for (let round = 1; round <= ROUNDS; round++) {
    const step = (name: Scenario) => runs(name) && (log(`round ${round}/${ROUNDS}: ${name}`), true);
    if (step('ceiling_http')) note('ceiling', await ceiling());
    // Drain and peer alternate which goes first, so neither always inherits the other's leftovers.
    const drainStep = async () => {
      if (!step('drain')) return;
      const d = await drain(DRAIN, false);
      note('drain', d.perSec);
      note('drainRss', d.rss);
      note('drainServiceCpuMs', d.serviceCpuMs);
      note('drainDatabaseCpuMs', d.databaseCpuMs);
    };
    const peerStep = async () => {
      if (!step('peer')) return;
      const p = await peer(DRAIN);
      note('peer', p.perSec);
      note('peerProcessCpuMs', p.peerCpuMs);
      note('peerDatabaseCpuMs', p.databaseCpuMs);
    };
    if (round % 2) {
      await drainStep();
      await peerStep();
    } else {
      await peerStep();
      await drainStep();
    }
    if (runs('drain') && runs('peer')) {
      note('drainOverPeer', results.drain.at(-1)! / results.peer.at(-1)!);
      note(
        'drainCpuPeerOverWaybill',
        (results.peerProcessCpuMs.at(-1)! + results.peerDatabaseCpuMs.at(-1)!) /
          (results.drainServiceCpuMs.at(-1)! + results.drainDatabaseCpuMs.at(-1)!),
      );
    }
    if (step('fanout')) note('fanout', await fanout());
    if (step('isolation')) note('isolation', (await drain(DRAIN, true)).perSec);
    if (step('latency')) {
      const l = await latency();
      note('p50', l.p50);
      note('p99', l.p99);
      note('max', l.max);
    }
    if (step('ingest')) {
      const i = await ingest(round);
      note('ingest', i.waybill.perSec);
      note('ingestP50', i.waybill.p50Ms);
      note('ingestP99', i.waybill.p99Ms);
      note('bare', i.bare.perSec);
      note('bareP50', i.bare.p50Ms);
      note('bareP99', i.bare.p99Ms);
      note('ingestOverBare', i.waybill.perSec / i.bare.perSec);
      note('ingestServerCpuMs', i.waybill.serverCpuMsPerOrder);
      note('ingestDatabaseCpuMs', i.waybill.databaseCpuMsPerOrder);
      note('bareServerCpuMs', i.bare.serverCpuMsPerOrder);
      note('bareDatabaseCpuMs', i.bare.databaseCpuMsPerOrder);
      note(
        'ingestCpuBareOverWaybill',
        (i.bare.serverCpuMsPerOrder + i.bare.databaseCpuMsPerOrder) /
          (i.waybill.serverCpuMsPerOrder + i.waybill.databaseCpuMsPerOrder),
      );
    }
  }
  let backlogResult: Awaited<ReturnType<typeof backlog>> | undefined;
  if (runs('backlog')) {
    log('backlog');
    backlogResult = await backlog();
  }
  let instancesResult: Awaited<ReturnType<typeof instances>> | undefined;
  if (runs('instances')) {
    log('instances');
    instancesResult = await instances();
  }
  let audit: Awaited<ReturnType<typeof auditQuery>> | undefined;
  if (runs('audit_query')) {
    log('audit_query');
    audit = await auditQuery();
  }

  const scenarios = {
    ceiling_http: { perSec: Math.round(m('ceiling')) },
    drain: {
      perSec: Math.round(m('drain')),
      peakRssMb: Math.round(Math.max(...(results.drainRss ?? [NaN]))),
      serviceCpuMsPerDelivery: round3(m('drainServiceCpuMs')),
      databaseCpuMsPerDelivery: round3(m('drainDatabaseCpuMs')),
    },
    peer: {
      perSec: Math.round(m('peer')),
      peerCpuMsPerDelivery: round3(m('peerProcessCpuMs')),
      databaseCpuMsPerDelivery: round3(m('peerDatabaseCpuMs')),
    },
    fanout: { perSec: Math.round(m('fanout')) },
    isolation: { perSec: Math.round(m('isolation')) },
    latency: { p50Ms: Math.round(m('p50') * 100) / 100, p99Ms: round1(m('p99')), maxMs: round1(m('max')) },
    ingest: {
      perSec: Math.round(m('ingest')),
      p50Ms: round1(m('ingestP50')),
      p99Ms: round1(m('ingestP99')),
      serverCpuMsPerOrder: round2(m('ingestServerCpuMs')),
      databaseCpuMsPerOrder: round2(m('ingestDatabaseCpuMs')),
    },
    bare_ingest: {
      perSec: Math.round(m('bare')),
      p50Ms: round1(m('bareP50')),
      p99Ms: round1(m('bareP99')),
      serverCpuMsPerOrder: round2(m('bareServerCpuMs')),
      databaseCpuMsPerOrder: round2(m('bareDatabaseCpuMs')),
    },
    backlog: backlogResult && {
      small: { pending: BACKLOG_SMALL, ...roundAll(backlogResult.small) },
      large: { pending: BACKLOG, ...roundAll(backlogResult.large) },
    },
    instances: instancesResult && {
      database: instancesResult.database,
      ...Object.fromEntries([1, 2, 3].map((n) => [n, roundAll((instancesResult as any)[n])])),
    },
    audit_query: audit && Object.fromEntries(Object.entries(audit).map(([k, v]) => [k, roundAll(v)])),
  };
  const inst = instancesResult as Record<number, { drain: number; ingest: number }> | undefined;
  const ratios: Record<string, { value: number; target?: string }> = {
    drainOverPeer: { value: round2(m('drainOverPeer')), target: '≥ 2 (median of the rounds)' },
    drainCpuPeerOverWaybill: { value: round2(m('drainCpuPeerOverWaybill')) },
    ingestOverBare: { value: round2(m('ingestOverBare')), target: '≥ 1.0, p99 ≤ 25 ms' },
    ingestCpuBareOverWaybill: { value: round2(m('ingestCpuBareOverWaybill')) },
    drainOverCeiling: { value: ratio(m('drain'), m('ceiling')) },
    fanoutOverDrain: { value: ratio(m('fanout'), m('drain')), target: '≥ 0.8' },
    isolationOverDrain: { value: ratio(m('isolation'), m('drain')), target: '≥ 0.9' },
    backlogClaimP99LargeOverSmall: {
      value: backlogResult ? ratio(backlogResult.large.claimP99, backlogResult.small.claimP99) : NaN,
      target: '≤ 2',
    },
    backlogDrainLargeOverSmall: {
      value: backlogResult ? ratio(backlogResult.large.perSec, backlogResult.small.perSec) : NaN,
    },
    instancesDrain2Over1: { value: inst ? ratio(inst[2].drain, inst[1].drain) : NaN, target: '≥ 1.3' },
    instancesDrain3Over1: { value: inst ? ratio(inst[3].drain, inst[1].drain) : NaN },
    instancesIngest2Over1: { value: inst ? ratio(inst[2].ingest, inst[1].ingest) : NaN },
    instancesIngest3Over1: { value: inst ? ratio(inst[3].ingest, inst[1].ingest) : NaN },
  };
  const report = {
    machine,
    rounds: ROUNDS,
    durationSeconds: Math.round((Date.now() - startedAt) / 1000),
    scenarios,
    ratios,
    rawRounds: results,
  };
  fs.writeFileSync(OUT, JSON.stringify(report, null, 2) + '\n');

  const rows: string[][] = [];
  const row = (name: Scenario | 'bare_ingest', result: string, what: string) => rows.push([name, result, what]);
  if (runs('ceiling_http'))
    row('ceiling_http', `${scenarios.ceiling_http.perSec} POST/s`, 'undici alone, 32 in flight');
  if (runs('drain'))
    row(
      'drain',
      `${scenarios.drain.perSec} deliveries/s; CPU per delivery: service ${scenarios.drain.serviceCpuMsPerDelivery} ms, database ${scenarios.drain.databaseCpuMsPerDelivery} ms`,
      `${DRAIN} committed deliveries with audit rows; peak RSS ${scenarios.drain.peakRssMb} MB`,
    );
  if (runs('peer'))
    row(
      'peer',
      `${scenarios.peer.perSec} jobs/s; CPU per job: peer ${scenarios.peer.peerCpuMsPerDelivery} ms, database ${scenarios.peer.databaseCpuMsPerDelivery} ms`,
      'graphile-worker 0.18 as its docs advise, concurrency 32, sign + undici POST + audit row',
    );
  if (runs('fanout')) row('fanout', `${scenarios.fanout.perSec} deliveries/s`, '500 events × 50 subscriptions');
  if (runs('isolation'))
    row('isolation', `${scenarios.isolation.perSec} deliveries/s`, 'drain beside a subscription that never answers');
  if (runs('latency'))
    row(
      'latency',
      `p50 ${scenarios.latency.p50Ms} ms, p99 ${scenarios.latency.p99Ms} ms, max ${scenarios.latency.maxMs} ms`,
      'commit → receipt at 200 events/s',
    );
  if (runs('ingest')) {
    row(
      'ingest',
      `${scenarios.ingest.perSec} orders/s, p50 ${scenarios.ingest.p50Ms} ms, p99 ${scenarios.ingest.p99Ms} ms; CPU per order: service ${scenarios.ingest.serverCpuMsPerOrder} ms, database ${scenarios.ingest.databaseCpuMsPerOrder} ms`,
      `POST /v1/orders, ${INGEST_CONNECTIONS} connections, ${INGEST_SECONDS} s`,
    );
    row(
      'bare_ingest',
      `${scenarios.bare_ingest.perSec} orders/s, p50 ${scenarios.bare_ingest.p50Ms} ms, p99 ${scenarios.bare_ingest.p99Ms} ms; CPU per order: server ${scenarios.bare_ingest.serverCpuMsPerOrder} ms, database ${scenarios.bare_ingest.databaseCpuMsPerOrder} ms`,
      'node:http + pg, the same statements Waybill issued before issue 16',
    );
  }
  if (scenarios.backlog) {
    const { small, large } = scenarios.backlog;
    row(
      'backlog',
      `claim p99 ${small.claimP99} → ${large.claimP99} ms; ${small.perSec} → ${large.perSec} deliveries/s`,
      `${BACKLOG_SMALL.toLocaleString('en-US')} → ${BACKLOG.toLocaleString('en-US')} pending over ${BACKLOG_SUBSCRIPTIONS} subscriptions, ${BACKLOG_ORDERED} ordered with failing heads` +
        (small.complete && large.complete
          ? ''
          : `; INCOMPLETE: the sample was not drained within ${BACKLOG_TIMEOUT_SECONDS} s`),
    );
  }
  if (scenarios.instances) {
    const i = scenarios.instances as any;
    row(
      'instances',
      `drain ${i[1].drain} / ${i[2].drain} / ${i[3].drain} per s; ingest ${i[1].ingest} / ${i[2].ingest} / ${i[3].ingest} orders/s; ` +
        `drain CPU per delivery (instances + database) ${[1, 2, 3].map((n) => `${i[n].serviceCpuUs} + ${i[n].databaseCpuUs}`).join(' / ')} µs, ` +
        `machine idle ${[1, 2, 3].map((n) => `${i[n].idlePercent} %`).join(' / ')}`,
      `1 / 2 / 3 instances on the ${i.database} PostgreSQL`,
    );
  }
  if (scenarios.audit_query) {
    const a = scenarios.audit_query;
    row(
      'audit_query',
      Object.entries(a)
        .map(([k, v]) => `${k} ${v.first}/${v.deep}`)
        .join(', ') + ' ms',
      `p95 first/deep page, ${AUDIT_ROWS.toLocaleString('en-US')} deliveries`,
    );
  }
  const table = [
    `Machine: ${machine.cpus} CPUs (${machine.cpuModel}), Node ${machine.node}, PostgreSQL ${machine.postgres} (${machine.database}), load average at start ${machine.loadAverage.join(' ')}; median of ${ROUNDS} rounds`,
    '',
    '| scenario | result | what |',
    '|---|---|---|',
    ...rows.map((r) => `| ${r.join(' | ')} |`),
    '',
    '| ratio (same run) | value | target |',
    '|---|---|---|',
    ...Object.entries(ratios)
      .filter(([, r]) => Number.isFinite(r.value))
      .map(([k, r]) => `| ${k} | ${r.value} | ${r.target ?? ''} |`),
  ].join('\n');
  console.log(table);

  await api.close();
  await db.end();
  for (const child of children.reverse()) await child.stop();
  await dropDatabase(baseUrl, 'waybill_bench');
  await dropDatabase(baseUrl, 'waybill_bench_peer');
  await embedded?.stop();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
}

const round2 = (n: number) => Math.round(n * 100) / 100;
const round3 = (n: number) => Math.round(n * 1000) / 1000;
function roundAll<T extends Record<string, number>>(values: T): T {
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [k, v >= 100 ? Math.round(v) : round1(v)])) as T;
}

/** Undone when the bench fails (its child processes exit by themselves when it does). */
const onFailure: Array<() => Promise<unknown>> = [];

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void Promise.all(onFailure.map((undo) => undo().catch(() => undefined))).finally(() => process.exit(1));
  });
}

main().catch(async (error: unknown) => {
  console.error(error);
  for (const undo of onFailure) await undo().catch(() => undefined);
  process.exit(1);
});
