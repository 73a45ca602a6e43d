import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orderBody } from './support/fixtures.js';
import { eventually, type Receiver, startReceiver } from './support/receiver.js';
import { createTestApp, type TestApp } from './support/test-app.js';

/**
 * A create is recorded in one statement whose fan-out is planned from the tenant's subscriptions
 * as this instance last read them. Whatever changed them since (this instance's API, or another
 * instance writing the row directly, as here with SQL), the deliveries are those the subscriptions
 * as committed call for.
 */
describe('fan-out of a create planned from cached subscriptions', () => {
  let t: TestApp;
  let db: pg.Client;
  let receiver: Receiver;
  let key: string;
  beforeAll(async () => {
    t = await createTestApp();
    db = new pg.Client({ connectionString: t.databaseUrl });
    await db.connect();
    receiver = await startReceiver();
    key = (await t.newTenant('planned fan-out')).key;
  });
  afterAll(async () => {
    await db?.end();
    await receiver?.close();
    await t?.close();
  });

  const create = async (overrides: Record<string, unknown> = {}) => {
    const answer = await t.api('POST', '/v1/orders', { key, body: orderBody(overrides) });
    expect(answer.status).toBe(201);
    return answer.body as { id: string };
  };
  const deliveriesOf = async (webhookId: string) =>
    (await t.api('GET', `/v1/deliveries?webhookId=${webhookId}&limit=200`, { key })).body.data as Array<{
      eventId: string;
      status: string;
      attemptCount: number;
      nextAttemptAt: string | null;
    }>;
  const eventOf = async (orderId: string) =>
    (await t.api('GET', `/v1/events?aggregateId=${orderId}`, { key })).body.data[0] as { id: string; sequence: number };

  it('follows subscriptions created, paused, filtered, resumed and deleted after it was read', async () => {
    await create(); // the tenant has no subscription yet: that is what this instance now knows
    const hook = await t.api('POST', '/v1/webhooks', {
      key,
      body: { name: 'ERP', url: `${receiver.url}/erp`, eventTypes: ['order.created'], paused: true },
    });
    expect(hook.status).toBe(201);
    const id: string = hook.body.id;

    const held = await create();
    expect((await deliveriesOf(id)).map((d) => [d.eventId, d.status])).toEqual([
      [(await eventOf(held.id)).id, 'pending'],
    ]);

    // Another instance narrows the filters: the next order no longer matches.
    await db.query(`UPDATE webhook SET filters = '{"customer.ref": ["C-999"]}' WHERE id = $1`, [id]);
    await create();
    expect(await deliveriesOf(id)).toHaveLength(1);

    // ...then resumes it with no filters: the next order goes out at once, with its sequence.
    await db.query(`UPDATE webhook SET filters = '{}', paused = false WHERE id = $1`, [id]);
    const sent = await create();
    const sentEvent = await eventOf(sent.id);
    await eventually(
      () => receiver.requests.find((r) => JSON.parse(r.body).id === sentEvent.id),
      10_000,
      'the resumed subscription to receive the order',
    );
    const body = JSON.parse(receiver.requests.find((r) => JSON.parse(r.body).id === sentEvent.id)!.body);
    expect(body).toMatchObject({ type: 'order.created', sequence: 1, data: { id: sent.id } });

    // Another instance pauses it: the next order's delivery is held, not sent.
    await db.query(`UPDATE webhook SET paused = true WHERE id = $1`, [id]);
    const heldAgain = await create();
    const heldEvent = await eventOf(heldAgain.id);
    // Held: pending with no attempt and, while the subscription is paused, no due time shown (the
    // row keeps its due time for when it is resumed; the claim passes over a paused subscription).
    expect((await deliveriesOf(id)).find((d) => d.eventId === heldEvent.id)).toMatchObject({
      status: 'pending',
      attemptCount: 0,
      nextAttemptAt: null,
    });

    // Deleted: no delivery any more.
    expect((await t.api('DELETE', `/v1/webhooks/${id}`, { key })).status).toBe(204);
    const after = await create();
    const afterEvent = await eventOf(after.id);
    const { rows } = await db.query(`SELECT 1 FROM delivery WHERE event_id = $1`, [afterEvent.id]);
    expect(rows).toHaveLength(0);
  });

  it('writes nothing when the create fails (a duplicate order number)', async () => {
    const hook = await t.api('POST', '/v1/webhooks', {
      key,
      body: { name: 'ERP 2', url: `${receiver.url}/erp2`, eventTypes: ['order.created'], paused: true },
    });
    const first = await create(); // read the subscriptions again: the next create is planned
    const number = (await t.api('GET', `/v1/orders/${first.id}`, { key })).body.orderNumber as string;
    const before = (await db.query(`SELECT count(*)::int AS n FROM event`)).rows[0].n as number;
    const duplicate = await t.api('POST', '/v1/orders', { key, body: orderBody({ orderNumber: number }) });
    expect(duplicate.status).toBe(409);
    expect((await db.query(`SELECT count(*)::int AS n FROM event`)).rows[0].n).toBe(before);
    expect(await deliveriesOf(hook.body.id as string)).toHaveLength(1);
  });
});
