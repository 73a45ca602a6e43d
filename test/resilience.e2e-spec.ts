import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { Dispatcher } from '../src/webhooks/engine/dispatcher.js';
import { orderBody } from './support/fixtures.js';
import { eventually, type Receiver, startReceiver } from './support/receiver.js';
import { ADMIN_TOKEN, createTestApp, type TestApp, TEST_ENCRYPTION_KEY } from './support/test-app.js';
import { createTestDatabase } from './support/test-database.js';
import { freePort } from './support/ports.js';

const MAIN = path.resolve('dist/src/main.js');

/** The built service in its own process, as production runs it. */
async function startService(databaseUrl: string, port: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, [MAIN], {
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      PORT: String(port),
      HOST: '127.0.0.1',
      ADMIN_TOKEN,
      ENCRYPTION_KEY: TEST_ENCRYPTION_KEY,
      WEBHOOK_ALLOW_PRIVATE: 'true',
      WEBHOOK_LEASE: '2s',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  await eventually(
    async () =>
      (await fetch(`http://127.0.0.1:${port}/health`)
        .then((r) => r.ok)
        .catch(() => false)) || (child.exitCode !== null ? Promise.reject(new Error(stderr)) : false),
    20_000,
    'the service to answer /health',
  );
  return child;
}

const call = async (port: number, key: string, method: string, route: string, body?: unknown) => {
  const response = await fetch(`http://127.0.0.1:${port}${route}`, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as any };
};

describe('crash safety', () => {
  const children: ChildProcess[] = [];
  let receiver: Receiver | undefined;
  afterEach(async () => {
    for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
    await receiver?.close();
  });

  it('a service killed with SIGKILL mid-delivery loses nothing: after a restart every committed event arrives', async () => {
    expect(fs.existsSync(MAIN), 'run `npm run build` first (npm test does)').toBe(true);
    const database = await createTestDatabase();
    // The first four pushes hang until the kill: the killed instance has sent at most those.
    receiver = (await startReceiver()).always('hang');
    const port = await freePort();
    const first = await startService(database.url, port);
    children.push(first);

    const tenant = await call(port, ADMIN_TOKEN, 'POST', '/v1/tenants', { name: 'crash' });
    const key = tenant.body.apiKey;
    // Paused while the orders are made, so the kill lands mid-delivery however slow the creates are.
    const webhook = await call(port, key, 'POST', '/v1/webhooks', {
      name: 'erp',
      url: receiver.url,
      eventTypes: ['order.created'],
      maxConcurrency: 4,
      paused: true,
    });
    const committed: string[] = [];
    for (let i = 0; i < 40; i++) {
      const created = await call(port, key, 'POST', '/v1/orders', orderBody());
      expect(created.status).toBe(201);
      committed.push(created.body.id);
    }
    expect((await call(port, key, 'PATCH', `/v1/webhooks/${webhook.body.id}`, { paused: false })).status).toBe(200);
    await receiver.waitForRequests(4);
    first.kill('SIGKILL');
    await new Promise((resolve) => first.once('exit', resolve));
    const beforeRestart = new Set(receiver.bodies().map((b) => b.data.id)).size;
    expect(beforeRestart).toBeLessThanOrEqual(4);
    receiver.always({ status: 200, delayMs: 5 });

    const second = await startService(database.url, port);
    children.push(second);
    await eventually(
      () => {
        const seen = new Set(receiver!.bodies().map((b) => b.data.id));
        return committed.every((id) => seen.has(id));
      },
      30_000,
      'every committed event to arrive after the restart',
    );
    // Nothing reached the receiver unaudited, not even the requests the kill cut short: each
    // delivery has at least as many attempt rows as requests arrived with its webhook-id.
    const db = new pg.Client({ connectionString: database.url });
    await db.connect();
    const audited = await eventually(async () => {
      const { rows } = await db.query(
        `SELECT d.event_id, count(a.id)::int AS attempts, bool_and(d.status = 'delivered') AS delivered
           FROM delivery d LEFT JOIN delivery_attempt a ON a.delivery_id = d.id GROUP BY d.event_id`,
      );
      return rows.length === 40 && rows.every((r) => r.delivered) ? rows : undefined;
    });
    await db.end();
    const arrived = new Map<string, number>();
    for (const request of receiver.requests) {
      const id = String(request.headers['webhook-id']);
      arrived.set(id, (arrived.get(id) ?? 0) + 1);
    }
    for (const row of audited)
      expect(row.attempts, row.event_id).toBeGreaterThanOrEqual(arrived.get(row.event_id) ?? 0);
    expect(audited.filter((r) => r.attempts > 1).length).toBeGreaterThanOrEqual(1);
    second.kill('SIGTERM');
    await new Promise((resolve) => second.once('exit', resolve));
    await database.drop();
  }, 60_000);
});

/** Every delivery of the database recorded delivered (and `count` of them): nothing is left to send. */
async function allDelivered(databaseUrl: string, count: number): Promise<void> {
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    await eventually(async () => {
      const { rows } = await db.query(
        `SELECT count(*) FILTER (WHERE status = 'delivered')::int AS delivered, count(*)::int AS total FROM delivery`,
      );
      return rows[0].delivered === count && rows[0].total === count;
    }, 20_000);
  } finally {
    await db.end();
  }
}

describe('several instances on one database', () => {
  const apps: TestApp[] = [];
  let receiver: Receiver | undefined;
  afterAll(async () => {
    await receiver?.close();
    for (const app of apps.reverse()) await app.close();
  });

  it('share a burst woken by NOTIFY: every event delivered exactly once, by the workers only', async () => {
    // The API instance delivers nothing itself: its commits reach the two workers only by NOTIFY.
    const api = await createTestApp({ env: { ROLE: 'api' } });
    apps.push(api);
    const b = await createTestApp({ databaseUrl: api.databaseUrl });
    apps.push(b);
    const c = await createTestApp({ databaseUrl: api.databaseUrl });
    apps.push(c);
    receiver = (await startReceiver()).always({ status: 200, delayMs: 5 });
    await api.api('POST', '/v1/webhooks', {
      body: { name: 'erp', url: receiver.url, eventTypes: ['order.created'], maxConcurrency: 4 },
    });
    const ids: string[] = [];
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let i = 0; i < 25; i++) ids.push((await api.api('POST', '/v1/orders', { body: orderBody() })).body.id);
      }),
    );
    await receiver.waitForRequests(200, 20_000);
    await allDelivered(api.databaseUrl, 200);
    await Promise.all([b.app.get(Dispatcher).whenIdle(), c.app.get(Dispatcher).whenIdle()]);
    const delivered = receiver.bodies().map((body) => body.data.id as string);
    expect(delivered).toHaveLength(200);
    expect(new Set(delivered)).toEqual(new Set(ids));
    // One subscription's concurrency slots are held by one worker while it is busy with it
    // (maxConcurrency holds across instances), so which worker sends how many is not fixed.
    const [sentByB, sentByC] = [b, c].map((x) => x.app.get(Dispatcher).stats.attempted);
    expect(api.app.get(Dispatcher).stats.attempted).toBe(0);
    expect(sentByB + sentByC).toBe(200);
  });

  it('two full instances taking their own commits directly deliver each event exactly once', async () => {
    const [api, a, b] = apps;
    receiver!.requests.length = 0;
    const ids: string[] = [];
    await Promise.all(
      [a, b].map(async (instance) => {
        for (let i = 0; i < 50; i++) {
          ids.push((await instance.api('POST', '/v1/orders', { key: api.tenant.key, body: orderBody() })).body.id);
        }
      }),
    );
    await receiver!.waitForRequests(100, 20_000);
    await allDelivered(api.databaseUrl, 300);
    await Promise.all([a.app.get(Dispatcher).whenIdle(), b.app.get(Dispatcher).whenIdle()]);
    const delivered = receiver!.bodies().map((body) => body.data.id as string);
    expect(delivered).toHaveLength(100);
    expect(new Set(delivered)).toEqual(new Set(ids));
  });
});

describe('graceful shutdown', () => {
  it('finishes in-flight requests, records them, and hands back the rest for the next start', async () => {
    const first = await createTestApp();
    const receiver = (await startReceiver()).always({ status: 200, delayMs: 400 });
    try {
      await first.api('POST', '/v1/webhooks', {
        body: { name: 'erp', url: receiver.url, eventTypes: ['order.created'], maxConcurrency: 2 },
      });
      for (let i = 0; i < 10; i++) await first.api('POST', '/v1/orders', { body: orderBody() });
      await receiver.waitForRequests(2);
      await first.app.close();

      const db = new pg.Client({ connectionString: first.databaseUrl });
      await db.connect();
      const states = (await db.query(`SELECT status, count(*)::int AS n FROM delivery GROUP BY status ORDER BY status`))
        .rows;
      const byStatus = Object.fromEntries(states.map((r) => [r.status, r.n]));
      const leased = (
        await db.query(
          `SELECT count(*)::int AS n FROM delivery WHERE leased_by IS NOT NULL OR lease_expires_at IS NOT NULL`,
        )
      ).rows[0].n;
      expect(leased).toBe(0);
      expect(byStatus.delivered).toBeGreaterThanOrEqual(2);
      expect(byStatus.delivered + byStatus.pending).toBe(10);
      const attempts = (await db.query(`SELECT count(*)::int AS n FROM delivery_attempt`)).rows[0].n;
      expect(attempts).toBe(byStatus.delivered);
      await db.end();

      const second = await createTestApp({ databaseUrl: first.databaseUrl });
      try {
        await eventually(
          () => new Set(receiver.bodies().map((b) => b.data.id)).size === 10,
          15_000,
          'the rest after restart',
        );
      } finally {
        await second.close();
      }
    } finally {
      await receiver.close();
      await first.close().catch(() => undefined);
    }
  });
});
