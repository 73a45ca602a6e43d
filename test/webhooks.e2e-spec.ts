import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RESOLVER, type ResolvedAddress } from '../src/webhooks/transport/url-guard.js';
import { orderBody } from './support/fixtures.js';
import { eventually, type Receiver, startReceiver } from './support/receiver.js';
import { createTestApp, type TestApp } from './support/test-app.js';

const fields = (body: { errors?: Array<{ field: string }> }) => (body.errors ?? []).map((e) => e.field);

describe('webhook subscriptions API', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t?.close());

  const valid = { name: 'SAP inbound', url: 'http://127.0.0.1:9/hooks', eventTypes: ['shipment.status_changed'] };

  it('creates a subscription with defaults and answers 201 with the secret once', async () => {
    const created = await t.api('POST', '/v1/webhooks', { body: valid });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      name: 'SAP inbound',
      url: valid.url,
      description: null,
      eventTypes: ['shipment.status_changed'],
      filters: {},
      headerNames: [],
      enabled: true,
      paused: false,
      ordered: false,
      timeoutMs: 10_000,
      maxConcurrency: 32,
      rateLimitPerSecond: null,
      retrySchedule: null,
      apiVersion: '2026-11-01',
      status: 'healthy',
      disabledReason: null,
      lastSuccessAt: null,
      lastFailureAt: null,
    });
    expect(created.body.secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(Buffer.from(created.body.secret.slice(6), 'base64').length).toBeGreaterThanOrEqual(24);

    const fetched = await t.api('GET', `/v1/webhooks/${created.body.id}`);
    expect(fetched.body).not.toHaveProperty('secret');
    expect(JSON.stringify(fetched.body)).not.toContain(created.body.secret);
    const { secret, ...view } = created.body;
    expect(fetched.body).toEqual(view);
    expect((await t.api('GET', `/v1/webhooks/${created.body.id}/secret`)).body).toEqual({ secret });
  });

  it('updates settings with PATCH and keeps the retry schedule as written', async () => {
    const created = (await t.api('POST', '/v1/webhooks', { body: valid })).body;
    const patched = await t.api('PATCH', `/v1/webhooks/${created.id}`, {
      body: {
        name: 'renamed',
        eventTypes: ['*'],
        filters: { 'carrier.scac': ['DHLF'] },
        ordered: true,
        retrySchedule: ['5s', '1m', '2h'],
        rateLimitPerSecond: 10,
        headers: { 'X-ERP-Client': '100' },
      },
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({
      name: 'renamed',
      eventTypes: ['*'],
      filters: { 'carrier.scac': ['DHLF'] },
      ordered: true,
      retrySchedule: ['5s', '1m', '2h'],
      rateLimitPerSecond: 10,
      headerNames: ['X-ERP-Client'],
    });
    const cleared = await t.api('PATCH', `/v1/webhooks/${created.id}`, {
      body: { retrySchedule: null, rateLimitPerSecond: null, headers: {} },
    });
    expect(cleared.body).toMatchObject({ retrySchedule: null, rateLimitPerSecond: null, headerNames: [] });
  });

  it('answers 400 for unknown event types, malformed filters, forbidden headers and bad settings, naming each field', async () => {
    const bad = await t.api('POST', '/v1/webhooks', {
      body: {
        name: '',
        url: 'ftp://example.com/x',
        eventTypes: ['shipment.teleported'],
        filters: { 'carrier scac': 'DHLF' },
        headers: { Host: 'evil.example', 'Content-Length': '1', 'webhook-id': 'x', Connection: 'close' },
        timeoutMs: 5,
        maxConcurrency: 0,
        retrySchedule: ['soon'],
        extra: true,
      },
    });
    expect(bad.status).toBe(400);
    expect(fields(bad.body)).toEqual(
      expect.arrayContaining([
        'name',
        'eventTypes',
        'filters',
        'headers',
        'timeoutMs',
        'maxConcurrency',
        'retrySchedule',
        'extra',
      ]),
    );
    const headerError = bad.body.errors.find((e: { field: string }) => e.field === 'headers').message;
    for (const name of ['Host', 'Content-Length', 'webhook-id', 'Connection']) expect(headerError).toContain(name);

    const url = await t.api('POST', '/v1/webhooks', { body: { ...valid, url: 'ftp://example.com/x' } });
    expect(url.status).toBe(400);
    expect(url.body.errors).toEqual([{ field: 'url', message: 'must use http or https' }]);
    expect((await t.api('POST', '/v1/webhooks', { body: { ...valid, eventTypes: [] } })).status).toBe(400);
    expect((await t.api('POST', '/v1/webhooks', { body: { ...valid, filters: { 'carrier.scac': [] } } })).status).toBe(
      400,
    );
    expect(
      (await t.api('POST', '/v1/webhooks', { body: { ...valid, filters: { 'carrier.scac': [{ a: 1 }] } } })).status,
    ).toBe(400);
    expect((await t.api('POST', '/v1/webhooks', { body: { ...valid, apiVersion: '1999-01-01' } })).status).toBe(400);
    expect(
      (await t.api('PATCH', '/v1/webhooks/00000000-0000-4000-8000-000000000000', { body: { paused: true } })).status,
    ).toBe(404);
  });

  it('lists subscriptions newest first with pagination', async () => {
    const tenant = await t.newTenant();
    const ids = [];
    for (let i = 0; i < 3; i++)
      ids.push((await t.api('POST', '/v1/webhooks', { key: tenant.key, body: valid })).body.id);
    const first = await t.api('GET', '/v1/webhooks?limit=2', { key: tenant.key });
    const second = await t.api('GET', `/v1/webhooks?limit=2&cursor=${first.body.nextCursor}`, { key: tenant.key });
    expect([...first.body.data, ...second.body.data].map((w: { id: string }) => w.id)).toEqual(ids.reverse());
    expect(second.body.nextCursor).toBeNull();
    expect(JSON.stringify(first.body)).not.toContain('whsec_');
  });

  it("answers 404 for another tenant's subscription and deliveries on every route", async () => {
    const receiver = await startReceiver();
    try {
      const other = await t.newTenant();
      const theirs = (
        await t.api('POST', '/v1/webhooks', {
          key: other.key,
          body: { ...valid, url: receiver.url, eventTypes: ['order.created'] },
        })
      ).body;
      await t.api('POST', '/v1/orders', { key: other.key, body: orderBody() });
      const [delivery] = await eventually(async () => {
        const list = (await t.api('GET', `/v1/deliveries?webhookId=${theirs.id}`, { key: other.key })).body.data;
        return list.length ? list : undefined;
      });
      // Its one push is out before the other tenant tries anything (listed is not yet sent).
      await receiver.waitForRequests(1);
      const id = theirs.id;
      const routes: Array<[string, string, unknown?]> = [
        ['GET', `/v1/webhooks/${id}`],
        ['PATCH', `/v1/webhooks/${id}`, { paused: true }],
        ['GET', `/v1/webhooks/${id}/secret`],
        ['POST', `/v1/webhooks/${id}/rotate-secret`, {}],
        ['POST', `/v1/webhooks/${id}/test`, {}],
        ['POST', `/v1/webhooks/${id}/replay`, { since: '2020-01-01T00:00:00Z' }],
        ['DELETE', `/v1/webhooks/${id}`],
        ['GET', `/v1/deliveries/${delivery.id}`],
        ['POST', `/v1/deliveries/${delivery.id}/redeliver`],
      ];
      for (const [method, path, body] of routes) {
        const answer = await t.api(method, path, body === undefined ? {} : { body });
        expect(answer.status, `${method} ${path}`).toBe(404);
      }
      expect((await t.api('GET', `/v1/deliveries?webhookId=${id}`)).body.data).toEqual([]);
      expect((await t.api('GET', '/v1/webhooks')).body.data.map((w: { id: string }) => w.id)).not.toContain(id);
      const still = await t.api('GET', `/v1/webhooks/${id}`, { key: other.key });
      expect(still.body.paused).toBe(false);
      expect(receiver.requests).toHaveLength(1);
    } finally {
      await receiver.close();
    }
  });

  it('lists deliveries with filters, newest first, with pagination, and validates the query', async () => {
    const receiver = await startReceiver();
    try {
      const tenant = await t.newTenant();
      const hook = (
        await t.api('POST', '/v1/webhooks', {
          key: tenant.key,
          body: { ...valid, url: receiver.url, eventTypes: ['*'] },
        })
      ).body;
      for (let i = 0; i < 3; i++) await t.api('POST', '/v1/orders', { key: tenant.key, body: orderBody() });
      await receiver.waitForRequests(3);
      await eventually(async () => {
        const list = (await t.api('GET', '/v1/deliveries?status=delivered', { key: tenant.key })).body.data;
        return list.length === 3;
      });
      const page1 = await t.api('GET', `/v1/deliveries?webhookId=${hook.id}&eventType=order.created&limit=2`, {
        key: tenant.key,
      });
      const page2 = await t.api('GET', `/v1/deliveries?webhookId=${hook.id}&limit=2&cursor=${page1.body.nextCursor}`, {
        key: tenant.key,
      });
      expect(page1.body.data).toHaveLength(2);
      expect(page2.body.data).toHaveLength(1);
      expect(page2.body.nextCursor).toBeNull();
      const created = [...page1.body.data, ...page2.body.data].map((d: { createdAt: string }) => d.createdAt);
      expect([...created].sort().reverse()).toEqual(created);
      expect((await t.api('GET', '/v1/deliveries?since=2999-01-01T00:00:00Z', { key: tenant.key })).body.data).toEqual(
        [],
      );
      expect((await t.api('GET', '/v1/deliveries?status=lost', { key: tenant.key })).status).toBe(400);
      expect((await t.api('GET', '/v1/deliveries?limit=500', { key: tenant.key })).status).toBe(400);
      expect((await t.api('GET', '/v1/deliveries?webhookId=nope', { key: tenant.key })).status).toBe(400);
    } finally {
      await receiver.close();
    }
  });
});

describe('SSRF guard', () => {
  let t: TestApp;
  let receiver: Receiver;
  const dns = new Map<string, ResolvedAddress[]>();
  const resolver = async (host: string): Promise<ResolvedAddress[]> => {
    const answer = dns.get(host);
    if (!answer) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return answer;
  };

  beforeAll(async () => {
    t = await createTestApp({
      env: { WEBHOOK_ALLOW_PRIVATE: 'false', WEBHOOK_RETRY_SCHEDULE: 'none' },
      overrides: [{ provide: RESOLVER, useValue: resolver }],
    });
    receiver = await startReceiver();
  });
  afterAll(async () => {
    await receiver?.close();
    await t?.close();
  });

  it.each([
    'http://127.0.0.1/hooks',
    'http://localhost:8080/hooks',
    'http://10.0.0.5/hooks',
    'http://172.16.3.4/hooks',
    'http://192.168.1.10/hooks',
    'http://169.254.169.254/latest/meta-data',
    'http://100.64.0.1/hooks',
    'http://0.0.0.0/hooks',
    'http://[::1]/hooks',
    'http://[::]/hooks',
    'http://[fd00:ec2::254]/hooks',
    'http://[::ffff:127.0.0.1]/hooks',
    'http://2130706433/hooks',
    'http://0x7f.0.0.1/hooks',
    'http://127.1/hooks',
    'http://224.0.0.1/hooks',
    'http://internal.example/hooks',
  ])('refuses %s at creation', async (url) => {
    dns.set('localhost', [{ address: '127.0.0.1', family: 4 }]);
    dns.set('internal.example', [
      { address: '93.184.216.34', family: 4 },
      { address: '10.1.2.3', family: 4 },
    ]);
    const answer = await t.api('POST', '/v1/webhooks', { body: { name: 'x', url, eventTypes: ['*'] } });
    expect(answer.status).toBe(400);
    expect(answer.body.errors[0].field).toBe('url');
    expect(answer.body.errors[0].message).toMatch(/not a public address/);
  });

  it('accepts a public host and a host that does not resolve yet; refuses the same on PATCH to a private one', async () => {
    dns.set('erp.example.com', [{ address: '93.184.216.34', family: 4 }]);
    const ok = await t.api('POST', '/v1/webhooks', {
      body: { name: 'x', url: 'https://erp.example.com/in', eventTypes: ['*'] },
    });
    expect(ok.status).toBe(201);
    const later = await t.api('POST', '/v1/webhooks', {
      body: { name: 'x', url: 'https://not-yet.example.com/in', eventTypes: ['*'] },
    });
    expect(later.status).toBe(201);
    const patched = await t.api('PATCH', `/v1/webhooks/${ok.body.id}`, { body: { url: 'http://10.0.0.1/' } });
    expect(patched.status).toBe(400);
    await t.api('DELETE', `/v1/webhooks/${ok.body.id}`);
    await t.api('DELETE', `/v1/webhooks/${later.body.id}`);
  });

  it('checks again at send time: a name that now resolves to loopback is an attempt blocked_address, an unknown name is dns', async () => {
    const port = new URL(receiver.url).port;
    dns.set('rebind.example.com', [{ address: '93.184.216.34', family: 4 }]);
    const rebind = (
      await t.api('POST', '/v1/webhooks', {
        body: { name: 'x', url: `http://rebind.example.com:${port}/in`, eventTypes: ['order.created'] },
      })
    ).body;
    const gone = (
      await t.api('POST', '/v1/webhooks', {
        body: { name: 'y', url: `http://vanished.example.com:${port}/in`, eventTypes: ['order.created'] },
      })
    ).body;
    dns.set('rebind.example.com', [{ address: '127.0.0.1', family: 4 }]);
    await t.api('POST', '/v1/orders', { body: orderBody() });
    for (const [hook, errorClass] of [
      [rebind, 'blocked_address'],
      [gone, 'dns'],
    ] as const) {
      const [delivery] = await eventually(async () => {
        const list = (await t.api('GET', `/v1/deliveries?webhookId=${hook.id}`)).body.data;
        return list[0]?.status === 'failed' ? list : undefined;
      });
      const full = (await t.api('GET', `/v1/deliveries/${delivery.id}`)).body;
      expect(full.attempts.map((a: { errorClass: string }) => a.errorClass)).toEqual([errorClass]);
    }
    expect(receiver.requests).toHaveLength(0);
  });
});
