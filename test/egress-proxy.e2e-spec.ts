import http from 'node:http';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { createProxy, type ProxyServer } from 'proxy';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RESOLVER, type ResolvedAddress } from '../src/webhooks/transport/url-guard.js';
import { makeTestPki, type TestPki } from './support/certificates.js';
import { orderBody } from './support/fixtures.js';
import { TokenServer } from './support/oauth-server.js';
import { eventually, type Receiver, startReceiver } from './support/receiver.js';
import { createTestApp, type TestApp } from './support/test-app.js';

const PROXY_USER = 'waybill';
const PROXY_PASSWORD = 'egress-s3cret';

/** A real forward proxy (the `proxy` package) on loopback that asks for Basic credentials and notes every tunnel. */
async function startForwardProxy() {
  const connects: string[] = [];
  const plainRequests: string[] = [];
  const server: ProxyServer = createProxy(http.createServer());
  const expected = `Basic ${Buffer.from(`${PROXY_USER}:${PROXY_PASSWORD}`).toString('base64')}`;
  server.authenticate = (req) => req.headers['proxy-authorization'] === expected;
  server.on('connect', (req: http.IncomingMessage) => connects.push(req.url ?? ''));
  server.on('request', (req: http.IncomingMessage) => plainRequests.push(req.url ?? ''));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    connects,
    plainRequests,
    url: (password = PROXY_PASSWORD) => `http://${PROXY_USER}:${password}@127.0.0.1:${port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** An HTTPS ERP on loopback that requires a client certificate from its CA and notes the SNI it was asked for. */
async function startMtlsErp(pki: TestPki) {
  const received: Array<{ authorized: boolean; subject: string | undefined; servername: string | false | null }> = [];
  const server = https.createServer(
    {
      cert: pki.server.certPem,
      key: pki.server.keyPem,
      ca: pki.ca.certPem,
      requestCert: true,
      rejectUnauthorized: true,
    },
    (req, res) => {
      const socket = req.socket as TLSSocket;
      received.push({
        authorized: socket.authorized,
        subject: socket.getPeerCertificate()?.subject?.CN as string | undefined,
        servername: socket.servername,
      });
      req.resume();
      req.on('end', () => res.writeHead(200).end('ok'));
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    received,
    port,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const dns = new Map<string, ResolvedAddress[]>();
const resolver = async (host: string): Promise<ResolvedAddress[]> => {
  const answer = dns.get(host);
  if (!answer) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
  return answer;
};
const LOOPBACK: ResolvedAddress[] = [{ address: '127.0.0.1', family: 4 }];

describe('static egress: every request leaves through WEBHOOK_EGRESS_PROXY', () => {
  let proxy: Awaited<ReturnType<typeof startForwardProxy>>;
  let t: TestApp;
  let erp: Receiver;
  let pki: TestPki;

  beforeAll(async () => {
    dns.set('erp.test', LOOPBACK);
    dns.set('localhost', LOOPBACK);
    pki = makeTestPki();
    proxy = await startForwardProxy();
    erp = await startReceiver();
    // The receivers are on loopback, so this app lifts the address guard; the suite below keeps it.
    t = await createTestApp({
      env: { WEBHOOK_EGRESS_PROXY: proxy.url(), WEBHOOK_RETRY_SCHEDULE: 'none' },
      overrides: [{ provide: RESOLVER, useValue: resolver }],
    });
  });
  afterAll(async () => {
    await t?.close();
    await erp?.close();
    await proxy?.close();
  });

  it('a push tunnels to the address the guard checked, with the receiver’s name as Host, and arrives verified', async () => {
    const port = new URL(erp.url).port;
    const hook = (
      await t.api('POST', '/v1/webhooks', {
        body: { name: 'via proxy', url: `http://erp.test:${port}/in`, eventTypes: ['order.created'] },
      })
    ).body;
    await t.api('POST', '/v1/orders', { body: orderBody() });
    const [request] = await erp.waitForRequests(1);
    expect(request.headers.host).toBe(`erp.test:${port}`);
    const event = new StandardWebhook(hook.secret).verify(request.body, request.headers as Record<string, string>);
    expect(event).toMatchObject({ type: 'order.created' });
    expect(proxy.connects).toContain(`127.0.0.1:${port}`);
    expect(proxy.connects.some((target) => target.includes('erp.test'))).toBe(false);
    expect(proxy.plainRequests).toEqual([]);
  });

  it('mutual TLS runs end to end through the tunnel: the ERP sees the client certificate and its own name as SNI', async () => {
    const mtls = await startMtlsErp(pki);
    try {
      const created = await t.api('POST', '/v1/webhooks', {
        body: {
          name: 'mtls via proxy',
          url: `https://localhost:${mtls.port}/inbound`,
          eventTypes: ['order.created'],
          tls: { clientCertificatePem: pki.client.certPem, clientKeyPem: pki.client.keyPem, caPem: pki.ca.certPem },
        },
      });
      expect(created.status).toBe(201);
      await t.api('POST', '/v1/orders', { body: orderBody() });
      await eventually(() => mtls.received.length > 0);
      expect(mtls.received[0]).toEqual({ authorized: true, subject: 'waybill-client', servername: 'localhost' });
      expect(proxy.connects).toContain(`127.0.0.1:${mtls.port}`);
      await t.api('DELETE', `/v1/webhooks/${created.body.id}`);
    } finally {
      await mtls.close();
    }
  });

  it('token requests and the connection check go through it too', async () => {
    const tokens = await new TokenServer({ waybill: 'client-secret-0001' }).start();
    try {
      const tokenPort = new URL(tokens.url).port;
      const erpPort = new URL(erp.url).port;
      const created = await t.api('POST', '/v1/webhooks', {
        body: {
          name: 'oauth via proxy',
          url: `http://erp.test:${erpPort}/oauth`,
          eventTypes: ['order.created'],
          auth: {
            type: 'oauth2ClientCredentials',
            tokenUrl: `http://erp.test:${tokenPort}/oauth2/token`,
            clientId: 'waybill',
            clientSecret: 'client-secret-0001',
          },
        },
      });
      expect(created.status).toBe(201);
      const tunnelsBefore = proxy.connects.length;
      const check = await t.api('POST', `/v1/webhooks/${created.body.id}/check`);
      expect(check.body).toEqual({
        ok: true,
        steps: [
          { name: 'resolve', ok: true },
          { name: 'guard', ok: true },
          { name: 'connect', ok: true },
          { name: 'token', ok: true },
        ],
      });
      const tunnels = proxy.connects.slice(tunnelsBefore);
      expect(tunnels).toContain(`127.0.0.1:${erpPort}`);
      expect(tunnels).toContain(`127.0.0.1:${tokenPort}`);
      expect(tokens.requests).toHaveLength(1);
      await t.api('DELETE', `/v1/webhooks/${created.body.id}`);
    } finally {
      await tokens.close();
    }
  });

  it('a proxy that refuses the tunnel fails the attempt saying so', async () => {
    const refusing = await createTestApp({
      env: { WEBHOOK_EGRESS_PROXY: proxy.url('wrong-password'), WEBHOOK_RETRY_SCHEDULE: 'none' },
      overrides: [{ provide: RESOLVER, useValue: resolver }],
    });
    try {
      const port = new URL(erp.url).port;
      const before = erp.requests.length;
      const hook = (
        await refusing.api('POST', '/v1/webhooks', {
          body: { name: 'x', url: `http://erp.test:${port}/in`, eventTypes: ['order.created'] },
        })
      ).body;
      await refusing.api('POST', '/v1/orders', { body: orderBody() });
      const [delivery] = await eventually(async () => {
        const list = (await refusing.api('GET', `/v1/deliveries?webhookId=${hook.id}`)).body.data;
        return list[0]?.status === 'failed' ? list : undefined;
      });
      const [attempt] = (await refusing.api('GET', `/v1/deliveries/${delivery.id}`)).body.attempts;
      expect(attempt.errorClass).toBe('network');
      expect(attempt.reason).toBe(
        `the egress proxy answered 407 to CONNECT 127.0.0.1:${port} (check the credentials in WEBHOOK_EGRESS_PROXY)`,
      );
      expect(erp.requests.length).toBe(before);
    } finally {
      await refusing.close();
    }
  });
});

describe('static egress: tenants never see the operator’s proxy address', () => {
  it('an unreachable proxy fails the attempt and the connection check saying "the egress proxy", without its host and port', async () => {
    // A port nothing listens on: the proxy refuses every connection.
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const proxyPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    dns.set('erp.test', LOOPBACK);
    const t = await createTestApp({
      env: { WEBHOOK_EGRESS_PROXY: `http://egress:s3cret@127.0.0.1:${proxyPort}`, WEBHOOK_RETRY_SCHEDULE: 'none' },
      overrides: [{ provide: RESOLVER, useValue: resolver }],
    });
    try {
      const hook = (
        await t.api('POST', '/v1/webhooks', {
          body: { name: 'x', url: 'http://erp.test:9/in', eventTypes: ['order.created'] },
        })
      ).body;
      await t.api('POST', '/v1/orders', { body: orderBody() });
      const [delivery] = await eventually(async () => {
        const list = (await t.api('GET', `/v1/deliveries?webhookId=${hook.id}`)).body.data;
        return list[0]?.status === 'failed' ? list : undefined;
      });
      const detail = (await t.api('GET', `/v1/deliveries/${delivery.id}`)).body;
      const [attempt] = detail.attempts;
      expect(attempt).toMatchObject({
        errorClass: 'connection_refused',
        errorMessage: 'the egress proxy refused the connection',
        reason: 'the egress proxy refused the connection',
      });
      const check = (await t.api('POST', `/v1/webhooks/${hook.id}/check`)).body;
      expect(check.steps.at(-1)).toEqual({
        name: 'connect',
        ok: false,
        error: 'the egress proxy refused the connection',
      });
      const shown = JSON.stringify([detail, check, (await t.api('GET', `/v1/webhooks/${hook.id}`)).body]);
      expect(shown).not.toContain(String(proxyPort));
      expect(shown).not.toContain('s3cret');
    } finally {
      await t.close();
    }
  });
});

describe('static egress: the address guard still decides before the proxy is asked', () => {
  let proxy: Awaited<ReturnType<typeof startForwardProxy>>;
  let t: TestApp;
  let erp: Receiver;

  beforeAll(async () => {
    proxy = await startForwardProxy();
    erp = await startReceiver();
    t = await createTestApp({
      env: { WEBHOOK_EGRESS_PROXY: proxy.url(), WEBHOOK_ALLOW_PRIVATE: 'false', WEBHOOK_RETRY_SCHEDULE: 'none' },
      overrides: [{ provide: RESOLVER, useValue: resolver }],
    });
  });
  afterAll(async () => {
    await t?.close();
    await erp?.close();
    await proxy?.close();
  });

  it('a name that resolves to a private or loopback address at send time is refused (blocked_address) and never reaches the proxy', async () => {
    const port = new URL(erp.url).port;
    // Public when the subscriptions are made (nothing connects then) ...
    dns.set('rebind.example.com', [{ address: '93.184.216.34', family: 4 }]);
    dns.set('inside.example.com', [{ address: '93.184.216.35', family: 4 }]);
    const hooks = [];
    for (const host of ['rebind.example.com', 'inside.example.com']) {
      const created = await t.api('POST', '/v1/webhooks', {
        body: { name: host, url: `http://${host}:${port}/in`, eventTypes: ['order.created'] },
      });
      expect(created.status).toBe(201);
      hooks.push(created.body);
    }
    // ... loopback and a private network address when the pushes go.
    dns.set('rebind.example.com', LOOPBACK);
    dns.set('inside.example.com', [{ address: '10.20.30.40', family: 4 }]);
    await t.api('POST', '/v1/orders', { body: orderBody() });
    for (const hook of hooks) {
      const [delivery] = await eventually(async () => {
        const list = (await t.api('GET', `/v1/deliveries?webhookId=${hook.id}`)).body.data;
        return list[0]?.status === 'failed' ? list : undefined;
      });
      const { attempts } = (await t.api('GET', `/v1/deliveries/${delivery.id}`)).body;
      expect(attempts.map((a: { errorClass: string }) => a.errorClass)).toEqual(['blocked_address']);
      expect(attempts[0].reason).toMatch(/is not a public address/);
    }
    const check = await t.api('POST', `/v1/webhooks/${hooks[1].id}/check`);
    expect(check.body.steps.at(-1)).toEqual({
      name: 'guard',
      ok: false,
      error: 'inside.example.com is at 10.20.30.40, which is not a public address',
    });
    expect(proxy.connects).toEqual([]);
    expect(erp.requests).toHaveLength(0);
  });
});

describe('static egress: the subscription’s timeout bounds an attempt through the proxy', () => {
  /** A proxy that takes the connection and never answers the CONNECT. */
  const held: net.Socket[] = [];
  const silent = net.createServer((socket) => {
    held.push(socket);
    socket.on('error', () => undefined);
  });
  let t: TestApp;

  beforeAll(async () => {
    dns.set('erp.test', LOOPBACK);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    t = await createTestApp({
      env: {
        WEBHOOK_EGRESS_PROXY: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`,
        WEBHOOK_RETRY_SCHEDULE: 'none',
      },
      overrides: [{ provide: RESOLVER, useValue: resolver }],
    });
  });
  afterAll(async () => {
    for (const socket of held) socket.destroy();
    await t?.close();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  });

  it('a proxy that never answers the CONNECT ends the attempt at timeoutMs as a timeout, not at the connect timeout', async () => {
    const hook = (
      await t.api('POST', '/v1/webhooks', {
        body: { name: 'slow proxy', url: 'http://erp.test:9/in', eventTypes: ['order.created'], timeoutMs: 300 },
      })
    ).body;
    await t.api('POST', '/v1/orders', { body: orderBody() });
    const [delivery] = await eventually(
      async () => {
        const list = (await t.api('GET', `/v1/deliveries?webhookId=${hook.id}`)).body.data;
        return list[0]?.status === 'failed' ? list : undefined;
      },
      30_000,
      'the failed attempt',
    );
    expect(held.length).toBeGreaterThan(0);
    const [attempt] = (await t.api('GET', `/v1/deliveries/${delivery.id}`)).body.attempts;
    expect(attempt.errorClass).toBe('timeout');
    // Ended by its own deadline, not by the egress connect timeout (10 s, which it used to wait out
    // whatever timeoutMs said): the bound here is that timeout, not a measure of speed.
    expect(attempt.durationMs).toBeLessThan(10_000);
  });
});
