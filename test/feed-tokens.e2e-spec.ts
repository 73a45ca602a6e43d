import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orderBody } from './support/fixtures.js';
import { eventually } from './support/receiver.js';
import { createTestApp, type TestApp } from './support/test-app.js';

describe('feed tokens have a life cycle', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t?.close());

  const pullFeed = async (key?: string) => {
    const created = await t.api('POST', '/v1/webhooks', {
      key,
      body: { name: 'On-prem ERP', eventTypes: ['order.created'], deliveryMode: 'pull' },
    });
    expect(created.status).toBe(201);
    return created.body.id as string;
  };
  const reads = async (feedId: string, token: string) =>
    (await t.api('GET', `/v1/feeds/${feedId}`, { key: token })).status;

  it('mints { id, token, webhookId, feedUrl, createdAt, expiresAt }, lists without values, revokes at once (204, then 401)', async () => {
    const feedId = await pullFeed();
    const minted = await t.api('POST', `/v1/webhooks/${feedId}/feed-token`, { body: { ttlSeconds: 3600 } });
    expect(minted.status).toBe(201);
    expect(Object.keys(minted.body).sort()).toEqual(['createdAt', 'expiresAt', 'feedUrl', 'id', 'token', 'webhookId']);
    expect(Date.parse(minted.body.expiresAt) - Date.parse(minted.body.createdAt)).toBe(3_600_000);
    const forever = await t.api('POST', `/v1/webhooks/${feedId}/feed-token`);
    expect(forever.body.expiresAt).toBeNull();
    const tooShort = await t.api('POST', `/v1/webhooks/${feedId}/feed-token`, { body: { ttlSeconds: 5 } });
    expect(tooShort.status).toBe(400);
    expect(tooShort.body.errors[0].field).toBe('ttlSeconds');

    expect(await reads(feedId, minted.body.token)).toBe(200);
    const listed = await t.api('GET', `/v1/webhooks/${feedId}/feed-tokens`);
    expect(listed.status).toBe(200);
    expect(listed.body.data.map((x: { id: string }) => x.id).sort()).toEqual([minted.body.id, forever.body.id].sort());
    expect(JSON.stringify(listed.body)).not.toContain(minted.body.token);
    expect(listed.body.data.find((x: { id: string }) => x.id === minted.body.id)).toMatchObject({
      webhookId: feedId,
      expiresAt: minted.body.expiresAt,
    });
    // lastUsedAt is written beside the read, not before its answer: poll for it.
    await eventually(
      async () => {
        const again = await t.api('GET', `/v1/webhooks/${feedId}/feed-tokens`);
        return again.body.data.find((x: { id: string }) => x.id === minted.body.id)?.lastUsedAt !== null;
      },
      10_000,
      'lastUsedAt of the used token',
    );

    const revoked = await t.api('DELETE', `/v1/webhooks/${feedId}/feed-tokens/${minted.body.id}`);
    expect(revoked.status).toBe(204);
    expect(await reads(feedId, minted.body.token)).toBe(401);
    expect((await t.api('DELETE', `/v1/webhooks/${feedId}/feed-tokens/${minted.body.id}`)).status).toBe(404);
    expect(await reads(feedId, forever.body.token)).toBe(200);
    const stranger = await t.newTenant('Another tenant');
    expect(
      (await t.api('DELETE', `/v1/webhooks/${feedId}/feed-tokens/${forever.body.id}`, { key: stranger.key })).status,
    ).toBe(404);
    expect((await t.api('GET', `/v1/webhooks/${feedId}/feed-tokens`, { key: stranger.key })).status).toBe(404);
  });

  it('an expired token answers 401', async () => {
    const feedId = await pullFeed();
    const minted = (await t.api('POST', `/v1/webhooks/${feedId}/feed-token`, { body: { ttlSeconds: 60 } })).body;
    expect(await reads(feedId, minted.token)).toBe(200);
    // Let the minute pass in the database rather than waiting it out.
    const client = new pg.Client({ connectionString: t.databaseUrl });
    await client.connect();
    try {
      await client.query(`UPDATE feed_token SET expires_at = now() - interval '1 second' WHERE id = $1`, [minted.id]);
    } finally {
      await client.end();
    }
    expect(await reads(feedId, minted.token)).toBe(401);
    expect((await t.api('GET', `/v1/webhooks/${feedId}/feed-tokens`)).body.data).toEqual([]);
  });

  it('dies with the API key that minted it; another key’s token lives on', async () => {
    const feedId = await pullFeed();
    const key = (await t.api('POST', '/v1/api-keys', { body: { name: 'ERP integration' } })).body;
    const fromKey = (await t.api('POST', `/v1/webhooks/${feedId}/feed-token`, { key: key.key })).body;
    const fromDefault = (await t.api('POST', `/v1/webhooks/${feedId}/feed-token`)).body;
    expect(await reads(feedId, fromKey.token)).toBe(200);
    expect((await t.api('DELETE', `/v1/api-keys/${key.id}`)).status).toBe(204);
    expect(await reads(feedId, fromKey.token)).toBe(401);
    expect(await reads(feedId, fromDefault.token)).toBe(200);
    const listed = (await t.api('GET', `/v1/webhooks/${feedId}/feed-tokens`)).body.data;
    expect(listed.map((x: { id: string }) => x.id)).toEqual([fromDefault.id]);
  });

  it('a settings session cannot mint one (403)', async () => {
    const feedId = await pullFeed();
    const link = (await t.api('POST', '/v1/portal-sessions', { body: { readOnly: false } })).body;
    const code = new URL(link.url).searchParams.get('portal');
    const session = (await t.api('POST', '/v1/portal-sessions/redeem', { key: null, body: { code } })).body;
    const minted = await t.api('POST', `/v1/webhooks/${feedId}/feed-token`, { key: session.token });
    expect(minted.status).toBe(403);
    expect(minted.body.message).toMatch(/settings session/);
    expect((await t.api('GET', `/v1/webhooks/${feedId}/feed-tokens`, { key: session.token })).status).toBe(200);
  });

  it('moving the subscription to push revokes its tokens: pull again does not revive them; deletion ends them too', async () => {
    const feedId = await pullFeed();
    const token = (await t.api('POST', `/v1/webhooks/${feedId}/feed-token`)).body.token;
    expect(await reads(feedId, token)).toBe(200);
    const toPush = await t.api('PATCH', `/v1/webhooks/${feedId}`, {
      body: { deliveryMode: 'push', url: 'http://127.0.0.1:9/erp' },
    });
    expect(toPush.status).toBe(200);
    expect(await reads(feedId, token)).toBe(401);
    expect((await t.api('PATCH', `/v1/webhooks/${feedId}`, { body: { deliveryMode: 'pull' } })).status).toBe(200);
    expect(await reads(feedId, token)).toBe(401);
    expect((await t.api('GET', `/v1/webhooks/${feedId}/feed-tokens`)).body.data).toEqual([]);

    const other = await pullFeed();
    const otherToken = (await t.api('POST', `/v1/webhooks/${other}/feed-token`)).body.token;
    expect((await t.api('DELETE', `/v1/webhooks/${other}`)).status).toBe(204);
    expect(await reads(other, otherToken)).toBe(401);
  });

  it('a long poll that started before its token was revoked answers 401, not the data committed after', async () => {
    const feedId = await pullFeed();
    const minted = (await t.api('POST', `/v1/webhooks/${feedId}/feed-token`)).body;
    const polling = t.api('GET', `/v1/feeds/${feedId}?wait=20`, { key: minted.token });
    // The poll has authenticated once its token shows a last use.
    await eventually(async () => {
      const listed = (await t.api('GET', `/v1/webhooks/${feedId}/feed-tokens`)).body.data;
      return listed.find((x: { id: string }) => x.id === minted.id)?.lastUsedAt != null;
    });
    expect((await t.api('DELETE', `/v1/webhooks/${feedId}/feed-tokens/${minted.id}`)).status).toBe(204);
    expect((await t.api('POST', '/v1/orders', { body: orderBody() })).status).toBe(201);
    const answer = await polling;
    expect(answer.status).toBe(401);
    expect(JSON.stringify(answer.body)).not.toContain('order.created');
    // The subscription's own key still reads what waits.
    expect((await t.api('GET', `/v1/feeds/${feedId}?wait=1`)).body.data).toHaveLength(1);
  });

  it('a token minted while a move to push is committing is not revived by the move back to pull', async () => {
    const feedId = await pullFeed();
    const client = new pg.Client({ connectionString: t.databaseUrl });
    await client.connect();
    try {
      // The move to push as its transaction stands before COMMIT: the row locked and switched, the
      // feed's tokens revoked.
      await client.query('BEGIN');
      await client.query('SELECT id FROM webhook WHERE id = $1 FOR UPDATE', [feedId]);
      await client.query(`UPDATE webhook SET delivery_mode = 'push', url = 'http://127.0.0.1:9/erp' WHERE id = $1`, [
        feedId,
      ]);
      await client.query('UPDATE feed_token SET revoked_at = now() WHERE webhook_id = $1 AND revoked_at IS NULL', [
        feedId,
      ]);
      let settled = false;
      const mint = t.api('POST', `/v1/webhooks/${feedId}/feed-token`).finally(() => (settled = true));
      // The mint either finished or waits for the move's lock.
      await eventually(async () => {
        if (settled) return true;
        const { rows } = await client.query(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
        );
        return rows[0].n > 0;
      });
      await client.query('COMMIT');
      const minted = await mint;
      expect((await t.api('PATCH', `/v1/webhooks/${feedId}`, { body: { deliveryMode: 'pull' } })).status).toBe(200);
      if (minted.status === 201) expect(await reads(feedId, minted.body.token)).toBe(401);
      else expect(minted.status).toBe(409);
      expect((await t.api('GET', `/v1/webhooks/${feedId}/feed-tokens`)).body.data).toEqual([]);
    } finally {
      await client.query('ROLLBACK').catch(() => undefined);
      await client.end();
    }
  });
});
