import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT_TYPES } from '../src/events/event-types.js';
import { OutboxService, type RecordedEvent } from '../src/events/outbox.service.js';
import { orderBody, shipmentBody } from './support/fixtures.js';
import { envelopeProblems } from './support/schemas.js';
import { createTestApp, type TestApp } from './support/test-app.js';

describe('domain events', () => {
  let t: TestApp;
  let db: pg.Client;
  /** Set by a test to make the next recording fail inside its transaction. */
  let failNextRecording: ((events: RecordedEvent[]) => boolean) | undefined;

  beforeAll(async () => {
    t = await createTestApp();
    db = new pg.Client({ connectionString: t.databaseUrl });
    await db.connect();
    t.app.get(OutboxService).addListener({
      onRecorded: async (_tx, events) => {
        if (failNextRecording?.(events)) {
          failNextRecording = undefined;
          throw new Error('listener failure injected by the test');
        }
      },
    });
  });
  afterAll(async () => {
    await db?.end();
    await t?.close();
  });

  const count = async (sql: string, params: unknown[]) => Number((await db.query(sql, params)).rows[0].count);

  it('serves the catalog: every type with a description and an example envelope', async () => {
    const answer = await t.api('GET', '/v1/event-types');
    expect(answer.status).toBe(200);
    expect(answer.body.data.map((e: { name: string }) => e.name)).toEqual([...EVENT_TYPES]);
    for (const entry of answer.body.data) {
      expect(entry.description.length).toBeGreaterThan(20);
      expect(entry.example).toMatchObject({
        id: expect.stringMatching(/^evt_/),
        type: entry.name,
        apiVersion: '2026-11-01',
      });
    }
    const shipmentExample = answer.body.data.find((e: { name: string }) => e.name === 'shipment.tracking_updated')
      .example.data;
    expect(shipmentExample.trackingEvent).toHaveProperty('eta');
    expect((await t.api('GET', '/v1/event-types/shipment.delivered')).body.name).toBe('shipment.delivered');
    expect((await t.api('GET', '/v1/event-types/shipment.teleported')).status).toBe(404);
  });

  it('serves a JSON Schema per type that its catalog example and every recorded event validate against', async () => {
    const catalog = (await t.api('GET', '/v1/event-types')).body.data;
    for (const entry of catalog) {
      expect(entry.schema).toMatchObject({
        $schema: 'https://json-schema.org/draft/2020-12/schema',
        title: entry.name,
      });
      expect(envelopeProblems(entry.example), entry.name).toEqual([]);
      const alone = await t.api('GET', `/v1/event-types/${entry.name}/schema`);
      expect(alone.status).toBe(200);
      expect(alone.headers.get('content-type')).toContain('application/schema+json');
      expect(alone.body).toEqual(entry.schema);
    }
    expect((await t.api('GET', '/v1/event-types/nope/schema')).status).toBe(404);

    const order = (await t.api('POST', '/v1/orders', { body: orderBody() })).body;
    const shipment = (await t.api('POST', '/v1/shipments', { body: shipmentBody({ orderId: order.id }) })).body;
    await t.api('PATCH', `/v1/orders/${order.id}`, { body: { notes: 'changed' } });
    await t.api('PATCH', `/v1/shipments/${shipment.id}`, { body: { eta: '2026-11-26T10:00:00.000Z' } });
    for (const status of ['booked', 'picked_up', 'exception', 'delivered']) {
      await t.api('POST', `/v1/shipments/${shipment.id}/status`, {
        body: { status, proofOfDelivery: status === 'delivered' ? { signedBy: 'M. W.' } : undefined },
      });
    }
    await t.api('POST', `/v1/shipments/${shipment.id}/tracking-events`, {
      body: { code: 'SCAN', location: { city: 'Nuremberg', country: 'DE' }, occurredAt: '2026-11-24T21:17:00.000Z' },
    });
    const events = (await t.api('GET', '/v1/events?limit=200')).body.data;
    expect(new Set(events.map((e: { type: string }) => e.type)).size).toBeGreaterThanOrEqual(8);
    for (const event of events) expect(envelopeProblems(event), event.type).toEqual([]);

    const broken = { ...events[0], data: { ...events[0].data, surprise: true } };
    expect(envelopeProblems(broken)).not.toEqual([]);
  });

  it('a change that rolls back leaves no event and no row change', async () => {
    const order = (await t.api('POST', '/v1/orders', { body: orderBody() })).body;
    failNextRecording = (events) => events.some((e) => e.type === 'order.updated');
    const failed = await t.api('PATCH', `/v1/orders/${order.id}`, {
      body: { notes: 'never saved' },
      contract: false, // the 500 is injected
    });
    expect(failed.status).toBe(500);
    expect(failed.body).toEqual({ statusCode: 500, error: 'Internal Server Error', message: 'Internal server error' });
    expect((await t.api('GET', `/v1/orders/${order.id}`)).body).toEqual(order);
    expect(await count('SELECT count(*) FROM event WHERE aggregate_id = $1', [order.id])).toBe(1);

    const body = orderBody();
    failNextRecording = (events) => events.some((e) => e.type === 'order.created');
    expect((await t.api('POST', '/v1/orders', { body, contract: false })).status).toBe(500);
    expect(await count('SELECT count(*) FROM "order" WHERE order_number = $1', [body.orderNumber])).toBe(0);
    expect((await t.api('POST', '/v1/orders', { body })).status).toBe(201);
  });

  it('when the order cannot follow, the shipment move rolls back with it', async () => {
    const order = (await t.api('POST', '/v1/orders', { body: orderBody() })).body;
    const shipment = (await t.api('POST', '/v1/shipments', { body: shipmentBody({ orderId: order.id }) })).body;
    await t.api('POST', `/v1/shipments/${shipment.id}/status`, { body: { status: 'booked' } });
    const before = await count('SELECT count(*) FROM event WHERE tenant_id = $1', [t.tenant.id]);
    failNextRecording = (events) => events.some((e) => e.type === 'order.status_changed');
    expect(
      (await t.api('POST', `/v1/shipments/${shipment.id}/status`, { body: { status: 'picked_up' }, contract: false }))
        .status,
    ).toBe(500);
    expect((await t.api('GET', `/v1/shipments/${shipment.id}`)).body.status).toBe('booked');
    expect((await t.api('GET', `/v1/orders/${order.id}`)).body.status).toBe('open');
    expect(await count('SELECT count(*) FROM event WHERE tenant_id = $1', [t.tenant.id])).toBe(before);
  });

  it('a refused change (409) records nothing', async () => {
    const shipment = (await t.api('POST', '/v1/shipments', { body: shipmentBody() })).body;
    expect((await t.api('POST', `/v1/shipments/${shipment.id}/status`, { body: { status: 'delivered' } })).status).toBe(
      409,
    );
    expect(await count('SELECT count(*) FROM event WHERE aggregate_id = $1', [shipment.id])).toBe(1);
  });

  it('lists events newest first with pagination and a type filter; GET by id answers the envelope', async () => {
    const tenant = await t.newTenant();
    const shipment = (await t.api('POST', '/v1/shipments', { key: tenant.key, body: shipmentBody() })).body;
    for (const status of ['booked', 'picked_up', 'in_transit']) {
      await t.api('POST', `/v1/shipments/${shipment.id}/status`, { key: tenant.key, body: { status } });
    }
    const page1 = await t.api('GET', '/v1/events?limit=3', { key: tenant.key });
    const page2 = await t.api('GET', `/v1/events?limit=3&cursor=${page1.body.nextCursor}`, { key: tenant.key });
    const all = [...page1.body.data, ...page2.body.data];
    expect(all.map((e: { sequence: number }) => e.sequence)).toEqual([4, 3, 2, 1]);
    expect(page2.body.nextCursor).toBeNull();
    const typed = await t.api('GET', '/v1/events?type=shipment.created', { key: tenant.key });
    expect(typed.body.data).toHaveLength(1);

    const one = await t.api('GET', `/v1/events/${all[0].id}`, { key: tenant.key });
    expect(one.status).toBe(200);
    expect(one.body).toEqual(all[0]);
    expect(Object.keys(one.body)).toEqual(['id', 'type', 'apiVersion', 'createdAt', 'tenantId', 'sequence', 'data']);
    expect((await t.api('GET', `/v1/events/${all[0].id}`)).status).toBe(404);
    expect((await t.api('GET', '/v1/events/evt_nothing', { key: tenant.key })).status).toBe(404);
    expect((await t.api('GET', '/v1/events?type=nope', { key: tenant.key })).status).toBe(400);
  });

  it('gives each event a unique id and a per-aggregate sequence that never repeats under concurrency', async () => {
    const shipment = (await t.api('POST', '/v1/shipments', { body: shipmentBody() })).body;
    await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        t.api('POST', `/v1/shipments/${shipment.id}/tracking-events`, {
          body: { code: `SCAN_${i}`, occurredAt: new Date().toISOString() },
        }),
      ),
    );
    const rows = (
      await db.query('SELECT id, sequence FROM event WHERE aggregate_id = $1 ORDER BY sequence', [shipment.id])
    ).rows;
    expect(rows.map((r) => r.sequence)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(new Set(rows.map((r) => r.id)).size).toBe(9);
  });
});
