import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, createTestApp, type TestApp } from './support/test-app.js';
import { orderBody } from './support/fixtures.js';

describe('tenants and API keys', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t?.close());

  it('creates a tenant with the operator token and answers { tenant, apiKey } with a working key', async () => {
    const created = await t.api('POST', '/v1/tenants', { key: ADMIN_TOKEN, body: { name: 'Nordfracht' } });
    expect(created.status).toBe(201);
    expect(created.body.tenant).toMatchObject({ name: 'Nordfracht' });
    expect(typeof created.body.apiKey).toBe('string');
    const orders = await t.api('GET', '/v1/orders', { key: created.body.apiKey });
    expect(orders.status).toBe(200);
    expect(orders.body).toEqual({ data: [], nextCursor: null });
  });

  it('refuses tenant creation without the operator token, and with a tenant key', async () => {
    expect((await t.api('POST', '/v1/tenants', { key: null, body: { name: 'x' } })).status).toBe(401);
    expect(
      (await t.api('POST', '/v1/tenants', { key: 'wrong-token-but-long-enough', body: { name: 'x' } })).status,
    ).toBe(401);
    expect((await t.api('POST', '/v1/tenants', { body: { name: 'x' } })).status).toBe(401);
  });

  it('validates the tenant body', async () => {
    const answer = await t.api('POST', '/v1/tenants', { key: ADMIN_TOKEN, body: {} });
    expect(answer.status).toBe(400);
    expect(answer.body.errors.map((e: { field: string }) => e.field)).toContain('name');
  });

  it('answers 401 without a key and with an unknown key, in the error shape', async () => {
    const without = await t.api('GET', '/v1/orders', { key: null });
    expect(without.status).toBe(401);
    expect(without.body).toMatchObject({ statusCode: 401, error: 'Unauthorized' });
    expect((await t.api('GET', '/v1/orders', { key: 'wb_not-a-real-key' })).status).toBe(401);
    expect((await t.api('GET', '/v1/orders', { headers: { authorization: 'Basic abc' }, key: null })).status).toBe(401);
  });

  it('creates, lists and revokes keys; a revoked key answers 401 at once', async () => {
    const created = await t.api('POST', '/v1/api-keys', { body: { name: 'ERP' } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'ERP' });
    expect(created.body.key).toMatch(/^wb_/);
    expect((await t.api('GET', '/v1/orders', { key: created.body.key })).status).toBe(200);

    const list = await t.api('GET', '/v1/api-keys');
    expect(list.status).toBe(200);
    const listed = list.body.data.find((k: { id: string }) => k.id === created.body.id);
    expect(listed).toMatchObject({ name: 'ERP', prefix: created.body.key.slice(0, 10) });
    expect(JSON.stringify(list.body)).not.toContain(created.body.key);

    expect((await t.api('DELETE', `/v1/api-keys/${created.body.id}`)).status).toBe(204);
    expect((await t.api('GET', '/v1/orders', { key: created.body.key })).status).toBe(401);
    expect((await t.api('DELETE', `/v1/api-keys/${created.body.id}`)).status).toBe(404);
  });

  it('stores keys hashed, never in plaintext', async () => {
    const created = await t.api('POST', '/v1/api-keys', { body: { name: 'audit' } });
    const client = new pg.Client({ connectionString: t.databaseUrl });
    await client.connect();
    const rows = await client.query('SELECT key_hash FROM api_key WHERE id = $1', [created.body.id]);
    await client.end();
    expect(rows.rows[0].key_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(rows.rows[0].key_hash).not.toContain(created.body.key);
  });

  it("answers 404 for another tenant's key and order, exactly like an unknown id", async () => {
    const other = await t.newTenant('Other');
    const theirKey = await t.api('POST', '/v1/api-keys', { key: other.key, body: { name: 'theirs' } });
    const revoke = await t.api('DELETE', `/v1/api-keys/${theirKey.body.id}`);
    expect(revoke.status).toBe(404);
    expect((await t.api('GET', '/v1/orders', { key: theirKey.body.key })).status).toBe(200);

    const theirOrder = await t.api('POST', '/v1/orders', { key: other.key, body: orderBody() });
    const mine = await t.api('GET', `/v1/orders/${theirOrder.body.id}`);
    const unknown = await t.api('GET', '/v1/orders/00000000-0000-4000-8000-000000000000');
    expect(mine.status).toBe(404);
    expect(unknown.status).toBe(404);
    expect(mine.body.error).toBe(unknown.body.error);
    expect((await t.api('GET', '/v1/orders')).body.data.map((o: { id: string }) => o.id)).not.toContain(
      theirOrder.body.id,
    );
  });
});

describe('tenant creation without ADMIN_TOKEN', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ ADMIN_TOKEN: '' });
  });
  afterAll(() => t?.close());

  it('is off: answers 403 saying how to turn it on', async () => {
    const answer = await t.api('POST', '/v1/tenants', { key: 'anything-at-all-here', body: { name: 'x' } });
    expect(answer.status).toBe(403);
    expect(answer.body.message).toContain('ADMIN_TOKEN');
  });
});
