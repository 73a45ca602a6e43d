import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { Socket } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { runMigrations } from '../src/database/migrate.js';
import { freePort } from './ports.js';
import { type ServiceProcess, startService, waitForHealth } from './service-process.js';

/**
 * `npm run drill` (not in CI; a few minutes): the delivery engine against faults, on the server
 * PostgreSQL. Three instances share one database while a steady stream of orders and shipment
 * moves comes in through the API; meanwhile random instances are SIGKILLed and restarted,
 * PostgreSQL is restarted once, and the receiver is down for a minute. Then the backlog drains
 * and the drill counts, from the database and from what the receiver saw: events committed,
 * deliveries delivered, lost (must be 0), duplicates (each must be audited), stuck (must be 0),
 * order kept on the ordered subscription and the peak concurrency per subscription.
 *
 * DRILL_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres) names a server whose
 * user may create databases; the drill uses its own database, DRILL_DATABASE (waybill_drill).
 */
const here = path.dirname(fileURLToPath(import.meta.url));
const SERVICE_ENTRY = path.resolve(here, '../src/main.js');
const ADMIN_URL = process.env.DRILL_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const DATABASE = process.env.DRILL_DATABASE ?? 'waybill_drill';
const SECONDS = Number(process.env.DRILL_SECONDS ?? 240);
const RATE = Number(process.env.DRILL_RATE ?? 12);
const KILLS = Number(process.env.DRILL_KILLS ?? 20);
const OUTAGE_MS = Number(process.env.DRILL_OUTAGE_SECONDS ?? 60) * 1000;
const INSTANCES = 3;
const DRAIN_TIMEOUT_MS = Number(process.env.DRILL_DRAIN_SECONDS ?? 600) * 1000;
const PG_RESTART =
  process.env.DRILL_PG_RESTART ?? 'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main restart';
const OUT = process.env.DRILL_OUT ?? 'drill-results.json';
const ADMIN_TOKEN = 'drill-admin-token-0123456789';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const log = (message: string) => console.log(`[drill ${new Date().toISOString().slice(11, 19)}] ${message}`);

/** The subscriptions under test, each on its own path of the receiver. */
const SUBSCRIPTIONS = [
  { path: 'all', body: { eventTypes: ['*'], maxConcurrency: 8 } },
  {
    path: 'ordered',
    body: {
      eventTypes: ['shipment.created', 'shipment.status_changed', 'shipment.tracking_updated', 'shipment.delivered'],
      ordered: true,
      maxConcurrency: 4,
    },
  },
  { path: 'limited', body: { eventTypes: ['order.created', 'shipment.delivered'], maxConcurrency: 2 } },
] as const;

interface Receipt {
  path: string;
  webhookId: string;
  sequence: number;
  aggregateId: string;
}

/** The ERP: answers 200 after a few ms, counts requests in flight per path; `down()` refuses connections. */
class Receiver {
  readonly receipts: Receipt[] = [];
  readonly peak = new Map<string, number>();
  private readonly inFlight = new Map<string, number>();
  private server: http.Server | null = null;
  private readonly sockets = new Set<Socket>();

  constructor(readonly port: number) {}

  async up(): Promise<void> {
    const server = http.createServer((req, res) => {
      const route = (req.url ?? '/').slice(1);
      const chunks: Buffer[] = [];
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        this.inFlight.set(route, this.inFlight.get(route)! - 1);
      };
      this.inFlight.set(route, (this.inFlight.get(route) ?? 0) + 1);
      this.peak.set(route, Math.max(this.peak.get(route) ?? 0, this.inFlight.get(route)!));
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        let body: { sequence?: number; data?: { id?: string } } = {};
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          // not JSON
        }
        // It reached the ERP: whatever happens to the answer, it counts as received.
        this.receipts.push({
          path: route,
          webhookId: String(req.headers['webhook-id']),
          sequence: body.sequence ?? 0,
          aggregateId: body.data?.id ?? '',
        });
        setTimeout(
          () => {
            finish();
            if (!res.destroyed) res.writeHead(200).end('ok');
          },
          2 + Math.floor(Math.random() * 30),
        );
      });
      res.on('close', finish);
    });
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.server = server;
  }

  async down(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

interface Instance {
  index: number;
  port: number;
  service: ServiceProcess | null;
  /** Answering /health: the load goes to ready instances only. */
  ready: boolean;
  exits: number;
}

async function main(): Promise<void> {
  const startedAt = Date.now();
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${DATABASE} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${DATABASE}`);
  await admin.end();
  const url = new URL(ADMIN_URL);
  url.pathname = `/${DATABASE}`;
  const databaseUrl = url.toString();
  await runMigrations(databaseUrl);
  fs.mkdirSync('.data/drill', { recursive: true });

  const receiver = new Receiver(await freePort());
  await receiver.up();
  const env = (port: number): NodeJS.ProcessEnv => ({
    ...process.env,
    DATABASE_URL: databaseUrl,
    PORT: String(port),
    HOST: '127.0.0.1',
    ADMIN_TOKEN,
    ENCRYPTION_KEY: 'd1'.repeat(32),
    WEBHOOK_ALLOW_PRIVATE: 'true',
    // Long enough to outlast the outage and the restarts: a delivery never runs out of retries.
    WEBHOOK_RETRY_SCHEDULE: '1s,2s,4s,8s,15s,30s,30s,30s,30s,30s,60s,60s,60s',
    WEBHOOK_LEASE: '5s',
    WEBHOOK_SHUTDOWN_GRACE: '2s',
    LOG_LEVEL: 'warn',
    LOG_FORMAT: 'json',
  });
  const instances: Instance[] = [];
  for (let index = 0; index < INSTANCES; index++)
    instances.push({ index, port: await freePort(), service: null, ready: false, exits: 0 });
  let finished = false;
  const boot = async (instance: Instance) => {
    if (finished) return;
    instance.ready = false;
    const service = startService(SERVICE_ENTRY, env(instance.port), `.data/drill/instance-${instance.index}.log`);
    instance.service = service;
    void service.exited.then(() => {
      if (instance.service !== service) return;
      // Not one of the drill's kills.
      instance.service = null;
      instance.ready = false;
      if (finished) return;
      instance.exits += 1;
      log(`instance ${instance.index} exited on its own:\n${service.tail(10)}`);
      void sleep(1_000).then(() => boot(instance).catch(() => undefined));
    });
    await waitForHealth(`http://127.0.0.1:${instance.port}`, service, 60_000);
    if (instance.service === service) instance.ready = true;
  };
  await Promise.all(instances.map(boot));
  log(`3 instances on ${DATABASE}, receiver on :${receiver.port}`);

  const call = async (method: string, route: string, body?: unknown, key = ADMIN_TOKEN, instance?: Instance) => {
    const live = instances.filter((i) => i.service && i.ready);
    const target = instance ?? live[Math.floor(Math.random() * live.length)];
    if (!target) throw new Error('no instance is up');
    const response = await fetch(`http://127.0.0.1:${target.port}${route}`, {
      method,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await response.text();
    if (response.status >= 300) throw new Error(`${method} ${route}: ${response.status} ${text.slice(0, 200)}`);
    return text ? JSON.parse(text) : undefined;
  };
  const tenant = await call('POST', '/v1/tenants', { name: 'drill' }, ADMIN_TOKEN, instances[0]);
  const key: string = tenant.apiKey;
  const hooks: Array<{ id: string; path: string; maxConcurrency: number }> = [];
  for (const s of SUBSCRIPTIONS) {
    const created = await call(
      'POST',
      '/v1/webhooks',
      { name: s.path, url: `http://127.0.0.1:${receiver.port}/${s.path}`, ...s.body },
      key,
    );
    hooks.push({ id: created.id, path: s.path, maxConcurrency: s.body.maxConcurrency });
  }

  // The load: orders, shipments and their moves, through any live instance; a refused call is
  // simply not committed (the database says what was).
  const moves = ['booked', 'picked_up', 'in_transit', 'out_for_delivery', 'delivered'];
  const shipments: Array<{ id: string; step: number }> = [];
  let calls = 0;
  let refused = 0;
  let stopLoad = false;
  let serial = 0;
  const one = async () => {
    calls += 1;
    const roll = Math.random();
    try {
      if (roll < 0.25 || shipments.length < 5) {
        const n = serial++;
        if (roll < 0.1) {
          await call(
            'POST',
            '/v1/orders',
            {
              orderNumber: `DR-${n}`,
              customer: { name: 'Drill GmbH', ref: 'C-1' },
              lines: [{ sku: 'PAL', quantity: 1, unit: 'PLT' }],
            },
            key,
          );
        } else {
          const created = await call(
            'POST',
            '/v1/shipments',
            { shipmentNumber: `DS-${n}`, carrier: { name: 'DHL Freight', scac: 'DHLF' }, mode: 'ltl' },
            key,
          );
          shipments.push({ id: created.id, step: 0 });
        }
      } else if (roll < 0.4) {
        const s = shipments[Math.floor(Math.random() * shipments.length)];
        await call(
          'POST',
          `/v1/shipments/${s.id}/tracking-events`,
          { code: 'X6', description: 'en route', occurredAt: new Date().toISOString() },
          key,
        );
      } else {
        const open = shipments.filter((s) => s.step < moves.length);
        const s = open[Math.floor(Math.random() * open.length)];
        if (!s) return;
        await call('POST', `/v1/shipments/${s.id}/status`, { status: moves[s.step] }, key);
        s.step += 1;
      }
    } catch {
      refused += 1;
    }
  };
  const load = (async () => {
    const pending = new Set<Promise<void>>();
    const begin = Date.now();
    for (let i = 0; !stopLoad; i++) {
      const due = begin + (i * 1000) / RATE;
      if (due > Date.now()) await sleep(due - Date.now());
      const p = one().finally(() => pending.delete(p));
      pending.add(p);
    }
    await Promise.all(pending);
  })();

  // The faults, spread over the run.
  const kills: Array<{ at: number; instance: number }> = [];
  let outageOver: Promise<void> = Promise.resolve();
  const faults = (async () => {
    const t0 = Date.now();
    const at = (fraction: number) => t0 + fraction * SECONDS * 1000;
    const schedule: Array<{ when: number; what: () => Promise<void> }> = [];
    for (let k = 0; k < KILLS; k++) {
      schedule.push({
        when: at((k + 0.5) / KILLS),
        what: async () => {
          // Never the last one standing: wait (up to a minute) for a second instance to be up.
          let live = instances.filter((i) => i.service && i.ready);
          for (let waited = 0; live.length < 2 && waited < 60_000; waited += 250) {
            await sleep(250);
            live = instances.filter((i) => i.service && i.ready);
          }
          if (live.length < 2) return;
          const victim = live[Math.floor(Math.random() * live.length)];
          const service = victim.service!;
          victim.service = null;
          victim.ready = false;
          service.child.kill('SIGKILL');
          await service.exited;
          kills.push({ at: Date.now() - startedAt, instance: victim.index });
          log(`SIGKILL instance ${victim.index} (${kills.length}/${KILLS})`);
          void sleep(1_000 + Math.random() * 2_000).then(() =>
            boot(victim).catch((error: unknown) => {
              if (!finished) log(`instance ${victim.index} did not come back: ${String(error)}`);
            }),
          );
        },
      });
    }
    schedule.push({
      when: at(0.3),
      what: async () => {
        log('restarting PostgreSQL');
        const t = Date.now();
        await promisify(execFile)('sh', ['-c', PG_RESTART]);
        log(`PostgreSQL back after ${Date.now() - t} ms`);
      },
    });
    schedule.push({
      when: at(0.5),
      what: async () => {
        log(`receiver down for ${OUTAGE_MS / 1000} s`);
        await receiver.down();
        outageOver = sleep(OUTAGE_MS).then(async () => {
          await receiver.up();
          log('receiver up again');
        });
      },
    });
    schedule.sort((a, b) => a.when - b.when);
    for (const item of schedule) {
      if (item.when > Date.now()) await sleep(item.when - Date.now());
      await item.what();
    }
  })();

  await sleep(SECONDS * 1000);
  stopLoad = true;
  await Promise.all([load, faults]);
  log(`load done: ${calls} calls (${refused} refused); waiting for the receiver and the backlog`);
  // Every instance up for the drain (one killed last may still be on its way back).
  while (instances.some((i) => !i.service)) {
    for (const i of instances) if (!i.service) await boot(i).catch(() => undefined);
  }
  await outageOver;

  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  const drainStart = Date.now();
  let open = 0;
  for (;;) {
    open = (await db.query(`SELECT count(*)::int AS n FROM delivery WHERE status = 'pending'`)).rows[0].n;
    if (open === 0 || Date.now() - drainStart > DRAIN_TIMEOUT_MS) break;
    await sleep(1_000);
  }
  log(`drained in ${Math.round((Date.now() - drainStart) / 1000)} s (${open} still pending)`);

  const events = (
    await db.query(`SELECT count(*)::int AS n FROM event WHERE type NOT LIKE 'webhook.%' AND type <> 'delivery.failed'`)
  ).rows[0].n;
  const deliveries = (
    await db.query(
      `SELECT d.id, d.event_id, d.webhook_id, d.status, d.aggregate_id, d.event_sequence,
              count(a.id)::int AS attempts
         FROM delivery d LEFT JOIN delivery_attempt a ON a.delivery_id = d.id
        GROUP BY d.id`,
    )
  ).rows as Array<{
    id: string;
    event_id: string;
    webhook_id: string;
    status: string;
    aggregate_id: string;
    event_sequence: number;
    attempts: number;
  }>;
  const pathOf = new Map(hooks.map((h) => [h.id, h.path]));
  const received = new Map<string, number>();
  for (const r of receiver.receipts)
    received.set(`${r.path}/${r.webhookId}`, (received.get(`${r.path}/${r.webhookId}`) ?? 0) + 1);
  let delivered = 0;
  let lost = 0;
  let duplicates = 0;
  let unaudited = 0;
  let stuck = 0;
  for (const d of deliveries) {
    const got = received.get(`${pathOf.get(d.webhook_id)}/${d.event_id}`) ?? 0;
    if (d.status === 'delivered') delivered += 1;
    if (got === 0) lost += 1;
    if (got > 1) duplicates += got - 1;
    // Every request that reached the receiver has its attempt row.
    if (got > d.attempts) unaudited += got - d.attempts;
    if (d.status === 'pending') stuck += 1;
  }
  // The ordered subscription: per shipment, the first arrival of each event in sequence order.
  let outOfOrder = 0;
  const firstSeen = new Map<string, number[]>();
  const seen = new Set<string>();
  for (const r of receiver.receipts) {
    if (r.path !== 'ordered' || seen.has(r.webhookId)) continue;
    seen.add(r.webhookId);
    const list = firstSeen.get(r.aggregateId) ?? [];
    if (list.length > 0 && r.sequence < list[list.length - 1]) outOfOrder += 1;
    list.push(r.sequence);
    firstSeen.set(r.aggregateId, list);
  }
  const peaks = Object.fromEntries(
    hooks.map((h) => [h.path, { peak: receiver.peak.get(h.path) ?? 0, maxConcurrency: h.maxConcurrency }]),
  );
  const results = {
    seconds: SECONDS,
    instances: INSTANCES,
    sigkills: kills.length,
    postgresRestarts: 1,
    receiverOutageSeconds: OUTAGE_MS / 1000,
    apiCalls: calls,
    apiCallsRefused: refused,
    eventsCommitted: events,
    deliveries: deliveries.length,
    delivered,
    lost,
    duplicates,
    duplicatesUnaudited: unaudited,
    stuck,
    outOfOrder,
    concurrency: peaks,
    unexpectedExits: instances.reduce((n, i) => n + i.exits, 0),
    minutes: Math.round((Date.now() - startedAt) / 6_000) / 10,
  };
  fs.writeFileSync(OUT, JSON.stringify(results, null, 2) + '\n');
  console.log('');
  console.log(`events committed        ${events}`);
  console.log(`deliveries              ${deliveries.length} (3 subscriptions)`);
  console.log(`delivered               ${delivered}`);
  console.log(`lost                    ${lost}`);
  console.log(`duplicates              ${duplicates} (unaudited: ${unaudited})`);
  console.log(`stuck                   ${stuck}`);
  console.log(`out of order            ${outOfOrder}`);
  console.log(
    `peak concurrency        ${hooks.map((h) => `${h.path} ${peaks[h.path].peak}/${h.maxConcurrency}`).join(', ')}`,
  );
  console.log(
    `faults                  ${kills.length} SIGKILLs, 1 PostgreSQL restart, ${OUTAGE_MS / 1000} s receiver outage`,
  );
  console.log(`results in ${OUT}`);

  await db.end();
  finished = true;
  await Promise.all(
    instances.map((i) => {
      const service = i.service;
      i.service = null;
      return service?.stop(10_000) ?? Promise.resolve(undefined);
    }),
  );
  await receiver.down();
  const ok = lost === 0 && stuck === 0 && unaudited === 0 && outOfOrder === 0;
  process.exit(ok ? 0 : 1);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
