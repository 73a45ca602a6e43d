import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orderBody } from './support/fixtures.js';
import { eventually, type Receiver, startReceiver } from './support/receiver.js';
import { createTestApp, type TestApp } from './support/test-app.js';

/** Answers and transforms written to break the recorder: what they say must never stop outcomes from being stored. */
describe('hostile answers', () => {
  let t: TestApp;
  const receivers: Receiver[] = [];
  const receiver = async () => {
    const r = await startReceiver();
    receivers.push(r);
    return r;
  };

  beforeAll(async () => {
    t = await createTestApp({ WEBHOOK_RETRY_SCHEDULE: '50ms' });
  });
  afterAll(async () => {
    for (const r of receivers) await r.close();
    await t?.close();
  });

  const tenant = async () => {
    const { key } = await t.newTenant();
    const api = (method: string, path: string, options: { body?: unknown } = {}) =>
      t.api(method, path, { ...options, key });
    const subscribe = async (url: string, extra: Record<string, unknown> = {}) => {
      const answer = await api('POST', '/v1/webhooks', {
        body: { name: `hook ${url}`, url, eventTypes: ['order.created'], ...extra },
      });
      expect(answer.status).toBe(201);
      return answer.body as { id: string };
    };
    const onlyDelivery = async (webhookId: string, done: (d: any) => boolean) =>
      eventually(
        async () => {
          const [delivery] = (await api('GET', `/v1/deliveries?webhookId=${webhookId}`)).body.data;
          return delivery && done(delivery) ? delivery : undefined;
        },
        10_000,
        `the delivery of ${webhookId} to be recorded`,
      );
    return { api, subscribe, onlyDelivery };
  };

  it('half a surrogate pair in an answer or a transform error is dropped, and the outcome, the health and the operational events are recorded', async () => {
    const { api, subscribe, onlyDelivery } = await tenant();
    // JSON escapes and XML character references can spell half a pair; PostgreSQL refuses one in json.
    const ok = (await receiver()).always({ status: 200, body: '{"message":"accepted \\ud800"}' });
    const refused = (await receiver()).always({
      status: 422,
      headers: { 'content-type': 'application/problem+json' },
      body: '{"title":"Unprocessable","status":422,"detail":"customer \\udc00 unknown"}',
    });
    const fault = (await receiver()).always({
      status: 500,
      headers: { 'content-type': 'text/xml' },
      body: '<Envelope><Fault><faultstring>bad &#xD800; value</faultstring></Fault></Envelope>',
    });
    const mapped = await receiver();
    const plain = await receiver();
    const a = await subscribe(ok.url);
    const b = await subscribe(refused.url, { permanentStatuses: [422] });
    const c = await subscribe(fault.url, { retrySchedule: [] });
    // A mapping that fails only for some orders passes the trial render at creation.
    const d = await subscribe(mapped.url, {
      payloadFormat: 'jsonata',
      payloadOptions: { expression: 'data.notes = "poison" ? $error("mapping \\ud800 failed") : $' },
      retrySchedule: [],
    });
    const e = await subscribe(plain.url);
    // A text body whose 16 KiB audit cut falls between the halves of a pair.
    const long = await receiver();
    const f = await subscribe(long.url, {
      payloadFormat: 'jsonata',
      payloadOptions: { expression: '$pad("", 16383, "x") & "😀"', contentType: 'text/plain' },
    });

    const ops = await receiver();
    await subscribe(ops.url, { eventTypes: ['delivery.failed'] });

    expect((await api('POST', '/v1/orders', { body: orderBody({ notes: 'poison' }) })).status).toBe(201);

    expect(await onlyDelivery(a.id, (x) => x.status === 'delivered')).toMatchObject({ lastReason: 'accepted' });
    expect(await onlyDelivery(b.id, (x) => x.status === 'failed')).toMatchObject({
      lastReason: 'customer unknown',
    });
    expect(await onlyDelivery(c.id, (x) => x.status === 'failed')).toMatchObject({ lastReason: 'bad value' });
    const transformed = await onlyDelivery(d.id, (x) => x.status === 'failed');
    const [attempt] = (await api('GET', `/v1/deliveries/${transformed.id}`)).body.attempts;
    expect(attempt).toMatchObject({ errorClass: 'transform_error' });
    expect(attempt.reason).toContain('mapping failed');
    await onlyDelivery(e.id, (x) => x.status === 'delivered');
    const cut = await onlyDelivery(f.id, (x) => x.status === 'delivered');
    const [sent] = (await api('GET', `/v1/deliveries/${cut.id}`)).body.attempts;
    expect(sent.requestBody).toBe('x'.repeat(16383));
    expect(long.requests[0].body).toBe(`${'x'.repeat(16383)}😀`);
    // Recorded the first time: nobody was sent the push again after a lost outcome.
    for (const r of [ok, refused, fault, plain, long]) expect(r.requests).toHaveLength(1);
    expect((await api('GET', `/v1/webhooks/${b.id}`)).body.lastFailureReason).toBe('customer unknown');
    // The health transaction carries the reasons too: its operational events are recorded.
    await ops.waitForRequests(3);
    const told = ops.bodies().map((e) => [e.data.webhookId, e.data.reason]);
    expect(told).toEqual(
      expect.arrayContaining([
        [b.id, 'customer unknown'],
        [c.id, 'bad value'],
        [d.id, expect.stringContaining('mapping failed')],
      ]),
    );
  });

  it('an in-flight answer after the subscription was deleted records no operational event about it', async () => {
    const { api, subscribe } = await tenant();
    // A receiver that holds the push until the test lets it answer.
    const held: http.ServerResponse[] = [];
    const erp = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => held.push(res));
    });
    await new Promise<void>((resolve) => erp.listen(0, '127.0.0.1', resolve));
    const gone = (await receiver()).always({ status: 410, body: 'gone' });
    const ops = await receiver();
    try {
      const url = `http://127.0.0.1:${(erp.address() as AddressInfo).port}`;
      const deleted = await subscribe(url);
      await subscribe(ops.url, { eventTypes: ['webhook.disabled', 'webhook.failing', 'delivery.failed'] });
      await api('POST', '/v1/orders', { body: orderBody() });
      await eventually(() => held.length === 1, 10_000, 'the push on the wire');
      expect((await api('DELETE', `/v1/webhooks/${deleted.id}`)).status).toBe(204);
      held[0].writeHead(410).end('removed');
      const [delivery] = (await api('GET', `/v1/deliveries?webhookId=${deleted.id}`)).body.data;
      await eventually(
        async () => (await api('GET', `/v1/deliveries/${delivery.id}`)).body.attempts.length === 1,
        10_000,
        'the answer recorded',
      );
      // A later disablement of a live subscription is told; by then the deleted one's batch is long written.
      const live = await subscribe(gone.url);
      await api('POST', '/v1/orders', { body: orderBody() });
      await ops.waitForRequests(2);
      const recorded = (await api('GET', '/v1/events?type=webhook.disabled')).body.data;
      expect(recorded.map((e: { data: { webhookId: string } }) => e.data.webhookId)).toEqual([live.id]);
      expect(ops.bodies().every((e: { data: { webhookId: string } }) => e.data.webhookId === live.id)).toBe(true);
    } finally {
      erp.closeAllConnections();
      await new Promise<void>((resolve) => erp.close(() => resolve()));
    }
  });
});
