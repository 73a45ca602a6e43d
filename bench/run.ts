import { fork } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { Pool } from 'undici';
import { startEmbeddedPostgres } from '../src/database/embedded-postgres.js';
import { signatureHeader, signingKey } from '../src/webhooks/transport/signer.js';
import { catalogEntry } from '../src/events/event-catalog.js';
import { Remote, wallNow } from './rpc.js';

/**
 * `npm run bench`: the delivery engine against the ceiling (undici alone) and a peer
 * (graphile-worker) in one run. Three processes: this one (load generator and referee), the
 * service, the receiver; the peer runs in a fourth when it is measured.
 */
const here = path.dirname(fileURLToPath(import.meta.url));
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const DRAIN = Number(process.env.BENCH_DRAIN ?? 20_000);
const OUT = process.env.BENCH_OUT ?? 'bench-results.json';
const AUDIT_ROWS = Number(process.env.BENCH_AUDIT_ROWS ?? 1_000_000);
/** For working on one scenario: BENCH_ONLY=drain,peer (the JSON then lacks the others). */
const ONLY = process.env.BENCH_ONLY ? new Set(process.env.BENCH_ONLY.split(',')) : undefined;
const runs = (name: string) => !ONLY || ONLY.has(name);
const ADMIN_TOKEN = 'bench-admin-token-0123456789';
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
};
const round1 = (n: number) => Math.round(n * 10) / 10;
const log = (message: string) => process.stderr.write(`[bench] ${message}\n`);

async function main(): Promise<void> {
  const startedAt = Date.now();
  let embedded: Awaited<ReturnType<typeof startEmbeddedPostgres>> | undefined;
  let serverUrl = process.env.DATABASE_URL;
  let dataDir: string | undefined;
  if (!serverUrl) {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'waybill-bench-'));
    fs.chmodSync(dataDir, 0o755);
    embedded = await startEmbeddedPostgres({
      dataDir,
      port: 54000 + Math.floor(Math.random() * 900),
      database: 'postgres',
    });
    serverUrl = embedded.url;
  }
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  const dbUrl = async (name: string) => {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${name}`);
    const url = new URL(serverUrl!);
    url.pathname = `/${name}`;
    return url.toString();
  };
  const serviceDb = await dbUrl('waybill_bench');
  const peerDb = await dbUrl('waybill_bench_peer');
  const machine = {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGb: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    postgres: (await admin.query('SHOW server_version')).rows[0].server_version as string,
    database: embedded ? 'embedded' : 'DATABASE_URL',
  };

  const receiver = new Remote(fork(path.join(here, 'receiver.js'), { stdio: 'inherit' }), 'receiver');
  await receiver.ready;
  const receiverUrl = `http://127.0.0.1:${await receiver.call<number>('port')}`;
  const servicePort = 38000 + Math.floor(Math.random() * 1000);
  const service = new Remote(
    fork(path.join(here, 'service.js'), {
      stdio: 'inherit',
      execArgv: process.env.BENCH_SERVICE_NODE_ARGS ? process.env.BENCH_SERVICE_NODE_ARGS.split(' ') : [],
      env: {
        ...process.env,
        DATABASE_URL: serviceDb,
        PORT: String(servicePort),
        ADMIN_TOKEN,
        ENCRYPTION_KEY: 'ab'.repeat(32),
        WEBHOOK_ALLOW_PRIVATE: 'true',
        LOG_LEVEL: 'warn',
        NODE_ENV: 'production',
      },
    }),
    'service',
  );
  await service.ready;
  const db = new pg.Client({ connectionString: serviceDb });
  await db.connect();
  const api = new Pool(`http://127.0.0.1:${servicePort}`, { connections: 32 });
  const call = async (key: string, method: string, route: string, body?: unknown) => {
    const response = await api.request({
      path: route,
      method: method as 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.body.text();
    if (response.statusCode >= 300) throw new Error(`${method} ${route}: ${response.statusCode} ${text}`);
    return text ? JSON.parse(text) : undefined;
  };

  const fresh = async () => {
    await db.query('TRUNCATE delivery_attempt, delivery, event, webhook, tracking_event, shipment, "order" CASCADE');
    await receiver.call('reset');
    return service.call<{ id: string; key: string }>('createTenant');
  };
  const subscribe = (key: string, body: Record<string, unknown>) =>
    call(key, 'POST', '/v1/webhooks', { name: 'bench', eventTypes: ['*'], ...body }) as Promise<{ id: string }>;
  const deliveredCount = async (webhookId?: string) =>
    Number(
      (
        await db.query(
          `SELECT count(*) AS n FROM delivery WHERE status = 'delivered' ${webhookId ? 'AND webhook_id = $1' : ''}`,
          webhookId ? [webhookId] : [],
        )
      ).rows[0].n,
    );
  const untilDelivered = async (n: number, webhookId?: string) => {
    while ((await deliveredCount(webhookId)) < n) await new Promise((resolve) => setTimeout(resolve, 10));
    return wallNow();
  };

  const payload = JSON.stringify(catalogEntry('shipment.status_changed').example);
  const results: Record<string, number[]> = {};
  const note = (name: string, value: number) => (results[name] ??= []).push(value);

  // 1. ceiling_http: the sender alone, no database.
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

  // 2. drain: a committed backlog, drained with audit rows.
  const drain = async (withDeadEndpoint: boolean) => {
    const tenant = await fresh();
    const healthy = await subscribe(tenant.key, { url: `${receiverUrl}/drain`, paused: true });
    const dead = withDeadEndpoint
      ? await subscribe(tenant.key, { url: `${receiverUrl}/dead`, paused: true, timeoutMs: 2000 })
      : undefined;
    await service.call('seed', { tenantId: tenant.id, count: DRAIN, perTransaction: 100 });
    // Start every round from the same state: no autovacuum of the seeding or checkpoint mid-measurement.
    await db.query('VACUUM ANALYZE delivery, event');
    await db.query('CHECKPOINT');
    // The dead subscription's backlog is live (its requests hanging) before the clock starts.
    if (dead) await call(tenant.key, 'PATCH', `/v1/webhooks/${dead.id}`, { paused: false });
    await service.call('rssStart');
    const t0 = wallNow();
    await call(tenant.key, 'PATCH', `/v1/webhooks/${healthy.id}`, { paused: false });
    await receiver.call('waitFor', { key: 'drain', n: DRAIN });
    const t1 = await untilDelivered(DRAIN, healthy.id);
    const rss = await service.call<number>('rssStop');
    if (dead) await call(tenant.key, 'PATCH', `/v1/webhooks/${dead.id}`, { paused: true });
    return { perSec: (DRAIN / (t1 - t0)) * 1000, rss };
  };

  // 3. peer: graphile-worker doing the same work.
  const peer = async () => {
    const remote = new Remote(
      fork(path.join(here, 'peer.js'), {
        stdio: 'inherit',
        env: { ...process.env, DATABASE_URL: peerDb, RECEIVER_URL: receiverUrl },
      }),
      'peer',
    );
    await remote.ready;
    try {
      return (await remote.call<{ perSec: number }>('drain', { count: DRAIN, payload })).perSec;
    } finally {
      await remote.stop();
    }
  };

  // 4. latency: 200 events/s for 10 s committed inside the service; commit → receipt.
  const latency = async () => {
    const tenant = await fresh();
    await subscribe(tenant.key, { url: `${receiverUrl}/latency` });
    const committed = await service.call<Record<string, number>>('produce', {
      tenantId: tenant.id,
      perSecond: 200,
      seconds: Number(process.env.BENCH_LATENCY_SECONDS ?? 10),
    });
    const ids = Object.keys(committed);
    await receiver.call('waitFor', { key: 'latency', n: ids.length });
    const arrivals = await receiver.call<Record<string, number>>('arrivals');
    const samples = ids.map((id) => arrivals[id] - committed[id]);
    return { p50: percentile(samples, 50), p99: percentile(samples, 99), max: Math.max(...samples) };
  };

  // 5. ingest: status moves through the REST API, 16 in flight for 10 s.
  const ingest = async () => {
    const tenant = await fresh();
    await subscribe(tenant.key, { url: `${receiverUrl}/ingest`, eventTypes: ['shipment.status_changed'] });
    const shipments: string[] = [];
    for (let i = 0; i < 16; i++) {
      const created = await call(tenant.key, 'POST', '/v1/shipments', {
        shipmentNumber: `SH-${i}`,
        carrier: { name: 'DHL', scac: 'DHLF' },
        mode: 'ltl',
      });
      for (const status of ['booked', 'picked_up', 'in_transit'])
        await call(tenant.key, 'POST', `/v1/shipments/${created.id}/status`, { status });
      shipments.push(created.id);
    }
    const seconds = Number(process.env.BENCH_INGEST_SECONDS ?? 10);
    let requests = 0;
    const deadline = wallNow() + seconds * 1000;
    const t0 = wallNow();
    await Promise.all(
      shipments.map(async (id) => {
        let next = 'out_for_delivery';
        while (wallNow() < deadline) {
          await call(tenant.key, 'POST', `/v1/shipments/${id}/status`, { status: next });
          next = next === 'out_for_delivery' ? 'in_transit' : 'out_for_delivery';
          requests += 1;
        }
      }),
    );
    const t1 = wallNow();
    // Each shipment was walked booked → picked_up → in_transit first: three status_changed events.
    const expected = requests + 16 * 3;
    const backlog = expected - (await deliveredCount());
    const drained = await untilDelivered(expected);
    return { perSec: (requests / (t1 - t0)) * 1000, backlog, backlogDrainMs: drained - t1 };
  };

  // 6. fanout: 500 events (one per transaction) to 50 matching subscriptions.
  const fanout = async () => {
    const tenant = await fresh();
    for (let i = 0; i < 50; i++) await subscribe(tenant.key, { url: `${receiverUrl}/fanout/${i}` });
    const t0 = wallNow();
    await service.call('seed', { tenantId: tenant.id, count: 500, perTransaction: 1 });
    await receiver.call('waitFor', { key: 'fanout', n: 25_000 });
    const t1 = await untilDelivered(25_000);
    return (25_000 / (t1 - t0)) * 1000;
  };

  // 8. audit_query: 1,000,000 attempt rows, first and deep page of one subscription's delivered.
  const auditQuery = async () => {
    const tenant = await fresh();
    const hook = await subscribe(tenant.key, { url: `${receiverUrl}/audit`, paused: true });
    log(`audit_query: seeding ${AUDIT_ROWS} deliveries and attempts`);
    await db.query(
      `INSERT INTO delivery (tenant_id, webhook_id, event_id, event_type, aggregate_id, status, attempt_count, created_at, updated_at)
       SELECT $1, $2, 'evt_bench_' || g, 'shipment.status_changed', gen_random_uuid(),
              CASE WHEN g % 10 = 0 THEN 'failed' ELSE 'delivered' END, 1,
              now() - g * interval '1 second', now()
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
    await db.query('ANALYZE delivery; ANALYZE delivery_attempt');
    const deep = (
      await db.query(
        `SELECT created_at, id FROM delivery WHERE webhook_id = $1 AND status = 'delivered' ORDER BY created_at DESC, id DESC OFFSET $2 LIMIT 1`,
        [hook.id, Math.floor(AUDIT_ROWS * 0.8)],
      )
    ).rows[0];
    const deepCursor = Buffer.from(JSON.stringify([deep.created_at.toISOString(), deep.id])).toString('base64url');
    const timeQuery = async (route: string) => {
      const samples: number[] = [];
      for (let i = 0; i < 100; i++) {
        const t0 = performance.now();
        const page = await call(tenant.key, 'GET', route);
        samples.push(performance.now() - t0);
        if (page.data.length !== 50) throw new Error(`expected a full page from ${route}`);
      }
      return percentile(samples, 95);
    };
    const base = `/v1/deliveries?webhookId=${hook.id}&status=delivered&limit=50`;
    return { first: await timeQuery(base), deep: await timeQuery(`${base}&cursor=${deepCursor}`) };
  };

  for (let round = 1; round <= ROUNDS; round++) {
    const step = (name: string) => runs(name) && (log(`round ${round}/${ROUNDS}: ${name}`), true);
    if (step('ceiling_http')) note('ceiling', await ceiling());
    if (step('drain')) {
      const d = await drain(false);
      note('drain', d.perSec);
      note('drainRss', d.rss);
    }
    if (step('peer')) note('peer', await peer());
    if (step('fanout')) note('fanout', await fanout());
    if (step('isolation')) note('isolation', (await drain(true)).perSec);
    if (step('latency')) {
      const l = await latency();
      note('p50', l.p50);
      note('p99', l.p99);
      note('max', l.max);
    }
    if (step('ingest')) {
      const i = await ingest();
      note('ingest', i.perSec);
      note('backlog', i.backlog);
      note('backlogDrainMs', i.backlogDrainMs);
    }
  }
  let audit = { first: NaN, deep: NaN };
  if (runs('audit_query')) {
    log('audit_query');
    audit = await auditQuery();
  }

  const m = (name: string) => (results[name] ? median(results[name]) : NaN);
  const scenarios = {
    ceiling_http: { perSec: Math.round(m('ceiling')) },
    drain: { perSec: Math.round(m('drain')), peakRssMb: Math.round(Math.max(...(results.drainRss ?? [NaN]))) },
    peer: { perSec: Math.round(m('peer')) },
    latency: { p50Ms: Math.round(m('p50') * 100) / 100, p99Ms: round1(m('p99')), maxMs: round1(m('max')) },
    ingest: {
      perSec: Math.round(m('ingest')),
      backlog: Math.round(m('backlog')),
      backlogDrainMs: Math.round(m('backlogDrainMs')),
    },
    fanout: { perSec: Math.round(m('fanout')) },
    isolation: { perSec: Math.round(m('isolation')) },
    audit_query: { firstPageP95Ms: round1(audit.first), deepPageP95Ms: round1(audit.deep) },
  };
  const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100;
  const report = {
    machine,
    rounds: ROUNDS,
    durationSeconds: Math.round((Date.now() - startedAt) / 1000),
    scenarios,
    ratios: {
      drainOverPeer: ratio(m('drain'), m('peer')),
      drainOverCeiling: ratio(m('drain'), m('ceiling')),
      fanoutOverDrain: ratio(m('fanout'), m('drain')),
      isolationOverDrain: ratio(m('isolation'), m('drain')),
    },
    rawRounds: results,
  };
  fs.writeFileSync(OUT, JSON.stringify(report, null, 2) + '\n');

  const rows = [
    ['ceiling_http', `${scenarios.ceiling_http.perSec} POST/s`, 'undici alone, 32 in flight, no database'],
    [
      'drain',
      `${scenarios.drain.perSec} deliveries/s`,
      `${DRAIN} committed deliveries with audit rows; peak RSS ${scenarios.drain.peakRssMb} MB`,
    ],
    [
      'peer',
      `${scenarios.peer.perSec} jobs/s`,
      'graphile-worker 0.18, batched, concurrency 32, sign + undici POST + audit row',
    ],
    [
      'latency',
      `p50 ${scenarios.latency.p50Ms} ms, p99 ${scenarios.latency.p99Ms} ms, max ${scenarios.latency.maxMs} ms`,
      'commit → receipt at 200 events/s',
    ],
    [
      'ingest',
      `${scenarios.ingest.perSec} req/s`,
      `REST status moves, 16 in flight; backlog at end ${scenarios.ingest.backlog}, drained in ${scenarios.ingest.backlogDrainMs} ms`,
    ],
    ['fanout', `${scenarios.fanout.perSec} deliveries/s`, '500 events × 50 subscriptions'],
    ['isolation', `${scenarios.isolation.perSec} deliveries/s`, 'drain beside a subscription that never answers'],
    [
      'audit_query',
      `p95 ${scenarios.audit_query.firstPageP95Ms} ms / ${scenarios.audit_query.deepPageP95Ms} ms`,
      `first / deep page, ${AUDIT_ROWS.toLocaleString('en-US')} attempt rows`,
    ],
  ];
  const table = [
    `Machine: ${machine.cpus} CPUs (${machine.cpuModel}), Node ${machine.node}, PostgreSQL ${machine.postgres} (${machine.database}); median of ${ROUNDS} rounds`,
    '',
    '| scenario | result | what |',
    '|---|---|---|',
    ...rows.map((r) => `| ${r.join(' | ')} |`),
    '',
    '| ratio | value |',
    '|---|---|',
    ...Object.entries(report.ratios).map(([k, v]) => `| ${k} | ${v} |`),
  ].join('\n');
  console.log(table);

  await api.close();
  await db.end();
  await service.stop();
  await receiver.stop();
  await admin.query('DROP DATABASE IF EXISTS waybill_bench WITH (FORCE)');
  await admin.query('DROP DATABASE IF EXISTS waybill_bench_peer WITH (FORCE)');
  await admin.end();
  await embedded?.stop();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
