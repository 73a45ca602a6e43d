import pg from 'pg';
import type { Browser, BrowserContext, BrowserContextOptions, Locator, Page } from 'playwright-core';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashApiKey } from '../../src/tenancy/api-key-secret.js';
import {
  type AxeViolation,
  findChromium,
  formatViolations,
  horizontalOverflow,
  launchChromium,
  RequestRecorder,
  screenshot,
  seriousA11yViolations,
} from '../support/browser.js';
import { orderBody } from '../support/fixtures.js';
import { eventually, type Receiver, startReceiver } from '../support/receiver.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

/**
 * The Integrations settings screen (/settings), driven in Chromium against the real service and a
 * loopback receiver. Selectors follow the UI contract: roles, labels, and the few test ids it names.
 */
const chromium = findChromium();
const skipReason = 'missing' in chromium ? chromium.missing : undefined;
if (skipReason) process.stdout.write(`${skipReason}\n`);

const LAPTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
/** Every page the accessibility check must have seen. */
const AXE_PAGES = [
  'sign-in',
  'endpoints list',
  'endpoint form',
  'endpoint form with windows',
  'endpoint detail',
  'delivery detail',
  'event catalog',
  'endpoints list (dark)',
  'endpoints list with health banners',
];

describe.skipIf(skipReason !== undefined)('the Integrations settings screen in Chromium', { timeout: 60_000 }, () => {
  let t: TestApp;
  let receiver: Receiver;
  let browser: Browser;
  let context: BrowserContext;
  let db: pg.Client;
  const recorder = new RequestRecorder();
  const axeResults = new Map<string, AxeViolation[]>();
  const contexts: BrowserContext[] = [];
  /** Made through the API so the list has a row from the start. */
  const seed = { id: '', name: 'ERP seed' };
  /** The endpoint the form creates (later scenarios fall back to one made through the API). */
  let endpoint: { id: string; name: string; secret: string } | undefined;

  beforeAll(async () => {
    [t, receiver] = await Promise.all([
      createTestApp({ env: { WEBHOOK_RETRY_SCHEDULE: '200ms,200ms', WEBHOOK_SWEEP_INTERVAL_MS: '50' } }),
      startReceiver(),
    ]);
    const page = await fetch(`${t.baseUrl}/settings`);
    if (page.status !== 200)
      throw new Error(
        `GET /settings answered ${page.status}: ${(await page.text()).trim()} (the browser suite needs dist/settings from npm run build)`,
      );
    db = new pg.Client({ connectionString: t.databaseUrl });
    await db.connect();
    const created = await t.api('POST', '/v1/webhooks', {
      body: { name: seed.name, url: `${receiver.url}/seed`, eventTypes: ['shipment.delivered'] },
    });
    expect(created.status).toBe(201);
    seed.id = created.body.id;
    browser = await launchChromium((chromium as { path: string }).path);
    context = await newContext();
  }, 60_000);

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await db?.end();
    try {
      await receiver?.close();
    } finally {
      await t?.close();
    }
  });

  // ---- helpers -------------------------------------------------------------------------------

  async function newContext(options: BrowserContextOptions = {}): Promise<BrowserContext> {
    const c = await browser.newContext({ viewport: LAPTOP, ...options });
    c.setDefaultTimeout(10_000);
    c.setDefaultNavigationTimeout(15_000);
    await c.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: t.baseUrl });
    recorder.attach(c);
    // A confirm() before a destructive action is fine: accept it.
    c.on('page', (page) => page.on('dialog', (dialog) => void dialog.accept()));
    contexts.push(c);
    return c;
  }

  const settingsUrl = (suffix = '') => `${t.baseUrl}/settings${suffix}`;

  async function signIn(page: Page, key = t.tenant.key): Promise<void> {
    await page.goto(settingsUrl());
    await page.getByLabel('API key').fill(key);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Endpoints', exact: true }).waitFor();
  }

  async function openSignedIn(c = context): Promise<Page> {
    const page = await c.newPage();
    await signIn(page);
    return page;
  }

  async function openEndpoint(page: Page, id: string, name: string): Promise<void> {
    await page.goto(settingsUrl(`#/endpoints/${id}`));
    await page.getByRole('heading', { name, exact: true }).waitFor();
  }

  /** A portal link from the API, pointed at this service (PUBLIC_URL is the default localhost:3000). */
  async function portalLink(body: Record<string, unknown> = {}): Promise<{ url: string; code: string }> {
    const answer = await t.api('POST', '/v1/portal-sessions', { body });
    expect(answer.status).toBe(201);
    const link = new URL(answer.body.url as string);
    return { url: `${t.baseUrl}${link.pathname}${link.search}${link.hash}`, code: link.searchParams.get('portal')! };
  }

  async function sessionOf(page: Page): Promise<{ token: string; readOnly: boolean; kind: string }> {
    const raw = (await page.evaluate(`sessionStorage.getItem('waybill.session')`)) as string | null;
    expect(raw, 'sessionStorage waybill.session').toBeTruthy();
    return JSON.parse(raw!);
  }

  /** Text of a locator, '' while it is absent (for expect.poll). */
  async function textOf(locator: Locator): Promise<string> {
    return (await locator.count()) ? (await locator.innerText()).trim() : '';
  }

  async function pollText(locator: Locator, pattern: RegExp, timeout = 10_000): Promise<string> {
    await expect.poll(() => textOf(locator), { timeout, interval: 100 }).toMatch(pattern);
    return textOf(locator);
  }

  async function clipboard(page: Page): Promise<string> {
    await page.bringToFront();
    return (await page.evaluate('navigator.clipboard.readText()')) as string;
  }

  /** Accessibility check and laptop screenshot of what the page shows now. */
  async function audit(page: Page, name: string): Promise<void> {
    axeResults.set(name, await seriousA11yViolations(page));
    await screenshot(page, name.replace(/ /g, '-'));
  }

  /** The endpoint made through the form, or (when that scenario failed) one made through the API. */
  async function theEndpoint(): Promise<{ id: string; name: string; secret: string }> {
    if (endpoint) return endpoint;
    const body = {
      name: 'Warehouse ERP',
      url: `${receiver.url}/erp`,
      eventTypes: ['order.created', 'order.status_changed'],
    };
    const created = await t.api('POST', '/v1/webhooks', { body });
    expect(created.status).toBe(201);
    endpoint = { id: created.body.id, name: body.name, secret: created.body.secret };
    return endpoint;
  }

  const apiSecret = async (id: string) => (await t.api('GET', `/v1/webhooks/${id}/secret`)).body.secret as string;

  // ---- scenarios -----------------------------------------------------------------------------

  it('sign-in: a wrong key shows a clear error; the tenant key opens the endpoints list', async () => {
    const page = await context.newPage();
    await page.goto(settingsUrl());
    await page.getByRole('heading', { name: 'Sign in to Integrations' }).waitFor();
    await audit(page, 'sign-in');

    await page.getByLabel('API key').fill('wb_this-key-does-not-exist');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await pollText(page.getByRole('alert').filter({ hasText: 'not valid' }), /not valid/);
    // One clear message: not a second alert beside it.
    expect(await page.getByRole('alert').allInnerTexts()).toHaveLength(1);
    expect(await page.getByRole('heading', { name: 'Endpoints', exact: true }).count()).toBe(0);

    await page.getByLabel('API key').fill(t.tenant.key);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Endpoints', exact: true }).waitFor();
    expect(page.url()).not.toContain(t.tenant.key);
    // The key was exchanged for a session token: the browser keeps only that.
    expect(await page.evaluate(`JSON.stringify(sessionStorage) + JSON.stringify(localStorage)`)).not.toContain(
      t.tenant.key,
    );
    const keySession = await sessionOf(page);
    expect(keySession).toMatchObject({ readOnly: false, token: expect.stringMatching(/^wbs_/) });
    expect((await t.api('GET', '/v1/webhooks', { key: keySession.token })).status).toBe(200);
    await page.getByRole('link', { name: 'Endpoints', exact: true }).waitFor();
    await page.getByRole('link', { name: 'Event catalog', exact: true }).waitFor();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    await page.getByRole('link', { name: 'Add endpoint' }).waitFor();

    const row = page.getByRole('row').filter({ has: page.getByRole('link', { name: seed.name, exact: true }) });
    await row.waitFor();
    expect(await row.innerText()).toContain('Healthy');
    expect(await row.getByRole('switch', { name: `Enabled: ${seed.name}` }).isChecked()).toBe(true);
    await audit(page, 'endpoints list');

    // Signing out ends that session at once.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in to Integrations' }).waitFor();
    await expect
      .poll(async () => (await t.api('GET', '/v1/webhooks', { key: keySession.token })).status, { timeout: 5_000 })
      .toBe(401);
    await page.close();
  });

  it('portal link: signs in without a key, leaves no portal= in the URL, and works only once', async () => {
    const link = await portalLink();
    const page = await context.newPage();
    await page.goto(link.url);
    await page.getByRole('heading', { name: 'Endpoints', exact: true }).waitFor();
    await page.getByRole('link', { name: seed.name, exact: true }).waitFor();
    await expect.poll(() => page.url(), { timeout: 5_000 }).not.toContain('portal=');
    expect(page.url()).not.toContain(link.code);
    expect(await page.getByLabel('API key').count()).toBe(0);
    expect(await sessionOf(page)).toMatchObject({ readOnly: false, token: expect.stringMatching(/^wbs_/) });

    // The same link again, in a fresh tab (no session of its own): refused.
    const again = await (await newContext()).newPage();
    await again.goto(link.url);
    await pollText(
      again.getByRole('alert').filter({ hasText: 'expired or was already used' }),
      /expired or was already used/,
    );
    expect(await again.getByRole('heading', { name: 'Endpoints', exact: true }).count()).toBe(0);

    // An expired link: refused the same way.
    const expired = await portalLink();
    const updated = await db.query(
      `UPDATE portal_session SET expires_at = now() - interval '1 second' WHERE link_hash = $1`,
      [hashApiKey(expired.code)],
    );
    expect(updated.rowCount).toBe(1);
    const late = await context.newPage();
    await late.goto(expired.url);
    await pollText(
      late.getByRole('alert').filter({ hasText: 'expired or was already used' }),
      /expired or was already used/,
    );
    expect(await late.getByRole('heading', { name: 'Endpoints', exact: true }).count()).toBe(0);
    await Promise.all([page.close(), again.close(), late.close()]);
  });

  it('portal session: "Sign out" ends it (the token answers 401) and returns to sign-in', async () => {
    const page = await context.newPage();
    await page.goto((await portalLink()).url);
    await page.getByRole('heading', { name: 'Endpoints', exact: true }).waitFor();
    const { token } = await sessionOf(page);
    expect((await t.api('GET', '/v1/webhooks', { key: token })).status).toBe(200);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in to Integrations' }).waitFor();
    expect(await page.evaluate(`sessionStorage.getItem('waybill.session')`)).toBeNull();
    await expect
      .poll(async () => (await t.api('GET', '/v1/webhooks', { key: token })).status, { timeout: 5_000 })
      .toBe(401);
    await page.close();
  });

  it('read-only session: sees endpoints with a "Read-only" badge and no way to change them; the API refuses its token for writes', async () => {
    const page = await context.newPage();
    await page.goto((await portalLink({ readOnly: true })).url);
    await page.getByRole('heading', { name: 'Endpoints', exact: true }).waitFor();
    await page.getByRole('link', { name: seed.name, exact: true }).waitFor();
    await page.getByText('Read-only', { exact: true }).waitFor();
    expect(await page.getByRole('link', { name: 'Add endpoint' }).count()).toBe(0);
    const listSwitch = page.getByRole('switch', { name: `Enabled: ${seed.name}` });
    expect(await listSwitch.isDisabled()).toBe(true);

    await page.getByRole('link', { name: seed.name, exact: true }).click();
    await page.getByRole('heading', { name: seed.name, exact: true }).waitFor();
    expect(await page.getByRole('switch', { name: 'Enabled', exact: true }).isDisabled()).toBe(true);
    expect(await page.getByRole('button', { name: 'Reveal secret' }).count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Rotate secret' }).count()).toBe(0);
    expect(await page.getByTestId('secret').count()).toBe(0);

    const session = await sessionOf(page);
    expect(session.readOnly).toBe(true);
    expect((await t.api('GET', `/v1/webhooks/${seed.id}`, { key: session.token })).status).toBe(200);
    const write = await t.api('PATCH', `/v1/webhooks/${seed.id}`, { key: session.token, body: { enabled: false } });
    expect(write.status).toBe(403);
    expect(
      (await t.api('POST', `/v1/webhooks/${seed.id}/rotate-secret`, { key: session.token, body: {} })).status,
    ).toBe(403);
    expect((await t.api('GET', `/v1/webhooks/${seed.id}`)).body.enabled).toBe(true);
    await page.close();
  });

  it('creates an endpoint through the form: field error first, then the secret once, copied to the clipboard', async () => {
    const page = await openSignedIn();
    const before = (await t.api('GET', '/v1/webhooks')).body.data.length as number;
    await page.getByRole('link', { name: 'Add endpoint' }).click();
    await page.getByRole('heading', { name: 'Add endpoint' }).waitFor();
    expect(new URL(page.url()).hash).toBe('#/endpoints/new');
    await page.getByLabel('order.created', { exact: true }).waitFor();
    await audit(page, 'endpoint form');

    const name = 'Warehouse ERP';
    await page.getByLabel('Name', { exact: true }).fill(name);
    await page.getByLabel('URL', { exact: true }).fill('ftp://x');
    await page.getByLabel('order.created', { exact: true }).check();
    await page.getByLabel('order.status_changed', { exact: true }).check();
    await page.getByRole('button', { name: 'Create endpoint' }).click();
    const urlError = page.locator('#field-error-url');
    await pollText(urlError, /\S/);
    expect(await page.getByLabel('URL', { exact: true }).getAttribute('aria-invalid')).toBe('true');
    expect(await page.getByRole('heading', { name: 'Add endpoint' }).count()).toBe(1);
    expect((await t.api('GET', '/v1/webhooks')).body.data.length).toBe(before);

    await page.getByLabel('URL', { exact: true }).fill(`${receiver.url}/erp`);
    await page.getByRole('button', { name: 'Create endpoint' }).click();
    await page
      .getByText(/copy it now/)
      .first()
      .waitFor();
    const secret = await pollText(page.getByTestId('secret'), /^whsec_[A-Za-z0-9+/=]+$/);
    const endpointIdInUrl = () => /^#\/endpoints\/([^/]+)$/.exec(new URL(page.url()).hash)?.[1] ?? '';
    await expect.poll(endpointIdInUrl, { timeout: 5_000 }).not.toMatch(/^(|new)$/);
    const id = endpointIdInUrl();
    await page.getByRole('heading', { name, exact: true }).waitFor();

    const stored = await t.api('GET', `/v1/webhooks/${id}`);
    expect(stored.status).toBe(200);
    expect(stored.body).toMatchObject({ name, url: `${receiver.url}/erp`, enabled: true });
    expect([...stored.body.eventTypes].sort()).toEqual(['order.created', 'order.status_changed']);
    expect(await apiSecret(id)).toBe(secret);
    endpoint = { id, name, secret };

    await page.getByRole('button', { name: 'Copy secret' }).click();
    await page.getByText('Copied').first().waitFor();
    expect(await clipboard(page)).toBe(secret);
    await page.close();
  });

  it('sends a test event from the detail page: the receiver gets it and the result says Delivered, HTTP 200', async () => {
    const { id, name } = await theEndpoint();
    const page = await openSignedIn();
    await openEndpoint(page, id, name);
    await page.getByRole('button', { name: 'Send test event' }).waitFor();
    await audit(page, 'endpoint detail');

    const type = await page.getByLabel('Test event type').inputValue();
    const before = receiver.requests.length;
    receiver.replyWith({ status: 200, body: 'test-ack-7731' });
    await page.getByRole('button', { name: 'Send test event' }).click();
    const result = await pollText(page.getByTestId('test-result'), /Delivered/, 15_000);
    expect(result).toContain('HTTP 200');
    expect(result).toContain('test-ack-7731');
    const [request] = (await receiver.waitForRequests(before + 1)).slice(before);
    expect(request.path).toBe('/erp');
    expect(request.headers['webhook-id']).toBeTruthy();
    if (type) expect(JSON.parse(request.body).type).toBe(type);
    // The delivery log shows the test delivery without a Refresh.
    const log = page.getByRole('region', { name: 'Delivery log' });
    await expect
      .poll(() => log.getByRole('link', { name: type || 'webhook.test', exact: true }).count(), { timeout: 10_000 })
      .toBeGreaterThan(0);
    await page.close();
  });

  it('delivery log: a failing delivery appears after Refresh with the receiver’s answer; Redeliver makes it delivered', async () => {
    const { id, name } = await theEndpoint();
    const page = await openSignedIn();
    const logLoaded = () =>
      page.waitForResponse((r) => r.url().startsWith(`${t.baseUrl}/v1/deliveries?`) && r.request().method() === 'GET');
    const firstLoad = logLoaded();
    await openEndpoint(page, id, name);
    await firstLoad;

    const refusal = 'ERP rejected the push: warehouse closed (E-4711)';
    receiver.always({ status: 500, body: refusal });
    const order = await t.api('POST', '/v1/orders', { body: orderBody() });
    expect(order.status).toBe(201);
    const failed = await eventually(
      async () => {
        const list = (await t.api('GET', `/v1/deliveries?webhookId=${id}&eventType=order.created`)).body.data as Array<{
          id: string;
          status: string;
        }>;
        return list.find((d) => d.status === 'failed');
      },
      15_000,
      'the order.created delivery to fail',
    );
    const delivery = (await t.api('GET', `/v1/deliveries/${failed.id}`)).body;
    expect(delivery.attempts.length).toBeGreaterThanOrEqual(2);

    const link = page
      .getByRole('link', { name: 'order.created', exact: true })
      .and(page.locator(`[href$="/deliveries/${failed.id}"]`));
    await Promise.all([logLoaded(), page.getByRole('button', { name: 'Refresh' }).click()]);
    await link.waitFor();
    await pollText(page.getByRole('row').filter({ has: link }), /\bfailed\b/, 3_000);
    // The filters ask the API again: a status or type that does not match hides the row.
    const byStatus = page.getByLabel('Filter by status');
    await Promise.all([logLoaded(), byStatus.selectOption('delivered')]);
    await link.waitFor({ state: 'detached' });
    await Promise.all([logLoaded(), byStatus.selectOption('failed')]);
    await link.waitFor();
    const byType = page.getByLabel('Filter by event type');
    await Promise.all([logLoaded(), byType.selectOption('order.status_changed')]);
    await link.waitFor({ state: 'detached' });
    await Promise.all([logLoaded(), byType.selectOption('order.created')]);
    await link.waitFor();

    await link.click();
    await page.getByRole('heading', { name: 'Delivery', exact: true }).waitFor();
    expect(new URL(page.url()).hash).toBe(`#/deliveries/${failed.id}`);
    expect(await pollText(page.getByTestId('delivery-status'), /\S/)).toContain('failed');
    expect(await page.getByRole('heading', { name: /^Attempt \d+$/ }).count()).toBe(delivery.attempts.length);
    for (const attempt of delivery.attempts as Array<{ number: number }>) {
      // The innermost <article> holding the attempt's heading (the page itself may be an article too).
      const article = page
        .locator('article:not(:has(article))')
        .filter({ has: page.getByRole('heading', { name: `Attempt ${attempt.number}`, exact: true }) });
      expect(await article.count(), `attempt ${attempt.number}`).toBe(1);
      const text = await article.innerText();
      for (const label of ['Response body', 'Request headers', 'Request body'])
        expect(text, `attempt ${attempt.number}`).toContain(label);
      expect(
        await article.locator('pre', { hasText: refusal }).count(),
        `attempt ${attempt.number} shows the response body in a <pre>`,
      ).toBeGreaterThanOrEqual(1);
    }
    await audit(page, 'delivery detail');

    receiver.always({ status: 200, body: 'ok' });
    const before = receiver.requests.length;
    await page.getByRole('button', { name: 'Redeliver' }).click();
    await pollText(page.getByTestId('delivery-status'), /delivered/, 15_000);
    const after = (await t.api('GET', `/v1/deliveries/${failed.id}`)).body;
    expect(after.status).toBe('delivered');
    expect(after.attempts.length).toBe(delivery.attempts.length + 1);
    const redelivered = (await receiver.waitForRequests(before + 1)).slice(before);
    expect(redelivered.map((r) => r.headers['webhook-id'])).toContain(delivery.eventId);
    await page.close();
  });

  it('live: while the endpoint page is open, failing pushes appear in the log with their status and the health badge turns Failing, without Refresh', async () => {
    const created = await t.api('POST', '/v1/webhooks', {
      body: { name: 'ERP live', url: `${receiver.url}/live`, eventTypes: ['order.created'], retrySchedule: ['100ms'] },
    });
    expect(created.status).toBe(201);
    const page = await openSignedIn();
    await openEndpoint(page, created.body.id, 'ERP live');
    await page.getByText('No deliveries yet.').waitFor();
    expect(await textOf(page.locator('.badge-healthy'))).toBe('Healthy');
    let refreshClicks = 0;
    await page.exposeFunction('countRefresh', () => (refreshClicks += 1));
    await page.evaluate(`document.addEventListener('click', (e) => {
      if (e.target instanceof HTMLElement && e.target.closest('button')?.textContent?.trim() === 'Refresh') countRefresh();
    }, true)`);

    receiver.always((request) =>
      request.path === '/live' ? { status: 500, body: 'ERP down for the live test' } : { status: 200, body: 'ok' },
    );
    try {
      // 3 deliveries × 2 attempts: past WEBHOOK_FAILING_AFTER (5) consecutive failures.
      for (let i = 0; i < 3; i += 1)
        expect((await t.api('POST', '/v1/orders', { body: orderBody() })).status).toBe(201);
      const rows = page
        .getByRole('row')
        .filter({ has: page.getByRole('link', { name: 'order.created', exact: true }) });
      await expect.poll(async () => rows.count(), { timeout: 20_000 }).toBe(3);
      await expect
        .poll(async () => (await rows.allInnerTexts()).filter((text) => /\bfailed\b/.test(text)).length, {
          timeout: 20_000,
        })
        .toBe(3);
      expect((await rows.first().innerText()).includes('500')).toBe(true);
      await page.locator('.badge-failing').waitFor({ timeout: 20_000 });
      expect(refreshClicks).toBe(0);
    } finally {
      receiver.always({ status: 200, body: 'ok' });
      await t.api('DELETE', `/v1/webhooks/${created.body.id}`);
      await page.close();
    }
  });

  it('replays failed deliveries since a time picked in "Replay failed since"', async () => {
    const { id, name } = await theEndpoint();
    receiver.always({ status: 500, body: 'still closed' });
    const order = await t.api('POST', '/v1/orders', { body: orderBody() });
    expect(order.status).toBe(201);
    const failed = await eventually(
      async () => {
        const list = (await t.api('GET', `/v1/deliveries?webhookId=${id}&status=failed`)).body.data as Array<{
          id: string;
          eventId: string;
        }>;
        return list[0];
      },
      15_000,
      'a failed delivery to replay',
    );
    receiver.always({ status: 200, body: 'ok' });
    const page = await openSignedIn();
    await openEndpoint(page, id, name);
    // Ten minutes ago, as the browser's local time (what a datetime-local input holds).
    const since = (await page.evaluate(`(() => {
      const d = new Date(Date.now() - 600000);
      const p = (n) => String(n).padStart(2, '0');
      return d.getFullYear() + '-' + p(d.getMonth() + 1) + '-' + p(d.getDate()) + 'T' + p(d.getHours()) + ':' + p(d.getMinutes()) + ':00';
    })()`)) as string;
    await page.getByLabel('Replay failed since').fill(since);
    const before = receiver.requests.length;
    await page.getByRole('button', { name: 'Replay failed' }).click();
    await eventually(
      async () => (await t.api('GET', `/v1/deliveries/${failed.id}`)).body.status === 'delivered',
      10_000,
      'the replayed delivery to be delivered',
    );
    const sent = (await receiver.waitForRequests(before + 1)).slice(before);
    expect(sent.map((r) => r.headers['webhook-id'])).toContain(failed.eventId);
    await page.close();
  });

  it('rotates the secret (new one shown, old one expired now) and switches the endpoint off and on', async () => {
    const { id, name } = await theEndpoint();
    const page = await openSignedIn();
    await openEndpoint(page, id, name);

    const current = await apiSecret(id);
    await page.getByRole('button', { name: 'Reveal secret' }).click();
    expect(await pollText(page.getByTestId('secret'), /^whsec_/)).toBe(current);

    const expireNow = page.getByLabel('Expire the old secret now');
    if (!(await expireNow.isVisible())) await page.getByRole('button', { name: 'Rotate secret' }).click();
    await expireNow.check();
    await page.getByRole('button', { name: 'Rotate secret' }).click();
    await expect.poll(() => textOf(page.getByTestId('secret')), { timeout: 10_000 }).not.toBe(current);
    const rotated = await pollText(page.getByTestId('secret'), /^whsec_/);
    expect(rotated).not.toBe(current);
    expect(await apiSecret(id)).toBe(rotated);
    endpoint = { id, name, secret: rotated };
    // "Expire the old secret now" took: a push carries only the new signature.
    const before = receiver.requests.length;
    expect((await t.api('POST', `/v1/webhooks/${id}/test`, { body: {} })).status).toBe(200);
    const [push] = (await receiver.waitForRequests(before + 1)).slice(before);
    expect(String(push.headers['webhook-signature']).split(' ')).toHaveLength(1);
    expect(() => new StandardWebhook(rotated).verify(push.body, push.headers as Record<string, string>)).not.toThrow();

    const detailSwitch = page.getByRole('switch', { name: 'Enabled', exact: true });
    expect(await detailSwitch.isChecked()).toBe(true);
    await detailSwitch.click();
    await expect.poll(() => detailSwitch.isChecked()).toBe(false);
    await expect
      .poll(async () => (await t.api('GET', `/v1/webhooks/${id}`)).body.enabled, { timeout: 5_000 })
      .toBe(false);

    await page.getByRole('link', { name: 'Endpoints', exact: true }).click();
    const listSwitch = page.getByRole('switch', { name: `Enabled: ${name}` });
    expect(await listSwitch.isChecked()).toBe(false);
    await listSwitch.click();
    await expect.poll(() => listSwitch.isChecked()).toBe(true);
    await expect
      .poll(async () => (await t.api('GET', `/v1/webhooks/${id}`)).body.enabled, { timeout: 5_000 })
      .toBe(true);
    await page.close();
  });

  it('edits the endpoint: "Edit <name>" form, "Save changes", the new name shown and stored', async () => {
    const { id, name, secret } = await theEndpoint();
    const page = await openSignedIn();
    await openEndpoint(page, id, name);
    await page
      .getByRole('link', { name: 'Edit', exact: true })
      .or(page.getByRole('button', { name: 'Edit', exact: true }))
      .click();
    await page.getByRole('heading', { name: `Edit ${name}`, exact: true }).waitFor();
    expect(new URL(page.url()).hash).toBe(`#/endpoints/${id}/edit`);
    const nameInput = page.getByLabel('Name', { exact: true });
    await expect.poll(() => nameInput.inputValue()).toBe(name);
    expect(await page.getByLabel('order.created', { exact: true }).isChecked()).toBe(true);
    const renamed = `${name} (EU)`;
    await nameInput.fill(renamed);
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByRole('heading', { name: renamed, exact: true }).waitFor();
    const stored = (await t.api('GET', `/v1/webhooks/${id}`)).body;
    expect(stored.name).toBe(renamed);
    expect([...stored.eventTypes].sort()).toEqual(['order.created', 'order.status_changed']);
    endpoint = { id, name: renamed, secret };
    await page.close();
  });

  it('permanent statuses and maintenance windows in the form: kept by a save that does not touch them; a bad status or time is named beside its field; corrected, saved', async () => {
    const window = { days: ['sat'], start: '22:00', end: '06:00', timeZone: 'Europe/Berlin' };
    const created = (
      await t.api('POST', '/v1/webhooks', {
        body: {
          name: 'ERP batch',
          url: `${receiver.url}/batch`,
          eventTypes: ['order.created'],
          permanentStatuses: [422],
          maintenanceWindows: [window],
        },
      })
    ).body;
    const editPage = async (page: Page, name: string) => {
      await page.goto(settingsUrl(`#/endpoints/${created.id}/edit`));
      await page.getByRole('heading', { name: `Edit ${name}`, exact: true }).waitFor();
    };
    try {
      const page = await openSignedIn();
      await editPage(page, 'ERP batch');
      const statuses = page.getByLabel('Permanent statuses');
      await expect.poll(() => statuses.inputValue()).toBe('422');
      const first = page.getByRole('group', { name: 'Window 1', exact: true });
      expect(await first.getByLabel('Start').inputValue()).toBe('22:00');
      expect(await first.getByLabel('Time zone').inputValue()).toBe('Europe/Berlin');
      expect(await first.getByLabel('Sat').isChecked()).toBe(true);
      expect(await first.getByLabel('Mon').isChecked()).toBe(false);

      await page.getByLabel('Name', { exact: true }).fill('ERP batch (EU)');
      await page.getByRole('button', { name: 'Save changes' }).click();
      await page.getByRole('heading', { name: 'ERP batch (EU)', exact: true }).waitFor();
      expect((await t.api('GET', `/v1/webhooks/${created.id}`)).body).toMatchObject({
        permanentStatuses: [422],
        maintenanceWindows: [window],
      });

      await editPage(page, 'ERP batch (EU)');
      await expect.poll(() => statuses.inputValue()).toBe('422');
      await statuses.fill('400, 422, 200');
      await page.getByRole('button', { name: 'Add maintenance window' }).click();
      const second = page.getByRole('group', { name: 'Window 2', exact: true });
      await second.getByLabel('Start').fill('25:00');
      await second.getByLabel('Time zone').fill('Mars/Olympus');
      await audit(page, 'endpoint form with windows');
      await page.getByRole('button', { name: 'Save changes' }).click();
      expect(await pollText(page.locator('#field-error-permanentStatuses'), /\S/)).toContain('200');
      expect(await pollText(page.locator('#field-error-maintenanceWindows'), /\S/)).toMatch(
        /1\.start[\s\S]*1\.timeZone/,
      );
      expect(await statuses.getAttribute('aria-invalid')).toBe('true');
      expect(await second.getByLabel('Start').getAttribute('aria-invalid')).toBe('true');
      expect(await second.getByLabel('Time zone').getAttribute('aria-invalid')).toBe('true');
      expect(await second.getByLabel('End').getAttribute('aria-invalid')).toBeNull();
      expect(await first.getByLabel('Start').getAttribute('aria-invalid')).toBeNull();
      expect((await t.api('GET', `/v1/webhooks/${created.id}`)).body.permanentStatuses).toEqual([422]);

      await statuses.fill('400, 422');
      await second.getByLabel('Start').fill('01:00');
      await second.getByLabel('Time zone').fill('America/New_York');
      await first.getByLabel('Sun').check();
      await page.getByRole('button', { name: 'Save changes' }).click();
      await page.getByRole('heading', { name: 'ERP batch (EU)', exact: true }).waitFor();
      const stored = (await t.api('GET', `/v1/webhooks/${created.id}`)).body;
      expect(stored.permanentStatuses).toEqual([400, 422]);
      expect(stored.maintenanceWindows).toEqual([
        { ...window, days: ['sun', 'sat'] },
        { days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '01:00', end: '03:00', timeZone: 'America/New_York' },
      ]);
      await page.close();
    } finally {
      await t.api('DELETE', `/v1/webhooks/${created.id}`);
    }
  });

  it('ERP answers on the screen: a 422 problem+json ends the delivery with its detail as the reason; a 410 shows a banner with the reason and a link to the failed deliveries; the next maintenance window', async () => {
    const detail = 'Customer C-9 does not exist in company code 1000';
    const erp = (await startReceiver()).always((request) =>
      request.path === '/gone'
        ? { status: 410, body: 'Endpoint retired on 2026-11-01' }
        : {
            status: 422,
            headers: { 'content-type': 'application/problem+json' },
            body: JSON.stringify({ type: 'about:blank', title: 'Unknown customer', status: 422, detail }),
          },
    );
    // A window three days from now: never under way while the test runs.
    const day = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'][(new Date().getUTCDay() + 3) % 7];
    const strict = (
      await t.api('POST', '/v1/webhooks', {
        body: {
          name: 'ERP strict',
          url: `${erp.url}/strict`,
          eventTypes: ['order.created'],
          permanentStatuses: [422],
          maintenanceWindows: [{ days: [day], start: '01:00', end: '02:00', timeZone: 'UTC' }],
        },
      })
    ).body;
    const gone = (
      await t.api('POST', '/v1/webhooks', {
        body: { name: 'ERP retired', url: `${erp.url}/gone`, eventTypes: ['order.created'] },
      })
    ).body;
    try {
      await t.api('POST', '/v1/orders', { body: orderBody() });
      const failed = await eventually(async () => {
        const list = (await t.api('GET', `/v1/deliveries?webhookId=${strict.id}`)).body.data;
        return list[0]?.status === 'failed' ? list[0] : undefined;
      });
      await eventually(async () => (await t.api('GET', `/v1/webhooks/${gone.id}`)).body.status === 'disabled');

      const page = await openSignedIn();
      const banner = page.getByTestId('health-banner').filter({ hasText: 'ERP retired' });
      await banner.waitFor();
      const said = await banner.innerText();
      for (const part of [
        'ERP retired is disabled',
        'the endpoint answered 410 Gone',
        'Endpoint retired on 2026-11-01',
      ])
        expect(said).toContain(part);
      await screenshot(page, 'endpoints-list-banner');
      await audit(page, 'endpoints list with health banners');
      await banner.getByRole('link', { name: 'Show failed deliveries of ERP retired' }).click();
      await page.getByRole('heading', { name: 'ERP retired', exact: true }).waitFor();
      expect(new URL(page.url()).hash).toBe(`#/endpoints/${gone.id}/failed`);
      expect(await page.getByLabel('Filter by status').inputValue()).toBe('failed');
      await pollText(page.getByRole('row').filter({ hasText: 'order.created' }), /failed[\s\S]*Endpoint retired/);

      await openEndpoint(page, strict.id, 'ERP strict');
      expect(await pollText(page.getByTestId('next-maintenance-window'), /\d/)).not.toBe('—');
      const link = page.locator(`[href$="/deliveries/${failed.id}"]`);
      await pollText(page.getByRole('row').filter({ has: link }), new RegExp(`HTTP 422[\\s\\S]*${detail}`));
      await link.click();
      await page.getByRole('heading', { name: 'Delivery', exact: true }).waitFor();
      expect(await pollText(page.getByTestId('attempt-reason'), /\S/)).toBe(`Reason: ${detail}`);
      expect(await page.getByRole('heading', { name: /^Attempt \d+$/ }).count()).toBe(1);
      await screenshot(page, 'delivery-reason');
      await page.close();
    } finally {
      await t.api('DELETE', `/v1/webhooks/${strict.id}`);
      await t.api('DELETE', `/v1/webhooks/${gone.id}`);
      await erp.close();
    }
  });

  it('event catalog: every type from the API, copyable examples, and a Node snippet with standardwebhooks', async () => {
    const catalog = (await t.api('GET', '/v1/event-types')).body.data as Array<{ name: string; example: unknown }>;
    expect(catalog.length).toBeGreaterThan(5);
    const page = await openSignedIn();
    await page.getByRole('link', { name: 'Event catalog', exact: true }).click();
    await page.getByRole('heading', { name: 'Event catalog', exact: true }).waitFor();
    expect(new URL(page.url()).hash).toBe('#/catalog');
    await page.getByRole('heading', { name: catalog[0].name, exact: true }).waitFor();
    for (const { name } of catalog)
      expect(await page.getByRole('heading', { name, exact: true }).count(), name).toBe(1);
    expect(await page.getByRole('button', { name: 'Copy example' }).count()).toBe(catalog.length);

    await page.getByRole('button', { name: 'Copy example' }).first().click();
    const copied = JSON.parse(await clipboard(page));
    expect(catalog.map((entry) => entry.example)).toContainEqual(copied);

    const snippet = page.getByRole('heading', { name: 'Verify a push in Node' }).locator('xpath=following::pre[1]');
    expect(await snippet.innerText()).toContain('standardwebhooks');
    await audit(page, 'event catalog');
    await page.close();
  });

  it('phone width (390×844): list, form and detail do not scroll sideways; screenshots incl. the dark theme', async () => {
    const { id, name } = await theEndpoint();
    const phone = await openSignedIn(await newContext({ viewport: PHONE }));
    const overflow: Record<string, unknown> = {};
    overflow.list = await horizontalOverflow(phone);
    await screenshot(phone, 'endpoints-list-phone');
    await phone.goto(settingsUrl('#/endpoints/new'));
    await phone.getByRole('heading', { name: 'Add endpoint' }).waitFor();
    overflow.form = await horizontalOverflow(phone);
    await openEndpoint(phone, id, name);
    await phone.getByRole('button', { name: 'Refresh' }).waitFor();
    overflow.detail = await horizontalOverflow(phone);
    expect(overflow, 'pages wider than the phone viewport').toEqual({
      list: undefined,
      form: undefined,
      detail: undefined,
    });

    const page = await openSignedIn();
    const light = await backgroundIsDark(page);
    await page.goto(settingsUrl('?theme=dark#/endpoints'));
    await page.getByRole('heading', { name: 'Endpoints', exact: true }).waitFor();
    await screenshot(page, 'endpoints-list-dark');
    axeResults.set('endpoints list (dark)', await seriousA11yViolations(page));
    expect({ light, dark: await backgroundIsDark(page) }).toEqual({ light: false, dark: true });
    await Promise.all([phone.close(), page.close()]);
  });

  it('accessibility: no serious or critical axe violations on any page', () => {
    const report = AXE_PAGES.map((name) => {
      const violations = axeResults.get(name);
      if (!violations) return `${name}: not checked (its scenario failed before the check)`;
      return violations.length ? `${name}:\n${formatViolations(violations)}` : '';
    }).filter(Boolean);
    expect(report.join('\n\n'), 'axe').toBe('');
  });

  it('no request left the service origin, and the page raised no error or CSP violation', () => {
    expect(recorder.urls.length).toBeGreaterThan(10);
    expect(recorder.outside(t.baseUrl)).toEqual([]);
    expect(recorder.cspViolations).toEqual([]);
    expect(recorder.pageErrors).toEqual([]);
  });
});

/** Whether the page's background (first opaque one of the app's root, body, html; else the canvas) is dark. */
async function backgroundIsDark(page: Page): Promise<boolean> {
  const luminance = (await page.evaluate(`(() => {
    const opaque = (c) => c && c !== 'transparent' && !/^rgba\\(.*,\\s*0\\)$/.test(c);
    let color;
    for (const el of [document.querySelector('#app > *'), document.body, document.documentElement]) {
      const c = el && getComputedStyle(el).backgroundColor;
      if (opaque(c)) { color = c; break; }
    }
    if (!color) return getComputedStyle(document.documentElement).colorScheme.trim() === 'dark' ? 0 : 255;
    // Any CSS colour (rgb, oklch, lab, color()) to sRGB through a canvas pixel.
    const ctx = document.createElement('canvas').getContext('2d');
    ctx.fillStyle = color;
    ctx.fillRect(0, 0, 1, 1);
    const [r, g, b] = ctx.getImageData(0, 0, 1, 1).data;
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  })()`)) as number;
  return luminance < 128;
}
