import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { orderBody } from './support/fixtures.js';
import { eventually, type Receiver, type ReceivedRequest, startReceiver } from './support/receiver.js';
import { createTestApp, type TestApp } from './support/test-app.js';

/** The pushes a receiver got, each verified with the subscription's secret by the standardwebhooks library. */
function verified(receiver: Receiver, secret: string): Array<{ type: string; data: Record<string, any> }> {
  const wh = new StandardWebhook(secret);
  return receiver.requests.map(
    (r: ReceivedRequest) =>
      wh.verify(r.body, r.headers as Record<string, string>) as { type: string; data: Record<string, any> },
  );
}

describe('operational events', () => {
  let t: TestApp;
  const receivers: Receiver[] = [];
  const receiver = async () => {
    const r = await startReceiver();
    receivers.push(r);
    return r;
  };

  beforeAll(async () => {
    t = await createTestApp({ WEBHOOK_RETRY_SCHEDULE: '50ms', WEBHOOK_FAILING_AFTER: '2' });
  });
  afterAll(async () => {
    for (const r of receivers) await r.close();
    await t?.close();
  });

  /** Each test in a tenant of its own: operational events go to every subscription of the tenant that names them. */
  const tenant = async () => {
    const { key } = await t.newTenant();
    const api = (method: string, path: string, options: { body?: unknown } = {}) =>
      t.api(method, path, { ...options, key });
    const subscribe = async (url: string, eventTypes: string[], extra: Record<string, unknown> = {}) => {
      const answer = await api('POST', '/v1/webhooks', { body: { name: `hook ${url}`, url, eventTypes, ...extra } });
      expect(answer.status).toBe(201);
      return answer.body as { id: string; secret: string; name: string };
    };
    return { api, subscribe };
  };

  it('a subscription disabled by 410 produces webhook.disabled and delivery.failed at another subscription of the tenant, never at itself nor through *', async () => {
    const { api, subscribe } = await tenant();
    const gone = (await receiver()).always({ status: 410, body: 'this endpoint was removed' });
    const ops = await receiver();
    const everything = await receiver();
    const other = await t.newTenant('Another tenant');
    const otherOps = await receiver();
    const a = await subscribe(gone.url, ['order.created', 'webhook.disabled', 'delivery.failed']);
    const b = await subscribe(ops.url, ['webhook.disabled', 'delivery.failed']);
    await subscribe(everything.url, ['*']);
    const foreign = await t.api('POST', '/v1/webhooks', {
      key: other.key,
      body: { name: 'x', url: otherOps.url, eventTypes: ['webhook.disabled', 'delivery.failed'] },
    });
    expect(foreign.status).toBe(201);

    await api('POST', '/v1/orders', { body: orderBody() });
    await ops.waitForRequests(2);
    const events = verified(ops, b.secret);
    expect(events.map((e) => e.type)).toEqual(['delivery.failed', 'webhook.disabled']);
    const [failed, disabled] = events;
    expect(disabled.data).toMatchObject({
      webhookId: a.id,
      name: a.name,
      url: gone.url,
      status: 'disabled',
      previousStatus: 'healthy',
    });
    expect(disabled.data.reason).toMatch(/^the endpoint answered 410 Gone; last: this endpoint was removed$/);
    expect(failed.data).toMatchObject({
      webhookId: a.id,
      eventType: 'order.created',
      attempts: 1,
      lastStatus: 410,
      errorClass: 'http_status',
      reason: 'this endpoint was removed',
      permanent: false,
    });
    expect(failed.data.eventId).toMatch(/^evt_/);

    const hook = (await api('GET', `/v1/webhooks/${a.id}`)).body;
    expect(hook).toMatchObject({ status: 'disabled', lastFailureReason: 'this endpoint was removed' });
    // Listed with the tenant's events, as envelopes about the subscription.
    const listed = (await api('GET', '/v1/events?type=webhook.disabled')).body.data;
    expect(listed.map((e: { data: { webhookId: string } }) => e.data.webhookId)).toEqual([a.id]);
    // Never about itself: the disabled subscription named both types and got no delivery of them.
    const own = (await api('GET', `/v1/deliveries?webhookId=${a.id}`)).body.data;
    expect(own.map((d: { eventType: string }) => d.eventType)).toEqual(['order.created']);
    // `*` means the domain events only; another tenant hears nothing.
    await everything.waitForRequests(1);
    expect(everything.bodies().map((e: { type: string }) => e.type)).toEqual(['order.created']);
    expect(otherOps.requests).toHaveLength(0);
  });

  it('a 422 listed in permanentStatuses ends the delivery at once with the problem detail as its reason, without touching health', async () => {
    const { api, subscribe } = await tenant();
    const erp = (await receiver()).always({
      status: 422,
      headers: { 'content-type': 'application/problem+json' },
      body: JSON.stringify({
        type: 'https://erp.example.com/problems/unknown-customer',
        title: 'Unknown customer',
        status: 422,
        detail: 'Customer C-9 does not exist in company code 1000',
      }),
    });
    const ops = await receiver();
    const hook = await subscribe(erp.url, ['order.created'], { permanentStatuses: [422, 400, 422] });
    expect(hook).toMatchObject({ permanentStatuses: [400, 422] });
    const watcher = await subscribe(ops.url, ['delivery.failed']);

    await api('POST', '/v1/orders', { body: orderBody() });
    const [delivery] = await eventually(async () => {
      const list = (await api('GET', `/v1/deliveries?webhookId=${hook.id}`)).body.data;
      return list[0]?.status === 'failed' ? list : undefined;
    });
    expect(delivery.lastReason).toBe('Customer C-9 does not exist in company code 1000');
    const full = (await api('GET', `/v1/deliveries/${delivery.id}`)).body;
    expect(full.attempts).toHaveLength(1);
    expect(full.attempts[0]).toMatchObject({
      responseStatus: 422,
      reason: 'Customer C-9 does not exist in company code 1000',
    });
    const health = (await api('GET', `/v1/webhooks/${hook.id}`)).body;
    expect(health).toMatchObject({ status: 'healthy', consecutiveFailures: 0 });

    await ops.waitForRequests(1);
    const [event] = verified(ops, watcher.secret);
    expect(event.data).toMatchObject({
      webhookId: hook.id,
      deliveryId: delivery.id,
      lastStatus: 422,
      permanent: true,
      reason: 'Customer C-9 does not exist in company code 1000',
    });
    expect(erp.requests).toHaveLength(1);
  });

  it('failing after WEBHOOK_FAILING_AFTER failed attempts, delivery.failed when the retries run out, recovered on the next success', async () => {
    const { api, subscribe } = await tenant();
    const erp = (await receiver()).replyWith(
      { status: 500, body: 'Internal error: NullPointerException\n\tat Inbound.java:42' },
      { status: 503, body: '' },
    );
    const ops = await receiver();
    const hook = await subscribe(erp.url, ['order.created']);
    const watcher = await subscribe(ops.url, ['webhook.failing', 'webhook.recovered', 'delivery.failed']);

    await api('POST', '/v1/orders', { body: orderBody() });
    await ops.waitForRequests(2);
    let events = verified(ops, watcher.secret);
    expect(events.map((e) => e.type)).toEqual(['delivery.failed', 'webhook.failing']);
    expect(events[0].data).toMatchObject({ attempts: 2, lastStatus: 503, reason: '503 Service Unavailable' });
    expect(events[1].data).toMatchObject({
      webhookId: hook.id,
      previousStatus: 'healthy',
      status: 'failing',
      consecutiveFailures: 2,
      reason: '2 attempts in a row failed; last: 503 Service Unavailable',
    });
    const attempts = (await api('GET', `/v1/deliveries/${events[0].data.deliveryId}`)).body.attempts.map(
      (a: { reason: string }) => a.reason,
    );
    expect(attempts).toEqual(['Internal error: NullPointerException', '503 Service Unavailable']);

    await api('POST', '/v1/orders', { body: orderBody() });
    await ops.waitForRequests(3);
    events = verified(ops, watcher.secret);
    expect(events[2]).toMatchObject({
      type: 'webhook.recovered',
      data: { webhookId: hook.id, status: 'healthy', previousStatus: 'failing', reason: 'an attempt succeeded' },
    });
    expect((await api('GET', `/v1/webhooks/${hook.id}`)).body.status).toBe('healthy');
  });

  it('re-enabling a disabled subscription records webhook.recovered', async () => {
    const { api, subscribe } = await tenant();
    const erp = (await receiver()).replyWith({ status: 410 });
    const ops = await receiver();
    const hook = await subscribe(erp.url, ['order.created']);
    const watcher = await subscribe(ops.url, ['webhook.recovered']);
    await api('POST', '/v1/orders', { body: orderBody() });
    await eventually(async () => (await api('GET', `/v1/webhooks/${hook.id}`)).body.status === 'disabled');

    const patched = await api('PATCH', `/v1/webhooks/${hook.id}`, { body: { status: 'healthy' } });
    expect(patched.status).toBe(200);
    await ops.waitForRequests(1);
    expect(verified(ops, watcher.secret)[0]).toMatchObject({
      type: 'webhook.recovered',
      data: { webhookId: hook.id, previousStatus: 'disabled', reason: 're-enabled through the API' },
    });
  });

  it('records no delivery.failed about a failed delivery of an operational event (no ping-pong between broken endpoints)', async () => {
    const { api, subscribe } = await tenant();
    const first = (await receiver()).always({ status: 422, body: 'no' });
    const second = (await receiver()).always({ status: 422, body: 'no' });
    const a = await subscribe(first.url, ['order.created', 'delivery.failed'], { permanentStatuses: [422] });
    const b = await subscribe(second.url, ['delivery.failed'], { permanentStatuses: [422] });
    await api('POST', '/v1/orders', { body: orderBody() });
    // a fails the order (delivery.failed about a goes to b), b fails that one: nothing follows.
    await eventually(async () => {
      const list = (await api('GET', `/v1/deliveries?webhookId=${b.id}`)).body.data;
      return list[0]?.status === 'failed' ? list : undefined;
    });
    const open = async () =>
      (await api('GET', '/v1/deliveries?status=pending')).body.data.length +
      (await api('GET', '/v1/deliveries?status=delivering')).body.data.length;
    await eventually(async () => (await open()) === 0);
    const failedEvents = (await api('GET', '/v1/events?type=delivery.failed')).body.data;
    expect(failedEvents.map((e: { data: { webhookId: string } }) => e.data.webhookId)).toEqual([a.id]);
    expect((await api('GET', `/v1/deliveries?webhookId=${a.id}&eventType=delivery.failed`)).body.data).toEqual([]);
    expect(second.requests).toHaveLength(1);
  });

  it('refuses bad permanentStatuses naming each entry by its path', async () => {
    const answer = await t.api('POST', '/v1/webhooks', {
      body: { name: 'x', url: 'http://127.0.0.1:9/', eventTypes: ['*'], permanentStatuses: [422, 200, 'x'] },
    });
    expect(answer.status).toBe(400);
    expect(answer.body.errors).toEqual([
      { field: 'permanentStatuses.1', message: 'must be a non-2xx HTTP status from 300 to 599, not 200' },
      { field: 'permanentStatuses.2', message: 'must be a non-2xx HTTP status from 300 to 599, not "x"' },
    ]);
    const created = await t.api('POST', '/v1/webhooks', {
      body: { name: 'x', url: 'http://127.0.0.1:9/', eventTypes: ['*'] },
    });
    const patched = await t.api('PATCH', `/v1/webhooks/${created.body.id}`, { body: { permanentStatuses: 422 } });
    expect(patched.status).toBe(400);
    expect(patched.body.errors).toEqual([
      { field: 'permanentStatuses', message: 'must be a list of HTTP statuses such as [400, 422]' },
    ]);
  });
});

describe('operational events commit with the state they tell of', () => {
  let t: TestApp;
  let db: pg.Client;
  const receivers: Receiver[] = [];

  beforeAll(async () => {
    // A short lease: an outcome that could not be written is sent again soon.
    t = await createTestApp({ WEBHOOK_LEASE: '1s', WEBHOOK_SWEEP_INTERVAL_MS: '50' });
    db = new pg.Client({ connectionString: t.databaseUrl });
    await db.connect();
  });
  afterAll(async () => {
    for (const r of receivers) await r.close();
    await db?.end();
    await t?.close();
  });

  it('a delivery is never failed without its delivery.failed: when the event cannot be written, neither is the failure, and both are written later', async () => {
    const { key } = await t.newTenant();
    const api = (method: string, path: string, body?: unknown) => t.api(method, path, { key, body });
    const erp = (await startReceiver()).always({ status: 422, body: 'customer C-9 unknown' });
    const ops = await startReceiver();
    receivers.push(erp, ops);
    const hook = (
      await api('POST', '/v1/webhooks', {
        name: 'ERP',
        url: erp.url,
        eventTypes: ['order.created'],
        permanentStatuses: [422],
      })
    ).body as { id: string };
    const watcher = (await api('POST', '/v1/webhooks', { name: 'ops', url: ops.url, eventTypes: ['delivery.failed'] }))
      .body as { id: string; secret: string };

    // The write of delivery.failed fails while the switch is on (a crash or a database error at that point).
    await db.query(`CREATE TABLE fault_switch (on_ boolean)`);
    await db.query(`INSERT INTO fault_switch VALUES (true)`);
    await db.query(`CREATE SEQUENCE fault_hits`);
    await db.query(`CREATE FUNCTION refuse_delivery_failed() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.type = 'delivery.failed' AND EXISTS (SELECT 1 FROM fault_switch) THEN
          PERFORM nextval('fault_hits');
          RAISE EXCEPTION 'injected failure writing delivery.failed';
        END IF;
        RETURN NEW;
      END $$`);
    await db.query(
      `CREATE TRIGGER refuse_delivery_failed BEFORE INSERT ON event FOR EACH ROW EXECUTE FUNCTION refuse_delivery_failed()`,
    );
    try {
      for (let i = 0; i < 3; i++) expect((await api('POST', '/v1/orders', orderBody())).status).toBe(201);
      // The recorder has tried (and been refused) as often as it tries a write before giving it up.
      await eventually(
        async () => {
          const { rows } = await db.query(`SELECT last_value::int AS n, is_called FROM fault_hits`);
          return rows[0].is_called && rows[0].n >= 3;
        },
        10_000,
        'refused writes of delivery.failed',
      );
      const { rows } = await db.query(`SELECT status FROM delivery WHERE webhook_id = $1`, [hook.id]);
      expect(rows).toHaveLength(3);
      const events = await db.query(`SELECT count(*)::int AS n FROM event WHERE type = 'delivery.failed'`);
      expect(events.rows[0].n).toBe(0);
      // Without their events, none of them is failed.
      expect(rows.map((r) => r.status)).toEqual(['pending', 'pending', 'pending']);

      await db.query(`DELETE FROM fault_switch`);
      await ops.waitForRequests(3, 15_000);
      const told = verified(ops, watcher.secret);
      const deliveries = (await api('GET', `/v1/deliveries?webhookId=${hook.id}`)).body.data as Array<{
        id: string;
        status: string;
        lastReason: string;
      }>;
      expect(deliveries.map((d) => [d.status, d.lastReason])).toEqual(
        Array.from({ length: 3 }, () => ['failed', 'customer C-9 unknown']),
      );
      expect(told.map((e) => e.data.deliveryId).sort()).toEqual(deliveries.map((d) => d.id).sort());
      expect(told.every((e) => e.type === 'delivery.failed' && e.data.lastStatus === 422)).toBe(true);
      const once = await db.query(`SELECT count(*)::int AS n FROM event WHERE type = 'delivery.failed'`);
      expect(once.rows[0].n).toBe(3);
    } finally {
      await db.query(`DROP TRIGGER refuse_delivery_failed ON event`);
    }
  });
});
