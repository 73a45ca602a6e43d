import type { Webhook } from './api';

/** The add/edit form's state: every input as the admin typed it, turned into an API body on save. */
export type Format = Webhook['payloadFormat'];
export type AuthType = 'none' | 'basic' | 'bearer' | 'oauth2ClientCredentials';

export interface Draft {
  name: string;
  url: string;
  description: string;
  deliveryMode: 'push' | 'pull';
  allTypes: boolean;
  eventTypes: string[];
  filters: Array<{ path: string; values: string }>;
  headers: Array<{ name: string; value: string }>;
  headersTouched: boolean;
  ordered: boolean;
  timeoutMs: string;
  maxConcurrency: string;
  rateLimitPerSecond: string;
  retrySchedule: string;
  /** Comma-separated statuses, e.g. "400, 422". */
  permanentStatuses: string;
  permanentStatusesTouched: boolean;
  windows: WindowDraft[];
  windowsTouched: boolean;
  payloadFormat: Format;
  expression: string;
  contentType: string;
  senderId: string;
  senderQualifier: string;
  receiverId: string;
  receiverQualifier: string;
  /** X12: 'T' or 'P'. EDIFACT: also '' (not set: production, no test flag in UNB). */
  usageIndicator: string;
  elementSeparator: string;
  segmentTerminator: string;
  authType: AuthType;
  username: string;
  password: string;
  bearerToken: string;
  tokenUrl: string;
  clientId: string;
  clientSecret: string;
  scope: string;
  audience: string;
  clientAuth: string;
  tlsCert: string;
  tlsKey: string;
  tlsCa: string;
  removeTls: boolean;
}

/** One maintenance window as typed. */
export interface WindowDraft {
  days: Weekday[];
  start: string;
  end: string;
  timeZone: string;
}

export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

export const EMPTY: Draft = {
  name: '',
  url: '',
  description: '',
  deliveryMode: 'push',
  allTypes: false,
  eventTypes: [],
  filters: [],
  headers: [],
  headersTouched: false,
  ordered: false,
  timeoutMs: '',
  maxConcurrency: '',
  rateLimitPerSecond: '',
  retrySchedule: '',
  permanentStatuses: '',
  permanentStatusesTouched: false,
  windows: [],
  windowsTouched: false,
  payloadFormat: 'envelope',
  expression: '{ "shipment": data.shipmentNumber, "status": data.status, "eventId": id }',
  contentType: 'application/json',
  senderId: '',
  senderQualifier: 'ZZ',
  receiverId: '',
  receiverQualifier: 'ZZ',
  usageIndicator: 'T',
  elementSeparator: '',
  segmentTerminator: '',
  authType: 'none',
  username: '',
  password: '',
  bearerToken: '',
  tokenUrl: '',
  clientId: '',
  clientSecret: '',
  scope: '',
  audience: '',
  clientAuth: 'client_secret_basic',
  tlsCert: '',
  tlsKey: '',
  tlsCa: '',
  removeTls: false,
};

const str = (value: unknown) =>
  typeof value === 'string' ? value : value === undefined || value === null ? '' : String(value);

export function draftOf(webhook: Webhook): Draft {
  const options = webhook.payloadOptions ?? {};
  const auth = webhook.auth;
  return {
    ...EMPTY,
    name: webhook.name,
    url: webhook.url ?? '',
    description: webhook.description ?? '',
    deliveryMode: webhook.deliveryMode,
    allTypes: webhook.eventTypes.includes('*'),
    eventTypes: webhook.eventTypes.filter((t) => t !== '*'),
    filters: Object.entries(webhook.filters ?? {}).map(([path, values]) => ({ path, values: values.join(', ') })),
    headers: webhook.headerNames.map((name) => ({ name, value: '' })),
    ordered: webhook.ordered,
    timeoutMs: String(webhook.timeoutMs),
    maxConcurrency: String(webhook.maxConcurrency),
    rateLimitPerSecond: webhook.rateLimitPerSecond ? String(webhook.rateLimitPerSecond) : '',
    retrySchedule: webhook.retrySchedule
      ? webhook.retrySchedule.length
        ? webhook.retrySchedule.join(', ')
        : 'none'
      : '',
    permanentStatuses: (webhook.permanentStatuses ?? []).join(', '),
    windows: (webhook.maintenanceWindows ?? []).map((w) => ({ ...w, days: [...w.days] as Weekday[] })),
    payloadFormat: webhook.payloadFormat,
    expression: webhook.payloadFormat === 'jsonata' ? str(options.expression) : EMPTY.expression,
    contentType:
      webhook.payloadFormat === 'jsonata' ? str(options.contentType) || 'application/json' : EMPTY.contentType,
    senderId: str(options.senderId),
    senderQualifier: str(options.senderQualifier) || 'ZZ',
    receiverId: str(options.receiverId),
    receiverQualifier: str(options.receiverQualifier) || 'ZZ',
    usageIndicator: str(options.usageIndicator) || (webhook.payloadFormat === 'edifact-iftsta' ? '' : 'T'),
    elementSeparator: str(options.elementSeparator),
    segmentTerminator: str(options.segmentTerminator),
    authType: auth.type,
    username: auth.type === 'basic' ? auth.username : '',
    tokenUrl: auth.type === 'oauth2ClientCredentials' ? auth.tokenUrl : '',
    clientId: auth.type === 'oauth2ClientCredentials' ? auth.clientId : '',
    scope: auth.type === 'oauth2ClientCredentials' ? (auth.scope ?? '') : '',
    audience: auth.type === 'oauth2ClientCredentials' ? (auth.audience ?? '') : '',
    clientAuth: auth.type === 'oauth2ClientCredentials' ? auth.clientAuth : EMPTY.clientAuth,
  };
}

export function payloadOptionsOf(d: Draft): Record<string, unknown> | null {
  switch (d.payloadFormat) {
    case 'envelope':
      return null;
    case 'jsonata':
      return { expression: d.expression, ...(d.contentType.trim() ? { contentType: d.contentType.trim() } : {}) };
    case 'x12-214':
      return {
        senderId: d.senderId,
        senderQualifier: d.senderQualifier,
        receiverId: d.receiverId,
        receiverQualifier: d.receiverQualifier,
        usageIndicator: d.usageIndicator,
        ...(d.elementSeparator ? { elementSeparator: d.elementSeparator } : {}),
        ...(d.segmentTerminator ? { segmentTerminator: d.segmentTerminator } : {}),
      };
    case 'edifact-iftsta':
      return {
        senderId: d.senderId,
        receiverId: d.receiverId,
        ...(d.usageIndicator ? { usageIndicator: d.usageIndicator } : {}),
      };
  }
}

/** What to send: on edit, write-only secrets left empty are left out so the stored ones stay. */
export function bodyOf(d: Draft, existing: Webhook | null): Record<string, unknown> {
  const editing = existing !== null;
  const body: Record<string, unknown> = {
    name: d.name.trim(),
    description: d.description.trim() || (editing ? null : undefined),
    deliveryMode: d.deliveryMode,
    // `*` means the order and shipment events; operational events are named on their own.
    eventTypes: d.allTypes ? ['*', ...d.eventTypes.filter(isOperationalType)] : d.eventTypes,
    filters: Object.fromEntries(
      d.filters
        .filter((f) => f.path.trim())
        .map((f) => [
          f.path.trim(),
          f.values
            .split(',')
            .map((v) => v.trim())
            .filter(Boolean),
        ]),
    ),
    ordered: d.ordered,
    payloadFormat: d.payloadFormat,
    payloadOptions: payloadOptionsOf(d),
  };
  if (d.url.trim() || d.deliveryMode === 'push') body.url = d.url.trim();
  else if (editing) body.url = null;
  if (!editing || d.headersTouched)
    body.headers = Object.fromEntries(d.headers.filter((h) => h.name.trim()).map((h) => [h.name.trim(), h.value]));
  const number = (name: 'timeoutMs' | 'maxConcurrency' | 'rateLimitPerSecond') => {
    const raw = d[name].trim();
    if (raw) body[name] = /^\d+$/.test(raw) ? Number(raw) : raw;
    else if (editing && name === 'rateLimitPerSecond') body[name] = null;
  };
  number('timeoutMs');
  number('maxConcurrency');
  number('rateLimitPerSecond');
  const schedule = d.retrySchedule.trim();
  if (schedule === 'none') body.retrySchedule = [];
  else if (schedule) body.retrySchedule = schedule.split(/[\s,]+/).filter(Boolean);
  else if (editing) body.retrySchedule = null;
  // Sent when changed (on edit) or given (on create): a save that did not touch them keeps what is stored.
  if (editing ? d.permanentStatusesTouched : d.permanentStatuses.trim())
    body.permanentStatuses = d.permanentStatuses
      .split(/[\s,]+/)
      .filter(Boolean)
      .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
  if (editing ? d.windowsTouched : d.windows.length)
    body.maintenanceWindows = d.windows.map((w) => ({
      days: WEEKDAYS.filter((day) => w.days.includes(day)),
      start: w.start.trim(),
      end: w.end.trim(),
      timeZone: w.timeZone.trim(),
    }));

  const keep = editing && existing.auth.type === d.authType;
  const secret = (value: string) => (value || !keep ? value : undefined);
  switch (d.authType) {
    case 'none':
      body.auth = { type: 'none' };
      break;
    case 'basic':
      body.auth = { type: 'basic', username: d.username, password: secret(d.password) };
      break;
    case 'bearer':
      body.auth = { type: 'bearer', token: secret(d.bearerToken) };
      break;
    case 'oauth2ClientCredentials':
      body.auth = {
        type: 'oauth2ClientCredentials',
        tokenUrl: d.tokenUrl.trim(),
        clientId: d.clientId.trim(),
        clientSecret: secret(d.clientSecret),
        clientAuth: d.clientAuth,
        ...(d.scope.trim() ? { scope: d.scope.trim() } : {}),
        ...(d.audience.trim() ? { audience: d.audience.trim() } : {}),
      };
      break;
  }
  if (d.removeTls) body.tls = null;
  else if (d.tlsCert.trim() || d.tlsKey.trim()) {
    body.tls = {
      clientCertificatePem: d.tlsCert.trim(),
      clientKeyPem: d.tlsKey.trim(),
      ...(d.tlsCa.trim() ? { caPem: d.tlsCa.trim() } : {}),
    };
  }
  return JSON.parse(JSON.stringify(body)) as Record<string, unknown>;
}

/**
 * What the form refuses before asking the API. Header values are write-only and saving headers
 * replaces them all, so a kept header left without its value would be stored empty.
 */
export function draftProblems(d: Draft): Array<{ field: string; message: string }> {
  if (!d.headersTouched) return [];
  const empty = d.headers.filter((h) => h.name.trim() && !h.value);
  return empty.length
    ? [
        {
          field: 'headers',
          message: `enter the value of ${empty.map((h) => h.name.trim()).join(', ')} again: saving headers replaces them all, and stored values are never shown`,
        },
      ]
    : [];
}

/**
 * Which inputs of window `index` the API named in its errors (`maintenanceWindows.0.start`, or
 * `maintenanceWindows.0` for the window as a whole), so the form can mark them.
 */
export function windowFieldsInError(errors: Array<{ field: string; message: string }>, index: number): Set<string> {
  const named = new Set<string>();
  for (const e of errors) {
    const match = /^maintenanceWindows\.(\d+)(?:\.(\w+))?$/.exec(e.field);
    if (match && Number(match[1]) === index) named.add(match[2] ?? 'window');
  }
  return named;
}

/** Waybill's operational events (webhook.failing, delivery.failed, …): `*` does not include them. */
export function isOperationalType(name: string): boolean {
  return (name.startsWith('webhook.') && name !== 'webhook.test') || name.startsWith('delivery.');
}
