import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RESOLVER, type Resolver } from '../src/webhooks/transport/url-guard.js';
import { makeTestPki, type TestPki } from './support/certificates.js';
import { orderBody } from './support/fixtures.js';
import { TokenServer } from './support/oauth-server.js';
import { eventually, type Receiver, startReceiver } from './support/receiver.js';
import { createTestApp, type TestApp } from './support/test-app.js';

const CLIENT_SECRET = 'cs-very-secret-value-0001';
const BASIC_PASSWORD = 'basic-password-secret-0002';
const BEARER_TOKEN = 'static-bearer-secret-0003';

/** Names tests can use: erp.test is the loopback ERP, nowhere.invalid resolves to nothing. */
const resolver: Resolver = async (hostname) => {
  if (hostname === 'localhost' || hostname === 'erp.test') return [{ address: '127.0.0.1', family: 4 }];
  throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
};

/** An HTTPS "ERP" on loopback that requires a client certificate signed by its CA. */
async function startMtlsReceiver(pki: TestPki, server = pki.server) {
  const received: Array<{ authorized: boolean; subject: string | undefined }> = [];
  const httpsServer = https.createServer(
    { cert: server.certPem, key: server.keyPem, ca: pki.ca.certPem, requestCert: true, rejectUnauthorized: true },
    (req, res) => {
      const socket = req.socket as import('node:tls').TLSSocket;
      received.push({
        authorized: socket.authorized,
        subject: socket.getPeerCertificate()?.subject?.CN as string | undefined,
      });
      req.resume();
      req.on('end', () => res.writeHead(200).end('ok'));
    },
  );
  await new Promise<void>((resolve) => httpsServer.listen(0, '127.0.0.1', resolve));
  const port = (httpsServer.address() as AddressInfo).port;
  return {
    received,
    url: `https://127.0.0.1:${port}/inbound`,
    port,
    close: async () => {
      httpsServer.closeAllConnections();
      await new Promise<void>((resolve) => httpsServer.close(() => resolve()));
    },
  };
}

describe('ERP receiver authentication', () => {
  let t: TestApp;
  let tokens: TokenServer;
  let erp: Receiver;
  let pki: TestPki;

  beforeAll(async () => {
    pki = makeTestPki();
    t = await createTestApp({ overrides: [{ provide: RESOLVER, useValue: resolver }] });
    tokens = await new TokenServer({ waybill: CLIENT_SECRET }).start();
    // The ERP accepts only tokens its authorization server issued and still considers valid.
    erp = (await startReceiver()).always((request) =>
      tokens.isValid(request.headers.authorization)
        ? { status: 200, body: 'ok' }
        : { status: 401, body: 'invalid token' },
    );
  });
  afterAll(async () => {
    await erp?.close();
    await tokens?.close();
    await t?.close();
  });

  const oauthWebhook = async (overrides: Record<string, unknown> = {}, auth: Record<string, unknown> = {}) => {
    const created = await t.api('POST', '/v1/webhooks', {
      body: {
        name: 'SAP inbound (OAuth2)',
        url: erp.url,
        eventTypes: ['order.created'],
        retrySchedule: ['100ms', '100ms'],
        auth: {
          type: 'oauth2ClientCredentials',
          tokenUrl: tokens.url,
          clientId: 'waybill',
          clientSecret: CLIENT_SECRET,
          scope: 'shipments.write',
          ...auth,
        },
        ...overrides,
      },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    return created.body;
  };

  const deliveriesOf = async (webhookId: string) =>
    (await t.api('GET', `/v1/deliveries?webhookId=${webhookId}&limit=200`)).body.data as any[];

  it('pushes with a client-credentials token: one token request for 50 concurrent deliveries, secrets never shown', async () => {
    const tenant = await t.newTenant('OAuth tenant');
    const before = tokens.requests.length;
    const receivedBefore = erp.requests.length;
    tokens.delayMs = 150;
    const created = await t.api('POST', '/v1/webhooks', {
      key: tenant.key,
      body: {
        name: 'SAP inbound',
        url: erp.url,
        eventTypes: ['order.created'],
        auth: {
          type: 'oauth2ClientCredentials',
          tokenUrl: tokens.url,
          clientId: 'waybill',
          clientSecret: CLIENT_SECRET,
          scope: 'shipments.write',
          audience: 'api://erp',
        },
      },
    });
    expect(created.status).toBe(201);
    expect(created.body.auth).toEqual({
      type: 'oauth2ClientCredentials',
      configured: true,
      tokenUrl: tokens.url,
      clientId: 'waybill',
      scope: 'shipments.write',
      audience: 'api://erp',
      clientAuth: 'client_secret_basic',
    });
    const answers = await Promise.all(
      Array.from({ length: 50 }, () => t.api('POST', '/v1/orders', { key: tenant.key, body: orderBody() })),
    );
    expect(answers.every((a) => a.status === 201)).toBe(true);
    await erp.waitForRequests(receivedBefore + 50);
    tokens.delayMs = 0;

    expect(tokens.requests.length - before).toBe(1);
    const request = tokens.requests[before];
    expect(request).toMatchObject({
      grantType: 'client_credentials',
      clientId: 'waybill',
      clientAuth: 'client_secret_basic',
      scope: 'shipments.write',
      audience: 'api://erp',
    });
    const pushes = erp.requests.slice(receivedBefore);
    expect(pushes.every((p) => p.headers.authorization === `Bearer ${tokens.issued.at(-1)}`)).toBe(true);

    const deliveries = await eventually(async () => {
      const list = (await t.api('GET', `/v1/deliveries?webhookId=${created.body.id}&limit=200`, { key: tenant.key }))
        .body.data as any[];
      return list.length === 50 && list.every((d) => d.status === 'delivered') && list;
    });
    const detail = (await t.api('GET', `/v1/deliveries/${deliveries[0].id}`, { key: tenant.key })).body;
    expect(detail.attempts[0].requestHeaders.authorization).toBe('[redacted]');
    const everything = JSON.stringify([
      detail,
      (await t.api('GET', `/v1/webhooks/${created.body.id}`, { key: tenant.key })).body,
      (await t.api('GET', '/v1/webhooks', { key: tenant.key })).body,
      (
        await t.api('POST', `/v1/webhooks/${created.body.id}/preview`, {
          key: tenant.key,
          body: { eventType: 'order.created' },
        })
      ).body,
    ]);
    expect(everything).not.toContain(CLIENT_SECRET);
    for (const token of tokens.issued) expect(everything).not.toContain(token);
  });

  it('sends the client secret in the form body with client_secret_post', async () => {
    const webhook = await oauthWebhook({}, { clientAuth: 'client_secret_post', scope: undefined });
    const before = tokens.requests.length;
    await t.api('POST', `/v1/webhooks/${webhook.id}/test`, { body: {} });
    expect(tokens.requests[before]).toMatchObject({
      clientAuth: 'client_secret_post',
      clientId: 'waybill',
      clientSecret: CLIENT_SECRET,
      scope: null,
    });
    await t.api('DELETE', `/v1/webhooks/${webhook.id}`);
  });

  it('fetches a new token once the old one expires', async () => {
    tokens.expiresIn = 1;
    try {
      const webhook = await oauthWebhook();
      const before = tokens.requests.length;
      const first = await t.api('POST', `/v1/webhooks/${webhook.id}/test`, { body: {} });
      expect(first.body.responseStatus).toBe(200);
      // The token server expires the token after its 1 s lifetime (the client's refresh point is
      // earlier still): wait for that, not for a fixed time.
      const old = tokens.issued.at(-1)!;
      await eventually(() => !tokens.isValid(`Bearer ${old}`), 10_000, 'the first token to expire');
      const second = await t.api('POST', `/v1/webhooks/${webhook.id}/test`, { body: {} });
      expect(second.body.responseStatus).toBe(200);
      expect(tokens.requests.length - before).toBe(2);
      await t.api('DELETE', `/v1/webhooks/${webhook.id}`);
    } finally {
      tokens.expiresIn = 3600;
    }
  });

  it('a 401 from the ERP fetches exactly one new token and sends again', async () => {
    const webhook = await oauthWebhook();
    const first = await t.api('POST', `/v1/webhooks/${webhook.id}/test`, { body: {} });
    expect(first.body.responseStatus).toBe(200);
    const before = tokens.requests.length;
    const receivedBefore = erp.requests.length;
    tokens.revoke(tokens.issued.at(-1)!);

    await t.api('POST', '/v1/orders', { body: orderBody() });
    const delivery = await eventually(async () =>
      (await deliveriesOf(webhook.id)).find((d) => d.eventType === 'order.created' && d.status === 'delivered'),
    );
    expect(tokens.requests.length - before).toBe(1);
    const pushes = erp.requests.slice(receivedBefore);
    expect(pushes.map((p) => tokens.isValid(p.headers.authorization))).toEqual([false, true]);
    const detail = (await t.api('GET', `/v1/deliveries/${delivery.id}`)).body;
    expect(detail.attempts).toHaveLength(1);
    expect(detail.attempts[0]).toMatchObject({ responseStatus: 200, errorClass: null });
    await t.api('DELETE', `/v1/webhooks/${webhook.id}`);
  });

  it('a failing token endpoint makes auth_error attempts that are retried, and nothing reaches the ERP', async () => {
    const webhook = await oauthWebhook({}, { clientSecret: 'wrong-secret' });
    const receivedBefore = erp.requests.length;
    await t.api('POST', '/v1/orders', { body: orderBody() });
    const failed = await eventually(async () => (await deliveriesOf(webhook.id)).find((d) => d.status === 'failed'));
    const detail = (await t.api('GET', `/v1/deliveries/${failed.id}`)).body;
    expect(detail.attempts.map((a: any) => a.errorClass)).toEqual(['auth_error', 'auth_error', 'auth_error']);
    // The token server answers the Basic client with a WWW-Authenticate challenge (RFC 6749 §5.2).
    expect(detail.attempts[0].errorMessage).toBe(
      'the token endpoint answered 401 invalid_client: client authentication failed',
    );
    expect(JSON.stringify(detail)).not.toContain('wrong-secret');
    expect(erp.requests.length).toBe(receivedBefore);

    tokens.failWith = 503;
    try {
      const test = await t.api('POST', `/v1/webhooks/${webhook.id}/test`, { body: {} });
      expect(test.body.errorClass).toBe('auth_error');
    } finally {
      tokens.failWith = null;
    }
    await t.api('DELETE', `/v1/webhooks/${webhook.id}`);
  });

  it('keeps stored secrets when a PATCH of the same type leaves them out, and validates auth on save', async () => {
    const webhook = await oauthWebhook();
    const patched = await t.api('PATCH', `/v1/webhooks/${webhook.id}`, {
      body: {
        auth: { type: 'oauth2ClientCredentials', tokenUrl: tokens.url, clientId: 'waybill', scope: 'orders.write' },
      },
    });
    expect(patched.status).toBe(200);
    expect(patched.body.auth.scope).toBe('orders.write');
    const test = await t.api('POST', `/v1/webhooks/${webhook.id}/test`, { body: {} });
    expect(test.body.responseStatus).toBe(200);
    expect(tokens.requests.at(-1)).toMatchObject({ scope: 'orders.write', clientSecret: CLIENT_SECRET });

    const bad = await t.api('POST', '/v1/webhooks', {
      body: {
        name: 'x',
        url: erp.url,
        eventTypes: ['*'],
        auth: { type: 'oauth2ClientCredentials', tokenUrl: 'ftp://x', clientId: 'a', clientAuth: 'mtls', extra: 1 },
      },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: any) => e.field).sort()).toEqual([
      'auth.clientAuth',
      'auth.clientSecret',
      'auth.extra',
    ]);
    const badUrl = await t.api('POST', '/v1/webhooks', {
      body: {
        name: 'x',
        url: erp.url,
        eventTypes: ['*'],
        auth: { type: 'oauth2ClientCredentials', tokenUrl: 'ftp://x', clientId: 'a', clientSecret: 'b' },
      },
    });
    expect(badUrl.body.errors).toEqual([{ field: 'auth.tokenUrl', message: 'must use http or https' }]);
    const badType = await t.api('POST', '/v1/webhooks', {
      body: { name: 'x', url: erp.url, eventTypes: ['*'], auth: { type: 'kerberos' } },
    });
    expect(badType.body.errors[0].field).toBe('auth.type');
    await t.api('DELETE', `/v1/webhooks/${webhook.id}`);
  });

  it('never lets stored credentials follow the endpoint or the token URL to another origin', async () => {
    const basic = await t.api('POST', '/v1/webhooks', {
      body: {
        name: 'basic',
        url: `${erp.url}/basic`,
        eventTypes: ['*'],
        auth: { type: 'basic', username: 'erp', password: 'p4ss' },
      },
    });
    expect(basic.status).toBe(201);
    const id = basic.body.id;
    // Same origin, another path: the password stays.
    expect((await t.api('PATCH', `/v1/webhooks/${id}`, { body: { url: `${erp.url}/other` } })).status).toBe(200);
    expect(
      (
        await t.api('PATCH', `/v1/webhooks/${id}`, {
          body: { url: `${erp.url}/basic`, auth: { type: 'basic', username: 'erp' } },
        })
      ).status,
    ).toBe(200);
    // Another origin: 400 until the credentials are sent again.
    const elsewhere = erp.url.replace('127.0.0.1', 'localhost');
    const moved = await t.api('PATCH', `/v1/webhooks/${id}`, { body: { url: elsewhere } });
    expect(moved.status).toBe(400);
    expect(moved.body.errors[0].field).toBe('auth');
    const kept = await t.api('PATCH', `/v1/webhooks/${id}`, {
      body: { url: elsewhere, auth: { type: 'basic', username: 'erp' } },
    });
    expect(kept.status).toBe(400);
    expect(kept.body.errors.map((e: any) => e.field)).toEqual(['auth.password']);
    expect((await t.api('GET', `/v1/webhooks/${id}`)).body.url).toBe(`${erp.url}/basic`);
    const resent = await t.api('PATCH', `/v1/webhooks/${id}`, {
      body: { url: elsewhere, auth: { type: 'basic', username: 'erp', password: 'n3w' } },
    });
    expect(resent.status).toBe(200);

    const oauth = await oauthWebhook();
    const otherTokenUrl = tokens.url.replace('127.0.0.1', 'localhost');
    const tokenMoved = await t.api('PATCH', `/v1/webhooks/${oauth.id}`, {
      body: { auth: { type: 'oauth2ClientCredentials', tokenUrl: otherTokenUrl, clientId: 'waybill' } },
    });
    expect(tokenMoved.status).toBe(400);
    expect(tokenMoved.body.errors.map((e: any) => e.field)).toEqual(['auth.clientSecret']);
    await t.api('DELETE', `/v1/webhooks/${id}`);
    await t.api('DELETE', `/v1/webhooks/${oauth.id}`);
  });

  it('refuses a token URL on a private address unless WEBHOOK_ALLOW_PRIVATE', async () => {
    const strict = await createTestApp({
      env: { WEBHOOK_ALLOW_PRIVATE: 'false' },
      overrides: [{ provide: RESOLVER, useValue: resolver }],
    });
    try {
      const answer = await strict.api('POST', '/v1/webhooks', {
        body: {
          name: 'x',
          url: 'https://93.184.216.34/hook',
          eventTypes: ['*'],
          auth: {
            type: 'oauth2ClientCredentials',
            tokenUrl: 'https://erp.test/oauth2/token',
            clientId: 'a',
            clientSecret: 'b',
          },
        },
      });
      expect(answer.status).toBe(400);
      expect(answer.body.errors).toEqual([
        { field: 'auth.tokenUrl', message: 'resolves to 127.0.0.1, which is not a public address' },
      ]);
    } finally {
      await strict.close();
    }
  });

  it('sends Basic and bearer credentials as configured and redacts them in the audit and the API', async () => {
    const receivedBefore = erp.requests.length;
    const basic = await t.api('POST', '/v1/webhooks', {
      body: {
        name: 'basic',
        url: erp.url,
        eventTypes: ['webhook.test'],
        auth: { type: 'basic', username: 'erp-user', password: BASIC_PASSWORD },
      },
    });
    const bearer = await t.api('POST', '/v1/webhooks', {
      body: {
        name: 'bearer',
        url: erp.url,
        eventTypes: ['webhook.test'],
        auth: { type: 'bearer', token: BEARER_TOKEN },
      },
    });
    expect(basic.body.auth).toEqual({ type: 'basic', configured: true, username: 'erp-user' });
    expect(bearer.body.auth).toEqual({ type: 'bearer', configured: true });
    const basicTest = await t.api('POST', `/v1/webhooks/${basic.body.id}/test`, { body: {} });
    const bearerTest = await t.api('POST', `/v1/webhooks/${bearer.body.id}/test`, { body: {} });
    const [basicPush, bearerPush] = erp.requests.slice(receivedBefore);
    expect(basicPush.headers.authorization).toBe(
      `Basic ${Buffer.from(`erp-user:${BASIC_PASSWORD}`).toString('base64')}`,
    );
    expect(bearerPush.headers.authorization).toBe(`Bearer ${BEARER_TOKEN}`);
    expect(basicTest.body.requestHeaders.authorization).toBe('[redacted]');
    expect(bearerTest.body.requestHeaders.authorization).toBe('[redacted]');
    const shown = JSON.stringify([
      basicTest.body,
      bearerTest.body,
      (await t.api('GET', `/v1/deliveries/${basicTest.body.deliveryId}`)).body,
      (await t.api('GET', `/v1/webhooks/${basic.body.id}`)).body,
      (await t.api('GET', `/v1/webhooks/${bearer.body.id}`)).body,
    ]);
    expect(shown).not.toContain(BASIC_PASSWORD);
    expect(shown).not.toContain(BEARER_TOKEN);
    expect(shown).not.toContain(Buffer.from(`erp-user:${BASIC_PASSWORD}`).toString('base64'));
    for (const id of [basic.body.id, bearer.body.id]) await t.api('DELETE', `/v1/webhooks/${id}`);
  });

  it('mutual TLS: delivered with the trusted client certificate, tls error class without it or with a stranger', async () => {
    const mtls = await startMtlsReceiver(pki);
    try {
      const tls = { clientCertificatePem: pki.client.certPem, clientKeyPem: pki.client.keyPem, caPem: pki.ca.certPem };
      const good = await t.api('POST', '/v1/webhooks', {
        body: { name: 'mtls', url: mtls.url, eventTypes: ['webhook.test'], tls },
      });
      expect(good.status, JSON.stringify(good.body)).toBe(201);
      expect(good.body.tls).toMatchObject({
        configured: true,
        subject: 'CN=waybill-client',
        issuer: 'CN=Test ERP CA',
        caConfigured: true,
      });
      expect(JSON.stringify(good.body)).not.toContain('PRIVATE KEY');
      const delivered = await t.api('POST', `/v1/webhooks/${good.body.id}/test`, { body: {} });
      expect(delivered.body).toMatchObject({ responseStatus: 200, errorClass: null });
      expect(mtls.received).toEqual([{ authorized: true, subject: 'waybill-client' }]);

      const stranger = await t.api('POST', '/v1/webhooks', {
        body: {
          name: 'stranger',
          url: mtls.url,
          eventTypes: ['webhook.test'],
          tls: {
            clientCertificatePem: pki.strangerClient.certPem,
            clientKeyPem: pki.strangerClient.keyPem,
            caPem: pki.ca.certPem,
          },
        },
      });
      const refused = await t.api('POST', `/v1/webhooks/${stranger.body.id}/test`, { body: {} });
      expect(refused.body.errorClass).toBe('tls');
      expect(refused.body.errorMessage).toMatch(/alert|certificate/i);

      const none = await t.api('POST', '/v1/webhooks', {
        body: { name: 'no client cert', url: mtls.url, eventTypes: ['webhook.test'] },
      });
      const untrusted = await t.api('POST', `/v1/webhooks/${none.body.id}/test`, { body: {} });
      expect(untrusted.body.errorClass).toBe('tls');
      expect(mtls.received).toHaveLength(1);

      const mismatched = await t.api('POST', '/v1/webhooks', {
        body: {
          name: 'x',
          url: mtls.url,
          eventTypes: ['*'],
          tls: { clientCertificatePem: pki.client.certPem, clientKeyPem: pki.strangerClient.keyPem },
        },
      });
      expect(mismatched.status).toBe(400);
      expect(mismatched.body.errors).toEqual([
        { field: 'tls.clientKeyPem', message: 'does not belong to the client certificate' },
      ]);
      const removed = await t.api('PATCH', `/v1/webhooks/${good.body.id}`, { body: { tls: null } });
      expect(removed.body.tls).toBeNull();
    } finally {
      await mtls.close();
    }
  });

  it('the connection check names the failing step: DNS, refused port, bad certificate, rejected client secret', async () => {
    const mtls = await startMtlsReceiver(pki);
    const selfSigned = await startMtlsReceiver(pki, pki.selfSigned);
    const refusedPort = await (async () => {
      const r = await startReceiver();
      const url = r.url;
      await r.close();
      return url;
    })();
    try {
      const tls = { clientCertificatePem: pki.client.certPem, clientKeyPem: pki.client.keyPem, caPem: pki.ca.certPem };
      const check = async (body: Record<string, unknown>) => {
        const created = await t.api('POST', '/v1/webhooks', { body: { name: 'check', eventTypes: ['*'], ...body } });
        expect(created.status, JSON.stringify(created.body)).toBe(201);
        const answer = await t.api('POST', `/v1/webhooks/${created.body.id}/check`);
        expect(answer.status).toBe(200);
        await t.api('DELETE', `/v1/webhooks/${created.body.id}`);
        return answer.body as { ok: boolean; steps: Array<{ name: string; ok: boolean; error?: string }> };
      };
      const auth = {
        type: 'oauth2ClientCredentials',
        tokenUrl: tokens.url,
        clientId: 'waybill',
        clientSecret: CLIENT_SECRET,
      };
      const before = erp.requests.length;

      const good = await check({ url: mtls.url.replace('127.0.0.1', 'localhost'), tls, auth });
      expect(good).toEqual({
        ok: true,
        steps: [
          { name: 'resolve', ok: true },
          { name: 'guard', ok: true },
          { name: 'connect', ok: true },
          { name: 'tls', ok: true },
          { name: 'token', ok: true },
        ],
      });

      const dns = await check({ url: 'https://nowhere.invalid/hook' });
      expect(dns.ok).toBe(false);
      expect(dns.steps).toEqual([
        { name: 'resolve', ok: false, error: 'nowhere.invalid does not resolve (ENOTFOUND)' },
      ]);

      const refused = await check({ url: refusedPort });
      expect(refused.steps.map((s) => [s.name, s.ok])).toEqual([
        ['resolve', true],
        ['guard', true],
        ['connect', false],
      ]);
      expect(refused.steps[2].error).toMatch(/refused the connection/);

      const badCertificate = await check({ url: selfSigned.url, tls });
      expect(badCertificate.steps.at(-1)).toMatchObject({ name: 'tls', ok: false });
      expect(badCertificate.steps.at(-1)!.error).toMatch(/self.signed/i);

      const noClientCertificate = await check({
        url: mtls.url,
        tls: { ...tls, clientCertificatePem: pki.strangerClient.certPem, clientKeyPem: pki.strangerClient.keyPem },
      });
      expect(noClientCertificate.steps.at(-1)).toMatchObject({ name: 'tls', ok: false });
      expect(noClientCertificate.steps.at(-1)!.error).toMatch(/alert|certificate/i);

      const rejectedSecret = await check({ url: erp.url, auth: { ...auth, clientSecret: 'not-the-secret' } });
      expect(rejectedSecret.ok).toBe(false);
      expect(rejectedSecret.steps.at(-1)).toEqual({
        name: 'token',
        ok: false,
        error: 'the token endpoint answered 401 invalid_client: client authentication failed',
      });
      expect(erp.requests.length).toBe(before);
    } finally {
      await mtls.close();
      await selfSigned.close();
    }
  });
});
