import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { TransactionRunner } from '../../src/database/transaction.js';
import { OutboxService } from '../../src/events/outbox.service.js';
import { Dispatcher } from '../../src/webhooks/engine/dispatcher.js';
import { ReceiverClient } from '../../src/webhooks/transport/receiver-client.js';
import { RequestComposer } from '../../src/webhooks/transport/request-composer.js';
import { orderBody, shipmentBody } from '../support/fixtures.js';
import { eventually, type Receiver, startReceiver } from '../support/receiver.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

/**
 * The engine under faults and races: one test per defect of issue 13, each failing on the engine
 * as it was before and passing now. No fixed sleeps: every wait polls for the state it needs.
 */

type Hook = { id: string; secret: string } & Record<string, any>;

/** Helpers bound to one running app. */
function harness(get: () => TestApp) {
  const receivers: Receiver[] = [];
  return {
    receivers,
    async receiver() {
      const r = await startReceiver();
      receivers.push(r);
      return r;
    },
    async tenantWith(subscriptions: Array<Record<string, unknown>>) {
      const t = get();
      const tenant = await t.newTenant();
      const hooks: Hook[] = [];
      for (const s of subscriptions) {
        const created = await t.api('POST', '/v1/webhooks', {
          key: tenant.key,
          body: { name: 'ERP', eventTypes: ['order.created'], ...s },
        });
        expect(created.status, JSON.stringify(created.body)).toBe(201);
        hooks.push(created.body);
      }
      return { key: tenant.key, id: tenant.id, hooks };
    },
    async deliveries(key: string, webhookId: string) {
      return (await get().api('GET', `/v1/deliveries?webhookId=${webhookId}&limit=200`, { key })).body.data as Array<
        Record<string, any>
      >;
    },
    async detail(key: string, id: string) {
      return (await get().api('GET', `/v1/deliveries/${id}`, { key })).body;
    },
    async closeReceivers() {
      await Promise.all(receivers.splice(0).map((r) => r.close()));
    },
  };
}

describe('engine faults (issue 13)', () => {
  let t: TestApp;
  let db: pg.Client;
  const h = harness(() => t);

  beforeAll(async () => {
    t = await createTestApp({
      env: { WEBHOOK_LEASE: '1s', WEBHOOK_SWEEP_INTERVAL_MS: '50', WEBHOOK_RETRY_SCHEDULE: '200ms' },
    });
    db = new pg.Client({ connectionString: t.databaseUrl });
    await db.connect();
  });
  afterEach(() => h.closeReceivers());
  afterAll(async () => {
    await db?.end();
    await t?.close();
  });

  it('1. a body cut inside a surrogate pair poisons no batch: every outcome is recorded once, nothing is sent again', async () => {
    const jsonata = await h.receiver();
    const plain = await h.receiver();
    const { key, hooks } = await h.tenantWith([
      {
        url: jsonata.url,
        payloadFormat: 'jsonata',
        // 16,383 characters and an emoji: the audit's 16 KiB cut falls between its two halves.
        payloadOptions: { expression: '$pad("", 16383, "a") & "😀"', contentType: 'text/plain' },
      },
      { url: plain.url },
    ]);
    await t.api('POST', '/v1/orders', { key, body: orderBody() });
    for (const hook of hooks) {
      await eventually(
        async () => (await h.deliveries(key, hook.id))[0]?.status === 'delivered',
        10_000,
        `the delivery of ${hook.payloadFormat} to be delivered`,
      );
    }
    await t.app.get(Dispatcher).whenIdle();
    // Every request that arrived has its attempt row with the body cut whole. A loaded machine may
    // let the 1 s lease lapse and send once more (at least once, audited); the defect sent again
    // and again with no attempt row at all.
    for (const [hook, receiver] of [
      [hooks[0], jsonata],
      [hooks[1], plain],
    ] as const) {
      const [delivery] = await h.deliveries(key, hook.id);
      const full = await h.detail(key, delivery.id);
      expect(full.attempts.length).toBeGreaterThanOrEqual(1);
      expect(full.attempts).toHaveLength(receiver.requests.length);
      if (hook === hooks[0]) {
        for (const attempt of full.attempts) expect(attempt.requestBody).toBe('a'.repeat(16383));
      }
    }
  });

  it('2. redeliver answers 202 for a delivery waiting for its retry, and sends it at once', async () => {
    const r = (await h.receiver()).replyWith({ status: 500 });
    const { key, hooks } = await h.tenantWith([{ url: r.url, retrySchedule: ['1h'] }]);
    await t.api('POST', '/v1/orders', { key, body: orderBody() });
    const [waiting] = await eventually(async () => {
      const list = await h.deliveries(key, hooks[0].id);
      return list[0]?.attemptCount === 1 && list[0].status === 'pending' ? list : undefined;
    });
    expect(new Date(waiting.nextAttemptAt).getTime()).toBeGreaterThan(Date.now() + 30 * 60_000);
    const redelivered = await t.api('POST', `/v1/deliveries/${waiting.id}/redeliver`, { key });
    expect(redelivered.status, JSON.stringify(redelivered.body)).toBe(202);
    await eventually(async () => (await h.detail(key, waiting.id)).status === 'delivered');
    const full = await h.detail(key, waiting.id);
    expect(full.attempts.map((a: any) => [a.number, a.trigger, a.responseStatus])).toEqual([
      [1, 'auto', 500],
      [2, 'manual', 200],
    ]);
  });

  it('2. redeliver answers 409 only while an attempt is on the wire', async () => {
    const r = (await h.receiver()).replyWith('hang');
    const { key, hooks } = await h.tenantWith([{ url: r.url, timeoutMs: 2_000, retrySchedule: ['1h'] }]);
    await t.api('POST', '/v1/orders', { key, body: orderBody() });
    await r.waitForRequests(1);
    const [delivery] = await h.deliveries(key, hooks[0].id);
    const refused = await t.api('POST', `/v1/deliveries/${delivery.id}/redeliver`, { key });
    expect(refused.status).toBe(409);
    await eventually(async () => (await h.detail(key, delivery.id)).attempts[0]?.errorClass === 'timeout');
    expect((await t.api('POST', `/v1/deliveries/${delivery.id}/redeliver`, { key })).status).toBe(202);
    await eventually(async () => (await h.detail(key, delivery.id)).status === 'delivered');
  });

  it('3a. un-pausing while a fan-out is in its transaction leaves no delivery held for good', async () => {
    const r = await h.receiver();
    const {
      key,
      id: tenantId,
      hooks,
    } = await h.tenantWith([
      { url: r.url, eventTypes: ['order.created', 'order.updated'], paused: true, ordered: true },
    ]);
    const order = (await t.api('POST', '/v1/orders', { key, body: orderBody() })).body;
    // A change whose transaction records its event (fan-out reads "paused") and stays open ...
    let commit!: () => void;
    const open = new Promise<void>((resolve) => (commit = resolve));
    let recorded!: () => void;
    const fannedOut = new Promise<void>((resolve) => (recorded = resolve));
    const change = t.app.get(TransactionRunner).run(async (tx) => {
      await t.app.get(OutboxService).record(tx, tenantId, [
        {
          type: 'order.updated',
          aggregateType: 'order',
          aggregateId: order.id,
          data: { ...order, notes: 'Dock 5', changes: { notes: { from: order.notes, to: 'Dock 5' } } },
        },
      ]);
      recorded();
      await open;
    });
    await fannedOut;
    // ... while the subscription is resumed: the PATCH either waits for that transaction or answers first.
    let answered = false;
    const resume = t.api('PATCH', `/v1/webhooks/${hooks[0].id}`, { key, body: { paused: false } }).then((a) => {
      answered = true;
      return a;
    });
    await eventually(
      async () => answered || (await db.query(`SELECT 1 FROM pg_locks WHERE NOT granted`)).rowCount! > 0,
      10_000,
      'the PATCH to answer or wait for the open transaction',
    );
    commit();
    await change;
    expect((await resume).status).toBe(200);
    await r.waitForRequests(2);
    expect(r.bodies().map((b) => b.type)).toEqual(['order.created', 'order.updated']);
    await t.app.get(Dispatcher).whenIdle();
    expect((await h.deliveries(key, hooks[0].id)).map((d) => d.status)).toEqual(['delivered', 'delivered']);
  });

  it('3b. a push → pull switch during an attempt that then fails puts the delivery in the feed', async () => {
    const r = (await h.receiver()).replyWith('hang');
    const { key, hooks } = await h.tenantWith([{ url: r.url, retrySchedule: ['1h'], timeoutMs: 1_500 }]);
    await t.api('POST', '/v1/orders', { key, body: orderBody() });
    await r.waitForRequests(1);
    const switched = await t.api('PATCH', `/v1/webhooks/${hooks[0].id}`, { key, body: { deliveryMode: 'pull' } });
    expect(switched.status).toBe(200);
    // The attempt in flight times out (a failure with a retry left).
    const [delivery] = await h.deliveries(key, hooks[0].id);
    await eventually(
      async () => (await h.detail(key, delivery.id)).attempts[0]?.errorClass === 'timeout',
      10_000,
      'the timeout',
    );
    const feed = await t.api('GET', `/v1/feeds/${hooks[0].id}`, { key });
    expect(feed.status).toBe(200);
    expect(feed.body.data.map((item: any) => item.type)).toEqual(['order.created']);
  });

  it('4. a DELETE stops a rate-limited backlog: nothing but what is on the wire goes out after it answers', async () => {
    const r = await h.receiver();
    const { key, hooks } = await h.tenantWith([{ url: r.url, rateLimitPerSecond: 2 }]);
    for (let i = 0; i < 12; i++) await t.api('POST', '/v1/orders', { key, body: orderBody() });
    await r.waitForRequests(2);
    expect((await t.api('DELETE', `/v1/webhooks/${hooks[0].id}`, { key })).status).toBe(204);
    const sentBefore = r.requests.length;
    await t.app.get(Dispatcher).whenIdle();
    // The rate limit lets at most one more be on the wire at the DELETE.
    expect(r.requests.length).toBeLessThanOrEqual(sentBefore + 1);
    expect(r.requests.length).toBeLessThan(12);
  });

  it('4. a URL change takes effect for every delivery not yet on the wire', async () => {
    const before = await h.receiver();
    const after = await h.receiver();
    const { key, hooks } = await h.tenantWith([{ url: before.url, rateLimitPerSecond: 2 }]);
    for (let i = 0; i < 8; i++) await t.api('POST', '/v1/orders', { key, body: orderBody() });
    await before.waitForRequests(2);
    expect((await t.api('PATCH', `/v1/webhooks/${hooks[0].id}`, { key, body: { url: after.url } })).status).toBe(200);
    const sentBefore = before.requests.length;
    await eventually(async () => {
      const list = await h.deliveries(key, hooks[0].id);
      return list.length === 8 && list.every((d) => d.status === 'delivered');
    }, 15_000);
    expect(before.requests.length).toBeLessThanOrEqual(sentBefore + 1);
    expect(before.requests.length + after.requests.length).toBe(8);
  });

  it('4. a pause holds claimed work that is not on the wire yet, and resuming sends it', async () => {
    const r = await h.receiver();
    const { key, hooks } = await h.tenantWith([{ url: r.url, rateLimitPerSecond: 2 }]);
    for (let i = 0; i < 8; i++) await t.api('POST', '/v1/orders', { key, body: orderBody() });
    await r.waitForRequests(2);
    expect((await t.api('PATCH', `/v1/webhooks/${hooks[0].id}`, { key, body: { paused: true } })).status).toBe(200);
    const sentBefore = r.requests.length;
    await t.app.get(Dispatcher).whenIdle();
    expect(r.requests.length).toBeLessThanOrEqual(sentBefore + 1);
    expect((await t.api('PATCH', `/v1/webhooks/${hooks[0].id}`, { key, body: { paused: false } })).status).toBe(200);
    await r.waitForRequests(8);
    await eventually(async () => (await h.deliveries(key, hooks[0].id)).every((d) => d.status === 'delivered'));
  });

  it('9. due times come from the database clock, not the Node clock', async () => {
    const r = (await h.receiver()).replyWith({ status: 500 });
    const { key, hooks } = await h.tenantWith([{ url: r.url, retrySchedule: ['100ms'] }]);
    // This process's clock runs ten minutes ahead of the database's.
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 10 * 60_000, shouldAdvanceTime: true });
    try {
      await t.api('POST', '/v1/orders', { key, body: orderBody() });
      await r.waitForRequests(2);
    } finally {
      vi.useRealTimers();
    }
    await eventually(async () => (await h.deliveries(key, hooks[0].id))[0]?.status === 'delivered');
  });
  it('9. a health write that fails after the outcomes were written writes no attempt twice', async () => {
    const ok = await h.receiver();
    const failing = (await h.receiver()).always({ status: 500 });
    const { key, hooks } = await h.tenantWith([{ url: ok.url }, { url: failing.url, retrySchedule: [] }]);
    // The first health update of the failing subscription fails once (a lost connection, a deadlock).
    await db.query(`CREATE SEQUENCE IF NOT EXISTS fault_once`);
    await db.query(`CREATE OR REPLACE FUNCTION fail_once() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.id = '${hooks[1].id}' AND NEW.consecutive_failures > OLD.consecutive_failures
           AND nextval('fault_once') = 1 THEN
          RAISE EXCEPTION 'injected failure';
        END IF;
        RETURN NEW;
      END $$`);
    await db.query(`CREATE TRIGGER fail_once BEFORE UPDATE ON webhook FOR EACH ROW EXECUTE FUNCTION fail_once()`);
    try {
      for (let i = 0; i < 5; i++) await t.api('POST', '/v1/orders', { key, body: orderBody() });
      await eventually(async () => {
        const done = await Promise.all(hooks.map((hook) => h.deliveries(key, hook.id)));
        return done.every((list) => list.length === 5 && list.every((d) => ['delivered', 'failed'].includes(d.status)));
      });
      await t.app.get(Dispatcher).whenIdle();
      // Each attempt row is one request the receiver saw (same webhook-id), never one written
      // twice. Counting requests, not rows: with this suite's 1 s lease a loaded machine may let a
      // lease lapse and send again, which is allowed (at least once) and audited.
      const { rows } = await db.query<{ webhook_id: string; event_id: string; attempts: number }>(
        `SELECT d.webhook_id, d.event_id, count(a.id)::int AS attempts
           FROM delivery d JOIN delivery_attempt a ON a.delivery_id = d.id
          WHERE d.webhook_id = ANY($1::uuid[]) GROUP BY d.webhook_id, d.event_id`,
        [hooks.map((hook) => hook.id)],
      );
      expect(rows).toHaveLength(10);
      for (const row of rows) {
        const receiver = row.webhook_id === hooks[0].id ? ok : failing;
        const sent = receiver.requests.filter((q) => q.headers['webhook-id'] === row.event_id).length;
        expect(row.attempts, `attempts of ${row.event_id} to ${row.webhook_id}`).toBe(sent);
      }
      expect((await db.query(`SELECT last_value, is_called FROM fault_once`)).rows[0].is_called).toBe(true);
      const webhook = (await t.api('GET', `/v1/webhooks/${hooks[1].id}`, { key })).body;
      expect(webhook.consecutiveFailures).toBeGreaterThanOrEqual(4);
    } finally {
      await db.query(`DROP TRIGGER fail_once ON webhook`);
    }
  });

  it('9. credentials, connection pools and secrets of subscriptions no longer sent to are dropped', async () => {
    const r = await h.receiver();
    const { key, hooks } = await h.tenantWith(
      Array.from({ length: 5 }, () => ({ url: r.url, auth: { type: 'bearer', token: 'erp-token' } })),
    );
    await t.api('POST', '/v1/orders', { key, body: orderBody() });
    await r.waitForRequests(5);
    await t.app.get(Dispatcher).whenIdle();
    for (const hook of hooks) await t.api('DELETE', `/v1/webhooks/${hook.id}`, { key });
    const receivers = t.app.get(ReceiverClient);
    const composer = t.app.get(RequestComposer);
    expect(receivers.size.credentials).toBeGreaterThanOrEqual(5);
    const later = Date.now() + 3_600_000;
    receivers.forgetIdle(0, later);
    composer.forgetIdle(0, later);
    expect(receivers.size).toEqual({ credentials: 0, tokens: 0 });
    expect(composer.size).toBe(0);
  });
});

describe('engine faults: fairness (issue 13)', () => {
  let t: TestApp;
  const h = harness(() => t);
  beforeAll(async () => {
    t = await createTestApp({ env: { WEBHOOK_MAX_IN_FLIGHT: '16' } });
  });
  afterAll(async () => {
    await h.closeReceivers();
    await t?.close();
  });

  it('5. one slow endpoint does not starve another tenant: its first attempt goes out while the slow one hangs', async () => {
    const slow = (await h.receiver()).always('hang');
    const fast = await h.receiver();
    const a = await h.tenantWith([{ url: slow.url, timeoutMs: 60_000 }]);
    for (let i = 0; i < 40; i++) await t.api('POST', '/v1/orders', { key: a.key, body: orderBody() });
    await slow.waitForRequests(4);
    const b = await h.tenantWith([{ url: fast.url }]);
    await t.api('POST', '/v1/orders', { key: b.key, body: orderBody() });
    await fast.waitForRequests(1, 10_000);
    expect(slow.requests.length).toBeLessThan(40);
  });
});

describe('engine faults: several instances (issue 13)', () => {
  const apps: TestApp[] = [];
  const h = harness(() => apps[0]);
  afterAll(async () => {
    await h.closeReceivers();
    for (const app of apps.reverse()) await app.close();
  });

  it('6. maxConcurrency holds across instances: an ERP that takes one connection never sees two', async () => {
    const first = await createTestApp({ env: { WEBHOOK_SWEEP_INTERVAL_MS: '50' } });
    apps.push(first);
    const second = await createTestApp({ databaseUrl: first.databaseUrl, env: { WEBHOOK_SWEEP_INTERVAL_MS: '50' } });
    apps.push(second);
    let inFlight = 0;
    let peak = 0;
    const r = (await h.receiver()).always(() => {
      inFlight += 1;
      peak = Math.max(peak, inFlight);
      setTimeout(() => (inFlight -= 1), 60);
      return { status: 200, delayMs: 60 };
    });
    const { key, hooks } = await h.tenantWith([{ url: r.url, maxConcurrency: 1 }]);
    await Promise.all(
      [first, second].map(async (instance) => {
        for (let i = 0; i < 10; i++) await instance.api('POST', '/v1/orders', { key, body: orderBody() });
      }),
    );
    await r.waitForRequests(20, 20_000);
    expect(peak).toBe(1);
    await eventually(async () => (await h.deliveries(key, hooks[0].id)).every((d) => d.status === 'delivered'));
  });
});

describe('engine faults: shutdown (issue 13)', () => {
  it('7. a request cut short by shutdown is recorded as aborted before its delivery is released', async () => {
    const first = await createTestApp({ env: { WEBHOOK_SHUTDOWN_GRACE: '100ms' } });
    const r = await startReceiver();
    r.replyWith('hang');
    let second: TestApp | undefined;
    const db = new pg.Client({ connectionString: first.databaseUrl });
    await db.connect();
    try {
      await first.api('POST', '/v1/webhooks', { body: { name: 'erp', url: r.url, eventTypes: ['order.created'] } });
      await first.api('POST', '/v1/orders', { body: orderBody() });
      await r.waitForRequests(1);
      await first.app.close();
      const attempts = (await db.query(`SELECT number, error_class FROM delivery_attempt`)).rows;
      expect(attempts).toEqual([{ number: 1, error_class: 'aborted' }]);
      const [delivery] = (await db.query(`SELECT status, leased_by, lease_expires_at FROM delivery`)).rows;
      expect(delivery).toEqual({ status: 'pending', leased_by: null, lease_expires_at: null });

      second = await createTestApp({ databaseUrl: first.databaseUrl });
      const [a, b] = await r.waitForRequests(2);
      expect(b.headers['webhook-id']).toBe(a.headers['webhook-id']);
      await eventually(
        async () => (await db.query(`SELECT 1 FROM delivery WHERE status = 'delivered'`)).rowCount === 1,
      );
      const audited = (await db.query(`SELECT number, error_class FROM delivery_attempt ORDER BY number`)).rows;
      expect(audited).toEqual([
        { number: 1, error_class: 'aborted' },
        { number: 2, error_class: null },
      ]);
    } finally {
      await db.end();
      await second?.close();
      await r.close();
      await first.close().catch(() => undefined);
    }
  });
});

describe('engine faults: claim cost (issue 13)', () => {
  let t: TestApp;
  let db: pg.Client;
  const h = harness(() => t);
  beforeAll(async () => {
    t = await createTestApp({ env: { WEBHOOK_MAX_IN_FLIGHT: '4', WEBHOOK_SWEEP_INTERVAL_MS: '50' } });
    db = new pg.Client({ connectionString: t.databaseUrl });
    await db.connect();
  });
  afterAll(async () => {
    await h.closeReceivers();
    await db?.end();
    await t?.close();
  });

  it('8. a claim locks only the rows it takes', async () => {
    const r = (await h.receiver()).always('hang');
    const { key, hooks } = await h.tenantWith([{ url: r.url, paused: true, maxConcurrency: 1, timeoutMs: 60_000 }]);
    for (let i = 0; i < 150; i++) await t.api('POST', '/v1/orders', { key, body: orderBody() });
    await eventually(async () => (await h.deliveries(key, hooks[0].id)).length === 150 || undefined);
    await t.api('PATCH', `/v1/webhooks/${hooks[0].id}`, { key, body: { paused: false } });
    await r.waitForRequests(1);
    // The claim took 4 (this instance's room); on the rows it did not take it left no lock behind.
    const { rows } = await db.query(
      `SELECT count(*)::int AS n FROM delivery WHERE webhook_id = $1 AND leased_by IS NULL AND xmax <> 0`,
      [hooks[0].id],
    );
    expect(rows[0].n).toBe(0);
  });
});

describe('engine faults: ordered claims (issue 13)', () => {
  let t: TestApp;
  let db: pg.Client;
  const h = harness(() => t);
  beforeAll(async () => {
    t = await createTestApp({ env: { WEBHOOK_SWEEP_INTERVAL_MS: '50' } });
    db = new pg.Client({ connectionString: t.databaseUrl });
    await db.connect();
  });
  afterAll(async () => {
    await h.closeReceivers();
    await db?.end();
    await t?.close();
  });

  it('8. an ordered subscription blocked behind its head claims without walking the followers', async () => {
    const r = (await h.receiver()).always('hang');
    const {
      key,
      id: tenantId,
      hooks,
    } = await h.tenantWith([
      { url: r.url, eventTypes: ['shipment.status_changed', 'shipment.updated'], ordered: true, timeoutMs: 60_000 },
    ]);
    const { trackingEvents, ...shipment } = (await t.api('POST', '/v1/shipments', { key, body: shipmentBody() })).body;
    expect(trackingEvents).toEqual([]);
    const outbox = t.app.get(OutboxService);
    const transactions = t.app.get(TransactionRunner);
    for (let batch = 0; batch < 10; batch++) {
      await transactions.run((tx) =>
        outbox.record(
          tx,
          tenantId,
          Array.from({ length: 100 }, () => ({
            type: 'shipment.updated' as const,
            aggregateType: 'shipment' as const,
            aggregateId: shipment.id,
            data: {
              ...shipment,
              serviceLevel: 'express',
              changes: { serviceLevel: { from: 'standard', to: 'express' } },
            },
          })),
        ),
      );
    }
    await r.waitForRequests(1);
    const read = async () => {
      await db.query('SELECT pg_stat_clear_snapshot()');
      const { rows } = await db.query(
        `SELECT coalesce(sum(idx_tup_read), 0)::bigint AS n FROM pg_stat_user_indexes WHERE relname = 'delivery'`,
      );
      return Number(rows[0].n);
    };
    const before = await read();
    // The sweep claims every 50 ms and finds nothing to take (the head is on the wire). Backends
    // publish their statistics about once a second: the first rise covers at least a second of claims.
    const risen = await eventually(async () => {
      const now = await read();
      return now > before ? now : undefined;
    });
    expect(risen - before).toBeLessThan(2_000);
    expect(hooks).toHaveLength(1);
  });
});
