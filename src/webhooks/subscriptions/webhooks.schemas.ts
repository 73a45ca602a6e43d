import {
  boolean,
  component,
  dateTime,
  integer,
  nullable,
  oneOfValues,
  pageOf,
  record,
  string,
  stringMap,
  uuid,
} from '../../common/openapi.js';
import { EVENT_TYPES } from '../../events/event-types.js';
import { PAYLOAD_FORMATS } from '../formats/payload-renderer.js';
import { MAX_WINDOWS, WEEKDAYS } from './maintenance-windows.js';
import { CLIENT_AUTH_METHODS } from './receiver-auth.js';
import { DELIVERY_MODES } from './webhook.entity.js';

const configured = { type: 'boolean', const: true };

export const RECEIVER_AUTH = component('ReceiverAuth', {
  description: 'How Waybill authenticates to the receiver; secrets never appear',
  oneOf: [
    record({ type: { type: 'string', const: 'none' } }),
    record({ type: { type: 'string', const: 'basic' }, configured, username: string }),
    record({ type: { type: 'string', const: 'bearer' }, configured }),
    record({
      type: { type: 'string', const: 'oauth2ClientCredentials' },
      configured,
      tokenUrl: string,
      clientId: string,
      scope: nullable(string),
      audience: nullable(string),
      clientAuth: oneOfValues(CLIENT_AUTH_METHODS),
    }),
  ],
});

export const CLIENT_TLS = component(
  'ClientTls',
  record(
    { configured, subject: string, issuer: string, validTo: string, caConfigured: boolean },
    { description: 'The client certificate for mutual TLS; the key never appears' },
  ),
);

const clock = { type: 'string', pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$', examples: ['01:00'] };

export const MAINTENANCE_WINDOW = component(
  'MaintenanceWindow',
  record(
    {
      days: { type: 'array', minItems: 1, items: oneOfValues(WEEKDAYS) },
      start: clock,
      end: { ...clock, pattern: '^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$', examples: ['03:30'] },
      timeZone: { ...string, description: 'IANA time zone, e.g. Europe/Berlin' },
    },
    { description: "A weekly window in the receiver's local time; crosses midnight when end is not after start" },
  ),
);

const webhookProperties = {
  id: uuid,
  name: string,
  url: { ...nullable(string), description: 'null for a pull subscription' },
  description: nullable(string),
  eventTypes: { type: 'array', items: oneOfValues(['*', ...EVENT_TYPES]) },
  filters: { ...nullable({ type: 'object', additionalProperties: { type: 'array', items: string } }) },
  headerNames: { type: 'array', items: string, description: 'Custom headers (their values are write-only)' },
  enabled: boolean,
  paused: boolean,
  ordered: boolean,
  timeoutMs: integer,
  maxConcurrency: integer,
  rateLimitPerSecond: nullable(integer),
  retrySchedule: { ...nullable({ type: 'array', items: string }), description: 'null: WEBHOOK_RETRY_SCHEDULE' },
  permanentStatuses: {
    type: 'array',
    items: { type: 'integer', minimum: 300, maximum: 599 },
    description: 'Answers that end a delivery as failed at once, without counting toward health',
  },
  apiVersion: string,
  payloadFormat: oneOfValues(PAYLOAD_FORMATS),
  payloadOptions: nullable({ type: 'object', additionalProperties: true }),
  coalesce: nullable(record({ eventTypes: { type: 'array', items: oneOfValues(EVENT_TYPES) }, windowMs: integer })),
  deliveryMode: oneOfValues(DELIVERY_MODES),
  maintenanceWindows: { type: 'array', maxItems: MAX_WINDOWS, items: MAINTENANCE_WINDOW },
  inMaintenance: { ...boolean, description: 'Inside a maintenance window now: deliveries are held' },
  nextMaintenanceWindow: nullable(record({ startsAt: dateTime, endsAt: dateTime })),
  auth: RECEIVER_AUTH,
  tls: nullable(CLIENT_TLS),
  status: oneOfValues(['healthy', 'failing', 'disabled'], 'Health, set by Waybill'),
  disabledReason: nullable(string),
  consecutiveFailures: integer,
  lastSuccessAt: nullable(dateTime),
  lastFailureAt: nullable(dateTime),
  lastFailureReason: { ...nullable(string), description: 'One line read from the last failed answer' },
  createdAt: dateTime,
  updatedAt: dateTime,
};

export const WEBHOOK = component('Webhook', record(webhookProperties, { description: 'A webhook subscription' }));
export const WEBHOOK_CREATED = component(
  'WebhookCreated',
  record(
    { ...webhookProperties, secret: { ...string, description: 'The signing secret (whsec_…)' } },
    { description: 'A new subscription with its signing secret' },
  ),
);
export const WEBHOOK_PAGE = pageOf('WebhookPage', WEBHOOK);

export const SIGNING_SECRET = component(
  'SigningSecret',
  record({ secret: { type: 'string', pattern: '^whsec_', description: 'whsec_ + base64 of the key' } }),
);

export const PREVIEW = component(
  'Preview',
  record({
    body: { ...string, description: 'The exact body that would be sent' },
    contentType: string,
    headers: stringMap,
  }),
);

export const CONNECTION_CHECK = component(
  'ConnectionCheck',
  record({
    ok: boolean,
    steps: {
      type: 'array',
      items: record(
        { name: oneOfValues(['resolve', 'guard', 'connect', 'tls', 'token']), ok: boolean, error: string },
        { optional: ['error'] },
      ),
    },
  }),
);
