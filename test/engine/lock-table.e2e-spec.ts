import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orderBody } from '../support/fixtures.js';
import { eventually, type Receiver, startReceiver } from '../support/receiver.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

/**
 * `maxConcurrency` across instances must not cost PostgreSQL's shared lock table more than the
 * work really under way: a backlog over many subscriptions with a high `maxConcurrency` once took
 * every free slot of each (subscriptions × maxConcurrency advisory locks) and ran the table out
 * ("out of shared memory", for every session of the database).
 */

const SUBSCRIPTIONS = 300;
const ORDERS = 2;
const MAX_IN_FLIGHT = 48;

describe('engine: concurrency slots and the lock table', () => {
  let t: TestApp;
  let db: pg.Client;
  let receiver: Receiver;

  beforeAll(async () => {
    t = await createTestApp({
      env: { WEBHOOK_MAX_IN_FLIGHT: String(MAX_IN_FLIGHT), WEBHOOK_SWEEP_INTERVAL_MS: '50' },
    });
    db = new pg.Client({ connectionString: t.databaseUrl });
    await db.connect();
    receiver = (await startReceiver()).always({ status: 200, delayMs: 40 });
  });
  afterAll(async () => {
    await receiver?.close();
    await db?.end();
    await t?.close();
  });

  it('advisory locks stay within the requests this instance can have in flight while hundreds of subscriptions have work', async () => {
    const tenant = await t.newTenant();
    for (let i = 0; i < SUBSCRIPTIONS; i++) {
      const created = await t.api('POST', '/v1/webhooks', {
        key: tenant.key,
        body: { name: `ERP ${i}`, url: `${receiver.url}/s${i}`, eventTypes: ['order.created'] },
      });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      expect(created.body.maxConcurrency).toBe(32);
    }
    let peak = 0;
    const locks = async () => {
      const { rows } = await db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_locks
          WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
      );
      return rows[0].n;
    };
    // Every subscription has work at once: each order fans out to all of them.
    for (let i = 0; i < ORDERS; i++) {
      expect((await t.api('POST', '/v1/orders', { key: tenant.key, body: orderBody() })).status).toBe(201);
      peak = Math.max(peak, await locks());
    }
    const total = SUBSCRIPTIONS * ORDERS;
    await eventually(
      async () => {
        peak = Math.max(peak, await locks());
        const { rows } = await db.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM delivery WHERE status = 'delivered'`,
        );
        return rows[0].n === total || undefined;
      },
      120_000,
      `${total} deliveries delivered`,
    );
    expect(receiver.requests.length).toBeGreaterThanOrEqual(total);
    // Some slots were taken (the engine did use them), never more than the instance's own room.
    expect(peak).toBeGreaterThan(0);
    expect(peak, 'advisory locks of this database at the peak').toBeLessThanOrEqual(MAX_IN_FLIGHT);
    // Idle, the instance gives every slot back.
    await eventually(async () => (await locks()) === 0 || undefined, 20_000, 'every slot given back');
  }, 240_000);
});

describe('engine: a rate-limited subscription across two instances', () => {
  const apps: TestApp[] = [];
  let receiver: Receiver;
  afterAll(async () => {
    await receiver?.close();
    for (const app of apps.reverse()) await app.close();
  });

  it('is sent to by one instance at a time at its rate, and every delivery arrives', async () => {
    const first = await createTestApp({ env: { WEBHOOK_SWEEP_INTERVAL_MS: '50' } });
    apps.push(first);
    const second = await createTestApp({ databaseUrl: first.databaseUrl, env: { WEBHOOK_SWEEP_INTERVAL_MS: '50' } });
    apps.push(second);
    receiver = await startReceiver();
    const tenant = await first.newTenant();
    const created = await first.api('POST', '/v1/webhooks', {
      key: tenant.key,
      body: { name: 'ERP', url: receiver.url, eventTypes: ['order.created'], rateLimitPerSecond: 4 },
    });
    expect(created.status).toBe(201);
    // Both instances take their own commits directly: both have work for the subscription.
    await Promise.all(
      [first, second].map(async (instance) => {
        for (let i = 0; i < 8; i++) await instance.api('POST', '/v1/orders', { key: tenant.key, body: orderBody() });
      }),
    );
    await receiver.waitForRequests(16, 60_000);
    // Never faster than the rate, with one full bucket (4) at the start and one more should the
    // sender change: at most 4 + 4 + 4 within any second.
    const at = receiver.requests.map((r) => r.receivedAt).sort((a, b) => a - b);
    for (let i = 0; i < at.length; i++) {
      const within = at.filter((x) => x >= at[i] && x < at[i] + 1_000).length;
      expect(within).toBeLessThanOrEqual(12);
    }
    const db = new pg.Client({ connectionString: first.databaseUrl });
    await db.connect();
    try {
      await eventually(
        async () => (await db.query(`SELECT 1 FROM delivery WHERE status = 'delivered'`)).rowCount === 16 || undefined,
        30_000,
      );
    } finally {
      await db.end();
    }
  });
});
