import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orderBody } from './support/fixtures.js';
import { ADMIN_TOKEN, createTestApp, METRICS_TOKEN, type TestApp } from './support/test-app.js';

const nested = (depth: number, leaf = '1') => `${'['.repeat(depth)}${leaf}${']'.repeat(depth)}`;
const nestedObject = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;

describe('throttling: failed authentication per client address', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ env: { THROTTLE_AUTH_FAILURES_PER_MINUTE: '5' } });
  });
  afterAll(() => t?.close());

  it('answers 401 up to the limit, then 429 with Retry-After to wrong credentials until the minute is over', async () => {
    expect((await t.api('GET', '/v1/webhooks')).status).toBe(200);
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await t.api('GET', '/v1/webhooks', { key: `wb_wrong${i}` })).status);
    // Wrong operator tokens count too.
    statuses.push((await t.api('POST', '/v1/tenants', { key: 'wrong-admin-token', body: { name: 'x' } })).status);
    expect(statuses).toEqual([401, 401, 401, 401, 401]);
    const tripped = await t.api('GET', '/v1/webhooks', { key: 'wb_wrong5' });
    expect(tripped.status).toBe(429);
    expect(tripped.body).toMatchObject({ statusCode: 429, error: 'Too Many Requests' });
    expect(tripped.body.message).toMatch(/failed authentications/);
    const retryAfter = Number(tripped.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    // Wrong credentials stay refused (429, not counted again), and so does the operator token,
    // which a person chose and could be guessed.
    expect((await t.api('GET', '/v1/webhooks', { key: 'wb_wrong6' })).status).toBe(429);
    const operator = await t.api('POST', '/v1/tenants', { key: ADMIN_TOKEN, body: { name: 'x' } });
    expect(operator.status).toBe(429);
    expect(Number(operator.headers.get('retry-after'))).toBeGreaterThan(0);
    // Public routes are not behind it.
    expect((await t.api('GET', '/health', { key: null })).status).toBe(200);
  });
});

describe('throttling: a failing client does not lock out the others at its address', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ env: { THROTTLE_AUTH_FAILURES_PER_MINUTE: '5' } });
  });
  afterAll(() => t?.close());

  it('does not lock valid keys out of an address another client there keeps failing from (a NAT, a proxy, an ERP polling with a revoked token)', async () => {
    const erp = await t.newTenant('ERP behind the same NAT');
    const feed = await t.api('POST', '/v1/webhooks', {
      key: erp.key,
      body: { name: 'Pull', deliveryMode: 'pull', eventTypes: ['order.created'] },
    });
    const minted = await t.api('POST', `/v1/webhooks/${feed.body.id}/feed-token`, { key: erp.key, body: {} });
    expect(minted.status).toBe(201);
    const session = await t.api('POST', '/v1/portal-sessions', { body: {} });
    const code = new URL(session.body.url).searchParams.get('portal')!;
    const redeemed = await t.api('POST', '/v1/portal-sessions/redeem', { key: null, body: { code } });
    expect(redeemed.status).toBe(200);
    await t.api('DELETE', `/v1/webhooks/${feed.body.id}/feed-tokens/${minted.body.id}`, { key: erp.key });
    const poll = () => t.api('GET', `/v1/feeds/${feed.body.id}`, { key: minted.body.token });
    const polls: number[] = [];
    for (let i = 0; i < 8; i++) polls.push((await poll()).status);
    expect(polls.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(polls.slice(5)).toEqual([429, 429, 429]);
    // Every other client at that address goes on: API keys, settings sessions, live feed tokens.
    expect((await t.api('GET', '/v1/webhooks')).status).toBe(200);
    expect((await t.api('POST', '/v1/orders', { key: erp.key, body: orderBody() })).status).toBe(201);
    expect((await t.api('GET', '/v1/webhooks', { key: redeemed.body.token })).status).toBe(200);
    const live = await t.api('POST', `/v1/webhooks/${feed.body.id}/feed-token`, { key: erp.key, body: {} });
    expect((await t.api('GET', `/v1/feeds/${feed.body.id}`, { key: live.body.token })).status).toBe(200);
  });
});

describe('throttling behind a reverse proxy: TRUST_PROXY', () => {
  let direct: TestApp;
  let proxied: TestApp;
  beforeAll(async () => {
    direct = await createTestApp({
      env: { THROTTLE_AUTH_FAILURES_PER_MINUTE: '3', THROTTLE_EXPENSIVE_PER_MINUTE: '2' },
    });
    // The proxy in front is the test client itself, on loopback: the client is the address it appended.
    proxied = await createTestApp({
      env: { THROTTLE_AUTH_FAILURES_PER_MINUTE: '3', THROTTLE_EXPENSIVE_PER_MINUTE: '2', TRUST_PROXY: 'loopback' },
    });
  });
  afterAll(async () => {
    await proxied?.close();
    await direct?.close();
  });

  const wrong = (app: TestApp, forwardedFor: string, i: number) =>
    app.api('GET', '/v1/webhooks', { key: `wb_wrong${i}`, headers: { 'x-forwarded-for': forwardedFor } });

  it('without it, X-Forwarded-For is ignored: a client cannot spread its failures over made-up addresses', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await wrong(direct, `198.51.100.${i}`, i)).status);
    expect(statuses).toEqual([401, 401, 401, 429, 429]);
  });

  it('with it, each client behind the proxy is counted apart: failures and redeemed links', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await wrong(proxied, '203.0.113.7', i)).status);
    expect(statuses).toEqual([401, 401, 401, 429]);
    // Another client of the same proxy is not refused; nor is one that puts a made-up address first.
    expect((await wrong(proxied, '203.0.113.8', 9)).status).toBe(401);
    expect((await wrong(proxied, '203.0.113.7, 203.0.113.9', 10)).status).toBe(401);
    expect((await wrong(proxied, '198.51.100.1, 203.0.113.7', 11)).status).toBe(429);

    const redeem = (forwardedFor: string) =>
      proxied.api('POST', '/v1/portal-sessions/redeem', {
        key: null,
        body: { code: 'wbl_unknown' },
        headers: { 'x-forwarded-for': forwardedFor },
      });
    expect([(await redeem('203.0.113.20')).status, (await redeem('203.0.113.20')).status]).toEqual([401, 401]);
    expect((await redeem('203.0.113.20')).status).toBe(429);
    expect((await redeem('203.0.113.21')).status).toBe(401);
  });
});

describe('throttling: expensive routes per tenant', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ env: { THROTTLE_EXPENSIVE_PER_MINUTE: '3' } });
  });
  afterAll(() => t?.close());

  it('answers 429 with Retry-After past the limit for that tenant only; other routes and tenants go on', async () => {
    const preview = (key?: string) =>
      t.api('POST', '/v1/webhooks/preview', { key, body: { eventType: 'order.created' } });
    for (let i = 0; i < 3; i++) expect((await preview()).status).toBe(200);
    const refused = await preview();
    expect(refused.status).toBe(429);
    expect(refused.body.message).toMatch(/at most 3 a minute per tenant/);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await t.api('GET', '/v1/webhooks')).status).toBe(200);
    const other = await t.newTenant('Other');
    expect((await preview(other.key)).status).toBe(200);

    const hook = await t.api('POST', '/v1/webhooks', {
      key: other.key,
      body: { name: 'x', url: 'http://127.0.0.1:9/x', eventTypes: ['webhook.test'] },
    });
    const calls = [
      () => t.api('POST', `/v1/webhooks/${hook.body.id}/check`, { key: other.key }),
      () => t.api('POST', `/v1/webhooks/${hook.body.id}/test`, { key: other.key, body: {} }),
      () =>
        t.api('POST', `/v1/webhooks/${hook.body.id}/replay`, {
          key: other.key,
          body: { since: '2026-01-01T00:00:00Z' },
        }),
    ];
    for (const call of calls) {
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) statuses.push((await call()).status);
      expect(statuses.slice(0, 3).every((s) => s !== 429)).toBe(true);
      expect(statuses[3]).toBe(429);
    }
    // Redeeming a link has no tenant yet: it is counted per client address.
    const redeem: number[] = [];
    for (let i = 0; i < 4; i++)
      redeem.push(
        (await t.api('POST', '/v1/portal-sessions/redeem', { key: null, body: { code: `wbl_x${i}` } })).status,
      );
    expect(redeem.slice(0, 3).every((s) => s !== 429)).toBe(true);
    expect(redeem[3]).toBe(429);
  });
});

describe('/metrics, /docs and hostile bodies', () => {
  let t: TestApp;
  let closed: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
    closed = await createTestApp({ env: { METRICS_TOKEN: '' } });
  });
  afterAll(async () => {
    await closed?.close();
    await t?.close();
  });

  it('serves /metrics only with Bearer $METRICS_TOKEN, and not at all without one (404)', async () => {
    expect((await t.api('GET', '/metrics', { key: null })).status).toBe(401);
    expect((await t.api('GET', '/metrics')).status).toBe(401);
    expect((await t.api('GET', '/metrics', { key: 'wrong-metrics-token-000000' })).status).toBe(401);
    const scraped = await t.api('GET', '/metrics', { key: METRICS_TOKEN });
    expect(scraped.status).toBe(200);
    expect(String(scraped.body)).toContain('waybill_delivery_attempts_total');
    expect((await closed.api('GET', '/metrics', { key: null })).status).toBe(404);
    expect((await closed.api('GET', '/metrics', { key: METRICS_TOKEN })).status).toBe(404);
  });

  it('serves /docs with a Content-Security-Policy that loads only its own files', async () => {
    const docs = await fetch(`${t.baseUrl}/docs`);
    expect(docs.status).toBe(200);
    const csp = docs.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    // Every script of the page is a file of its own (script-src 'self' allows no inline one).
    const html = await docs.text();
    expect(html.match(/<script(?![^>]*\ssrc=)[^>]*>/g) ?? []).toEqual([]);
  });

  it('answers 400 before validation to a body nested deeper than 64 levels, with or without a key', async () => {
    for (const key of [null, undefined]) {
      for (const [path, raw] of [
        ['/v1/api-keys', nested(5000)],
        ['/v1/portal-sessions', nestedObject(5000)],
        ['/v1/portal-sessions/redeem', `{"code":${nested(65, '"x"')}}`],
        ['/v1/orders', nestedObject(65)],
      ]) {
        const answer = await t.api('POST', path, { key, raw });
        expect(answer.status, `${path} ${key === null ? 'without' : 'with'} a key`).toBe(400);
        expect(answer.body.message).toMatch(/nests deeper than 64 levels/);
      }
    }
    // 64 levels are parsed and reach validation (which names the bad field).
    const shallow = await t.api('POST', '/v1/api-keys', { raw: `{"name":${nested(63)}}` });
    expect(shallow.status).toBe(400);
    expect(shallow.body.message).not.toMatch(/nests deeper/);
  });

  it('answers no fuzzed input with a 500: every operation, odd bodies and queries, with and without credentials', async () => {
    const document = (await t.api('GET', '/docs-json', { key: null })).body as {
      paths: Record<string, Record<string, unknown>>;
    };
    const bodies = [
      nested(5000),
      nestedObject(64),
      '[]',
      '"text"',
      '123',
      'null',
      'true',
      '{"name":{"$gt":""},"url":[1,2],"eventTypes":"*","limit":-1}',
      '{"name":"\\u0000\\ud800","lines":[{"quantity":1e400}],"since":"not a date"}',
      `{"items":[${Array.from({ length: 5000 }, () => '{}').join(',')}]}`,
      '{"__proto__":{"admin":true}}',
      '{"constructor":{"prototype":{"x":1}}}',
      '{"payloadFormat":"jsonata","payloadOptions":{"expression":"$$.x["}}',
      '{bad json',
    ];
    const queries = ['?limit=abc&limit=2&cursor=%00%ff', '?since=yesterday&status[]=x&wait=999999', '?limit=1e400'];
    const credentials = [null, undefined, ADMIN_TOKEN];
    const failures: string[] = [];
    for (const [template, operations] of Object.entries(document.paths)) {
      for (const method of Object.keys(operations)) {
        if (!['get', 'post', 'patch', 'put', 'delete'].includes(method)) continue;
        for (const id of [randomUUID(), 'not-a-uuid%00']) {
          const path = template.replace(/\{[^}]+\}/g, id);
          const sends =
            method === 'get' || method === 'delete'
              ? queries.map((query) => ({ path: `${path}${query}`, raw: undefined as string | undefined }))
              : bodies.map((raw) => ({ path, raw }));
          for (const key of credentials)
            for (const send of sends) {
              // What this protects is "never a 500"; the answers' shapes are the contract suite's.
              const answer = await t.api(method.toUpperCase(), send.path, { key, raw: send.raw, contract: false });
              if (answer.status >= 500)
                failures.push(`${method.toUpperCase()} ${send.path} ${send.raw?.slice(0, 40)} → ${answer.status}`);
            }
        }
      }
    }
    expect(failures).toEqual([]);
  }, 120_000);
});
