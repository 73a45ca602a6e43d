import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orderBody } from './support/fixtures.js';
import { eventually, startReceiver } from './support/receiver.js';
import { createTestApp, type TestApp } from './support/test-app.js';

// 34 characters of `(a+)+$` backtrack ~2^34 steps (even with V8's regexp compiled to native code after a first run): every evaluation runs into the sandbox's deadline.
const CATASTROPHIC = `$match("${'a'.repeat(34)}!", /(a+)+$/)`;
const FLOOD = 16;

describe("JSONata sandbox: one tenant's hostile expressions never hold up another tenant's", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ env: { WEBHOOK_RETRY_SCHEDULE: 'none' } });
  });
  afterAll(() => t?.close());

  const preview = (key: string, expression: string) =>
    t.api('POST', '/v1/webhooks/preview', {
      key,
      body: { payloadFormat: 'jsonata', payloadOptions: { expression }, eventType: 'order.created' },
    });

  it('serves a quiet tenant’s preview and push while a flood of deadline-long previews from another is queued', async () => {
    const receiver = await startReceiver();
    try {
      const hostile = await t.newTenant('Hostile');
      const quiet = await t.newTenant('Quiet');
      const hook = await t.api('POST', '/v1/webhooks', {
        key: quiet.key,
        body: {
          name: 'ERP',
          url: receiver.url,
          eventTypes: ['order.created'],
          payloadFormat: 'jsonata',
          payloadOptions: { expression: '{ "no": data.orderNumber }' },
        },
      });
      expect(hook.status).toBe(201);

      // Saving and previewing cost the same sandbox time (saving is not an "expensive" route):
      // here a burst of previews, each killed at the deadline.
      let floodPending = FLOOD;
      const flood = Array.from({ length: FLOOD }, () =>
        preview(hostile.key, CATASTROPHIC).finally(() => floodPending--),
      );
      // Once the first hostile evaluation has been stopped, the rest are certainly queued.
      await Promise.race(flood);

      const answer = await preview(quiet.key, '{ "no": data.orderNumber }');
      const pendingAtAnswer = floodPending;
      expect(answer.status).toBe(200);
      expect(answer.body.body).toBe('{"no":"SO-10042"}');
      // Served ahead of the hostile queue, not after it.
      expect(pendingAtAnswer).toBeGreaterThanOrEqual(FLOOD / 2);

      // A push of the quiet tenant meanwhile is rendered and sent, not failed as a transform error.
      await t.api('POST', '/v1/orders', { key: quiet.key, body: orderBody() });
      const done = await eventually(
        async () => {
          const list = (await t.api('GET', `/v1/deliveries?webhookId=${hook.body.id}`, { key: quiet.key })).body.data;
          return list[0] && list[0].status !== 'pending' && list[0].status !== 'delivering' ? list[0] : undefined;
        },
        30_000,
        'the quiet tenant’s delivery to finish',
      );
      const full = (await t.api('GET', `/v1/deliveries/${done.id}`, { key: quiet.key })).body;
      expect(full.attempts.map((a: { errorClass: string | null }) => a.errorClass)).toEqual([null]);
      expect(full.status).toBe('delivered');
      expect(floodPending).toBeGreaterThan(0);

      const answers = await Promise.all(flood);
      for (const hostileAnswer of answers) expect(hostileAnswer.status).toBe(400);
    } finally {
      await receiver.close();
    }
  }, 90_000);
});
