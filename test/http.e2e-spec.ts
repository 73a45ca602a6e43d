import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BODY_LIMIT_BYTES } from '../src/common/json-body.js';
import { createTestApp, type TestApp } from './support/test-app.js';

describe('the HTTP layer (Fastify)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t?.close());

  it('answers a body over the limit with 413 in the error shape', async () => {
    const answer = await t.api('POST', '/v1/orders', {
      body: { orderNumber: 'SO-BIG', notes: 'x'.repeat(BODY_LIMIT_BYTES) },
    });
    expect(answer.status).toBe(413);
    expect(answer.body).toEqual({ statusCode: 413, error: 'Payload Too Large', message: 'Request body is too large' });
  });

  it('treats an empty JSON body as no body, so validation names the missing fields', async () => {
    const answer = await t.api('POST', '/v1/orders', { raw: '', headers: { 'content-type': 'application/json' } });
    expect(answer.status).toBe(400);
    expect(answer.body.errors.map((e: { field: string }) => e.field)).toContain('orderNumber');
  });

  it('refuses a prototype-polluting body with 400', async () => {
    const answer = await t.api('POST', '/v1/orders', { raw: '{"__proto__": {"admin": true}}' });
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ statusCode: 400, error: 'Bad Request' });
  });

  it('answers a content type it does not read with 415 in the error shape', async () => {
    const answer = await t.api('POST', '/v1/orders', {
      raw: '<order/>',
      headers: { 'content-type': 'application/xml' },
    });
    expect(answer.status).toBe(415);
    expect(answer.body).toMatchObject({ statusCode: 415, error: 'Unsupported Media Type' });
  });

  // Checked against the OpenAPI document by t.api, like every answer: each POST documents them.
  const UNKNOWN_DELIVERY = '/v1/deliveries/00000000-0000-0000-0000-000000000000/redeliver';

  it('answers a body that is not valid JSON with 400 saying so, on every POST, one that reads no body too', async () => {
    for (const route of ['/v1/orders', '/v1/webhooks', UNKNOWN_DELIVERY]) {
      const answer = await t.api('POST', route, { raw: '{"orderNumber": "SO-1",' });
      expect(answer.status, route).toBe(400);
      expect(answer.body, route).toEqual({
        statusCode: 400,
        error: 'Bad Request',
        message: expect.stringMatching(/^Request body is not valid JSON: /),
      });
    }
  });

  it('reads a plain-text body, which is not a JSON object (400 naming the body), and refuses XML with 415', async () => {
    for (const route of ['/v1/orders', '/v1/webhooks']) {
      const text = await t.api('POST', route, { raw: 'orderNumber=SO-1', headers: { 'content-type': 'text/plain' } });
      expect(text.status, route).toBe(400);
      expect(text.body.errors, route).toEqual([{ field: '(body)', message: 'must be a JSON object' }]);
    }
    for (const route of ['/v1/webhooks', UNKNOWN_DELIVERY]) {
      const xml = await t.api('POST', route, { raw: '<webhook/>', headers: { 'content-type': 'application/xml' } });
      expect(xml.status, route).toBe(415);
      expect(xml.body, route).toEqual({
        statusCode: 415,
        error: 'Unsupported Media Type',
        message: 'Unsupported Media Type',
      });
    }
  });

  it('routes a path with a trailing slash like the path without one', async () => {
    const answer = await t.api('GET', '/v1/orders/');
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ data: [], nextCursor: null });
  });

  it('serves the settings screen under any /settings path, and HEAD, with its headers', async () => {
    const deep = await fetch(`${t.baseUrl}/settings/endpoints/x`);
    expect(deep.status).toBe(200);
    expect(deep.headers.get('content-type')).toContain('text/html');
    expect(deep.headers.get('cache-control')).toBe('no-store');
    const page = await deep.text();
    const head = await fetch(`${t.baseUrl}/settings`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('referrer-policy')).toBe('no-referrer');
    expect((await fetch(`${t.baseUrl}/settings`, { method: 'POST' })).status).toBe(404);

    const asset = /src="\/settings\/assets\/([^"]+\.js)"/.exec(page)?.[1];
    expect(asset, 'the page loads its script from /settings/assets').toBeTruthy();
    const script = await fetch(`${t.baseUrl}/settings/assets/${asset}`);
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toContain('javascript');
    expect(script.headers.get('cache-control')).toContain('immutable');
    expect(script.headers.get('content-security-policy')).toContain("default-src 'self'");
    const missing = await t.api('GET', '/settings/assets/nothing-here.js', { key: null });
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ statusCode: 404, error: 'Not Found' });
  });

  it('answers a route error as JSON even where the route sets another content type', async () => {
    const answer = await t.api('GET', '/v1/event-types/no.such.type/schema');
    expect(answer.status).toBe(404);
    expect(answer.headers.get('content-type')).toContain('application/json');
    expect(answer.body).toMatchObject({ statusCode: 404, error: 'Not Found' });
  });
});
