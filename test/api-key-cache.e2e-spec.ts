import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeyCache } from '../src/tenancy/api-key-cache.js';
import { eventually } from './support/receiver.js';
import { createTestApp, type TestApp } from './support/test-app.js';

// A TTL far beyond the polls below: only the revocation's NOTIFY can make the other instance say 401.
const LONG_TTL = { API_KEY_CACHE_TTL: '10m' };

describe('the API-key cache across instances', () => {
  let a: TestApp;
  let b: TestApp;
  beforeAll(async () => {
    a = await createTestApp({ env: LONG_TTL });
    b = await createTestApp({ env: LONG_TTL, databaseUrl: a.databaseUrl });
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  const ordersWith = (app: TestApp, key: string) => app.api('GET', '/v1/orders', { key }).then((r) => r.status);

  it('a key revoked on one instance answers 401 on the other once its NOTIFY arrives, not after the TTL', async () => {
    const created = await a.api('POST', '/v1/api-keys', { body: { name: 'erp' } });
    const key = created.body.key as string;
    expect(await ordersWith(b, key)).toBe(200);
    expect(await ordersWith(b, key)).toBe(200); // now served from b's cache

    expect((await a.api('DELETE', `/v1/api-keys/${created.body.id}`)).status).toBe(204);
    expect(await ordersWith(a, key)).toBe(401);
    await eventually(async () => (await ordersWith(b, key)) === 401, 5_000, 'the revoked key to answer 401 on b');
  });

  it('trusts nothing cached while its LISTEN connection is down: a revocation it could not hear still answers 401', async () => {
    const created = await a.api('POST', '/v1/api-keys', { body: { name: 'erp-2' } });
    const key = created.body.key as string;
    expect(await ordersWith(b, key)).toBe(200);

    const admin = new pg.Client({ connectionString: a.databaseUrl });
    await admin.connect();
    try {
      // Cut every listener (a's and b's): the NOTIFY of the revocation below reaches nobody.
      await admin.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
          WHERE application_name = 'waybill-api-key-listener' AND datname = current_database()`,
      );
      // pg_terminate_backend only signals the backend: wait until b has seen its listener go
      // (from then until it listens again it trusts nothing cached), not for a fixed time.
      const cacheOfB = b.app.get(ApiKeyCache);
      await eventually(() => !cacheOfB['listening'], 10_000, 'b to see its LISTEN connection drop');
      expect((await a.api('DELETE', `/v1/api-keys/${created.body.id}`)).status).toBe(204);
      expect(await ordersWith(b, key)).toBe(401);
      await eventually(
        async () =>
          (
            await admin.query(
              `SELECT count(*)::int AS n FROM pg_stat_activity
                WHERE application_name = 'waybill-api-key-listener' AND datname = current_database()`,
            )
          ).rows[0].n === 2,
        10_000,
        'both instances to listen again',
      );
      expect(await ordersWith(b, key)).toBe(401);
    } finally {
      await admin.end();
    }
  });
});
