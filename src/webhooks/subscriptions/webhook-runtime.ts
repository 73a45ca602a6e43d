import type { PayloadFormat, PayloadOptions } from '../formats/payload-renderer.js';
import type { AuthType } from './receiver-auth.js';
import type { Webhook } from './webhook.entity.js';

/** A subscription's settings as the engine needs them to send; `version` changes whenever the row does. */
export interface WebhookRuntime {
  id: string;
  tenantId: string;
  url: string;
  timeoutMs: number;
  maxConcurrency: number;
  rateLimitPerSecond: number | null;
  retrySchedule: number[] | null;
  /** Answers that fail a delivery at once, without counting toward health. */
  permanentStatuses: number[];
  /** Deliveries of one aggregate go out one at a time, in order. */
  ordered: boolean;
  version: string;
  secretEncrypted: string;
  previousSecretEncrypted: string | null;
  previousSecretExpiresAt: Date | null;
  headersEncrypted: string | null;
  apiVersion: string;
  payloadFormat: PayloadFormat;
  payloadOptions: PayloadOptions;
  authType: AuthType;
  /** AuthSettings and TlsSettings, sealed. */
  authEncrypted: string | null;
  tlsEncrypted: string | null;
}

/** A subscription as the engine finds it just before sending: its settings now, and whether it may be sent to. */
export interface CurrentRuntime {
  runtime: WebhookRuntime;
  /** Switched on, not paused, not in maintenance, not disabled, not deleted, and pushed to. */
  sendable: boolean;
}

/**
 * Whether the engine sends to a subscription (webhook aliased `alias`) now: switched on, not
 * paused, disabled, in a maintenance window or deleted, and pushed to. The claim, the pre-send
 * check, the oldest-due metric and the delivery log's held deliveries all read it so.
 */
export const sendsNow = (alias: string) =>
  `(${alias}.enabled AND NOT ${alias}.paused AND NOT ${alias}.in_maintenance AND ${alias}.status <> 'disabled'
    AND ${alias}.deleted_at IS NULL AND ${alias}.delivery_mode = 'push')`;

/** The subscription columns the engine reads (webhook aliased `w`), as `webhookRuntimeFromRow` reads them. */
export const WEBHOOK_RUNTIME_COLUMNS = `w.id AS webhook_id, w.tenant_id AS w_tenant_id, w.url, w.timeout_ms, w.max_concurrency, w.rate_limit_per_second,
  w.retry_schedule, w.permanent_statuses, w.ordered, w.updated_at AS w_version, w.secret_encrypted, w.previous_secret_encrypted,
  w.previous_secret_expires_at, w.headers_encrypted, w.api_version AS w_api_version, w.payload_format, w.payload_options,
  w.auth_type, w.auth_encrypted, w.tls_encrypted`;

/** A row selected with WEBHOOK_RUNTIME_COLUMNS. */
export interface WebhookRuntimeRow {
  webhook_id: string;
  w_tenant_id: string;
  url: string | null;
  timeout_ms: number;
  max_concurrency: number;
  rate_limit_per_second: number | null;
  retry_schedule: number[] | null;
  permanent_statuses: number[];
  ordered: boolean;
  w_version: Date;
  secret_encrypted: string;
  previous_secret_encrypted: string | null;
  previous_secret_expires_at: Date | null;
  headers_encrypted: string | null;
  w_api_version: string;
  payload_format: PayloadFormat;
  payload_options: PayloadOptions;
  auth_type: AuthType;
  auth_encrypted: string | null;
  tls_encrypted: string | null;
}

export function webhookRuntimeFromRow(r: WebhookRuntimeRow): WebhookRuntime {
  return {
    id: r.webhook_id,
    tenantId: r.w_tenant_id,
    url: r.url ?? '',
    timeoutMs: r.timeout_ms,
    maxConcurrency: r.max_concurrency,
    rateLimitPerSecond: r.rate_limit_per_second,
    retrySchedule: r.retry_schedule,
    permanentStatuses: r.permanent_statuses,
    ordered: r.ordered,
    version: r.w_version.toISOString(),
    secretEncrypted: r.secret_encrypted,
    previousSecretEncrypted: r.previous_secret_encrypted,
    previousSecretExpiresAt: r.previous_secret_expires_at,
    headersEncrypted: r.headers_encrypted,
    apiVersion: r.w_api_version,
    payloadFormat: r.payload_format,
    payloadOptions: r.payload_options,
    authType: r.auth_type,
    authEncrypted: r.auth_encrypted,
    tlsEncrypted: r.tls_encrypted,
  };
}

/** The same settings from a loaded entity (test sends, previews, feeds, connection checks). */
export function runtimeOf(webhook: Webhook): WebhookRuntime {
  return {
    id: webhook.id,
    tenantId: webhook.tenantId,
    url: webhook.url ?? '',
    timeoutMs: webhook.timeoutMs,
    maxConcurrency: webhook.maxConcurrency,
    rateLimitPerSecond: webhook.rateLimitPerSecond,
    retrySchedule: webhook.retrySchedule,
    permanentStatuses: webhook.permanentStatuses,
    ordered: webhook.ordered,
    version: webhook.updatedAt.toISOString(),
    secretEncrypted: webhook.secretEncrypted,
    previousSecretEncrypted: webhook.previousSecretEncrypted,
    previousSecretExpiresAt: webhook.previousSecretExpiresAt,
    headersEncrypted: webhook.headersEncrypted,
    apiVersion: webhook.apiVersion,
    payloadFormat: webhook.payloadFormat,
    payloadOptions: webhook.payloadOptions,
    authType: webhook.authType,
    authEncrypted: webhook.authEncrypted,
    tlsEncrypted: webhook.tlsEncrypted,
  };
}
