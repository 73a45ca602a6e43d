import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventsService } from '../src/events/events.service.js';
import { DeliveriesService } from '../src/webhooks/deliveries/deliveries.service.js';
import { DeliveryRepository } from '../src/webhooks/deliveries/delivery.repository.js';
import { orderBody } from './support/fixtures.js';
import { createTestApp, type TestApp } from './support/test-app.js';

describe('event retention and cheap queue metrics', () => {
  let t: TestApp;
  let db: pg.Client;
  beforeAll(async () => {
    t = await createTestApp();
    db = new pg.Client({ connectionString: t.databaseUrl });
    await db.connect();
  });
  afterAll(async () => {
    await db?.end();
    await t?.close();
  });

  const newOrder = async (key: string) =>
    (await t.api('POST', '/v1/orders', { key, body: orderBody() })).body.id as string;
  /** A paused subscription of the tenant to an address nothing listens on: its deliveries stay held. */
  const pausedSubscription = (key: string, eventTypes = ['order.created']) =>
    t.api('POST', '/v1/webhooks', {
      key,
      body: { name: 'erp', url: 'http://127.0.0.1:9/erp', eventTypes, paused: true },
    });
  const eventOf = async (orderId: string) =>
    (await db.query(`SELECT id, created_at FROM event WHERE aggregate_id = $1`, [orderId])).rows[0] as
      { id: string; created_at: Date } | undefined;
  /** Moves an event (and the deliveries made with it, which share its creation time) back in time. */
  const age = async (eventId: string, days: number) => {
    await db.query(
      `WITH e AS (UPDATE event SET created_at = created_at - $2 * interval '1 day' WHERE id = $1 RETURNING id, tenant_id)
       UPDATE delivery d SET created_at = d.created_at - $2 * interval '1 day' FROM e WHERE d.event_id = e.id AND d.tenant_id = e.tenant_id`,
      [eventId, days],
    );
  };

  it('creates each delivery with its event’s creation time (the retention probe relies on it)', async () => {
    const tenant = await t.newTenant();
    await pausedSubscription(tenant.key, ['*']);
    const event = (await eventOf(await newOrder(tenant.key)))!;
    const { rows } = await db.query(`SELECT created_at FROM delivery WHERE event_id = $1`, [event.id]);
    expect(rows).toHaveLength(1);
    expect((rows[0].created_at as Date).getTime()).toBe(event.created_at.getTime());
  });

  it('prunes old events nothing refers to, in chunks, and keeps young ones and those a delivery still refers to', async () => {
    const quiet = await t.newTenant(); // no subscription: its events have no delivery
    const busy = await t.newTenant();
    const hook = await pausedSubscription(busy.key);
    expect(hook.status).toBe(201);

    // Positions follow recording time: what the earlier tests recorded is aged too, and every old
    // event here is recorded before the young one.
    for (const { id } of (await db.query(`SELECT id FROM event`)).rows) await age(id, 40);
    const oldUnreferenced: string[] = [];
    for (let i = 0; i < 12; i++) {
      const order = await newOrder(quiet.key);
      const event = (await eventOf(order))!;
      await age(event.id, 40);
      oldUnreferenced.push(event.id);
      // A newer event of the order, old too: the newest of each aggregate is kept (its sequence goes on).
      await t.api('PATCH', `/v1/orders/${order}`, { key: quiet.key, body: { notes: 'later' } });
      await age(
        (await db.query(`SELECT id FROM event WHERE aggregate_id = $1 AND sequence = 2`, [order])).rows[0].id,
        40,
      );
    }
    /** An old order.created with an old order.updated after it (no delivery: the subscription takes order.created). */
    const oldOrder = async () => {
      const order = await newOrder(busy.key);
      const event = (await eventOf(order))!;
      await age(event.id, 40);
      await t.api('PATCH', `/v1/orders/${order}`, { key: busy.key, body: { notes: 'later' } });
      await age(
        (await db.query(`SELECT id FROM event WHERE aggregate_id = $1 AND sequence = 2`, [order])).rows[0].id,
        40,
      );
      return event;
    };
    const oldHeld = await oldOrder(); // its delivery is held (paused): still live
    const oldFinished = await oldOrder();
    // Discarded recently: the delivery stays in the audit (and can be redelivered) until it is pruned.
    await db.query(`UPDATE delivery SET status = 'discarded', updated_at = now() WHERE event_id = $1`, [
      oldFinished.id,
    ]);
    const young = (await eventOf(await newOrder(quiet.key)))!;

    const pruned = await t.app.get(EventsService).pruneEvents(30, 5);
    expect(pruned).toBeGreaterThanOrEqual(oldUnreferenced.length);
    const left = new Set(
      (
        await db.query(`SELECT id FROM event WHERE id = ANY($1::text[])`, [
          [...oldUnreferenced, young.id, oldHeld.id, oldFinished.id],
        ])
      ).rows.map((r) => r.id as string),
    );
    expect([...left].sort()).toEqual([young.id, oldHeld.id, oldFinished.id].sort());

    // Once the audit lets the finished delivery go, its event goes on the next run.
    await db.query(`UPDATE delivery SET updated_at = now() - interval '31 days' WHERE event_id = $1`, [oldFinished.id]);
    await t.app.get(DeliveriesService).pruneAudit();
    await t.app.get(EventsService).pruneEvents(30, 5);
    expect(await db.query(`SELECT 1 FROM event WHERE id = $1`, [oldFinished.id]).then((r) => r.rowCount)).toBe(0);
    expect(await db.query(`SELECT 1 FROM event WHERE id = $1`, [oldHeld.id]).then((r) => r.rowCount)).toBe(1);
  });

  it('prunes old attempts in chunks past attempts whose clock ran ahead, and keeps the young ones', async () => {
    const tenant = await t.newTenant();
    await pausedSubscription(tenant.key);
    const event = (await eventOf(await newOrder(tenant.key)))!;
    const { rows } = await db.query<{ id: string }>(`SELECT id FROM delivery WHERE event_id = $1`, [event.id]);
    const attempts = (count: number, age: string) =>
      db.query(
        `INSERT INTO delivery_attempt (delivery_id, tenant_id, webhook_id, number, trigger, started_at, duration_ms, url,
                                       request_headers, response_status)
         SELECT d.id, d.tenant_id, d.webhook_id, g, 'auto', now() - $3::interval, 3, 'http://127.0.0.1:9/erp', '{}', 500
           FROM delivery d CROSS JOIN generate_series(1, $2::int) g WHERE d.id = $1`,
        [rows[0].id, count, age],
      );
    // Young rows first in id order (an instance whose clock ran ahead), then more old ones than
    // two chunks of the prune, then young ones again.
    await attempts(10, '0 days');
    await attempts(12_000, '40 days');
    await attempts(10, '0 days');
    const pruned = await t.app.get(DeliveriesService).pruneAudit();
    expect(pruned.attempts).toBeGreaterThanOrEqual(12_000);
    const left = await db.query<{ old: number; young: number }>(
      `SELECT count(*) FILTER (WHERE started_at < now() - interval '30 days')::int AS old,
              count(*) FILTER (WHERE started_at >= now() - interval '30 days')::int AS young
         FROM delivery_attempt WHERE delivery_id = $1`,
      [rows[0].id],
    );
    expect(left.rows[0]).toEqual({ old: 0, young: 20 });
  });

  it('keeps the newest event of an aggregate whatever its age, so its next event goes on from its sequence', async () => {
    const tenant = await t.newTenant(); // no subscription: nothing refers to its events
    const order = await newOrder(tenant.key);
    const patch = (notes: string) =>
      t.api('PATCH', `/v1/orders/${order}`, { key: tenant.key, body: { notes } }).then((a) => a.status);
    expect(await patch('first')).toBe(200);
    expect(await patch('second')).toBe(200);
    const sequences = async () =>
      (await db.query(`SELECT sequence FROM event WHERE aggregate_id = $1 ORDER BY sequence`, [order])).rows.map(
        (r) => r.sequence as number,
      );
    expect(await sequences()).toEqual([1, 2, 3]);
    // Every event so far is old (the prune stops at the first young one).
    for (const { id } of (await db.query(`SELECT id FROM event WHERE created_at > now() - interval '1 day'`)).rows)
      await age(id, 40);

    await t.app.get(EventsService).pruneEvents(30, 2);
    expect(await sequences()).toEqual([3]);

    expect(await patch('third')).toBe(200);
    expect(await sequences()).toEqual([3, 4]);
    const listed = (await t.api('GET', `/v1/events?aggregateId=${order}`, { key: tenant.key })).body.data;
    expect(listed.map((e: { type: string; sequence: number }) => [e.type, e.sequence])).toEqual([
      ['order.updated', 4],
      ['order.updated', 3],
    ]);
  });

  it('counts waiting deliveries exactly while few, and reads the estimate beyond the bound', async () => {
    const tenant = await t.newTenant();
    await pausedSubscription(tenant.key);
    for (let i = 0; i < 6; i++) await newOrder(tenant.key);
    const repository = t.app.get(DeliveryRepository);
    const waiting = Number((await db.query(`SELECT count(*) FROM delivery WHERE status = 'pending'`)).rows[0].count);
    expect(await repository.countWaiting()).toBe(waiting);
    await db.query('ANALYZE delivery');
    // Past the bound (here 3): the planner's count of the pending index, exact right after ANALYZE.
    expect(await repository.countWaiting(3)).toBe(waiting);
  });

  it('reports the age of the oldest due delivery not yet sent; held ones (a paused subscription) are not due', async () => {
    // An API-only instance on its own database: nothing sends, so a due delivery stays due.
    const api = await createTestApp({ env: { ROLE: 'api' } });
    const own = new pg.Client({ connectionString: api.databaseUrl });
    await own.connect();
    try {
      const repository = api.app.get(DeliveryRepository);
      const hook = await api.api('POST', '/v1/webhooks', {
        body: { name: 'erp', url: 'http://127.0.0.1:9/erp', eventTypes: ['order.created'], paused: true },
      });
      expect((await api.api('POST', '/v1/orders', { body: orderBody() })).status).toBe(201);
      await own.query(`UPDATE delivery SET next_attempt_at = now() - interval '1 hour' WHERE webhook_id = $1`, [
        hook.body.id,
      ]);
      expect(await repository.oldestDueAgeSeconds()).toBe(0);
      expect((await api.api('PATCH', `/v1/webhooks/${hook.body.id}`, { body: { paused: false } })).status).toBe(200);
      expect(await repository.oldestDueAgeSeconds()).toBeGreaterThanOrEqual(3600);
    } finally {
      await own.end();
      await api.close();
    }
  });
});
