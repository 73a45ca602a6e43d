import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SHIPMENT_MACHINE, SHIPMENT_STATUSES, type ShipmentStatus } from '../src/shipments/shipment-status.js';
import { orderBody, shipmentBody } from './support/fixtures.js';
import { createTestApp, type TestApp } from './support/test-app.js';

/** The shortest way from planned to a status, through allowed moves. */
function pathTo(target: ShipmentStatus): ShipmentStatus[] {
  const previous = new Map<ShipmentStatus, ShipmentStatus>();
  const queue: ShipmentStatus[] = ['planned'];
  while (queue.length) {
    const current = queue.shift()!;
    if (current === target) break;
    for (const next of SHIPMENT_MACHINE[current]) {
      if (!previous.has(next) && next !== 'planned') {
        previous.set(next, current);
        queue.push(next);
      }
    }
  }
  const path: ShipmentStatus[] = [];
  for (let s: ShipmentStatus | undefined = target; s && s !== 'planned'; s = previous.get(s)) path.unshift(s);
  return path;
}

interface EventView {
  type: string;
  sequence: number;
  data: Record<string, any>;
}

describe('shipments', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t?.close());

  const events = async (aggregateId: string): Promise<EventView[]> =>
    (await t.api('GET', `/v1/events?aggregateId=${aggregateId}&limit=200`)).body.data.reverse();
  const createShipment = async (overrides: Record<string, unknown> = {}) => {
    const answer = await t.api('POST', '/v1/shipments', { body: shipmentBody(overrides) });
    expect(answer.status).toBe(201);
    return answer.body;
  };
  const move = (id: string, status: string, extra: Record<string, unknown> = {}) =>
    t.api('POST', `/v1/shipments/${id}/status`, { body: { status, ...extra } });

  it('creates a planned shipment with its order summary and emits shipment.created with the full snapshot', async () => {
    const order = (await t.api('POST', '/v1/orders', { body: orderBody() })).body;
    const created = await createShipment({
      orderId: order.id,
      origin: { city: 'Hamburg', country: 'DE' },
      plannedPickupAt: '2026-11-23T08:00:00.000Z',
    });
    expect(created).toMatchObject({
      status: 'planned',
      statusReason: null,
      carrier: { name: 'DHL Freight', scac: 'DHLF' },
      mode: 'ltl',
      origin: { name: null, street: null, city: 'Hamburg', postalCode: null, country: 'DE' },
      plannedPickupAt: '2026-11-23T08:00:00.000Z',
      actualPickupAt: null,
      packages: [{ reference: 'PLT-1', weightKg: 370, lengthCm: 120, widthCm: 80, heightCm: 150 }],
      proofOfDelivery: null,
      order: { id: order.id, orderNumber: order.orderNumber, externalRef: order.externalRef, customer: order.customer },
      version: 1,
      trackingEvents: [],
    });
    const [event] = await events(created.id);
    expect(event.type).toBe('shipment.created');
    const { trackingEvents, ...snapshot } = created;
    expect(trackingEvents).toEqual([]);
    expect(event.data).toEqual(snapshot);
    expect(Object.keys(event.data)).toEqual([
      'id',
      'shipmentNumber',
      'status',
      'statusReason',
      'carrier',
      'mode',
      'serviceLevel',
      'trackingNumber',
      'origin',
      'destination',
      'plannedPickupAt',
      'plannedDeliveryAt',
      'actualPickupAt',
      'actualDeliveryAt',
      'eta',
      'packages',
      'proofOfDelivery',
      'order',
      'version',
      'createdAt',
      'updatedAt',
    ]);
  });

  it('validates: required fields, mode, SCAC, unknown fields, and an order of another tenant', async () => {
    const missing = await t.api('POST', '/v1/shipments', { body: { carrier: {} } });
    expect(missing.status).toBe(400);
    expect(missing.body.errors.map((e: { field: string }) => e.field)).toEqual(
      expect.arrayContaining(['shipmentNumber', 'carrier.name', 'mode']),
    );
    const bad = await t.api('POST', '/v1/shipments', {
      body: shipmentBody({
        mode: 'teleport',
        carrier: { name: 'X', scac: 'toolong' },
        packages: [{ weightKg: -1 }],
        extra: 1,
      }),
    });
    expect(bad.body.errors.map((e: { field: string }) => e.field)).toEqual(
      expect.arrayContaining(['mode', 'carrier.scac', 'packages.0.weightKg', 'extra']),
    );
    const other = await t.newTenant();
    const theirOrder = (await t.api('POST', '/v1/orders', { key: other.key, body: orderBody() })).body;
    const foreign = await t.api('POST', '/v1/shipments', { body: shipmentBody({ orderId: theirOrder.id }) });
    expect(foreign.status).toBe(400);
    expect(foreign.body.errors[0].field).toBe('orderId');
  });

  it('answers 409 for a duplicate shipment number', async () => {
    const body = shipmentBody();
    expect((await t.api('POST', '/v1/shipments', { body })).status).toBe(201);
    const duplicate = await t.api('POST', '/v1/shipments', { body });
    expect(duplicate.status).toBe(409);
    expect(duplicate.body.message).toContain('shipmentNumber');
  });

  const allowed = SHIPMENT_STATUSES.flatMap((from) => SHIPMENT_MACHINE[from].map((to) => [from, to] as const));
  it.each(allowed)('allows %s → %s', async (from, to) => {
    const shipment = await createShipment();
    for (const step of pathTo(from)) expect((await move(shipment.id, step)).status).toBe(200);
    const moved = await move(shipment.id, to, { reason: to === 'exception' ? 'damaged' : undefined });
    expect(moved.status).toBe(200);
    expect(moved.body.status).toBe(to);
    const last = (await events(shipment.id)).filter((e) => e.type === 'shipment.status_changed').at(-1)!;
    expect(last.data).toMatchObject({ status: to, previousStatus: from });
  });

  const forbidden: Array<[ShipmentStatus, ShipmentStatus]> = [
    ['planned', 'delivered'],
    ['planned', 'picked_up'],
    ['booked', 'in_transit'],
    ['picked_up', 'cancelled'],
    ['in_transit', 'booked'],
    ['delivered', 'in_transit'],
    ['cancelled', 'booked'],
    ['returned', 'delivered'],
  ];
  it.each(forbidden)('refuses %s → %s with 409 naming the allowed moves', async (from, to) => {
    const shipment = await createShipment();
    for (const step of pathTo(from)) await move(shipment.id, step);
    const before = (await t.api('GET', `/v1/shipments/${shipment.id}`)).body;
    const refused = await move(shipment.id, to);
    expect(refused.status).toBe(409);
    const allowedMoves = SHIPMENT_MACHINE[from];
    expect(refused.body.message).toBe(
      `cannot move shipment ${shipment.shipmentNumber} from ${from} to ${to}; allowed: ${allowedMoves.length ? allowedMoves.join(', ') : 'none'}`,
    );
    expect((await t.api('GET', `/v1/shipments/${shipment.id}`)).body).toEqual(before);
  });

  it('sets actualPickupAt and actualDeliveryAt from occurredAt, keeps proof of delivery, and adds shipment.delivered', async () => {
    const shipment = await createShipment();
    await move(shipment.id, 'booked');
    await move(shipment.id, 'picked_up', { occurredAt: '2026-11-23T08:42:00.000Z' });
    await move(shipment.id, 'in_transit');
    const delivered = await move(shipment.id, 'delivered', {
      occurredAt: '2026-11-25T14:12:00.000Z',
      proofOfDelivery: { signedBy: 'M. Weber' },
    });
    expect(delivered.body).toMatchObject({
      actualPickupAt: '2026-11-23T08:42:00.000Z',
      actualDeliveryAt: '2026-11-25T14:12:00.000Z',
      proofOfDelivery: { signedBy: 'M. Weber', at: '2026-11-25T14:12:00.000Z' },
      version: 5,
    });
    const list = await events(shipment.id);
    expect(list.map((e) => e.type)).toEqual([
      'shipment.created',
      'shipment.status_changed',
      'shipment.status_changed',
      'shipment.status_changed',
      'shipment.status_changed',
      'shipment.delivered',
    ]);
    expect(list.map((e) => e.sequence)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(list[5].data).toMatchObject({
      status: 'delivered',
      previousStatus: 'in_transit',
      proofOfDelivery: { signedBy: 'M. Weber' },
    });
  });

  it('refuses proofOfDelivery with another status, and emits shipment.exception with the reason', async () => {
    const shipment = await createShipment();
    await move(shipment.id, 'booked');
    const pod = await move(shipment.id, 'picked_up', { proofOfDelivery: { signedBy: 'x' } });
    expect(pod.status).toBe(400);
    expect(pod.body.errors[0].field).toBe('proofOfDelivery');
    const exception = await move(shipment.id, 'exception', { reason: 'Consignee closed' });
    expect(exception.body).toMatchObject({ status: 'exception', statusReason: 'Consignee closed' });
    const types = (await events(shipment.id)).map((e) => e.type);
    expect(types.slice(-2)).toEqual(['shipment.status_changed', 'shipment.exception']);
  });

  it('records tracking events, lists them with the shipment, and emits shipment.tracking_updated with a new eta', async () => {
    const shipment = await createShipment();
    const tracked = await t.api('POST', `/v1/shipments/${shipment.id}/tracking-events`, {
      body: {
        code: 'ARRIVED_AT_HUB',
        description: 'Arrived at hub Nuremberg',
        location: { name: 'Hub Nuremberg', city: 'Nuremberg', country: 'de' },
        occurredAt: '2026-11-24T21:17:00.000Z',
        eta: '2026-11-25T14:30:00.000Z',
      },
    });
    expect(tracked.status).toBe(201);
    expect(tracked.body).toMatchObject({ code: 'ARRIVED_AT_HUB', eta: '2026-11-25T14:30:00.000Z' });
    const fetched = (await t.api('GET', `/v1/shipments/${shipment.id}`)).body;
    expect(fetched.eta).toBe('2026-11-25T14:30:00.000Z');
    expect(fetched.trackingEvents).toEqual([tracked.body]);
    const last = (await events(shipment.id)).at(-1)!;
    expect(last.type).toBe('shipment.tracking_updated');
    expect(last.data.trackingEvent).toEqual({
      code: 'ARRIVED_AT_HUB',
      description: 'Arrived at hub Nuremberg',
      location: { name: 'Hub Nuremberg', city: 'Nuremberg', region: null, postalCode: null, country: 'DE' },
      occurredAt: '2026-11-24T21:17:00.000Z',
      eta: '2026-11-25T14:30:00.000Z',
    });
    const bad = await t.api('POST', `/v1/shipments/${shipment.id}/tracking-events`, {
      body: { code: '', occurredAt: 'soon' },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: { field: string }) => e.field)).toEqual(
      expect.arrayContaining(['code', 'occurredAt']),
    );
  });

  it('PATCH emits shipment.updated with changes, adds shipment.tracking_updated when eta changes, and nothing for a no-op', async () => {
    const shipment = await createShipment();
    const patched = await t.api('PATCH', `/v1/shipments/${shipment.id}`, {
      body: { trackingNumber: 'NEW-1', eta: '2026-11-26T10:00:00.000Z' },
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ trackingNumber: 'NEW-1', eta: '2026-11-26T10:00:00.000Z', version: 2 });
    await t.api('PATCH', `/v1/shipments/${shipment.id}`, { body: { trackingNumber: 'NEW-1' } });
    const carrierOnly = await t.api('PATCH', `/v1/shipments/${shipment.id}`, {
      body: { carrier: { name: 'DB Schenker', scac: 'SCHE' } },
    });
    expect(carrierOnly.body.version).toBe(3);
    const list = await events(shipment.id);
    expect(list.map((e) => e.type)).toEqual([
      'shipment.created',
      'shipment.updated',
      'shipment.tracking_updated',
      'shipment.updated',
    ]);
    expect(list[1].data.changes).toEqual({
      trackingNumber: { from: shipment.trackingNumber, to: 'NEW-1' },
      eta: { from: null, to: '2026-11-26T10:00:00.000Z' },
    });
    expect(list[2].data.trackingEvent).toMatchObject({ code: 'ETA_CHANGED', eta: '2026-11-26T10:00:00.000Z' });
    expect(list[3].data.changes).toEqual({
      carrier: { from: { name: 'DHL Freight', scac: 'DHLF' }, to: { name: 'DB Schenker', scac: 'SCHE' } },
    });
    const refused = await t.api('PATCH', `/v1/shipments/${shipment.id}`, { body: { status: 'delivered', mode: null } });
    expect(refused.status).toBe(400);
  });

  it('lists with filters and pagination', async () => {
    const tenant = await t.newTenant();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push((await t.api('POST', '/v1/shipments', { key: tenant.key, body: shipmentBody() })).body.id);
    }
    await t.api('POST', `/v1/shipments/${ids[1]}/status`, { key: tenant.key, body: { status: 'booked' } });
    const first = await t.api('GET', '/v1/shipments?limit=2', { key: tenant.key });
    const second = await t.api('GET', `/v1/shipments?limit=2&cursor=${first.body.nextCursor}`, { key: tenant.key });
    const third = await t.api('GET', `/v1/shipments?limit=2&cursor=${second.body.nextCursor}`, { key: tenant.key });
    expect([...first.body.data, ...second.body.data, ...third.body.data].map((s: { id: string }) => s.id)).toEqual(
      [...ids].reverse(),
    );
    expect(third.body.nextCursor).toBeNull();
    const booked = await t.api('GET', '/v1/shipments?status=booked', { key: tenant.key });
    expect(booked.body.data.map((s: { id: string }) => s.id)).toEqual([ids[1]]);
  });

  describe('the order follows its shipments', () => {
    it('first pickup moves the order to in_transit (skipping states), all delivered moves it to delivered', async () => {
      const order = (await t.api('POST', '/v1/orders', { body: orderBody() })).body;
      const a = await createShipment({ orderId: order.id });
      const b = await createShipment({ orderId: order.id });
      const cancelled = await createShipment({ orderId: order.id });
      await move(cancelled.id, 'cancelled');
      for (const s of [a, b]) await move(s.id, 'booked');
      await move(a.id, 'picked_up');
      expect((await t.api('GET', `/v1/orders/${order.id}`)).body.status).toBe('in_transit');
      await move(b.id, 'picked_up');
      for (const step of ['in_transit', 'delivered']) await move(a.id, step);
      expect((await t.api('GET', `/v1/orders/${order.id}`)).body.status).toBe('in_transit');
      for (const step of ['in_transit', 'delivered']) await move(b.id, step);
      expect((await t.api('GET', `/v1/orders/${order.id}`)).body.status).toBe('delivered');

      const orderEvents = (await events(order.id)).filter((e) => e.type === 'order.status_changed');
      expect(orderEvents.map((e) => [e.data.previousStatus, e.data.status])).toEqual([
        ['open', 'in_transit'],
        ['in_transit', 'delivered'],
      ]);
    });

    it('two shipments delivered at the same moment still deliver the order', async () => {
      for (let round = 0; round < 3; round++) {
        const order = (await t.api('POST', '/v1/orders', { body: orderBody() })).body;
        const shipments = [await createShipment({ orderId: order.id }), await createShipment({ orderId: order.id })];
        for (const s of shipments) for (const step of ['booked', 'picked_up', 'in_transit']) await move(s.id, step);
        const answers = await Promise.all(shipments.map((s) => move(s.id, 'delivered')));
        expect(answers.map((a) => a.status)).toEqual([200, 200]);
        expect((await t.api('GET', `/v1/orders/${order.id}`)).body.status).toBe('delivered');
      }
    });
  });

  it("answers 404 for another tenant's shipment on every route", async () => {
    const other = await t.newTenant();
    const theirs = (await t.api('POST', '/v1/shipments', { key: other.key, body: shipmentBody() })).body;
    expect((await t.api('GET', `/v1/shipments/${theirs.id}`)).status).toBe(404);
    expect((await t.api('PATCH', `/v1/shipments/${theirs.id}`, { body: { serviceLevel: 'x' } })).status).toBe(404);
    expect((await move(theirs.id, 'booked')).status).toBe(404);
    const tracking = await t.api('POST', `/v1/shipments/${theirs.id}/tracking-events`, {
      body: { code: 'X', occurredAt: '2026-11-24T21:17:00.000Z' },
    });
    expect(tracking.status).toBe(404);
    expect((await t.api('GET', `/v1/events?aggregateId=${theirs.id}`)).body.data).toEqual([]);
    expect((await t.api('GET', `/v1/shipments/${theirs.id}`, { key: other.key })).body.version).toBe(1);
  });
});
