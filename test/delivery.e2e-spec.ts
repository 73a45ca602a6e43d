import pg from 'pg';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Dispatcher } from '../src/webhooks/delivery/dispatcher.js';
import { orderBody, shipmentBody } from './support/fixtures.js';
import { eventually, type Receiver, startReceiver } from './support/receiver.js';
import { createTestApp, type TestApp } from './support/test-app.js';

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
      const created = await t.api('POST', '/v1/webhooks', { key: tenant.key, body: { name: 'ERP', eventTypes: ['*'], ...s } });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      hooks.push(created.body);
    }
    return { key: tenant.key, id: tenant.id, hooks };
  };
  const deliveriesOf = async (key: string, webhookId: string) =>
    (await t.api('GET', `/v1/deliveries?webhookId=${webhookId}&limit=200`, { key })).body.data as Array<Record<string, any>>;
  const deliveryWithAttempts = async (key: string, id: string) => (await t.api('GET', `/v1/deliveries/${id}`, { key })).body;

  it('pushes a signed envelope within milliseconds of the commit; a standardwebhooks receiver verifies it', async () => {
    const r = await receiver();
    const { key, id: tenantId, hooks } = await tenantWith([{ url: `${r.url}/hooks`, eventTypes: ['order.created'] }]);
    const sentAt = performance.now();
    const order = (await t.api('POST', '/v1/orders', { key, body: orderBody() })).body;
    const [request] = await r.waitForRequests(1);
    expect(request.receivedAt - sentAt).toBeLessThan(2_000);
    expect(request.method).toBe('POST');
    expect(request.path).toBe('/hooks');
    expect(request.headers['content-type']).toBe('application/json');
    expect(request.headers['user-agent']).toMatch(/^Waybill-Webhooks\//);
    const payload = new StandardWebhook(hooks[0].secret).verify(request.body, request.headers as Record<string, string>) as any;
    expect(payload).toMatchObject({ type: 'order.created', apiVersion: '2026-11-01', tenantId, sequence: 1 });
    expect(payload.id).toBe(request.headers['webhook-id']);
    expect(payload.data).toEqual(order);
    expect(Object.keys(payload)).toEqual(['id', 'type', 'apiVersion', 'createdAt', 'tenantId', 'sequence', 'data']);

    const [delivery] = await eventually(async () => {
      const list = await deliveriesOf(key, hooks[0].id);
      return list[0]?.status === 'delivered' ? list : undefined;
    });
    const full = await deliveryWithAttempts(key, delivery.id);
    expect(full).toMatchObject({ webhookId: hooks[0].id, eventId: payload.id, eventType: 'order.created', status: 'delivered' });
    expect(full.attempts).toHaveLength(1);
    expect(full.attempts[0]).toMatchObject({ number: 1, trigger: 'auto', url: `${r.url}/hooks`, responseStatus: 200, responseBody: 'ok', errorClass: null });
    expect(full.attempts[0].requestHeaders['webhook-signature']).toBe(request.headers['webhook-signature']);
    expect(full.attempts[0].requestBody).toBe(request.body);
  });
});
