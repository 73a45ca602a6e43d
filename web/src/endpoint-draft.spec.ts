import { describe, expect, it } from 'vitest';
import type { Webhook } from './api';
import { bodyOf, type Draft, draftOf, draftProblems, EMPTY, windowFieldsInError } from './endpoint-draft';

const draft = (overrides: Partial<Draft>): Draft => ({ ...EMPTY, ...overrides });

const stored: Webhook = {
  id: 'w1',
  name: 'SAP inbound',
  url: 'https://erp.example.com/hook',
  description: null,
  eventTypes: ['shipment.status_changed'],
  filters: { 'carrier.scac': ['DHLF', 'UPSN'] },
  headerNames: ['X-Api-Client'],
  enabled: true,
  paused: false,
  ordered: true,
  timeoutMs: 10000,
  maxConcurrency: 32,
  rateLimitPerSecond: 5,
  retrySchedule: ['5s', '1m'],
  apiVersion: '2026-11-01',
  payloadFormat: 'x12-214',
  payloadOptions: {
    senderId: 'WAYBILL',
    senderQualifier: 'ZZ',
    receiverId: 'ACMEERP',
    receiverQualifier: '01',
    usageIndicator: 'P',
  },
  deliveryMode: 'push',
  auth: {
    type: 'oauth2ClientCredentials',
    configured: true,
    tokenUrl: 'https://login.example.com/token',
    clientId: 'waybill',
    scope: 'a b',
    audience: null,
    clientAuth: 'client_secret_post',
  },
  tls: null,
  status: 'healthy',
  disabledReason: null,
  consecutiveFailures: 0,
  lastSuccessAt: null,
  lastFailureAt: null,
  lastFailureReason: null,
  permanentStatuses: [],
  coalesce: null,
  maintenanceWindows: [],
  inMaintenance: false,
  nextMaintenanceWindow: null,
  createdAt: '2026-12-01T00:00:00.000Z',
  updatedAt: '2026-12-01T00:00:00.000Z',
};

describe('the endpoint form → API body', () => {
  it('creates with what was typed: trimmed, numbers as numbers, filters and headers as maps', () => {
    const body = bodyOf(
      draft({
        name: '  SAP inbound ',
        url: ' https://erp.example.com/hook ',
        eventTypes: ['order.created', 'order.status_changed'],
        filters: [
          { path: 'carrier.scac', values: 'DHLF, UPSN,' },
          { path: ' ', values: 'ignored' },
        ],
        headers: [{ name: 'X-Api-Client', value: 'waybill' }],
        timeoutMs: '5000',
        maxConcurrency: '',
        rateLimitPerSecond: '12',
        retrySchedule: '5s, 1m 10m',
      }),
      null,
    );
    expect(body).toEqual({
      name: 'SAP inbound',
      url: 'https://erp.example.com/hook',
      deliveryMode: 'push',
      eventTypes: ['order.created', 'order.status_changed'],
      filters: { 'carrier.scac': ['DHLF', 'UPSN'] },
      headers: { 'X-Api-Client': 'waybill' },
      ordered: false,
      payloadFormat: 'envelope',
      payloadOptions: null,
      timeoutMs: 5000,
      rateLimitPerSecond: 12,
      retrySchedule: ['5s', '1m', '10m'],
      auth: { type: 'none' },
    });
  });

  it('sends "all types" as ["*"], "none" as no retries, and a non-number as typed so the API names the field', () => {
    const body = bodyOf(
      draft({ allTypes: true, eventTypes: ['order.created'], retrySchedule: 'none', timeoutMs: 'soon' }),
      null,
    );
    expect(body.eventTypes).toEqual(['*']);
    expect(body.retrySchedule).toEqual([]);
    expect(body.timeoutMs).toBe('soon');
  });

  it('keeps named operational events beside "all types": * does not include them', () => {
    const body = bodyOf(
      draft({ allTypes: true, eventTypes: ['order.created', 'webhook.disabled', 'delivery.failed'] }),
      null,
    );
    expect(body.eventTypes).toEqual(['*', 'webhook.disabled', 'delivery.failed']);
  });

  it('builds each payload format with its own options', () => {
    expect(
      bodyOf(draft({ payloadFormat: 'jsonata', expression: '{ "a": id }', contentType: '' }), null).payloadOptions,
    ).toEqual({ expression: '{ "a": id }' });
    expect(
      bodyOf(draft({ payloadFormat: 'edifact-iftsta', senderId: 'S', receiverId: 'R', usageIndicator: 'P' }), null)
        .payloadOptions,
    ).toEqual({
      senderId: 'S',
      receiverId: 'R',
      usageIndicator: 'P',
    });
    expect(Object.keys(bodyOf(draft({ payloadFormat: 'x12-214' }), null).payloadOptions as object).sort()).toEqual([
      'receiverId',
      'receiverQualifier',
      'senderId',
      'senderQualifier',
      'usageIndicator',
    ]);
  });

  it('leaves a pull feed without a URL, and sends a client certificate only when one is given', () => {
    const pull = bodyOf(draft({ deliveryMode: 'pull', url: '' }), null);
    expect(pull).not.toHaveProperty('url');
    expect(pull).not.toHaveProperty('tls');
    const tls = bodyOf(draft({ url: 'https://x.test', tlsCert: 'CERT\n', tlsKey: 'KEY', tlsCa: '' }), null);
    expect(tls.tls).toEqual({ clientCertificatePem: 'CERT', clientKeyPem: 'KEY' });
  });

  it('on edit, keeps write-only secrets and header values that were left empty, and clears emptied optional settings', () => {
    const editing = draftOf(stored);
    expect(editing).toMatchObject({
      authType: 'oauth2ClientCredentials',
      clientSecret: '',
      scope: 'a b',
      clientAuth: 'client_secret_post',
      rateLimitPerSecond: '5',
      retrySchedule: '5s, 1m',
    });
    const unchanged = bodyOf(editing, stored);
    expect(unchanged).not.toHaveProperty('headers');
    expect(unchanged.auth).toEqual({
      type: 'oauth2ClientCredentials',
      tokenUrl: 'https://login.example.com/token',
      clientId: 'waybill',
      clientAuth: 'client_secret_post',
      scope: 'a b',
    });
    expect(unchanged).toMatchObject({
      name: 'SAP inbound',
      eventTypes: ['shipment.status_changed'],
      filters: { 'carrier.scac': ['DHLF', 'UPSN'] },
      ordered: true,
      timeoutMs: 10000,
      rateLimitPerSecond: 5,
      retrySchedule: ['5s', '1m'],
      payloadFormat: 'x12-214',
      payloadOptions: stored.payloadOptions,
      description: null,
    });

    const cleared = bodyOf({ ...editing, rateLimitPerSecond: '', retrySchedule: '', removeTls: true }, stored);
    expect(cleared).toMatchObject({ rateLimitPerSecond: null, retrySchedule: null, tls: null });

    const touched = bodyOf(
      { ...editing, headersTouched: true, headers: [{ name: 'X-Api-Client', value: 'new' }] },
      stored,
    );
    expect(touched.headers).toEqual({ 'X-Api-Client': 'new' });
  });

  it('sends an empty secret when the auth type changes, so the API asks for it', () => {
    const body = bodyOf({ ...draftOf(stored), authType: 'basic', username: 'erp' }, stored);
    expect(body.auth).toEqual({ type: 'basic', username: 'erp', password: '' });
  });

  it('keeps an EDIFACT endpoint without a usage indicator in production, and X12 separators, on edit', () => {
    const edifact: Webhook = {
      ...stored,
      payloadFormat: 'edifact-iftsta',
      payloadOptions: { senderId: 'WAYBILL', receiverId: 'ACME' },
    };
    expect(bodyOf(draftOf(edifact), edifact).payloadOptions).toEqual({ senderId: 'WAYBILL', receiverId: 'ACME' });
    const x12: Webhook = {
      ...stored,
      payloadOptions: { ...stored.payloadOptions, elementSeparator: '|', segmentTerminator: '\n' },
    };
    expect(bodyOf(draftOf(x12), x12).payloadOptions).toEqual(x12.payloadOptions);
  });

  it('refuses to save touched headers whose stored values were not entered again', () => {
    const editing = draftOf({ ...stored, headerNames: ['X-Api-Client', 'X-Tenant'] });
    expect(draftProblems(editing)).toEqual([]);
    const removedOne = { ...editing, headersTouched: true, headers: editing.headers.slice(1) };
    expect(draftProblems(removedOne)).toEqual([{ field: 'headers', message: expect.stringContaining('X-Tenant') }]);
    expect(draftProblems({ ...removedOne, headers: [{ name: 'X-Tenant', value: 't-1' }] })).toEqual([]);
  });

  it('permanent statuses and maintenance windows: sent on create when given, on edit only when changed (kept otherwise)', () => {
    expect(bodyOf(draft({}), null)).not.toHaveProperty('permanentStatuses');
    expect(bodyOf(draft({}), null)).not.toHaveProperty('maintenanceWindows');
    const window = {
      days: ['sun', 'mon'] as Draft['windows'][number]['days'],
      start: ' 22:00',
      end: '06:00 ',
      timeZone: 'Europe/Berlin',
    };
    const created = bodyOf(draft({ permanentStatuses: '422, 400 x', windows: [window] }), null);
    // A non-number goes as typed, so the API names the field.
    expect(created.permanentStatuses).toEqual([422, 400, 'x']);
    expect(created.maintenanceWindows).toEqual([
      { days: ['mon', 'sun'], start: '22:00', end: '06:00', timeZone: 'Europe/Berlin' },
    ]);

    const withBoth = {
      ...stored,
      permanentStatuses: [400, 422],
      maintenanceWindows: [{ days: ['sat' as const], start: '22:00', end: '06:00', timeZone: 'Europe/Berlin' }],
    };
    const editing = draftOf(withBoth);
    expect(editing).toMatchObject({ permanentStatuses: '400, 422', windows: withBoth.maintenanceWindows });
    const untouched = bodyOf(editing, withBoth);
    expect(untouched).not.toHaveProperty('permanentStatuses');
    expect(untouched).not.toHaveProperty('maintenanceWindows');
    const cleared = bodyOf(
      { ...editing, permanentStatuses: '', permanentStatusesTouched: true, windows: [], windowsTouched: true },
      withBoth,
    );
    expect(cleared).toMatchObject({ permanentStatuses: [], maintenanceWindows: [] });
  });

  it('marks the window inputs the API names by path', () => {
    const errors = [
      { field: 'maintenanceWindows.1.start', message: 'must be a time such as 01:00' },
      { field: 'maintenanceWindows.1.timeZone', message: 'must be an IANA time zone such as Europe/Berlin' },
      { field: 'maintenanceWindows.0', message: 'must be { days, start, end, timeZone }' },
      { field: 'maintenanceWindows', message: 'may have at most 20 windows' },
      { field: 'name', message: 'maintenanceWindows.2.start' },
    ];
    expect([...windowFieldsInError(errors, 1)].sort()).toEqual(['start', 'timeZone']);
    expect([...windowFieldsInError(errors, 0)]).toEqual(['window']);
    expect(windowFieldsInError(errors, 2).size).toBe(0);
  });
});
