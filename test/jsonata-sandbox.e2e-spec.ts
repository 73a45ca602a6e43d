import { monitorEventLoopDelay } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orderBody } from './support/fixtures.js';
import { eventually, startReceiver } from './support/receiver.js';
import { createTestApp, type TestApp } from './support/test-app.js';

// 34 characters of `(a+)+$` backtrack ~2^34 steps (even with V8's regexp compiled to native code after a first run): tens of seconds on the event loop.
const CATASTROPHIC = `$match("${'a'.repeat(34)}!", /(a+)+$/)`;
// Doubling a string 27 times makes a 256 MB string; upper-casing it needs one allocation that size.
const GIANT_STRING = '$uppercase($reduce([1..27], function($a, $b) { $a & $a }, "xy"))';
/** How often the event-loop monitor samples. */
const LOOP_RESOLUTION_MS = 10;
/** Far under what an expression evaluated on the loop costs it, far over a loaded machine's scheduling noise. */
const GENEROUS_STALL_BOUND_MS = 5_000;

describe('JSONata sandbox: a tenant expression never stalls or kills the service', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ env: { WEBHOOK_RETRY_SCHEDULE: 'none' } });
  });
  afterAll(() => t?.close());

  const preview = (expression: string, eventType = 'order.created') =>
    t.api('POST', '/v1/webhooks/preview', {
      body: { payloadFormat: 'jsonata', payloadOptions: { expression }, eventType },
    });

  /** How many times /health answered 200 while `pending` was still running. */
  async function healthAnswersWhile(pending: Promise<unknown>): Promise<number> {
    let done = false;
    void pending.finally(() => (done = true));
    let answered = 0;
    while (!done) {
      const health = await fetch(`${t.baseUrl}/health`);
      if (!done && health.status === 200) answered++;
      await health.text();
    }
    return answered;
  }

  it('answers /health while a catastrophic regex and a giant string are evaluated; both previews answer 400', async () => {
    // The service's own event loop (this process's) is watched while the expressions run: how
    // late its turns come is how late /health (or any request) is served, whatever the machine's
    // load does to the round trip around it.
    const loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
    loop.enable();
    const regex = preview(CATASTROPHIC);
    const giant = preview(GIANT_STRING);
    const answered = await healthAnswersWhile(Promise.all([regex, giant]));
    loop.disable();
    const lateMs = (nanoseconds: number) => nanoseconds / 1e6 - LOOP_RESOLUTION_MS;
    expect(answered).toBeGreaterThanOrEqual(3);
    // Issue 14's promise, /health within 100 ms: the loop's typical turn is that prompt.
    expect(lateMs(loop.percentile(50))).toBeLessThan(100);
    // Never stalled as an expression on the loop would stall it (tens of seconds); the bound is
    // generous on purpose: a loaded 2-core machine deschedules the process, and replacing a killed
    // child (a synchronous fork) takes longer there.
    expect(lateMs(loop.max)).toBeLessThan(GENEROUS_STALL_BOUND_MS);

    const regexAnswer = await regex;
    expect(regexAnswer.status).toBe(400);
    expect(regexAnswer.body.errors[0]).toMatchObject({ field: 'payloadOptions.expression' });
    expect(regexAnswer.body.errors[0].message).toMatch(/ran longer than \d+ ms/);
    const giantAnswer = await giant;
    expect(giantAnswer.status).toBe(400);
    expect(giantAnswer.body.errors[0].message).toMatch(/limits|ran longer than/);

    // The service is alive, and the sandbox serves the next expression.
    expect((await fetch(`${t.baseUrl}/health`)).status).toBe(200);
    const fine = await preview('{ "no": data.orderNumber }');
    expect(fine.status).toBe(200);
    expect(fine.body.body).toBe('{"no":"SO-10042"}');
  });

  it('refuses a padding past the limit at once, and a result over 1 MB; one under 1 MB is sent', async () => {
    const pad = await preview('$length($pad("", 200000000, "x"))');
    expect(pad.status).toBe(400);
    expect(pad.body.errors[0].message).toMatch(/\$pad to 200000000 characters/);

    const tooLarge = await preview('$pad("", 1000000, "x") & $pad("", 100000, "y")');
    expect(tooLarge.status).toBe(400);
    expect(tooLarge.body.errors[0].message).toMatch(/more than the 1048576-byte limit/);

    const large = await preview('$pad("", 1000000, "x")');
    expect(large.status).toBe(200);
    expect(large.body.body).toHaveLength(1_000_000);
  });

  it('refuses on save an expression that fails or hits a limit on the catalog example of a subscribed type', async () => {
    const base = { name: 'ERP', url: 'http://127.0.0.1:9/x', payloadFormat: 'jsonata' };
    const redos = await t.api('POST', '/v1/webhooks', {
      body: { ...base, eventTypes: ['order.created'], payloadOptions: { expression: CATASTROPHIC } },
    });
    expect(redos.status).toBe(400);
    expect(redos.body.errors[0]).toMatchObject({ field: 'payloadOptions.expression' });
    expect(redos.body.errors[0].message).toMatch(/order\.created example.*ran longer than/);

    const failing = await t.api('POST', '/v1/webhooks', {
      body: {
        ...base,
        eventTypes: ['*'],
        payloadOptions: { expression: '$exists(data.trackingEvent) ? data : $error("no tracking")' },
      },
    });
    expect(failing.status).toBe(400);
    expect(failing.body.errors[0].message).toMatch(/fails on the order\.created example.*no tracking/);

    const good = await t.api('POST', '/v1/webhooks', {
      body: { ...base, eventTypes: ['shipment.tracking_updated'], payloadOptions: { expression: 'data' } },
    });
    expect(good.status).toBe(201);
    const widened = await t.api('PATCH', `/v1/webhooks/${good.body.id}`, {
      body: { payloadOptions: { expression: '$exists(data.trackingEvent) ? data : $error("no tracking")' } },
    });
    expect(widened.status).toBe(200);
    const patched = await t.api('PATCH', `/v1/webhooks/${good.body.id}`, {
      body: { eventTypes: ['shipment.tracking_updated', 'order.created'] },
    });
    expect(patched.status).toBe(400);
    expect(patched.body.errors[0].message).toMatch(/order\.created example/);
  });

  it('records a push whose expression stalls on real data as a transform_error attempt; nothing is sent', async () => {
    const receiver = await startReceiver();
    try {
      const tenant = await t.newTenant();
      // Harmless on the catalog example (its notes have no long run of "a"), catastrophic on this order's.
      const hook = await t.api('POST', '/v1/webhooks', {
        key: tenant.key,
        body: {
          name: 'ERP',
          url: receiver.url,
          eventTypes: ['order.created'],
          payloadFormat: 'jsonata',
          payloadOptions: { expression: '{ "notes": $match(data.notes, /(a+)+$/) }' },
        },
      });
      expect(hook.status).toBe(201);
      await t.api('POST', '/v1/orders', { key: tenant.key, body: orderBody({ notes: `${'a'.repeat(34)}!` }) });
      const failed = await eventually(async () => {
        const list = (await t.api('GET', `/v1/deliveries?webhookId=${hook.body.id}`, { key: tenant.key })).body.data;
        return list[0]?.status === 'failed' ? list[0] : undefined;
      });
      const full = (await t.api('GET', `/v1/deliveries/${failed.id}`, { key: tenant.key })).body;
      expect(full.attempts).toHaveLength(1);
      expect(full.attempts[0].errorClass).toBe('transform_error');
      expect(full.attempts[0].errorMessage).toMatch(/ran longer than \d+ ms/);
      expect(receiver.requests).toHaveLength(0);
      expect((await fetch(`${t.baseUrl}/health`)).status).toBe(200);
    } finally {
      await receiver.close();
    }
  });
});
