import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orderBody } from './support/fixtures.js';
import { createTestApp, type TestApp } from './support/test-app.js';

const fields = (body: { errors?: Array<{ field: string }> }) => (body.errors ?? []).map((e) => e.field);

describe('orders', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t?.close());

  const events = async (aggregateId: string) =>
    (await t.api('GET', `/v1/events?aggregateId=${aggregateId}&limit=200`)).body.data.reverse() as Array<{
      type: string;
      sequence: number;
      data: Record<string, any>;
    }>;

  it('creates an open order with version 1, answers 201 with the full snapshot, and emits order.created', async () => {
    const body = orderBody();
    const created = await t.api('POST', '/v1/orders', { body });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      orderNumber: body.orderNumber,
      externalRef: 'PO-88231',
      customer: { name: 'Acme Retail GmbH', ref: 'C-42' },
      shipTo: { name: 'Store Munich', street: 'Marienplatz 8', city: 'Munich', postalCode: '80331', country: 'DE' },
      lines: [{ sku: 'PAL-EUR-01', description: 'Euro pallet', quantity: 4, unit: 'PLT', weightKg: 1480 }],
      status: 'open',
      version: 1,
    });
    const fetched = await t.api('GET', `/v1/orders/${created.body.id}`);
    expect(fetched.body).toEqual(created.body);

    const [event] = await events(created.body.id);
    expect(event).toMatchObject({
      type: 'order.created',
      sequence: 1,
      apiVersion: '2026-11-01',
      tenantId: t.tenant.id,
    });
    expect(event.data).toEqual(created.body);
  });

  it('needs only orderNumber, customer.name and one line with sku, quantity and unit', async () => {
    const created = await t.api('POST', '/v1/orders', {
      body: {
        orderNumber: `MIN-${Date.now()}`,
        customer: { name: 'Min' },
        lines: [{ sku: 'A', quantity: 1, unit: 'EA' }],
      },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      externalRef: null,
      shipFrom: null,
      customer: { name: 'Min', ref: null },
      notes: null,
    });
  });

  it('answers 400 naming each missing, mistyped or unknown field by its path', async () => {
    const missing = await t.api('POST', '/v1/orders', { body: { customer: {}, lines: [] } });
    expect(missing.status).toBe(400);
    expect(fields(missing.body)).toEqual(expect.arrayContaining(['orderNumber', 'customer.name', 'lines']));

    const wrong = await t.api('POST', '/v1/orders', {
      body: orderBody({
        orderNumber: 42,
        lines: [
          { sku: 'A', quantity: 0, unit: 'EA' },
          { sku: 'B', quantity: 'two', unit: 'EA' },
        ],
        shipTo: { city: 'Munich', country: 'Germany' },
        requestedPickupAt: 'tomorrow',
      }),
    });
    expect(wrong.status).toBe(400);
    expect(fields(wrong.body)).toEqual(
      expect.arrayContaining([
        'orderNumber',
        'lines.0.quantity',
        'lines.1.quantity',
        'shipTo.country',
        'requestedPickupAt',
      ]),
    );

    const unknown = await t.api('POST', '/v1/orders', {
      body: orderBody({ colour: 'red', customer: { name: 'x', vip: true } }),
    });
    expect(unknown.status).toBe(400);
    expect(unknown.body.errors).toEqual(
      expect.arrayContaining([
        { field: 'colour', message: 'is not a known field' },
        { field: 'customer.vip', message: 'is not a known field' },
      ]),
    );
  });

  it('answers 409 for a duplicate order number within a tenant, and allows it in another tenant', async () => {
    const body = orderBody();
    expect((await t.api('POST', '/v1/orders', { body })).status).toBe(201);
    const duplicate = await t.api('POST', '/v1/orders', { body });
    expect(duplicate.status).toBe(409);
    expect(duplicate.body).toMatchObject({
      statusCode: 409,
      error: 'Conflict',
      message: expect.stringContaining('orderNumber'),
    });
    const other = await t.newTenant();
    expect((await t.api('POST', '/v1/orders', { key: other.key, body })).status).toBe(201);
  });

  it('PATCH changes fields, bumps the version and emits order.updated with the changes; a no-op emits nothing', async () => {
    const created = (await t.api('POST', '/v1/orders', { body: orderBody() })).body;
    const patched = await t.api('PATCH', `/v1/orders/${created.id}`, { body: { notes: 'Dock 6', externalRef: null } });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ notes: 'Dock 6', externalRef: null, version: 2 });

    const same = await t.api('PATCH', `/v1/orders/${created.id}`, { body: { notes: 'Dock 6' } });
    expect(same.status).toBe(200);
    expect(same.body.version).toBe(2);

    const list = await events(created.id);
    expect(list.map((e) => e.type)).toEqual(['order.created', 'order.updated']);
    expect(list[1].data.changes).toEqual({
      notes: { from: 'Dock 4', to: 'Dock 6' },
      externalRef: { from: 'PO-88231', to: null },
    });
    expect(list[1].data.version).toBe(2);
  });

  it('PATCH refuses the order number, a null customer and bad lines', async () => {
    const created = (await t.api('POST', '/v1/orders', { body: orderBody() })).body;
    const answer = await t.api('PATCH', `/v1/orders/${created.id}`, {
      body: { orderNumber: 'X', customer: null, lines: [] },
    });
    expect(answer.status).toBe(400);
    expect(fields(answer.body)).toEqual(expect.arrayContaining(['orderNumber', 'customer', 'lines']));
  });

  it('walks every allowed move and emits order.status_changed with previousStatus', async () => {
    const created = (await t.api('POST', '/v1/orders', { body: orderBody() })).body;
    for (const status of ['confirmed', 'planned', 'in_transit', 'delivered']) {
      const moved = await t.api('POST', `/v1/orders/${created.id}/status`, { body: { status } });
      expect(moved.status, status).toBe(200);
      expect(moved.body.status).toBe(status);
    }
    const changes = (await events(created.id)).filter((e) => e.type === 'order.status_changed');
    expect(changes.map((e) => [e.data.previousStatus, e.data.status])).toEqual([
      ['open', 'confirmed'],
      ['confirmed', 'planned'],
      ['planned', 'in_transit'],
      ['in_transit', 'delivered'],
    ]);
    expect(changes.map((e) => e.sequence)).toEqual([2, 3, 4, 5]);
  });

  it.each(['open', 'confirmed', 'planned', 'in_transit'])('cancels from %s with a reason', async (from) => {
    const created = (await t.api('POST', '/v1/orders', { body: orderBody() })).body;
    const path = ['open', 'confirmed', 'planned', 'in_transit'];
    for (const status of path.slice(1, path.indexOf(from) + 1))
      await t.api('POST', `/v1/orders/${created.id}/status`, { body: { status } });
    const cancelled = await t.api('POST', `/v1/orders/${created.id}/status`, {
      body: { status: 'cancelled', reason: 'customer withdrew' },
    });
    expect(cancelled.status).toBe(200);
    const last = (await events(created.id)).at(-1)!;
    expect(last.data).toMatchObject({ status: 'cancelled', previousStatus: from, reason: 'customer withdrew' });
  });

  it('answers 409 for a forbidden move, naming the allowed ones, and changes nothing', async () => {
    const created = (await t.api('POST', '/v1/orders', { body: orderBody() })).body;
    const skip = await t.api('POST', `/v1/orders/${created.id}/status`, { body: { status: 'delivered' } });
    expect(skip.status).toBe(409);
    expect(skip.body.message).toBe(
      `cannot move order ${created.orderNumber} from open to delivered; allowed: confirmed, cancelled`,
    );
    await t.api('POST', `/v1/orders/${created.id}/status`, { body: { status: 'cancelled' } });
    const final = await t.api('POST', `/v1/orders/${created.id}/status`, { body: { status: 'open' } });
    expect(final.status).toBe(409);
    expect(final.body.message).toContain('allowed: none');
    expect((await t.api('GET', `/v1/orders/${created.id}`)).body.version).toBe(2);
    expect((await t.api('POST', `/v1/orders/${created.id}/status`, { body: { status: 'lost' } })).status).toBe(400);
  });

  it('lists newest first with keyset pagination, filters by status and number, and bounds limit', async () => {
    const tenant = await t.newTenant('Paging');
    const numbers: string[] = [];
    for (let i = 0; i < 7; i++) {
      const body = orderBody();
      numbers.push(body.orderNumber);
      await t.api('POST', '/v1/orders', { key: tenant.key, body });
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = cursor ? `?limit=3&cursor=${cursor}` : '?limit=3';
      const page = await t.api('GET', `/v1/orders${query}`, { key: tenant.key });
      expect(page.status).toBe(200);
      seen.push(...page.body.data.map((o: { orderNumber: string }) => o.orderNumber));
      cursor = page.body.nextCursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toEqual([...numbers].reverse());

    const byNumber = await t.api('GET', `/v1/orders?orderNumber=${numbers[2]}`, { key: tenant.key });
    expect(byNumber.body.data.map((o: { orderNumber: string }) => o.orderNumber)).toEqual([numbers[2]]);
    const first = (await t.api('GET', `/v1/orders?orderNumber=${numbers[0]}`, { key: tenant.key })).body.data[0];
    await t.api('POST', `/v1/orders/${first.id}/status`, { key: tenant.key, body: { status: 'confirmed' } });
    const confirmed = await t.api('GET', '/v1/orders?status=confirmed', { key: tenant.key });
    expect(confirmed.body.data.map((o: { id: string }) => o.id)).toEqual([first.id]);

    expect((await t.api('GET', '/v1/orders?limit=200', { key: tenant.key })).status).toBe(200);
    const tooMany = await t.api('GET', '/v1/orders?limit=201', { key: tenant.key });
    expect(tooMany.status).toBe(400);
    expect(fields(tooMany.body)).toEqual(['limit']);
    expect((await t.api('GET', '/v1/orders?cursor=garbage', { key: tenant.key })).status).toBe(400);
    expect((await t.api('GET', '/v1/orders?status=lost', { key: tenant.key })).status).toBe(400);
  });

  it('answers 404 for a malformed or unknown id', async () => {
    expect((await t.api('GET', '/v1/orders/not-an-id')).status).toBe(404);
    expect(
      (await t.api('PATCH', '/v1/orders/00000000-0000-4000-8000-000000000000', { body: { notes: 'x' } })).status,
    ).toBe(404);
    expect(
      (await t.api('POST', '/v1/orders/00000000-0000-4000-8000-000000000000/status', { body: { status: 'confirmed' } }))
        .status,
    ).toBe(404);
  });
});
