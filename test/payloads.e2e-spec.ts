import { Webhook as StandardWebhook } from 'standardwebhooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { API_VERSION } from '../src/events/event-types.js';
import { registerOlderPayloadVersion } from '../src/events/payload-versions.js';
import { orderBody, shipmentBody } from './support/fixtures.js';
import { eventually, type Receiver, startReceiver } from './support/receiver.js';
import { createTestApp, type TestApp } from './support/test-app.js';

const MAPPING = `{
  "ShipmentNo": data.shipmentNumber,
  "Carrier": data.carrier.scac,
  "Status": $uppercase(data.status),
  "PO": data.order.externalRef,
  "EventId": id
}`;

describe('payload formats and preview', () => {
  let t: TestApp;
  const receivers: Receiver[] = [];
  beforeAll(async () => {
    t = await createTestApp({ env: { WEBHOOK_RETRY_SCHEDULE: '100ms' } });
  });
  afterEach(async () => {
    await Promise.all(receivers.splice(0).map((r) => r.close()));
  });
  afterAll(() => t?.close());

  const receiver = async () => {
    const r = await startReceiver();
    receivers.push(r);
    return r;
  };

  it('sends a JSONata mapping of the envelope, signed as sent, with its content type', async () => {
    const r = await receiver();
    const tenant = await t.newTenant();
    const hook = (
      await t.api('POST', '/v1/webhooks', {
        key: tenant.key,
        body: {
          name: 'SAP',
          url: r.url,
          eventTypes: ['shipment.status_changed'],
          payloadFormat: 'jsonata',
          payloadOptions: { expression: MAPPING, contentType: 'application/vnd.sap+json' },
        },
      })
    ).body;
    expect(hook).toMatchObject({
      payloadFormat: 'jsonata',
      payloadOptions: { expression: MAPPING, contentType: 'application/vnd.sap+json' },
    });
    const order = (await t.api('POST', '/v1/orders', { key: tenant.key, body: orderBody() })).body;
    const shipment = (
      await t.api('POST', '/v1/shipments', { key: tenant.key, body: shipmentBody({ orderId: order.id }) })
    ).body;
    await t.api('POST', `/v1/shipments/${shipment.id}/status`, { key: tenant.key, body: { status: 'booked' } });

    const [request] = await r.waitForRequests(1);
    expect(request.headers['content-type']).toBe('application/vnd.sap+json');
    const verified = new StandardWebhook(hook.secret).verify(request.body, request.headers as Record<string, string>);
    expect(verified).toEqual({
      ShipmentNo: shipment.shipmentNumber,
      Carrier: 'DHLF',
      Status: 'BOOKED',
      PO: 'PO-88231',
      EventId: request.headers['webhook-id'],
    });

    const [delivery] = await eventually(async () => {
      const list = (await t.api('GET', `/v1/deliveries?webhookId=${hook.id}`, { key: tenant.key })).body.data;
      return list[0]?.status === 'delivered' ? list : undefined;
    });
    const full = (await t.api('GET', `/v1/deliveries/${delivery.id}`, { key: tenant.key })).body;
    expect(full.attempts[0].requestBody).toBe(request.body);

    const preview = await t.api('POST', `/v1/webhooks/${hook.id}/preview`, {
      key: tenant.key,
      body: { eventId: delivery.eventId },
    });
    expect(preview.status).toBe(200);
    expect(preview.body.body).toBe(request.body);
    expect(preview.body.contentType).toBe('application/vnd.sap+json');
    expect(preview.body.headers['webhook-id']).toBe(delivery.eventId);
    expect(() => new StandardWebhook(hook.secret).verify(preview.body.body, preview.body.headers)).not.toThrow();
  });

  it('keeps rendering the shape of the version a subscription pinned when a newer one is current', async () => {
    // A test-only older version in which a shipment's number was called "number".
    registerOlderPayloadVersion('2026-01-01', (envelope) => {
      if (!envelope.type.startsWith('shipment.')) return envelope;
      const { shipmentNumber, ...data } = envelope.data as Record<string, unknown>;
      return { ...envelope, data: { number: shipmentNumber, ...data } };
    });
    const pinned = await receiver();
    const current = await receiver();
    const tenant = await t.newTenant();
    const old = (
      await t.api('POST', '/v1/webhooks', {
        key: tenant.key,
        body: { name: 'old', url: pinned.url, eventTypes: ['shipment.created'], apiVersion: '2026-01-01' },
      })
    ).body;
    const now = (
      await t.api('POST', '/v1/webhooks', {
        key: tenant.key,
        body: { name: 'new', url: current.url, eventTypes: ['shipment.created'] },
      })
    ).body;
    expect(old.apiVersion).toBe('2026-01-01');
    expect(now.apiVersion).toBe(API_VERSION);
    const shipment = (await t.api('POST', '/v1/shipments', { key: tenant.key, body: shipmentBody() })).body;
    const [[oldPush], [newPush]] = await Promise.all([pinned.waitForRequests(1), current.waitForRequests(1)]);
    const oldBody = new StandardWebhook(old.secret).verify(
      oldPush.body,
      oldPush.headers as Record<string, string>,
    ) as any;
    const newBody = new StandardWebhook(now.secret).verify(
      newPush.body,
      newPush.headers as Record<string, string>,
    ) as any;
    expect(oldBody).toMatchObject({ apiVersion: '2026-01-01', data: { number: shipment.shipmentNumber } });
    expect(oldBody.data).not.toHaveProperty('shipmentNumber');
    expect(newBody).toMatchObject({ apiVersion: API_VERSION, data: { shipmentNumber: shipment.shipmentNumber } });
    expect(oldBody.id).toBe(newBody.id);

    const preview = await t.api('POST', `/v1/webhooks/${old.id}/preview`, {
      key: tenant.key,
      body: { eventId: oldBody.id },
    });
    expect(preview.body.body).toBe(oldPush.body);
    const [delivery] = (await t.api('GET', `/v1/deliveries?webhookId=${old.id}`, { key: tenant.key })).body.data;
    await eventually(
      async () =>
        (await t.api('GET', `/v1/deliveries/${delivery.id}`, { key: tenant.key })).body.status === 'delivered',
    );
    expect(
      (await t.api('GET', `/v1/deliveries/${delivery.id}`, { key: tenant.key })).body.attempts[0].requestBody,
    ).toBe(oldPush.body);
    const unknown = await t.api('POST', '/v1/webhooks', {
      key: tenant.key,
      body: { name: 'x', url: pinned.url, eventTypes: ['*'], apiVersion: '1999-01-01' },
    });
    expect(unknown.status).toBe(400);
    expect(unknown.body.errors[0].field).toBe('apiVersion');
  });

  it('answers 400 with the position for an expression that does not compile, and checks options per format', async () => {
    const base = { name: 'x', url: 'http://127.0.0.1:9/', eventTypes: ['*'] };
    const bad = await t.api('POST', '/v1/webhooks', {
      body: { ...base, payloadFormat: 'jsonata', payloadOptions: { expression: 'data.items[' } },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0]).toMatchObject({
      field: 'payloadOptions.expression',
      message: expect.stringMatching(/position \d+/),
    });
    expect((await t.api('POST', '/v1/webhooks', { body: { ...base, payloadFormat: 'jsonata' } })).status).toBe(400);
    expect(
      (
        await t.api('POST', '/v1/webhooks', {
          body: { ...base, payloadFormat: 'jsonata', payloadOptions: { expression: 'id', contentType: 'not a type' } },
        })
      ).status,
    ).toBe(400);
    expect(
      (
        await t.api('POST', '/v1/webhooks', {
          body: { ...base, payloadFormat: 'envelope', payloadOptions: { expression: 'id' } },
        })
      ).status,
    ).toBe(400);
    expect((await t.api('POST', '/v1/webhooks', { body: { ...base, payloadFormat: 'csv' } })).status).toBe(400);
    const created = (await t.api('POST', '/v1/webhooks', { body: base })).body;
    const patched = await t.api('PATCH', `/v1/webhooks/${created.id}`, {
      body: { payloadFormat: 'jsonata', payloadOptions: { expression: '$$' } },
    });
    expect(patched.body).toMatchObject({ payloadFormat: 'jsonata', payloadOptions: { expression: '$$' } });
    const back = await t.api('PATCH', `/v1/webhooks/${created.id}`, { body: { payloadFormat: 'envelope' } });
    expect(back.body).toMatchObject({ payloadFormat: 'envelope', payloadOptions: null });
  });

  it('records an expression that fails at send time as transform_error attempts, retried, with nothing sent', async () => {
    const r = await receiver();
    const tenant = await t.newTenant();
    const hook = (
      await t.api('POST', '/v1/webhooks', {
        key: tenant.key,
        body: {
          name: 'x',
          url: r.url,
          eventTypes: ['order.created'],
          payloadFormat: 'jsonata',
          // Fine for the catalog example (it is tried on save), failing for this tenant's order.
          payloadOptions: {
            expression: 'data.notes = "unmapped" or type = "webhook.test" ? $error("no mapping for " & type) : data',
          },
        },
      })
    ).body;
    await t.api('POST', '/v1/orders', { key: tenant.key, body: orderBody({ notes: 'unmapped' }) });
    const [delivery] = await eventually(async () => {
      const list = (await t.api('GET', `/v1/deliveries?webhookId=${hook.id}`, { key: tenant.key })).body.data;
      return list[0]?.status === 'failed' ? list : undefined;
    });
    const full = (await t.api('GET', `/v1/deliveries/${delivery.id}`, { key: tenant.key })).body;
    expect(full.attempts.map((a: { errorClass: string }) => a.errorClass)).toEqual([
      'transform_error',
      'transform_error',
    ]);
    expect(full.attempts[0].errorMessage).toContain('no mapping for order.created');
    expect(full.attempts[0].requestBody).toBe('');
    expect(r.requests).toHaveLength(0);
    const test = await t.api('POST', `/v1/webhooks/${hook.id}/test`, { key: tenant.key, body: {} });
    expect(test.status).toBe(200);
    expect(test.body.errorClass).toBe('transform_error');
  });

  it('coalesces chatty ETA updates within the window to the newest, never status changes, and audits the superseded', async () => {
    const r = await receiver();
    const tenant = await t.newTenant();
    const hook = (
      await t.api('POST', '/v1/webhooks', {
        key: tenant.key,
        body: {
          name: 'ERP',
          url: r.url,
          eventTypes: ['shipment.tracking_updated', 'shipment.status_changed'],
          coalesce: { eventTypes: ['shipment.tracking_updated'], windowMs: 3000 },
        },
      })
    ).body;
    expect(hook.coalesce).toEqual({ eventTypes: ['shipment.tracking_updated'], windowMs: 3000 });
    const shipment = (await t.api('POST', '/v1/shipments', { key: tenant.key, body: shipmentBody() })).body;
    const etas: string[] = [];
    for (let i = 0; i < 20; i++) {
      const eta = new Date(Date.UTC(2026, 10, 26, 8, i)).toISOString();
      etas.push(eta);
      await t.api('POST', `/v1/shipments/${shipment.id}/tracking-events`, {
        key: tenant.key,
        body: { code: 'ETA', occurredAt: new Date().toISOString(), eta },
      });
      if (i === 5)
        await t.api('POST', `/v1/shipments/${shipment.id}/status`, { key: tenant.key, body: { status: 'booked' } });
      if (i === 12)
        await t.api('POST', `/v1/shipments/${shipment.id}/status`, { key: tenant.key, body: { status: 'picked_up' } });
    }
    // Every delivery of the subscription ended (3 sent, the others superseded): nothing more can
    // arrive, and each sent one reached the receiver before its outcome was recorded.
    await eventually(
      async () => {
        const list = (await t.api('GET', `/v1/deliveries?webhookId=${hook.id}&limit=200`, { key: tenant.key })).body
          .data as Array<{ status: string }>;
        return (
          list.length === 22 &&
          list.filter((d) => d.status === 'delivered').length === 3 &&
          list.every((d) => d.status === 'delivered' || d.status === 'superseded')
        );
      },
      30_000,
      'every delivery to be delivered or superseded',
    );
    expect(r.requests).toHaveLength(3);
    const bodies = r.bodies();
    expect(bodies.filter((b) => b.type === 'shipment.status_changed').map((b) => b.data.status)).toEqual([
      'booked',
      'picked_up',
    ]);
    const tracking = bodies.filter((b) => b.type === 'shipment.tracking_updated');
    expect(tracking.map((b) => b.data.trackingEvent.eta)).toEqual([etas[19]]);
    const superseded = (
      await t.api('GET', `/v1/deliveries?webhookId=${hook.id}&status=superseded&limit=200`, { key: tenant.key })
    ).body.data;
    expect(superseded).toHaveLength(19);
    expect(superseded.every((d: { eventType: string }) => d.eventType === 'shipment.tracking_updated')).toBe(true);

    const refused = await t.api('POST', '/v1/webhooks', {
      key: tenant.key,
      body: {
        name: 'x',
        url: r.url,
        eventTypes: ['*'],
        coalesce: { eventTypes: ['shipment.status_changed'], windowMs: 1000 },
      },
    });
    expect(refused.status).toBe(400);
    expect(refused.body.errors[0]).toMatchObject({
      field: 'coalesce',
      message: expect.stringContaining('cannot be coalesced'),
    });
  });

  it('previews a draft: the rendered example, its content type and headers, with custom header values hidden', async () => {
    const draft = await t.api('POST', '/v1/webhooks/preview', {
      body: {
        payloadFormat: 'jsonata',
        payloadOptions: { expression: '{ "no": data.shipmentNumber }' },
        eventType: 'shipment.delivered',
        headers: { 'X-Client': 'secret-value' },
      },
    });
    expect(draft.status).toBe(200);
    expect(draft.body).toMatchObject({ body: '{"no":"SH-20017"}', contentType: 'application/json' });
    expect(draft.body.headers).toMatchObject({ 'content-type': 'application/json', 'x-client': '[redacted]' });
    expect(JSON.stringify(draft.body)).not.toContain('secret-value');

    const envelope = await t.api('POST', '/v1/webhooks/preview', { body: { eventType: 'order.created' } });
    expect(JSON.parse(envelope.body.body)).toMatchObject({ type: 'order.created' });
    const failing = await t.api('POST', '/v1/webhooks/preview', {
      body: { payloadFormat: 'jsonata', payloadOptions: { expression: '$error("x")' } },
    });
    expect(failing.status).toBe(400);
    expect((await t.api('POST', '/v1/webhooks/preview', { body: { eventId: 'evt_nope' } })).status).toBe(404);
  });
});
