import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClaimedDelivery } from '../../src/webhooks/deliveries/delivery.rows.js';
import { ConcurrencySlots } from '../../src/webhooks/engine/concurrency-slots.js';
import { Dispatcher } from '../../src/webhooks/engine/dispatcher.js';
import { Lanes } from '../../src/webhooks/engine/lanes.js';
import { orderBody } from '../support/fixtures.js';
import { eventually } from '../support/receiver.js';
import { createTestDatabase } from '../support/test-database.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

/**
 * Instances share a busy subscription's `maxConcurrency`. Before, the first instance to take its
 * slots kept all of them while its queue lasted; a second instance could only claim, find no
 * slot, give its claims back and leave the subscription for 5 s, so two instances sent no faster
 * than one (the bench's `instances` scenario: one did every request).
 */

describe('engine: concurrency slots shared by the instances that want them', () => {
  const webhookId = '7d7a7d7a-0000-4000-8000-000000000001';
  let database: { url: string; drop(): Promise<void> };
  let a: ConcurrencySlots;
  let b: ConcurrencySlots;

  beforeAll(async () => {
    database = await createTestDatabase();
    a = new ConcurrencySlots(database.url, 64);
    b = new ConcurrencySlots(database.url, 64);
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await database?.drop();
  });

  const ask = (want: number) => [{ webhookId, want, max: 8, leader: false }];

  it('an instance alone has all of them; one waiting for a slot halves the share; satisfied or gone, the share is whole again', async () => {
    expect((await a.acquire(ask(8))).get(webhookId)).toBe(8);
    await a.countSharers([webhookId]);
    expect(a.shareOf(webhookId, 8)).toBe(8);

    // B has a connection (it took another subscription's slot) but wants nothing of this one: not counted.
    await b.acquire([{ webhookId: '7d7a7d7a-0000-4000-8000-000000000002', want: 1, max: 1, leader: false }]);
    await a.countSharers([webhookId]);
    expect(a.shareOf(webhookId, 8)).toBe(8);

    // B wants some and finds none free: its wait lock keeps A to half.
    expect((await b.acquire(ask(4))).get(webhookId)).toBe(0);
    b.setWaiting(webhookId, true);
    await eventually(async () => {
      await a.countSharers([webhookId]);
      return a.shareOf(webhookId, 8) === 4 || undefined;
    }, 5_000);
    // A does not wait: B may take whatever is free.
    await b.countSharers([webhookId]);
    expect(b.sharersOf(webhookId)).toBe(2);
    expect(b.shareOf(webhookId, 8)).toBe(8);

    // A gives back what is above its share; B takes it and no longer waits: A may have all that is free again.
    a.release(webhookId, 4);
    // The unlock goes out on A's connection on the next turn of the event loop.
    await eventually(async () => (await b.acquire(ask(4))).get(webhookId) === 4 || undefined, 5_000);
    b.setWaiting(webhookId, false);
    await eventually(async () => {
      await a.countSharers([webhookId]);
      return a.shareOf(webhookId, 8) === 8 || undefined;
    }, 5_000);
    expect(a.sharersOf(webhookId)).toBe(2);

    b.release(webhookId);
    await eventually(async () => {
      await a.countSharers([webhookId]);
      return a.shareOf(webhookId, 8) === 8 || undefined;
    }, 5_000);
    a.release(webhookId);
  });
});

/** A claimed delivery as the lanes see it: they read its id and its subscription's limits. */
function queued(webhookId: string, maxConcurrency: number, n: number): ClaimedDelivery {
  return {
    id: `${webhookId}-${n}`,
    webhookId,
    webhook: { id: webhookId, maxConcurrency, rateLimitPerSecond: null },
  } as unknown as ClaimedDelivery;
}

describe('engine: lanes sharing slots with other instances', () => {
  let database: { url: string; drop(): Promise<void> };
  const closers: Array<() => Promise<unknown>> = [];
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    await database?.drop();
  });

  /** An instance's slots and lanes, with requests that stay on the wire, counting its take statements. */
  const instance = () => {
    const slots = new ConcurrencySlots(database.url, 512);
    const counted = { takes: 0 };
    const acquire = slots.acquire.bind(slots);
    slots.acquire = (requests) => {
      counted.takes += 1;
      return acquire(requests);
    };
    const lanes = new Lanes(slots, 512, { send: () => new Promise<void>(() => undefined), handBack: () => undefined });
    closers.push(async () => {
      lanes.stop();
      await slots.close();
    });
    return { slots, lanes, counted };
  };

  it('a lane short of slots asks again on the sweep, not on every round trip', async () => {
    const webhookId = '7d7a7d7a-0000-4000-8000-0000000000a1';
    // Another instance holds 22 of the 32 slots.
    const other = new pg.Client({ connectionString: database.url });
    await other.connect();
    closers.push(() => other.end());
    await other.query(`SELECT pg_advisory_lock(hashtext($1), g) FROM generate_series(0, 21) g`, [webhookId]);
    const a = instance();
    for (let i = 0; i < 200; i++) a.lanes.enqueue(queued(webhookId, 32, i));
    await eventually(() => a.slots.count(webhookId) === 10 || undefined, 5_000, 'the 10 free slots taken');
    const takes = a.counted.takes;
    // Twenty round trips of the database: a lane that asked again on each answer would have asked about as often.
    for (let i = 0; i < 20; i++) await other.query('SELECT 1');
    expect(a.counted.takes - takes).toBeLessThanOrEqual(1);
  });

  it('an instance that needs one slot leaves the rest to the busy one (no share while nobody waits)', async () => {
    const webhookId = '7d7a7d7a-0000-4000-8000-0000000000a2';
    // B sends a trickle: it holds one slot and wants no more.
    const b = new ConcurrencySlots(database.url, 512);
    closers.push(() => b.close());
    expect((await b.acquire([{ webhookId, want: 1, max: 8, leader: false }])).get(webhookId)).toBe(1);
    const a = instance();
    for (let i = 0; i < 2_000; i++) a.lanes.enqueue(queued(webhookId, 8, i));
    await eventually(() => a.lanes.active === 7 || undefined, 5_000, 'A sending on the 7 free slots');
    await a.slots.countSharers([webhookId]);
    a.lanes.poke();
    expect(a.slots.sharersOf(webhookId)).toBe(2);
    expect(a.slots.shareOf(webhookId, 8)).toBe(8);
    expect(a.slots.count(webhookId)).toBe(7);
  });
});

describe('engine: two instances drain one subscription together', () => {
  const MAX_CONCURRENCY = 4;
  const ORDERS = 240;
  let first: TestApp;
  let second: TestApp;
  let server: http.Server;
  let url = '';
  let inFlight = 0;
  let peak = 0;
  let received = 0;

  beforeAll(async () => {
    const env = { WEBHOOK_SWEEP_INTERVAL_MS: '50' };
    first = await createTestApp({ env });
    second = await createTestApp({ env, databaseUrl: first.databaseUrl });
    server = http.createServer((req, res) => {
      inFlight += 1;
      peak = Math.max(peak, inFlight);
      req.resume();
      req.on('end', () =>
        setTimeout(() => {
          inFlight -= 1;
          received += 1;
          res.end('ok');
        }, 20),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await second?.close();
    await first?.close();
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
  });

  it('a backlog is sent by both, never more than maxConcurrency at once in all', async () => {
    const hook = await first.api('POST', '/v1/webhooks', {
      body: { name: 'erp', url, eventTypes: ['order.created'], maxConcurrency: MAX_CONCURRENCY, paused: true },
    });
    expect(hook.status, JSON.stringify(hook.body)).toBe(201);
    for (let i = 0; i < ORDERS; i++) {
      expect((await first.api('POST', '/v1/orders', { body: orderBody() })).status).toBe(201);
    }
    expect((await first.api('PATCH', `/v1/webhooks/${hook.body.id}`, { body: { paused: false } })).status).toBe(200);
    const db = new pg.Client({ connectionString: first.databaseUrl });
    await db.connect();
    try {
      await eventually(
        async () => {
          const { rows } = await db.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM delivery WHERE status = 'delivered'`,
          );
          return rows[0].n === ORDERS || undefined;
        },
        60_000,
        `${ORDERS} deliveries delivered`,
      );
    } finally {
      await db.end();
    }
    await Promise.all([first.app.get(Dispatcher).whenIdle(), second.app.get(Dispatcher).whenIdle()]);
    expect(received).toBe(ORDERS);
    expect(peak, 'requests in flight at once, both instances together').toBeLessThanOrEqual(MAX_CONCURRENCY);
    const sent = [first, second].map((x) => x.app.get(Dispatcher).stats.attempted);
    expect(sent[0] + sent[1]).toBe(ORDERS);
    // Each took its share of the slots for most of the drain (the split follows the claims, so it is not exact).
    for (const n of sent) expect(n, `sent by each instance: ${sent.join(' / ')}`).toBeGreaterThanOrEqual(ORDERS / 4);
  }, 120_000);
});
