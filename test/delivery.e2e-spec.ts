import pg from 'pg';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DeliveriesService } from '../src/webhooks/deliveries/deliveries.service.js';
import { DeliveryRepository } from '../src/webhooks/deliveries/delivery.repository.js';
import { Dispatcher } from '../src/webhooks/engine/dispatcher.js';
import { orderBody, shipmentBody } from './support/fixtures.js';
import { eventually, type Receiver, startReceiver } from './support/receiver.js';
import { createTestApp, METRICS_TOKEN, type TestApp } from './support/test-app.js';

/** Ten requests at 5 a second from a bucket of five: the tenth starts 1 s after the first token at the soonest (less a millisecond's rounding). */
const RATE_LIMIT_FLOOR_MS = 990;

describe('delivery engine', () => {
  let t: TestApp;
  let db: pg.Client;
  const receivers: Receiver[] = [];

  beforeAll(async () => {
    t = await createTestApp({
      env: { WEBHOOK_RETRY_SCHEDULE: '200ms,200ms,200ms', WEBHOOK_FAILING_AFTER: '3', WEBHOOK_SWEEP_INTERVAL_MS: '50' },
    });
    db = new pg.Client({ connectionString: t.databaseUrl });
    await db.connect();
  });
  afterEach(async () => {
    await Promise.all(receivers.splice(0).map((r) => r.close()));
  });
  afterAll(async () => {
    await db?.end();
    await t?.close();
  });

  const receiver = async () => {
    const r = await startReceiver();
    receivers.push(r);
    return r;
  };
  /** A fresh tenant per test, so one test's events never reach another's receiver. */
  const tenantWith = async (subscriptions: Array<Record<string, unknown>>) => {
    const tenant = await t.newTenant();
    const hooks = [];
    for (const s of subscriptions) {
      const created = await t.api('POST', '/v1/webhooks', {
        key: tenant.key,
        body: { name: 'ERP', eventTypes: ['*'], ...s },
      });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      hooks.push(created.body);
    }
    return { key: tenant.key, id: tenant.id, hooks };
  };
  const deliveriesOf = async (key: string, webhookId: string) =>
    (await t.api('GET', `/v1/deliveries?webhookId=${webhookId}&limit=200`, { key })).body.data as Array<
      Record<string, any>
    >;
  const deliveryWithAttempts = async (key: string, id: string) =>
    (await t.api('GET', `/v1/deliveries/${id}`, { key })).body;

  it('pushes a signed envelope right after the commit; a standardwebhooks receiver verifies it', async () => {
    const r = await receiver();
    const { key, id: tenantId, hooks } = await tenantWith([{ url: `${r.url}/hooks`, eventTypes: ['order.created'] }]);
    const order = (await t.api('POST', '/v1/orders', { key, body: orderBody() })).body;
    const [request] = await r.waitForRequests(1);
    expect(request.method).toBe('POST');
    expect(request.path).toBe('/hooks');
    expect(request.headers['content-type']).toBe('application/json');
    expect(request.headers['user-agent']).toMatch(/^Waybill-Webhooks\//);
    const payload = new StandardWebhook(hooks[0].secret).verify(
      request.body,
      request.headers as Record<string, string>,
    ) as any;
    expect(payload).toMatchObject({ type: 'order.created', apiVersion: '2026-11-01', tenantId, sequence: 1 });
    expect(payload.id).toBe(request.headers['webhook-id']);
    expect(payload.data).toEqual(order);
    expect(Object.keys(payload)).toEqual(['id', 'type', 'apiVersion', 'createdAt', 'tenantId', 'sequence', 'data']);

    const [delivery] = await eventually(async () => {
      const list = await deliveriesOf(key, hooks[0].id);
      return list[0]?.status === 'delivered' ? list : undefined;
    });
    const full = await deliveryWithAttempts(key, delivery.id);
    expect(full).toMatchObject({
      webhookId: hooks[0].id,
      eventId: payload.id,
      eventType: 'order.created',
      status: 'delivered',
    });
    expect(full.attempts).toHaveLength(1);
    expect(full.attempts[0]).toMatchObject({
      number: 1,
      trigger: 'auto',
      url: `${r.url}/hooks`,
      responseStatus: 200,
      responseBody: 'ok',
      errorClass: null,
    });
    expect(full.attempts[0].requestHeaders['webhook-signature']).toBe(request.headers['webhook-signature']);
    expect(full.attempts[0].requestBody).toBe(request.body);
    const metrics = (await t.api('GET', '/metrics', { key: METRICS_TOKEN })).body as string;
    expect(
      Number(/^waybill_delivery_attempts_total\{outcome="delivered"\} (\d+)$/m.exec(metrics)?.[1]),
    ).toBeGreaterThanOrEqual(1);
    expect(Number(/^waybill_delivery_commit_to_send_seconds_count (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(
      1,
    );
  });
  it('signs with both secrets during a rotation, and with the new one only after expireOldNow', async () => {
    const r = await receiver();
    const { key, hooks } = await tenantWith([{ url: r.url, eventTypes: ['order.created'] }]);
    const oldSecret = hooks[0].secret;
    const rotated = await t.api('POST', `/v1/webhooks/${hooks[0].id}/rotate-secret`, { key, body: {} });
    expect(rotated.status).toBe(200);
    const newSecret = rotated.body.secret;
    expect(newSecret).toMatch(/^whsec_/);
    expect(newSecret).not.toBe(oldSecret);
    expect((await t.api('GET', `/v1/webhooks/${hooks[0].id}/secret`, { key })).body).toEqual({ secret: newSecret });

    await t.api('POST', '/v1/orders', { key, body: orderBody() });
    const [during] = await r.waitForRequests(1);
    expect(String(during.headers['webhook-signature']).split(' ')).toHaveLength(2);
    for (const secret of [oldSecret, newSecret]) {
      expect(() =>
        new StandardWebhook(secret).verify(during.body, during.headers as Record<string, string>),
      ).not.toThrow();
    }

    await t.api('POST', `/v1/webhooks/${hooks[0].id}/rotate-secret`, { key, body: { expireOldNow: true } });
    const latest = (await t.api('GET', `/v1/webhooks/${hooks[0].id}/secret`, { key })).body.secret;
    await t.api('POST', '/v1/orders', { key, body: orderBody() });
    const [, after] = await r.waitForRequests(2);
    expect(String(after.headers['webhook-signature']).split(' ')).toHaveLength(1);
    expect(() => new StandardWebhook(latest).verify(after.body, after.headers as Record<string, string>)).not.toThrow();
    expect(() => new StandardWebhook(newSecret).verify(after.body, after.headers as Record<string, string>)).toThrow();
  });

  it('pushes only the selected types and the events whose data match every filter', async () => {
    const matching = await receiver();
    const other = await receiver();
    const { key, hooks } = await tenantWith([
      {
        url: matching.url,
        eventTypes: ['shipment.status_changed'],
        filters: { 'carrier.scac': ['DHLF'], 'order.customer.ref': ['C-42'] },
      },
      { url: other.url, eventTypes: ['shipment.delivered'] },
    ]);
    const order = (await t.api('POST', '/v1/orders', { key, body: orderBody() })).body;
    const otherOrder = (
      await t.api('POST', '/v1/orders', { key, body: orderBody({ customer: { name: 'Beta', ref: 'C-7' } }) })
    ).body;
    const dhl = (await t.api('POST', '/v1/shipments', { key, body: shipmentBody({ orderId: order.id }) })).body;
    const ups = (
      await t.api('POST', '/v1/shipments', {
        key,
        body: shipmentBody({ orderId: order.id, carrier: { name: 'UPS', scac: 'UPSN' } }),
      })
    ).body;
    const dhlOtherCustomer = (
      await t.api('POST', '/v1/shipments', { key, body: shipmentBody({ orderId: otherOrder.id }) })
    ).body;
    for (const s of [dhl, ups, dhlOtherCustomer])
      await t.api('POST', `/v1/shipments/${s.id}/status`, { key, body: { status: 'booked' } });

    await matching.waitForRequests(1);
    await t.app.get(Dispatcher).whenIdle();
    expect(matching.bodies().map((b) => [b.type, b.data.id])).toEqual([['shipment.status_changed', dhl.id]]);
    expect(other.requests).toHaveLength(0);
    expect(await deliveriesOf(key, hooks[0].id)).toHaveLength(1);
    expect(await deliveriesOf(key, hooks[1].id)).toHaveLength(0);
  });

  it('carries the full snapshot, previousStatus, and a sequence that increases per aggregate', async () => {
    const r = await receiver();
    const { key } = await tenantWith([
      { url: r.url, eventTypes: ['shipment.created', 'shipment.status_changed', 'shipment.delivered'], ordered: true },
    ]);
    const order = (await t.api('POST', '/v1/orders', { key, body: orderBody() })).body;
    const shipment = (await t.api('POST', '/v1/shipments', { key, body: shipmentBody({ orderId: order.id }) })).body;
    let last;
    for (const status of ['booked', 'picked_up', 'in_transit', 'delivered']) {
      last = (await t.api('POST', `/v1/shipments/${shipment.id}/status`, { key, body: { status } })).body;
    }
    await r.waitForRequests(6);
    const bodies = r.bodies().sort((a, b) => a.sequence - b.sequence);
    expect(bodies.map((b) => b.sequence)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(bodies.map((b) => b.type)).toEqual([
      'shipment.created',
      'shipment.status_changed',
      'shipment.status_changed',
      'shipment.status_changed',
      'shipment.status_changed',
      'shipment.delivered',
    ]);
    expect(bodies[2].data).toMatchObject({ status: 'picked_up', previousStatus: 'booked' });
    const { trackingEvents, ...snapshot } = last;
    expect(trackingEvents).toEqual([]);
    expect(bodies[5].data).toEqual({ ...snapshot, previousStatus: 'in_transit' });
    expect(bodies[5].data.order).toEqual({
      id: order.id,
      orderNumber: order.orderNumber,
      externalRef: order.externalRef,
      customer: order.customer,
    });
  });

  it('retries 500, 500, 200 with the same webhook-id, and the audit shows the three attempts', async () => {
    const r = (await receiver()).replyWith({ status: 500, body: 'boom' }, { status: 500, body: 'boom again' });
    const { key, hooks } = await tenantWith([{ url: r.url, eventTypes: ['order.created'] }]);
    await t.api('POST', '/v1/orders', { key, body: orderBody() });
    const requests = await r.waitForRequests(3);
    expect(new Set(requests.map((q) => q.headers['webhook-id'])).size).toBe(1);
    expect(new Set(requests.map((q) => q.body)).size).toBe(1);
    const [delivery] = await eventually(async () => {
      const list = await deliveriesOf(key, hooks[0].id);
      return list[0]?.status === 'delivered' ? list : undefined;
    });
    const full = await deliveryWithAttempts(key, delivery.id);
    expect(full.attempts.map((a: any) => [a.number, a.responseStatus, a.errorClass, a.responseBody])).toEqual([
      [1, 500, 'http_status', 'boom'],
      [2, 500, 'http_status', 'boom again'],
      [3, 200, null, 'ok'],
    ]);
    expect(full.attemptCount).toBe(3);
    const webhook = (await t.api('GET', `/v1/webhooks/${hooks[0].id}`, { key })).body;
    expect(webhook).toMatchObject({ status: 'healthy', consecutiveFailures: 0 });
    expect(webhook.lastSuccessAt).not.toBeNull();
    expect(webhook.lastFailureAt).not.toBeNull();
  });

  it('classifies a timeout and a refused connection, and fails the delivery after the last retry', async () => {
    const hanging = (await receiver()).always('hang');
    const closed = await receiver();
    const closedUrl = closed.url;
    await closed.close();
    receivers.splice(receivers.indexOf(closed), 1);
    const { key, hooks } = await tenantWith([
      { url: hanging.url, eventTypes: ['order.created'], timeoutMs: 300, retrySchedule: ['100ms'] },
      { url: closedUrl, eventTypes: ['order.created'], retrySchedule: ['100ms'] },
    ]);
    await t.api('POST', '/v1/orders', { key, body: orderBody() });
    for (const [hook, errorClass] of [
      [hooks[0], 'timeout'],
      [hooks[1], 'connection_refused'],
    ] as const) {
      const [delivery] = await eventually(async () => {
        const list = await deliveriesOf(key, hook.id);
        return list[0]?.status === 'failed' ? list : undefined;
      });
      const full = await deliveryWithAttempts(key, delivery.id);
      expect(full.attempts.map((a: any) => [a.number, a.errorClass, a.responseStatus])).toEqual([
        [1, errorClass, null],
        [2, errorClass, null],
      ]);
      expect(full.attempts[0].durationMs).toBeGreaterThanOrEqual(errorClass === 'timeout' ? 250 : 0);
    }
  });

  it('waits out Retry-After on a 429 without counting it toward health', async () => {
    const r = (await receiver()).replyWith({ status: 429, headers: { 'retry-after': '1' }, body: 'slow down' });
    const { key, hooks } = await tenantWith([{ url: r.url, eventTypes: ['order.created'] }]);
    await t.api('POST', '/v1/orders', { key, body: orderBody() });
    await r.waitForRequests(2);
    const [delivery] = await eventually(async () => {
      const list = await deliveriesOf(key, hooks[0].id);
      return list[0]?.status === 'delivered' ? list : undefined;
    });
    const webhook = (await t.api('GET', `/v1/webhooks/${hooks[0].id}`, { key })).body;
    expect(webhook).toMatchObject({ status: 'healthy', consecutiveFailures: 0 });
    const attempts = (await deliveryWithAttempts(key, delivery.id)).attempts;
    expect(attempts.map((a: any) => a.responseStatus)).toEqual([429, 200]);
    // Never sooner than asked: the retry was due a second after the 429 was recorded.
    expect(Date.parse(attempts[1].startedAt) - Date.parse(attempts[0].startedAt)).toBeGreaterThanOrEqual(1_000);
  });

  it('disables at once on 410 Gone, holds later events, and sends them when re-enabled', async () => {
    const r = (await receiver()).replyWith({ status: 410 });
    const { key, hooks } = await tenantWith([{ url: r.url, eventTypes: ['order.created'] }]);
    await t.api('POST', '/v1/orders', { key, body: orderBody() });
    await r.waitForRequests(1);
    const disabled = await eventually(async () => {
      const w = (await t.api('GET', `/v1/webhooks/${hooks[0].id}`, { key })).body;
      return w.status === 'disabled' ? w : undefined;
    });
    expect(disabled.disabledReason).toContain('410');
    expect((await deliveriesOf(key, hooks[0].id))[0].status).toBe('failed');

    const held = (await t.api('POST', '/v1/orders', { key, body: orderBody() })).body;
    // Created held: no due time, so no claim takes it.
    expect((await deliveriesOf(key, hooks[0].id))[0]).toMatchObject({ status: 'pending', nextAttemptAt: null });
    await t.app.get(Dispatcher).whenIdle();
    expect(r.requests).toHaveLength(1);

    const enabled = await t.api('PATCH', `/v1/webhooks/${hooks[0].id}`, { key, body: { status: 'healthy' } });
    expect(enabled.body).toMatchObject({ status: 'healthy', disabledReason: null });
    const [, resent] = await r.waitForRequests(2);
    expect(JSON.parse(resent.body).data.id).toBe(held.id);
  });

  it('re-enabling with discardHeld marks the held deliveries discarded instead', async () => {
    const r = (await receiver()).replyWith({ status: 410 });
    const { key, hooks } = await tenantWith([{ url: r.url, eventTypes: ['order.created'] }]);
    await t.api('POST', '/v1/orders', { key, body: orderBody() });
    await eventually(
      async () => (await t.api('GET', `/v1/webhooks/${hooks[0].id}`, { key })).body.status === 'disabled',
    );
    await t.api('POST', '/v1/orders', { key, body: orderBody() });
    await eventually(async () => (await deliveriesOf(key, hooks[0].id)).length === 2);
    const bad = await t.api('PATCH', `/v1/webhooks/${hooks[0].id}`, { key, body: { discardHeld: true } });
    expect(bad.status).toBe(400);
    await t.api('PATCH', `/v1/webhooks/${hooks[0].id}`, { key, body: { status: 'healthy', discardHeld: true } });
    expect((await deliveriesOf(key, hooks[0].id)).map((d) => d.status)).toEqual(['discarded', 'failed']);
    await t.app.get(Dispatcher).whenIdle();
    expect(r.requests).toHaveLength(1);
  });

  it('holds deliveries while paused, spends no retry, and sends the backlog oldest first on resume', async () => {
    const r = await receiver();
    const { key, hooks } = await tenantWith([{ url: r.url, eventTypes: ['order.created'], paused: true }]);
    const numbers: string[] = [];
    for (let i = 0; i < 4; i++) {
      const body = orderBody();
      numbers.push(body.orderNumber);
      await t.api('POST', '/v1/orders', { key, body });
    }
    const held = await deliveriesOf(key, hooks[0].id);
    expect(held.map((d) => [d.status, d.attemptCount, d.nextAttemptAt])).toEqual(Array(4).fill(['pending', 0, null]));
    await t.app.get(Dispatcher).whenIdle();
    expect(r.requests).toHaveLength(0);

    const resumed = await t.api('PATCH', `/v1/webhooks/${hooks[0].id}`, {
      key,
      body: { paused: false, maxConcurrency: 1 },
    });
    expect(resumed.body.paused).toBe(false);
    await r.waitForRequests(4);
    expect(r.bodies().map((b) => b.data.orderNumber)).toEqual(numbers);
  });

  it('keeps an ordered subscription in order per aggregate when the first attempt of one event fails', async () => {
    const r = (await receiver()).replyWith({ status: 500 });
    const { key } = await tenantWith([{ url: r.url, eventTypes: ['shipment.status_changed'], ordered: true }]);
    const shipment = (await t.api('POST', '/v1/shipments', { key, body: shipmentBody() })).body;
    for (const status of ['booked', 'picked_up', 'in_transit', 'out_for_delivery', 'delivered']) {
      await t.api('POST', `/v1/shipments/${shipment.id}/status`, { key, body: { status } });
    }
    await r.waitForRequests(6);
    const sequences = r.bodies().map((b) => b.sequence);
    expect(sequences).toEqual([2, 2, 3, 4, 5, 6]);
  });

  it('sends a test event on request, answering with the attempt even when the receiver fails, without touching health', async () => {
    const r = (await receiver()).replyWith({ status: 500, body: 'nope' });
    const { key, hooks } = await tenantWith([{ url: r.url, eventTypes: ['order.created'], paused: true }]);
    const failed = await t.api('POST', `/v1/webhooks/${hooks[0].id}/test`, { key, body: {} });
    expect(failed.status).toBe(200);
    expect(failed.body).toMatchObject({
      number: 1,
      trigger: 'test',
      responseStatus: 500,
      responseBody: 'nope',
      errorClass: 'http_status',
    });
    const sent = JSON.parse(r.requests[0].body);
    expect(sent).toMatchObject({ type: 'webhook.test', data: { webhookId: hooks[0].id } });
    expect(() =>
      new StandardWebhook(hooks[0].secret).verify(r.requests[0].body, r.requests[0].headers as Record<string, string>),
    ).not.toThrow();

    const example = await t.api('POST', `/v1/webhooks/${hooks[0].id}/test`, {
      key,
      body: { eventType: 'shipment.delivered' },
    });
    expect(example.body).toMatchObject({ trigger: 'test', responseStatus: 200 });
    expect(JSON.parse(r.requests[1].body)).toMatchObject({ type: 'shipment.delivered', data: { status: 'delivered' } });
    const webhook = (await t.api('GET', `/v1/webhooks/${hooks[0].id}`, { key })).body;
    expect(webhook).toMatchObject({ status: 'healthy', consecutiveFailures: 0, lastFailureAt: null });
    const tests = await deliveriesOf(key, hooks[0].id);
    expect(tests.map((d) => [d.eventType, d.status])).toEqual([
      ['shipment.delivered', 'delivered'],
      ['webhook.test', 'failed'],
    ]);
    expect((await t.api('POST', `/v1/webhooks/${hooks[0].id}/test`, { key, body: { eventType: 'nope' } })).status).toBe(
      400,
    );
  });

  it('redelivers one delivery by hand and replays the failed ones since a time', async () => {
    const r = (await receiver()).always({ status: 500 });
    const { key, hooks } = await tenantWith([{ url: r.url, eventTypes: ['order.created'], retrySchedule: [] }]);
    const since = new Date().toISOString();
    for (let i = 0; i < 3; i++) await t.api('POST', '/v1/orders', { key, body: orderBody() });
    const failed = await eventually(async () => {
      const list = await deliveriesOf(key, hooks[0].id);
      return list.length === 3 && list.every((d) => d.status === 'failed') ? list : undefined;
    });
    r.always({ status: 200 });

    const redelivered = await t.api('POST', `/v1/deliveries/${failed[0].id}/redeliver`, { key });
    expect(redelivered.status).toBe(202);
    await eventually(async () => (await deliveryWithAttempts(key, failed[0].id)).status === 'delivered');
    const one = await deliveryWithAttempts(key, failed[0].id);
    expect(one.attempts.map((a: any) => [a.number, a.trigger, a.responseStatus])).toEqual([
      [1, 'auto', 500],
      [2, 'manual', 200],
    ]);
    expect(r.requests.at(-1)!.headers['webhook-id']).toBe(one.eventId);

    const replay = await t.api('POST', `/v1/webhooks/${hooks[0].id}/replay`, { key, body: { since } });
    expect(replay.status).toBe(202);
    expect(replay.body).toEqual({ replayed: 2 });
    expect(
      (await t.api('POST', `/v1/webhooks/${hooks[0].id}/replay`, { key, body: { since, until: since } })).body,
    ).toEqual({ replayed: 0 });
    await eventually(async () => (await deliveriesOf(key, hooks[0].id)).every((d) => d.status === 'delivered'));
    const replayed = await deliveryWithAttempts(key, failed[1].id);
    expect(replayed.attempts.map((a: any) => a.trigger)).toEqual(['auto', 'replay']);
    expect(
      (await t.api('POST', `/v1/webhooks/${hooks[0].id}/replay`, { key, body: { since: 'yesterday' } })).status,
    ).toBe(400);
    expect((await t.api('POST', `/v1/deliveries/00000000-0000-4000-8000-000000000000/redeliver`, { key })).status).toBe(
      404,
    );
  });

  it('sends custom headers but shows and audits only their names', async () => {
    const r = await receiver();
    const { key, hooks } = await tenantWith([
      {
        url: r.url,
        eventTypes: ['order.created'],
        headers: { 'X-ERP-Client': '100', 'X-Api-Key': 'erp-token-123' },
      },
    ]);
    expect(hooks[0].headerNames).toEqual(['X-ERP-Client', 'X-Api-Key']);
    expect(JSON.stringify(hooks[0])).not.toContain('erp-token-123');
    await t.api('POST', '/v1/orders', { key, body: orderBody() });
    const [request] = await r.waitForRequests(1);
    expect(request.headers['x-erp-client']).toBe('100');
    expect(request.headers['x-api-key']).toBe('erp-token-123');
    await t.app.get(Dispatcher).whenIdle();
    const [delivery] = await deliveriesOf(key, hooks[0].id);
    const full = await deliveryWithAttempts(key, delivery.id);
    expect(full.attempts[0].requestHeaders).toMatchObject({
      'x-erp-client': '[redacted]',
      'x-api-key': '[redacted]',
    });
    expect(JSON.stringify(full)).not.toContain('erp-token-123');
    const stored = await db.query('SELECT headers_encrypted, secret_encrypted FROM webhook WHERE id = $1', [
      hooks[0].id,
    ]);
    expect(stored.rows[0].headers_encrypted).not.toContain('erp-token-123');
    expect(stored.rows[0].secret_encrypted).not.toContain(hooks[0].secret.slice(6));
    const audit = await db.query('SELECT request_headers::text AS h FROM delivery_attempt WHERE webhook_id = $1', [
      hooks[0].id,
    ]);
    expect(audit.rows[0].h).not.toContain('erp-token-123');
  });

  it('deleting a subscription discards its pending deliveries and keeps the audit', async () => {
    const r = await receiver();
    const { key, hooks } = await tenantWith([{ url: r.url, eventTypes: ['order.created'], paused: true }]);
    await t.api('POST', '/v1/orders', { key, body: orderBody() });
    await eventually(async () => (await deliveriesOf(key, hooks[0].id)).length === 1);
    expect((await t.api('DELETE', `/v1/webhooks/${hooks[0].id}`, { key })).status).toBe(204);
    expect((await t.api('GET', `/v1/webhooks/${hooks[0].id}`, { key })).status).toBe(404);
    expect((await deliveriesOf(key, hooks[0].id)).map((d) => d.status)).toEqual(['discarded']);
    // Fan-out runs in the order's transaction: a deleted subscription gets nothing.
    await t.api('POST', '/v1/orders', { key, body: orderBody() });
    expect(await deliveriesOf(key, hooks[0].id)).toHaveLength(1);
    await t.app.get(Dispatcher).whenIdle();
    expect(r.requests).toHaveLength(0);
  });

  it('holds a subscription to one request at a time with maxConcurrency 1, and to its rate limit', async () => {
    let inFlight = 0;
    let peak = 0;
    const r = (await receiver()).always(() => {
      inFlight += 1;
      peak = Math.max(peak, inFlight);
      setTimeout(() => (inFlight -= 1), 30);
      return { status: 200, delayMs: 30 };
    });
    const { key } = await tenantWith([{ url: r.url, eventTypes: ['order.created'], maxConcurrency: 1 }]);
    for (let i = 0; i < 6; i++) await t.api('POST', '/v1/orders', { key, body: orderBody() });
    await r.waitForRequests(6);
    expect(peak).toBe(1);

    const limited = await receiver();
    const other = await tenantWith([{ url: limited.url, eventTypes: ['order.created'], rateLimitPerSecond: 5 }]);
    await Promise.all(
      Array.from({ length: 10 }, () => t.api('POST', '/v1/orders', { key: other.key, body: orderBody() })),
    );
    await limited.waitForRequests(10);
    const { first, last } = await eventually(async () => {
      const { rows } = await db.query<{ first: Date; last: Date; n: number }>(
        `SELECT (SELECT min(created_at) FROM delivery WHERE tenant_id = $1) AS first,
                max(started_at) AS last, count(*)::int AS n
           FROM delivery_attempt WHERE tenant_id = $1 AND error_class IS DISTINCT FROM 'interrupted'`,
        [other.id],
      );
      return rows[0].n === 10 ? rows[0] : undefined;
    });
    // Five at once (a full bucket), then one every 200 ms: the tenth request starts at least 1 s
    // after the first token, which was taken after the first delivery was committed. Measured from
    // that commit (not between two requests, whose start times a loaded machine delays unevenly),
    // load can only lengthen it. The database's clock and this process's are the machine's one.
    expect(last.getTime() - first.getTime()).toBeGreaterThanOrEqual(RATE_LIMIT_FLOOR_MS);
  });

  it('does not follow redirects: a 302 is a failed attempt with its status', async () => {
    const target = await receiver();
    const r = (await receiver()).always({ status: 302, headers: { location: `${target.url}/elsewhere` } });
    const { key, hooks } = await tenantWith([{ url: r.url, eventTypes: ['order.created'], retrySchedule: [] }]);
    await t.api('POST', '/v1/orders', { key, body: orderBody() });
    const [delivery] = await eventually(async () => {
      const list = await deliveriesOf(key, hooks[0].id);
      return list[0]?.status === 'failed' ? list : undefined;
    });
    const full = await deliveryWithAttempts(key, delivery.id);
    expect(full.attempts.map((a: any) => [a.responseStatus, a.errorClass])).toEqual([[302, 'http_status']]);
    expect(target.requests).toHaveLength(0);
  });

  it('prunes attempts and finished deliveries older than AUDIT_RETENTION_DAYS, and keeps the rest', async () => {
    const r = await receiver();
    const { key, hooks } = await tenantWith([{ url: r.url, eventTypes: ['order.created'] }]);
    for (let i = 0; i < 2; i++) await t.api('POST', '/v1/orders', { key, body: orderBody() });
    const [recent, old] = await eventually(async () => {
      const list = await deliveriesOf(key, hooks[0].id);
      return list.length === 2 && list.every((d) => d.status === 'delivered') ? list : undefined;
    });
    await db.query(`UPDATE delivery SET updated_at = now() - interval '31 days' WHERE id = $1`, [old.id]);
    await db.query(`UPDATE delivery_attempt SET started_at = now() - interval '31 days' WHERE delivery_id = $1`, [
      old.id,
    ]);
    const pruned = await t.app.get(DeliveriesService).pruneAudit();
    expect(pruned.attempts).toBeGreaterThanOrEqual(1);
    expect(pruned.deliveries).toBeGreaterThanOrEqual(1);
    expect((await deliveriesOf(key, hooks[0].id)).map((d) => d.id)).toEqual([recent.id]);
    expect((await deliveryWithAttempts(key, recent.id)).attempts).toHaveLength(1);
  });

  it('a dead endpoint does not hold back a healthy one', async () => {
    const dead = (await receiver()).always('hang');
    const healthy = await receiver();
    const { key, hooks } = await tenantWith([
      { url: dead.url, eventTypes: ['order.created'], timeoutMs: 60_000, maxConcurrency: 4 },
      { url: healthy.url, eventTypes: ['order.created'] },
    ]);
    await Promise.all(Array.from({ length: 30 }, () => t.api('POST', '/v1/orders', { key, body: orderBody() })));
    await healthy.waitForRequests(30);
    // All of the healthy endpoint's pushes went out while the dead one's first four still hang.
    expect(dead.requests.length).toBeLessThanOrEqual(4);
    // Their attempt rows were written as they started, and have no outcome yet.
    const attemptsToDead = await db.query(
      `SELECT count(*)::int AS n FROM delivery_attempt WHERE webhook_id = $1 AND error_class <> 'interrupted'`,
      [hooks[0].id],
    );
    expect(attemptsToDead.rows[0].n).toBe(0);
  });
});

describe('subscription health', () => {
  let t: TestApp;
  let r: Receiver;
  beforeAll(async () => {
    t = await createTestApp({
      env: {
        WEBHOOK_RETRY_SCHEDULE: '100ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms',
        WEBHOOK_FAILING_AFTER: '2',
        WEBHOOK_DISABLE_AFTER: '600ms',
      },
    });
    r = (await startReceiver()).always({ status: 500 });
  });
  afterAll(async () => {
    await r?.close();
    await t?.close();
  });

  it('goes healthy → failing after repeated failures → disabled when nothing succeeded for WEBHOOK_DISABLE_AFTER', async () => {
    const hook = (
      await t.api('POST', '/v1/webhooks', { body: { name: 'x', url: r.url, eventTypes: ['order.created'] } })
    ).body;
    await t.api('POST', '/v1/orders', { body: orderBody() });
    const failing = await eventually(async () => {
      const w = (await t.api('GET', `/v1/webhooks/${hook.id}`)).body;
      return w.status === 'failing' ? w : undefined;
    });
    expect(failing.consecutiveFailures).toBeGreaterThanOrEqual(2);
    const disabled = await eventually(async () => {
      const w = (await t.api('GET', `/v1/webhooks/${hook.id}`)).body;
      return w.status === 'disabled' ? w : undefined;
    });
    expect(disabled.disabledReason).toMatch(/no successful delivery/);
    // Disabled: no claim takes its deliveries; once what was claimed is recorded, it waits, not delivering.
    await t.app.get(Dispatcher).whenIdle();
    const [waiting] = (await t.api('GET', `/v1/deliveries?webhookId=${hook.id}`)).body.data;
    expect(waiting.status).toBe('pending');

    r.always({ status: 200 });
    await t.api('PATCH', `/v1/webhooks/${hook.id}`, { body: { status: 'healthy' } });
    await eventually(async () => {
      const [d] = (await t.api('GET', `/v1/deliveries?webhookId=${hook.id}`)).body.data;
      return d.status === 'delivered';
    });
    expect((await t.api('GET', `/v1/webhooks/${hook.id}`)).body).toMatchObject({
      status: 'healthy',
      consecutiveFailures: 0,
    });
  });
});

describe('resuming a held backlog', () => {
  let api: TestApp;
  let db: pg.Client;
  beforeAll(async () => {
    // An API-only instance: nothing claims, so what the resume itself writes is all there is to see.
    api = await createTestApp({ env: { ROLE: 'api' } });
    db = new pg.Client({ connectionString: api.databaseUrl });
    await db.connect();
  });
  afterAll(async () => {
    await db?.end();
    await api?.close();
  });

  it('rewrites none of its deliveries: they keep their due time while held and are due again as they were', async () => {
    const hook = await api.api('POST', '/v1/webhooks', {
      body: { name: 'erp', url: 'http://127.0.0.1:9/erp', eventTypes: ['order.created'], paused: true },
    });
    expect(hook.status).toBe(201);
    for (let i = 0; i < 5; i++) expect((await api.api('POST', '/v1/orders', { body: orderBody() })).status).toBe(201);
    const versions = async () =>
      (
        await db.query<{ id: string; xmin: string }>(
          `SELECT id, xmin::text AS xmin FROM delivery WHERE webhook_id = $1 ORDER BY id`,
          [hook.body.id],
        )
      ).rows;
    const before = await versions();
    expect(before).toHaveLength(5);
    const list = async () =>
      (await api.api('GET', `/v1/deliveries?webhookId=${hook.body.id}`)).body.data as Array<{
        status: string;
        nextAttemptAt: string | null;
      }>;
    expect((await list()).map((d) => [d.status, d.nextAttemptAt])).toEqual(Array(5).fill(['pending', null]));

    expect((await api.api('PATCH', `/v1/webhooks/${hook.body.id}`, { body: { paused: false } })).status).toBe(200);
    // A backlog of a million held deliveries once meant a million-row UPDATE inside this PATCH.
    expect(await versions()).toEqual(before);
    const due = await list();
    expect(due.every((d) => d.status === 'pending' && d.nextAttemptAt !== null)).toBe(true);
  });
});

describe('a paused subscription taking new deliveries', () => {
  let t: TestApp;
  beforeAll(async () => {
    // A slow sweep: the claims counted are those woken by the commits.
    t = await createTestApp({ env: { WEBHOOK_SWEEP_INTERVAL_MS: '60000' } });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('does not wake the claim on every commit (its deliveries are due but held)', async () => {
    const hook = await t.api('POST', '/v1/webhooks', {
      body: { name: 'erp', url: 'http://127.0.0.1:9/erp', eventTypes: ['order.created'], paused: true },
    });
    expect(hook.status).toBe(201);
    const repository = t.app.get(DeliveryRepository);
    let claims = 0;
    const claim = repository.claimDueDeliveries.bind(repository);
    repository.claimDueDeliveries = (...args) => {
      claims += 1;
      return claim(...args);
    };
    for (let i = 0; i < 50; i++) expect((await t.api('POST', '/v1/orders', { body: orderBody() })).status).toBe(201);
    expect(claims, 'claims during 50 commits held by a paused subscription').toBeLessThanOrEqual(2);
  });
});
