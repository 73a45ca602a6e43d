import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestPki, type TestPki } from './support/certificates.js';
import { type Receiver, startReceiver } from './support/receiver.js';
import { createTestApp, type TestApp } from './support/test-app.js';

describe('write-only header values and the TLS key never follow the URL to another origin', () => {
  let t: TestApp;
  let home: Receiver;
  let elsewhere: Receiver;
  let pki: TestPki;
  beforeAll(async () => {
    t = await createTestApp();
    home = await startReceiver();
    elsewhere = await startReceiver();
    pki = makeTestPki();
  });
  afterAll(async () => {
    await home?.close();
    await elsewhere?.close();
    await t?.close();
  });

  it('a PATCH to another origin must send headers again (400 naming the field); the new host gets only the new values', async () => {
    const created = await t.api('POST', '/v1/webhooks', {
      body: {
        name: 'ERP',
        url: `${home.url}/in`,
        eventTypes: ['webhook.test'],
        headers: { 'X-Api-Key': 'home-s3cret' },
      },
    });
    expect(created.status).toBe(201);
    const id = created.body.id;
    // Same origin, another path: the values stay.
    expect((await t.api('PATCH', `/v1/webhooks/${id}`, { body: { url: `${home.url}/other` } })).status).toBe(200);

    const moved = await t.api('PATCH', `/v1/webhooks/${id}`, { body: { url: elsewhere.url } });
    expect(moved.status).toBe(400);
    expect(moved.body.errors[0]).toMatchObject({
      field: 'headers',
      message: expect.stringContaining('another origin'),
    });
    expect((await t.api('GET', `/v1/webhooks/${id}`)).body.url).toBe(`${home.url}/other`);

    const resent = await t.api('PATCH', `/v1/webhooks/${id}`, {
      body: { url: elsewhere.url, headers: { 'X-Api-Key': 'elsewhere-key' } },
    });
    expect(resent.status).toBe(200);
    await t.api('POST', `/v1/webhooks/${id}/test`, { body: {} });
    const [request] = await elsewhere.waitForRequests(1);
    expect(request.headers['x-api-key']).toBe('elsewhere-key');
    expect(JSON.stringify(elsewhere.requests.map((r) => r.headers))).not.toContain('home-s3cret');

    // Dropping them is an answer too.
    const dropped = await t.api('PATCH', `/v1/webhooks/${id}`, { body: { url: `${home.url}/in`, headers: {} } });
    expect(dropped.status).toBe(200);
    expect(dropped.body.headers ?? dropped.body.headerNames ?? []).toEqual([]);
  });

  it('a PATCH to another origin must send tls again when a client certificate is stored', async () => {
    const tls = { clientCertificatePem: pki.client.certPem, clientKeyPem: pki.client.keyPem };
    const created = await t.api('POST', '/v1/webhooks', {
      body: { name: 'mTLS ERP', url: 'https://127.0.0.1:9/in', eventTypes: ['webhook.test'], tls },
    });
    expect(created.status).toBe(201);
    const id = created.body.id;
    const moved = await t.api('PATCH', `/v1/webhooks/${id}`, { body: { url: 'https://localhost:9/in' } });
    expect(moved.status).toBe(400);
    expect(moved.body.errors[0]).toMatchObject({ field: 'tls', message: expect.stringContaining('another origin') });
    const resent = await t.api('PATCH', `/v1/webhooks/${id}`, { body: { url: 'https://localhost:9/in', tls } });
    expect(resent.status).toBe(200);
    const removed = await t.api('PATCH', `/v1/webhooks/${id}`, { body: { url: 'https://127.0.0.1:9/in', tls: null } });
    expect(removed.status).toBe(200);
    expect(removed.body.tls).toBeNull();
  });

  it('refuses Authorization as a custom header: receiver credentials belong in auth', async () => {
    for (const name of ['Authorization', 'authorization']) {
      const refused = await t.api('POST', '/v1/webhooks', {
        body: { name: 'x', url: home.url, eventTypes: ['*'], headers: { [name]: 'Bearer sneaky' } },
      });
      expect(refused.status).toBe(400);
      expect(refused.body.errors[0].field).toMatch(/^headers/);
      expect(refused.body.errors[0].message).toMatch(/reserved.*auth/);
    }
  });
});
