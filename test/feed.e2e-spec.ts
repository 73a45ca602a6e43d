import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FeedSignal } from '../src/webhooks/engine/delivery-signal.js';
import { orderBody, shipmentBody } from './support/fixtures.js';
import { envelopeProblems } from './support/schemas.js';
import { eventually, type Receiver, startReceiver } from './support/receiver.js';
import { createTestApp, type TestApp } from './support/test-app.js';

/** How long a control poll waits: a long poll woken by a commit must answer before it does. */
const CONTROL_WAIT_SECONDS = 5;

describe('pull feeds', () => {
  let t: TestApp;
  let r: Receiver;
  beforeAll(async () => {
    t = await createTestApp();
    r = await startReceiver();
  });
  afterAll(async () => {
    await r?.close();
    await t?.close();
  });

  const pullFeed = async (body: Record<string, unknown> = {}, key?: string) => {
    const created = await t.api('POST', '/v1/webhooks', {
      key,
      body: {
        name: 'On-prem ERP (pull)',
        eventTypes: ['order.created', 'order.status_changed'],
        deliveryMode: 'pull',
        ...body,
      },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    return created.body;
  };

  it('serves events in order with a cursor, again until acknowledged; ack marks them delivered with trigger pull', async () => {
    const feed = await pullFeed();
    expect(feed).toMatchObject({ deliveryMode: 'pull', url: null });
    const empty = await t.api('GET', `/v1/feeds/${feed.id}`);
    expect(empty.body).toEqual({ data: [], nextCursor: '0' });

    const orders = [];
    for (let i = 0; i < 3; i++) orders.push((await t.api('POST', '/v1/orders', { body: orderBody() })).body);
    await t.api('POST', `/v1/orders/${orders[0].id}/status`, { body: { status: 'confirmed' } });

    const first = await t.api('GET', `/v1/feeds/${feed.id}?limit=2`);
    expect(first.status).toBe(200);
    expect(first.body.data.map((e: any) => [e.type, e.data.orderNumber])).toEqual([
      ['order.created', orders[0].orderNumber],
      ['order.created', orders[1].orderNumber],
    ]);
    for (const envelope of first.body.data) expect(envelopeProblems(envelope)).toEqual([]);
    const second = await t.api('GET', `/v1/feeds/${feed.id}?limit=2&cursor=${first.body.nextCursor}`);
    expect(second.body.data.map((e: any) => e.type)).toEqual(['order.created', 'order.status_changed']);
    const end = await t.api('GET', `/v1/feeds/${feed.id}?cursor=${second.body.nextCursor}`);
    expect(end.body).toEqual({ data: [], nextCursor: '0' });

    // Not acknowledged: served again from the oldest.
    const again = await t.api('GET', `/v1/feeds/${feed.id}`);
    expect(again.body.data.map((e: any) => e.id)).toEqual(
      [...first.body.data, ...second.body.data].map((e: any) => e.id),
    );

    const ack = await t.api('POST', `/v1/feeds/${feed.id}/ack`, { body: { cursor: first.body.nextCursor } });
    expect(ack.status).toBe(200);
    expect(ack.body).toEqual({ acknowledged: 2, cursor: first.body.nextCursor });
    const rest = await t.api('GET', `/v1/feeds/${feed.id}`);
    expect(rest.body.data.map((e: any) => e.id)).toEqual(second.body.data.map((e: any) => e.id));

    const deliveries = (await t.api('GET', `/v1/deliveries?webhookId=${feed.id}`)).body.data as any[];
    const byEvent = new Map(deliveries.map((d) => [d.eventId, d]));
    expect(first.body.data.map((e: any) => byEvent.get(e.id).status)).toEqual(['delivered', 'delivered']);
    expect(second.body.data.map((e: any) => byEvent.get(e.id).status)).toEqual(['pending', 'pending']);
    const detail = (await t.api('GET', `/v1/deliveries/${byEvent.get(first.body.data[0].id).id}`)).body;
    expect(detail.attempts).toHaveLength(1);
    expect(detail.attempts[0]).toMatchObject({ number: 1, trigger: 'pull', responseStatus: 200, errorClass: null });
    expect(detail.attempts[0].url).toMatch(new RegExp(`/v1/feeds/${feed.id}$`));

    await t.api('POST', `/v1/feeds/${feed.id}/ack`, { body: { cursor: second.body.nextCursor } });
    const drained = await t.api('GET', `/v1/feeds/${feed.id}`);
    expect(drained.body).toEqual({ data: [], nextCursor: second.body.nextCursor });
    const repeated = await t.api('POST', `/v1/feeds/${feed.id}/ack`, { body: { cursor: first.body.nextCursor } });
    expect(repeated.body).toEqual({ acknowledged: 0, cursor: second.body.nextCursor });
    const ahead = await t.api('POST', `/v1/feeds/${feed.id}/ack`, { body: { cursor: '999999' } });
    expect(ahead.status).toBe(400);
    expect(ahead.body.errors[0].field).toBe('cursor');
    const junk = await t.api('GET', `/v1/feeds/${feed.id}?cursor=abc&limit=500&wait=99`);
    expect(junk.status).toBe(400);
    expect(junk.body.errors.map((e: any) => e.field).sort()).toEqual(['cursor', 'limit', 'wait']);

    // Nothing was ever pushed anywhere, and push-only actions say why they do not apply.
    expect(r.requests).toHaveLength(0);
    expect((await t.api('POST', `/v1/webhooks/${feed.id}/test`, { body: {} })).status).toBe(409);
    expect((await t.api('POST', `/v1/webhooks/${feed.id}/check`)).status).toBe(409);
    expect((await t.api('POST', `/v1/deliveries/${detail.id}/redeliver`)).status).toBe(409);
    await t.api('DELETE', `/v1/webhooks/${feed.id}`);
  });

  it('a feed token reads and acknowledges its own feed only; another tenant gets 404', async () => {
    const feed = await pullFeed();
    const other = await pullFeed();
    await t.api('POST', '/v1/orders', { body: orderBody() });
    const issued = await t.api('POST', `/v1/webhooks/${feed.id}/feed-token`);
    expect(issued.status).toBe(201);
    expect(issued.body.token).toMatch(/^wbf_/);
    expect(issued.body.feedUrl).toMatch(new RegExp(`/v1/feeds/${feed.id}$`));
    const token = issued.body.token as string;

    const read = await t.api('GET', `/v1/feeds/${feed.id}`, { key: token });
    expect(read.status).toBe(200);
    expect(read.body.data).toHaveLength(1);
    expect(
      (await t.api('POST', `/v1/feeds/${feed.id}/ack`, { key: token, body: { cursor: read.body.nextCursor } })).body
        .acknowledged,
    ).toBe(1);
    expect((await t.api('GET', `/v1/feeds/${other.id}`, { key: token })).status).toBe(404);
    expect((await t.api('GET', '/v1/orders', { key: token })).status).toBe(401);
    expect((await t.api('GET', `/v1/webhooks/${feed.id}`, { key: token })).status).toBe(401);
    expect((await t.api('GET', `/v1/feeds/${feed.id}`, { key: 'wbf_not-a-token' })).status).toBe(401);

    const stranger = await t.newTenant('Another tenant');
    expect((await t.api('GET', `/v1/feeds/${feed.id}`, { key: stranger.key })).status).toBe(404);
    expect((await t.api('POST', `/v1/feeds/${feed.id}/ack`, { key: stranger.key, body: { cursor: '1' } })).status).toBe(
      404,
    );
    expect((await t.api('POST', `/v1/webhooks/${feed.id}/feed-token`, { key: stranger.key })).status).toBe(404);

    const push = await t.api('POST', '/v1/webhooks', {
      body: { name: 'push', url: r.url, eventTypes: ['webhook.test'] },
    });
    expect((await t.api('GET', `/v1/feeds/${push.body.id}`)).status).toBe(409);
    expect((await t.api('POST', `/v1/webhooks/${push.body.id}/feed-token`)).status).toBe(409);
    // A deleted subscription's token stops working.
    await t.api('DELETE', `/v1/webhooks/${feed.id}`);
    expect((await t.api('GET', `/v1/feeds/${feed.id}`, { key: token })).status).toBe(401);
    for (const id of [other.id, push.body.id]) await t.api('DELETE', `/v1/webhooks/${id}`);
  });

  it('a long poll answers as soon as an event is committed, long before its wait ends', async () => {
    const feed = await pullFeed();
    // A feed nothing arrives in: a poll of it answers only when its own wait ends.
    const quiet = await pullFeed({ eventTypes: ['shipment.delivered'] });
    const polling = t.api('GET', `/v1/feeds/${feed.id}?wait=20`);
    // The poll is waiting for a wake-up (not answering from a read made after the commit).
    const signal = t.app.get(FeedSignal);
    await eventually(() => signal['waiters'].has(feed.id), 10_000, 'the long poll to wait');
    const order = (await t.api('POST', '/v1/orders', { body: orderBody() })).body;
    // The yardstick is the service's own clock: the poll answers while a poll started after the
    // commit with a quarter of its wait (CONTROL_WAIT_SECONDS, generous for a loaded machine) still waits.
    const control = t.api('GET', `/v1/feeds/${quiet.id}?wait=${CONTROL_WAIT_SECONDS}`);
    const first = await Promise.race([polling.then(() => 'poll'), control.then(() => 'control')]);
    expect(first).toBe('poll');
    const answer = await polling;
    expect(answer.body.data.map((e: any) => e.data.orderNumber)).toEqual([order.orderNumber]);
    expect((await control).body.data).toEqual([]);
    for (const id of [feed.id, quiet.id]) await t.api('DELETE', `/v1/webhooks/${id}`);
  });

  it('honours the subscription filters, pinned version and payload format', async () => {
    const feed = await pullFeed({
      eventTypes: ['shipment.status_changed'],
      payloadFormat: 'jsonata',
      payloadOptions: { expression: '{ "shipment": data.shipmentNumber, "status": data.status }' },
      filters: { 'carrier.scac': ['DHLF'] },
    });
    const dhl = (await t.api('POST', '/v1/shipments', { body: shipmentBody() })).body;
    const ups = (
      await t.api('POST', '/v1/shipments', { body: shipmentBody({ carrier: { name: 'UPS', scac: 'UPSN' } }) })
    ).body;
    for (const s of [dhl, ups]) await t.api('POST', `/v1/shipments/${s.id}/status`, { body: { status: 'booked' } });
    const read = await t.api('GET', `/v1/feeds/${feed.id}`);
    expect(read.body.data).toHaveLength(1);
    const [item] = read.body.data;
    expect(item).toMatchObject({ type: 'shipment.status_changed', contentType: 'application/json' });
    expect(JSON.parse(item.body)).toEqual({ shipment: dhl.shipmentNumber, status: 'booked' });
    await t.api('DELETE', `/v1/webhooks/${feed.id}`);
  });

  it('a page stops at 4 MiB of bodies and after 5 s of rendering (one item at least); the next read goes on', async () => {
    // 1 MB a body is allowed (EDI and ERP documents are large): 200 of them would be a 200 MB page,
    // assembled in the service's memory, per concurrent read.
    const large = await pullFeed({
      eventTypes: ['order.created'],
      payloadFormat: 'jsonata',
      payloadOptions: { expression: '$pad(data.orderNumber, 1000000, "x")' },
    });
    const numbers: string[] = [];
    for (let i = 0; i < 7; i++)
      numbers.push((await t.api('POST', '/v1/orders', { body: orderBody() })).body.orderNumber);
    const first = await t.api('GET', `/v1/feeds/${large.id}?limit=7`);
    expect(first.status).toBe(200);
    const bytes = first.body.data.reduce((n: number, item: { body: string }) => n + item.body.length, 0);
    expect(first.body.data.length).toBeGreaterThanOrEqual(1);
    expect(first.body.data.length).toBeLessThan(7);
    expect(bytes - 1_000_000).toBeLessThan(4 * 1024 * 1024);
    // Read on until a page is empty, as a reader must: on a loaded machine the 5 s bound may end a
    // page of these 1 MB renders before its 4 MiB do.
    const items: Array<{ body: string }> = [...first.body.data];
    let cursor = first.body.nextCursor;
    for (let pages = 1; pages < 8; pages++) {
      const page = await t.api('GET', `/v1/feeds/${large.id}?limit=7&cursor=${cursor}`);
      expect(page.status).toBe(200);
      if (page.body.data.length === 0) break;
      items.push(...page.body.data);
      cursor = page.body.nextCursor;
    }
    expect(items.map((item) => item.body.replace(/x+$/, ''))).toEqual(numbers);
    await t.api('DELETE', `/v1/webhooks/${large.id}`);

    // Items whose expression runs into the sandbox's deadline (2 s each): the page ends after 5 s.
    const slow = await pullFeed({
      eventTypes: ['order.created'],
      payloadFormat: 'jsonata',
      payloadOptions: { expression: '{ "notes": $match(data.notes, /(a+)+$/) }' },
    });
    for (let i = 0; i < 6; i++) await t.api('POST', '/v1/orders', { body: orderBody({ notes: `${'a'.repeat(34)}!` }) });
    const page = await t.api('GET', `/v1/feeds/${slow.id}?limit=6`);
    expect(page.status).toBe(200);
    expect(page.body.data.length).toBeGreaterThanOrEqual(1);
    expect(page.body.data.length).toBeLessThan(6);
    // Each item is stopped at the sandbox's deadline or, where the machine backtracks through it
    // within the deadline, rendered: either way the page ended on its 5 s bound, not after six.
    for (const item of page.body.data as Array<{ transformError?: string; body?: string }>)
      expect(item.transformError ?? item.body).toMatch(/ran longer than|^\{\}$/);
    await t.api('DELETE', `/v1/webhooks/${slow.id}`);
  }, 90_000);

  it('switching push → pull moves held deliveries into the feed, and pull → push sends what waits', async () => {
    const hook = (
      await t.api('POST', '/v1/webhooks', {
        body: { name: 'switch', url: r.url, eventTypes: ['order.created'], paused: true },
      })
    ).body;
    const first = (await t.api('POST', '/v1/orders', { body: orderBody() })).body;
    const toPull = await t.api('PATCH', `/v1/webhooks/${hook.id}`, { body: { deliveryMode: 'pull' } });
    expect(toPull.body.deliveryMode).toBe('pull');
    const second = (await t.api('POST', '/v1/orders', { body: orderBody() })).body;
    const read = await t.api('GET', `/v1/feeds/${hook.id}`);
    expect(read.body.data.map((e: any) => e.data.orderNumber)).toEqual([first.orderNumber, second.orderNumber]);
    const oldest = await t.api('GET', `/v1/feeds/${hook.id}?limit=1`);
    expect(
      (await t.api('POST', `/v1/feeds/${hook.id}/ack`, { body: { cursor: oldest.body.nextCursor } })).body.acknowledged,
    ).toBe(1);
    const third = (await t.api('POST', '/v1/orders', { body: orderBody() })).body;

    const needsUrl = await t.api('PATCH', `/v1/webhooks/${hook.id}`, { body: { deliveryMode: 'push', url: null } });
    expect(needsUrl.status).toBe(400);
    const before = r.requests.length;
    const toPush = await t.api('PATCH', `/v1/webhooks/${hook.id}`, { body: { deliveryMode: 'push', paused: false } });
    expect(toPush.body.deliveryMode).toBe('push');
    const pushed = await r.waitForRequests(before + 2);
    expect(pushed.slice(before).map((q) => JSON.parse(q.body).data.orderNumber)).toEqual([
      second.orderNumber,
      third.orderNumber,
    ]);
    await t.api('DELETE', `/v1/webhooks/${hook.id}`);
  });

  it('a pull subscription needs no URL, a push one does', async () => {
    const push = await t.api('POST', '/v1/webhooks', { body: { name: 'x', eventTypes: ['*'] } });
    expect(push.status).toBe(400);
    expect(push.body.errors).toEqual([{ field: 'url', message: 'is required for push delivery' }]);
    const badMode = await t.api('POST', '/v1/webhooks', {
      body: { name: 'x', eventTypes: ['*'], deliveryMode: 'carrier-pigeon' },
    });
    expect(badMode.body.errors[0].field).toBe('deliveryMode');
  });
});
