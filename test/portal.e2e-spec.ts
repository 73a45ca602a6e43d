import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashApiKey } from '../src/tenancy/api-key-secret.js';
import { createTestApp, type TestApp } from './support/test-app.js';

const PUBLIC_URL = 'https://waybill.example.test';

describe('portal sessions (one-time links into /settings)', () => {
  let t: TestApp;
  let db: pg.Client;
  let webhookId: string;

  beforeAll(async () => {
    t = await createTestApp({ PUBLIC_URL });
    db = new pg.Client({ connectionString: t.databaseUrl });
    await db.connect();
    const created = await t.api('POST', '/v1/webhooks', {
      body: { name: 'ERP', url: 'http://127.0.0.1:9/hook', eventTypes: ['order.created'] },
    });
    expect(created.status).toBe(201);
    webhookId = created.body.id;
  });
  afterAll(async () => {
    await db?.end();
    await t?.close();
  });

  const openLink = async (body: Record<string, unknown> = {}) => {
    const answer = await t.api('POST', '/v1/portal-sessions', { body });
    expect(answer.status).toBe(201);
    return answer.body as { url: string; expiresAt: string };
  };
  const codeOf = (url: string) => new URL(url).searchParams.get('portal')!;
  const redeem = (code: string) => t.api('POST', '/v1/portal-sessions/redeem', { key: null, body: { code } });
  const session = async (body: Record<string, unknown> = {}) => {
    const answer = await redeem(codeOf((await openLink(body)).url));
    expect(answer.status).toBe(200);
    return answer.body as { token: string; readOnly: boolean; expiresAt: string };
  };

  it('answers { url, expiresAt }: a link under PUBLIC_URL/settings, one hour by default, without the API key', async () => {
    // The link was made between `before` and `after` (one clock: the database's runs on this machine).
    const expiresWithin = (expiresAt: string, before: number, after: number, seconds: number) => {
      expect(Date.parse(expiresAt)).toBeGreaterThanOrEqual(before + seconds * 1000);
      expect(Date.parse(expiresAt)).toBeLessThanOrEqual(after + seconds * 1000);
    };
    let before = Date.now();
    const link = await openLink();
    expiresWithin(link.expiresAt, before, Date.now(), 3600);
    expect(Object.keys(link).sort()).toEqual(['expiresAt', 'url']);
    expect(link.url.startsWith(`${PUBLIC_URL}/settings?portal=`)).toBe(true);
    expect(link.url).not.toContain(t.tenant.key);
    before = Date.now();
    const short = await openLink({ ttlSeconds: 120 });
    expiresWithin(short.expiresAt, before, Date.now(), 120);
  });

  it('redeems a link once for a session token of the same tenant; a reused link is refused', async () => {
    const link = await openLink();
    const first = await redeem(codeOf(link.url));
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ readOnly: false, expiresAt: link.expiresAt });
    expect(first.body.token).toMatch(/^wbs_/);
    const webhooks = await t.api('GET', '/v1/webhooks', { key: first.body.token });
    expect(webhooks.status).toBe(200);
    expect(webhooks.body.data.map((w: { id: string }) => w.id)).toEqual([webhookId]);

    const again = await redeem(codeOf(link.url));
    expect(again.status).toBe(401);
    expect(again.body.message).toMatch(/expired or was already used/);
    // The link is not a bearer token by itself.
    expect((await t.api('GET', '/v1/webhooks', { key: codeOf(link.url) })).status).toBe(401);
    expect((await redeem('wbl_made-up')).status).toBe(401);
  });

  it('refuses an expired link, and an expired session token', async () => {
    const link = await openLink();
    await db.query(`UPDATE portal_session SET expires_at = now() - interval '1 second' WHERE link_hash = $1`, [
      hashApiKey(codeOf(link.url)),
    ]);
    expect((await redeem(codeOf(link.url))).status).toBe(401);

    const live = await session();
    expect((await t.api('GET', '/v1/webhooks', { key: live.token })).status).toBe(200);
    await db.query(`UPDATE portal_session SET expires_at = now() - interval '1 second' WHERE token_hash = $1`, [
      hashApiKey(live.token),
    ]);
    expect((await t.api('GET', '/v1/webhooks', { key: live.token })).status).toBe(401);
  });

  it('a read-only session reads everything and changes nothing (403), and sees no secret', async () => {
    const ro = await session({ readOnly: true });
    expect(ro.readOnly).toBe(true);
    const key = ro.token;
    for (const path of [
      '/v1/webhooks',
      `/v1/webhooks/${webhookId}`,
      '/v1/event-types',
      '/v1/events',
      `/v1/deliveries?webhookId=${webhookId}`,
    ]) {
      expect((await t.api('GET', path, { key })).status, path).toBe(200);
    }
    const writes: Array<[string, string, unknown?]> = [
      ['POST', '/v1/webhooks', { name: 'X', url: 'http://127.0.0.1:9/x', eventTypes: ['order.created'] }],
      ['PATCH', `/v1/webhooks/${webhookId}`, { name: 'renamed' }],
      ['DELETE', `/v1/webhooks/${webhookId}`],
      ['POST', `/v1/webhooks/${webhookId}/rotate-secret`, {}],
      ['POST', `/v1/webhooks/${webhookId}/test`, {}],
      ['POST', `/v1/webhooks/${webhookId}/replay`, { since: '2026-01-01T00:00:00Z' }],
      ['GET', `/v1/webhooks/${webhookId}/secret`],
      // A saved subscription's preview is signed with its real secret: a forgeable push.
      ['POST', `/v1/webhooks/${webhookId}/preview`, { eventType: 'order.created' }],
      // A draft preview runs the tenant's expression: closed to read-only sessions too.
      ['POST', '/v1/webhooks/preview', { eventType: 'order.created' }],
    ];
    for (const [method, path, body] of writes) {
      const answer = await t.api(method, path, { key, body });
      expect(answer.status, `${method} ${path}`).toBe(403);
      expect(answer.body).toMatchObject({ statusCode: 403, error: 'Forbidden' });
      expect(answer.body.message).toMatch(/read-only/);
    }
    // No settings session mints feed tokens (they would outlive it).
    expect((await t.api('POST', `/v1/webhooks/${webhookId}/feed-token`, { key, body: {} })).status).toBe(403);
    const after = await t.api('GET', `/v1/webhooks/${webhookId}`);
    expect(after.body.name).not.toBe('renamed');
    expect(after.body.deletedAt ?? null).toBeNull();
  });

  it('a full session manages webhooks and reveals secrets, but not API keys or new portal sessions', async () => {
    const { token: key } = await session();
    const created = await t.api('POST', '/v1/webhooks', {
      key,
      body: { name: 'Full', url: 'http://127.0.0.1:9/full', eventTypes: ['order.created'] },
    });
    expect(created.status).toBe(201);
    const secret = await t.api('GET', `/v1/webhooks/${created.body.id}/secret`, { key });
    expect(secret.body.secret).toBe(created.body.secret);
    for (const [method, path, body] of [
      ['GET', '/v1/api-keys'],
      ['POST', '/v1/api-keys', { name: 'escalate' }],
      ['POST', '/v1/portal-sessions', {}],
    ] as Array<[string, string, unknown?]>) {
      expect((await t.api(method, path, { key, body })).status, `${method} ${path}`).toBe(403);
    }
    expect((await t.api('DELETE', `/v1/webhooks/${created.body.id}`, { key })).status).toBe(204);
  });

  it('opens only what the screen uses: orders, shipments and feeds need an API key', async () => {
    const { token: key } = await session();
    const routes: Array<[string, string, unknown?]> = [
      ['GET', '/v1/orders'],
      ['POST', '/v1/orders', {}],
      ['GET', '/v1/shipments'],
      ['POST', '/v1/shipments', {}],
      ['GET', `/v1/feeds/${webhookId}`],
      ['POST', `/v1/feeds/${webhookId}/ack`, { cursor: '0' }],
    ];
    for (const [method, path, body] of routes) {
      const answer = await t.api(method, path, { key, body });
      expect(answer.status, `${method} ${path}`).toBe(403);
      expect(answer.body.message).toMatch(/only use what the settings screen uses/);
    }
  });

  it('ends the sessions and unused links of a revoked API key', async () => {
    const made = await t.api('POST', '/v1/api-keys', { body: { name: 'TMS backend' } });
    const open = async () => {
      const link = await t.api('POST', '/v1/portal-sessions', { key: made.body.key, body: {} });
      expect(link.status).toBe(201);
      return codeOf(link.body.url);
    };
    const live = await redeem(await open());
    const unused = await open();
    expect((await t.api('GET', '/v1/webhooks', { key: live.body.token })).status).toBe(200);
    expect((await t.api('DELETE', `/v1/api-keys/${made.body.id}`)).status).toBe(204);
    expect((await t.api('GET', '/v1/webhooks', { key: live.body.token })).status).toBe(401);
    expect((await redeem(unused)).status).toBe(401);
  });

  it('refuses a link opened after its 10-minute window even while the session time lasts', async () => {
    const link = await openLink({ ttlSeconds: 7200 });
    await db.query(`UPDATE portal_session SET created_at = now() - interval '11 minutes' WHERE link_hash = $1`, [
      hashApiKey(codeOf(link.url)),
    ]);
    expect((await redeem(codeOf(link.url))).status).toBe(401);
  });

  it('signs out: the session token answers 401 afterwards; an API key cannot "sign out"', async () => {
    const ro = await session({ readOnly: true });
    expect((await t.api('DELETE', '/v1/portal-sessions/current', { key: ro.token })).status).toBe(204);
    expect((await t.api('GET', '/v1/webhooks', { key: ro.token })).status).toBe(401);
    expect((await t.api('DELETE', '/v1/portal-sessions/current')).status).toBe(400);
  });

  it('keeps sessions inside their tenant', async () => {
    const other = await t.newTenant('Other');
    const theirs = await t.api('POST', '/v1/portal-sessions', { key: other.key, body: {} });
    const { body } = await redeem(codeOf(theirs.body.url));
    expect((await t.api('GET', `/v1/webhooks/${webhookId}`, { key: body.token })).status).toBe(404);
    expect((await t.api('GET', '/v1/webhooks', { key: body.token })).body.data).toEqual([]);
  });

  it('validates the body and needs a key', async () => {
    const bad = await t.api('POST', '/v1/portal-sessions', { body: { readOnly: 'yes', ttlSeconds: 10 } });
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: { field: string }) => e.field).sort()).toEqual(['readOnly', 'ttlSeconds']);
    expect((await t.api('POST', '/v1/portal-sessions', { body: { ttlSeconds: 86401 } })).status).toBe(400);
    expect((await t.api('POST', '/v1/portal-sessions', { key: null, body: {} })).status).toBe(401);
    expect((await t.api('POST', '/v1/portal-sessions/redeem', { key: null, body: {} })).status).toBe(400);
  });
});

describe('the /settings page headers', () => {
  it('forbids framing by default, sends no Referer and only loads its own files', async () => {
    const t = await createTestApp();
    try {
      const answer = await fetch(`${t.baseUrl}/settings`);
      expect(answer.status, 'the settings screen is built by npm run build (npm test runs it first)').toBe(200);
      const csp = answer.headers.get('content-security-policy')!;
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).toContain("default-src 'self'");
      expect(csp).toContain("script-src 'self'");
      expect(answer.headers.get('x-frame-options')).toBe('DENY');
      expect(answer.headers.get('referrer-policy')).toBe('no-referrer');
    } finally {
      await t.close();
    }
  });

  it('lets the origins in SETTINGS_FRAME_ANCESTORS frame it', async () => {
    const t = await createTestApp({ SETTINGS_FRAME_ANCESTORS: 'https://tms.example.com https://*.acme.test' });
    try {
      const answer = await fetch(`${t.baseUrl}/settings?theme=dark`);
      expect(answer.headers.get('content-security-policy')).toContain(
        'frame-ancestors https://tms.example.com https://*.acme.test',
      );
      expect(answer.headers.get('x-frame-options')).toBeNull();
    } finally {
      await t.close();
    }
  });
});
