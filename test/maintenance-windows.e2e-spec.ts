import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CLOCK, type Clock } from '../src/common/clock.js';
import { orderBody } from './support/fixtures.js';
import { eventually, type Receiver, startReceiver } from './support/receiver.js';
import { createTestApp, type TestApp } from './support/test-app.js';

/** The service's clock, moved by the tests: windows open and close without waiting for them. */
class TestClock implements Clock {
  current = new Date('2026-11-23T02:00:00Z'); // a Monday
  now(): Date {
    return new Date(this.current);
  }
}

const NIGHTLY = { days: ['mon'], start: '01:00', end: '03:30', timeZone: 'UTC' };

describe('maintenance windows', () => {
  let t: TestApp;
  const clock = new TestClock();
  const receivers: Receiver[] = [];
  const receiver = async () => {
    const r = await startReceiver();
    receivers.push(r);
    return r;
  };

  beforeAll(async () => {
    t = await createTestApp({
      env: { WEBHOOK_RETRY_SCHEDULE: '50ms' },
      overrides: [{ provide: CLOCK, useValue: clock }],
    });
  });
  beforeEach(() => {
    clock.current = new Date('2026-11-23T02:00:00Z');
  });
  afterAll(async () => {
    for (const r of receivers) await r.close();
    await t?.close();
  });

  /** Each test in a tenant of its own. */
  const tenant = async () => {
    const { key } = await t.newTenant();
    const api = (method: string, path: string, options: { body?: unknown } = {}) =>
      t.api(method, path, { ...options, key });
    const subscribe = async (url: string, extra: Record<string, unknown> = {}) => {
      const answer = await api('POST', '/v1/webhooks', {
        body: { name: `hook ${url}`, url, eventTypes: ['order.created'], ...extra },
      });
      expect(answer.status).toBe(201);
      return answer.body as Record<string, any>;
    };
    return { api, subscribe };
  };

  it('a window that covers now holds pushes; when it ends they go out in order, none spent, health untouched', async () => {
    const { api, subscribe } = await tenant();
    const erp = await receiver();
    const control = await receiver();
    const held = await subscribe(erp.url, { maintenanceWindows: [NIGHTLY] });
    expect(held).toMatchObject({
      maintenanceWindows: [NIGHTLY],
      inMaintenance: true,
      nextMaintenanceWindow: { startsAt: '2026-11-23T01:00:00.000Z', endsAt: '2026-11-23T03:30:00.000Z' },
    });
    await subscribe(control.url);

    const numbers: string[] = [];
    for (let i = 0; i < 3; i++) {
      const order = await api('POST', '/v1/orders', { body: orderBody() });
      numbers.push(order.body.orderNumber);
    }
    // The same events reach a subscription without a window; the held one gets none of them.
    await control.waitForRequests(3);
    const waiting = (await api('GET', `/v1/deliveries?webhookId=${held.id}`)).body.data;
    expect(waiting.map((d: { status: string; attemptCount: number }) => [d.status, d.attemptCount])).toEqual([
      ['pending', 0],
      ['pending', 0],
      ['pending', 0],
    ]);
    expect(erp.requests).toHaveLength(0);

    clock.current = new Date('2026-11-23T03:30:00Z');
    await erp.waitForRequests(3);
    expect(erp.bodies().map((e: { data: { orderNumber: string } }) => e.data.orderNumber)).toEqual(numbers);
    const done = await eventually(async () => {
      const list = (await api('GET', `/v1/deliveries?webhookId=${held.id}`)).body.data;
      return list.every((d: { status: string }) => d.status === 'delivered') ? list : undefined;
    });
    expect(done.map((d: { attemptCount: number }) => d.attemptCount)).toEqual([1, 1, 1]);
    const after = (await api('GET', `/v1/webhooks/${held.id}`)).body;
    expect(after).toMatchObject({
      status: 'healthy',
      consecutiveFailures: 0,
      inMaintenance: false,
      nextMaintenanceWindow: { startsAt: '2026-11-30T01:00:00.000Z', endsAt: '2026-11-30T03:30:00.000Z' },
    });
  });

  it('removing the window under way releases what it held at once', async () => {
    const { api, subscribe } = await tenant();
    const erp = await receiver();
    const control = await receiver();
    const held = await subscribe(erp.url, { maintenanceWindows: [NIGHTLY] });
    await subscribe(control.url);
    await api('POST', '/v1/orders', { body: orderBody() });
    await control.waitForRequests(1);
    expect(erp.requests).toHaveLength(0);

    const patched = await api('PATCH', `/v1/webhooks/${held.id}`, { body: { maintenanceWindows: [] } });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ maintenanceWindows: [], inMaintenance: false, nextMaintenanceWindow: null });
    await erp.waitForRequests(1);
  });

  it('a window that opens holds what comes after, a window crossing midnight in another zone included', async () => {
    const { api, subscribe } = await tenant();
    const erp = await receiver();
    const control = await receiver();
    clock.current = new Date('2026-11-22T22:59:00Z'); // Sunday 23:59 in Berlin
    const hook = await subscribe(erp.url, {
      maintenanceWindows: [{ days: ['mon'], start: '00:00', end: '02:00', timeZone: 'Europe/Berlin' }],
    });
    await subscribe(control.url);
    expect(hook.inMaintenance).toBe(false);
    await api('POST', '/v1/orders', { body: orderBody() });
    await erp.waitForRequests(1);

    clock.current = new Date('2026-11-22T23:00:00Z'); // Monday 00:00 in Berlin
    await eventually(async () => (await api('GET', `/v1/webhooks/${hook.id}`)).body.inMaintenance === true);
    await api('POST', '/v1/orders', { body: orderBody() });
    await control.waitForRequests(2);
    expect(erp.requests).toHaveLength(1);

    clock.current = new Date('2026-11-23T01:00:00Z'); // Monday 02:00 in Berlin
    await erp.waitForRequests(2);
  });

  it('refuses malformed windows, naming what is wrong', async () => {
    const { api } = await tenant();
    const answer = await api('POST', '/v1/webhooks', {
      body: {
        name: 'x',
        url: 'http://127.0.0.1:9/',
        eventTypes: ['*'],
        maintenanceWindows: [{ days: ['monday'], start: '01:00', end: '01:00', timeZone: 'Europe/Nowhere' }],
      },
    });
    expect(answer.status).toBe(400);
    // Each problem at its own path, as every field error is named (ARCHITECTURE.md: `lines.0.quantity`).
    expect(answer.body.errors).toEqual([
      { field: 'maintenanceWindows.0.days', message: 'must list one or more of sun, mon, tue, wed, thu, fri, sat' },
      { field: 'maintenanceWindows.0.end', message: 'must differ from start' },
      { field: 'maintenanceWindows.0.timeZone', message: 'must be an IANA time zone such as Europe/Berlin' },
    ]);
    const patched = await api('POST', '/v1/webhooks', {
      body: {
        name: 'x',
        url: 'http://127.0.0.1:9/',
        eventTypes: ['*'],
        maintenanceWindows: [{ days: ['mon'], start: '01:00', end: '02:00', timeZone: 'UTC' }, { start: '7' }],
      },
    });
    expect(patched.body.errors).toEqual([
      { field: 'maintenanceWindows.1.days', message: 'must list one or more of sun, mon, tue, wed, thu, fri, sat' },
      { field: 'maintenanceWindows.1.start', message: 'must be a time such as 01:00' },
      { field: 'maintenanceWindows.1.end', message: 'must be a time such as 03:30 (or 24:00)' },
      { field: 'maintenanceWindows.1.timeZone', message: 'must be an IANA time zone such as Europe/Berlin' },
    ]);
    const notAList = await api('POST', '/v1/webhooks', {
      body: { name: 'x', url: 'http://127.0.0.1:9/', eventTypes: ['*'], maintenanceWindows: 'nightly' },
    });
    expect(notAList.body.errors).toEqual([
      { field: 'maintenanceWindows', message: 'must be a list of { days, start, end, timeZone }' },
    ]);
  });
});
