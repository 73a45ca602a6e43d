import pg from 'pg';
import { API_VERSION } from '../../events/event-types.js';
import { envelopeColumns, envelopeFromRow } from '../../events/outbox.service.js';
import type { PayloadFormat, PayloadOptions } from '../formats/payload-renderer.js';
import type { HealthState, HealthStatus } from '../engine/health.js';
import type { AuthType } from '../subscriptions/receiver-auth.js';

/** A delivery leased to this instance, with what sending it needs (one row per claimed delivery). */
export interface ClaimedDelivery {
  id: string;
  tenantId: string;
  webhookId: string;
  eventId: string;
  eventType: string;
  attemptCount: number;
  retryBase: number;
  trigger: 'auto' | 'manual' | 'replay';
  /** When the delivery was created (its event's commit). */
  createdAt: Date;
  /** The envelope as JSON text. */
  body: string;
  /** The body is the event's envelope, rebuilt from the event row whenever it is read. */
  bodyIsEnvelope: boolean;
  /** The payload version the body is in (the event's). */
  bodyVersion: string;
  webhook: WebhookRuntime;
}

/** A subscription's settings as the dispatcher needs them; `version` changes whenever the row does. */
export interface WebhookRuntime {
  id: string;
  url: string;
  timeoutMs: number;
  maxConcurrency: number;
  rateLimitPerSecond: number | null;
  retrySchedule: number[] | null;
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

/** The subscription columns the engine reads, as selected by WEBHOOK_RUNTIME_COLUMNS. */
export const WEBHOOK_RUNTIME_COLUMNS = `w.id AS webhook_id, w.url, w.timeout_ms, w.max_concurrency, w.rate_limit_per_second,
  w.retry_schedule, w.updated_at AS w_version, w.secret_encrypted, w.previous_secret_encrypted,
  w.previous_secret_expires_at, w.headers_encrypted, w.api_version AS w_api_version, w.payload_format, w.payload_options,
  w.auth_type, w.auth_encrypted, w.tls_encrypted`;

export function webhookRuntimeFromRow(r: Record<string, any>): WebhookRuntime {
  return {
    id: r.webhook_id,
    url: r.url,
    timeoutMs: r.timeout_ms,
    maxConcurrency: r.max_concurrency,
    rateLimitPerSecond: r.rate_limit_per_second,
    retrySchedule: r.retry_schedule,
    version: (r.w_version as Date).toISOString(),
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

/** The batch as rows (`o`) and the delivery updates; $1 the batch as JSON, $2 this instance. */
const RECORD_CTES = `o AS (
    SELECT * FROM json_to_recordset($1::json) AS o(
      delivery_id uuid, tenant_id uuid, webhook_id uuid, number int, trigger text, started_at timestamptz,
      duration_ms int, url text, request_headers jsonb, request_body text, response_status int,
      response_headers jsonb, response_body text, error_class text, error_message text,
      status text, next_attempt_at timestamptz)
  ), updated AS (
    UPDATE delivery d
       SET status = o.status, next_attempt_at = o.next_attempt_at, attempt_count = o.number, next_trigger = 'auto',
           lease_expires_at = NULL, leased_by = NULL, last_attempt_at = o.started_at,
           last_response_status = o.response_status, last_error_class = o.error_class, updated_at = now()
      FROM o
     WHERE d.id = o.delivery_id AND d.status = 'pending' AND d.leased_by = $2
  )`;

/** The audit rows of the batch; a delivery removed while in flight (its tenant deleted, say) takes none. */
const INSERT_ATTEMPTS = `INSERT INTO delivery_attempt (delivery_id, tenant_id, webhook_id, number, trigger, started_at, duration_ms, url,
                                request_headers, request_body, response_status, response_headers, response_body,
                                error_class, error_message)
  SELECT delivery_id, tenant_id, webhook_id, number, trigger, started_at, duration_ms, url, request_headers,
         request_body, response_status, response_headers, response_body, error_class, error_message
    FROM o
   WHERE EXISTS (SELECT 1 FROM delivery d WHERE d.id = o.delivery_id)`;

/** One finished attempt, ready to be written. */
export interface AttemptRecord {
  deliveryId: string;
  tenantId: string;
  webhookId: string;
  number: number;
  trigger: string;
  startedAt: Date;
  durationMs: number;
  url: string;
  requestHeaders: Record<string, string>;
  /** Null when the body is the event's envelope: the audit rebuilds it from the event row. */
  requestBody: string | null;
  responseStatus: number | null;
  responseHeaders: Record<string, string> | null;
  responseBody: string | null;
  errorClass: string | null;
  errorMessage: string | null;
  /** The delivery's state after this attempt. */
  status: 'delivered' | 'pending' | 'failed';
  nextAttemptAt: Date | null;
}

export interface HealthRow extends HealthState {
  id: string;
}

/**
 * The SQL of the delivery engine, in one place. Claims and completions are batched: a
 * statement per batch, never a round trip per delivery.
 *
 * It has its own small pool whose sessions run with synchronous_commit = off: a lease or an
 * outcome lost in a crash (the last few ms of commits) only means that delivery is sent again
 * when its lease expires, which at-least-once delivery allows; not waiting for the WAL flush
 * on every claim and every batch of outcomes is what lets the engine drain several times
 * faster. Events and deliveries themselves are created in the domain's transaction, durably.
 */
export class DeliveryStore {
  private readonly pool: pg.Pool;
  private closed = false;

  constructor(
    databaseUrl: string,
    readonly instanceId: string,
  ) {
    this.pool = new pg.Pool({
      connectionString: databaseUrl,
      max: 4,
      application_name: 'waybill-dispatcher',
      options: '-c synchronous_commit=off',
    });
    this.pool.on('error', () => undefined);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }

  /**
   * Leases up to `limit` due deliveries: a pending row whose lease is unset or expired (a crashed
   * instance's deliveries come back that way). Each deliverable subscription offers its own oldest due
   * deliveries (at most `perWebhookLimit`, found through its own index range), and the oldest of
   * those are taken: a subscription with a huge or stuck backlog can neither starve the others
   * nor make the claim walk its rows. SKIP LOCKED lets instances claim side by side; the lease
   * (not a held transaction) marks them taken. Only the lease columns change, none indexed, so
   * the update is HOT: claiming adds no index entries. Paused, disabled, switched-off and deleted subscriptions hold theirs; an ordered
   * subscription's delivery waits while an earlier one of its aggregate is open; `excluded` are
   * subscriptions this instance has enough of already.
   */
  async claimDueDeliveries(
    limit: number,
    excluded: string[],
    leaseMs: number,
    perWebhookLimit = limit,
  ): Promise<ClaimedDelivery[]> {
    const { rows } = await this.pool.query(
      `WITH due AS (
         SELECT d.id, d.next_attempt_at, d.event_sequence
           FROM webhook w
           CROSS JOIN LATERAL (
             SELECT x.id, x.next_attempt_at, x.event_sequence
               FROM delivery x
              WHERE x.webhook_id = w.id AND x.status = 'pending' AND x.next_attempt_at <= now()
                AND (x.lease_expires_at IS NULL OR x.lease_expires_at < now())
                AND (NOT w.ordered OR NOT EXISTS (
                      SELECT 1 FROM delivery e
                       WHERE e.webhook_id = x.webhook_id AND e.aggregate_id = x.aggregate_id
                         AND e.status = 'pending' AND e.event_sequence < x.event_sequence))
              ORDER BY x.next_attempt_at, x.event_sequence
              LIMIT $5
              FOR UPDATE SKIP LOCKED
           ) d
          WHERE w.enabled AND NOT w.paused AND w.status <> 'disabled' AND w.deleted_at IS NULL AND w.delivery_mode = 'push'
            AND NOT (w.id = ANY($2::uuid[]))
          ORDER BY d.next_attempt_at, d.event_sequence
          LIMIT $1
       ), claimed AS (
         UPDATE delivery d
            SET lease_expires_at = now() + $3 * interval '1 millisecond', leased_by = $4
           FROM due WHERE d.id = due.id
         RETURNING d.id, d.tenant_id, d.webhook_id, d.event_id, d.event_type, d.attempt_count, d.retry_base, d.next_trigger,
                   d.payload::text AS payload, d.next_attempt_at, d.event_sequence, d.created_at
       )
       SELECT c.*, ${envelopeColumns('ev')}, ${WEBHOOK_RUNTIME_COLUMNS}
         FROM claimed c
         JOIN webhook w ON w.id = c.webhook_id
         LEFT JOIN event ev ON ev.id = c.event_id
        ORDER BY c.next_attempt_at, c.event_sequence`,
      [limit, excluded, leaseMs, this.instanceId, perWebhookLimit],
    );
    return rows.map((r: Record<string, any>) => ({
      id: r.id,
      tenantId: r.tenant_id,
      webhookId: r.webhook_id,
      eventId: r.event_id,
      eventType: r.event_type,
      attemptCount: r.attempt_count,
      retryBase: r.retry_base,
      trigger: r.next_trigger,
      createdAt: r.created_at,
      body: r.payload ?? envelopeFromRow(r)!,
      bodyIsEnvelope: r.payload === null,
      bodyVersion: r.ev_api_version ?? API_VERSION,
      webhook: webhookRuntimeFromRow(r),
    }));
  }

  /**
   * Writes a batch of finished attempts: delivery rows, their audit rows and the subscriptions'
   * health. A subscription whose attempts in the batch all succeeded needs no read of its state
   * (success makes it healthy, or leaves it disabled), so all of those are written in one
   * statement with no transaction round trips. A subscription with a failure in the batch goes
   * through a transaction that locks its row (FOR NO KEY UPDATE, which does not conflict with the
   * KEY SHARE locks fan-out's foreign keys take, so the two never deadlock) and applies the health
   * rules. A delivery this instance no longer holds (its lease expired and another took it, or it
   * was discarded) keeps its state; the attempt is still audited.
   */
  async recordAttempts(records: AttemptRecord[], applyHealth: (rows: HealthRow[]) => HealthRow[]): Promise<void> {
    const failing = new Set(records.filter((r) => r.status !== 'delivered').map((r) => r.webhookId));
    const succeeded = records.filter((r) => !failing.has(r.webhookId));
    const mixed = records.filter((r) => failing.has(r.webhookId));
    if (succeeded.length > 0) {
      await this.pool.query(
        `WITH ${RECORD_CTES}, healthy AS (
           UPDATE webhook w
              SET status = CASE WHEN w.status = 'disabled' THEN w.status ELSE 'healthy' END,
                  consecutive_failures = 0, failing_since = NULL,
                  last_success_at = GREATEST(coalesce(w.last_success_at, h.at), h.at)
             FROM (SELECT webhook_id, max(started_at) AS at FROM o GROUP BY webhook_id) h
            WHERE w.id = h.webhook_id
         )
         ${INSERT_ATTEMPTS}`,
        [JSON.stringify(succeeded.map(toRecordRow)), this.instanceId],
      );
    }
    if (mixed.length === 0) return;
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(`WITH ${RECORD_CTES} ${INSERT_ATTEMPTS}`, [
        JSON.stringify(mixed.map(toRecordRow)),
        this.instanceId,
      ]);
      const { rows: current } = await client.query(
        `SELECT id, status, disabled_reason, consecutive_failures, failing_since, last_success_at, last_failure_at
           FROM webhook WHERE id = ANY($1::uuid[]) ORDER BY id FOR NO KEY UPDATE`,
        [[...failing]],
      );
      const updated = applyHealth(
        current.map((w: Record<string, any>) => ({
          id: w.id,
          status: w.status as HealthStatus,
          disabledReason: w.disabled_reason,
          consecutiveFailures: w.consecutive_failures,
          failingSince: w.failing_since,
          lastSuccessAt: w.last_success_at,
          lastFailureAt: w.last_failure_at,
        })),
      );
      if (updated.length > 0) await this.writeHealth(client, updated);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  private async writeHealth(client: pg.PoolClient, rows: HealthRow[]): Promise<void> {
    await client.query(
      `UPDATE webhook w
          SET status = h.status, disabled_reason = h.disabled_reason, consecutive_failures = h.consecutive_failures,
              failing_since = h.failing_since, last_success_at = h.last_success_at, last_failure_at = h.last_failure_at
         FROM json_to_recordset($1::json) AS h(id uuid, status text, disabled_reason text, consecutive_failures int,
              failing_since timestamptz, last_success_at timestamptz, last_failure_at timestamptz)
        WHERE w.id = h.id`,
      [
        JSON.stringify(
          rows.map((h) => ({
            id: h.id,
            status: h.status,
            disabled_reason: h.disabledReason,
            consecutive_failures: h.consecutiveFailures,
            failing_since: h.failingSince,
            last_success_at: h.lastSuccessAt,
            last_failure_at: h.lastFailureAt,
          })),
        ),
      ],
    );
  }

  /** The subscription's next EDI control number (durable, so numbers keep increasing across restarts). */
  async nextControlNumber(webhookId: string): Promise<number> {
    const { rows } = await this.pool.query(
      `UPDATE webhook SET edi_control_number = edi_control_number + 1 WHERE id = $1 RETURNING edi_control_number::int AS n`,
      [webhookId],
    );
    return rows[0].n;
  }

  /** Keeps this instance's leases alive while their deliveries wait or are in flight here. */
  async extendLeases(ids: string[], leaseMs: number): Promise<void> {
    if (ids.length === 0) return;
    await this.pool.query(
      `UPDATE delivery SET lease_expires_at = now() + $2 * interval '1 millisecond'
        WHERE id = ANY($1::uuid[]) AND status = 'pending' AND leased_by = $3`,
      [ids, leaseMs, this.instanceId],
    );
  }

  /** On shutdown: hand back deliveries this instance claimed but did not finish. */
  async releaseLeases(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.pool.query(
      `UPDATE delivery SET status = 'pending', lease_expires_at = NULL, leased_by = NULL, updated_at = now()
        WHERE id = ANY($1::uuid[]) AND status = 'pending' AND leased_by = $2`,
      [ids, this.instanceId],
    );
  }
}

function toRecordRow(r: AttemptRecord) {
  return {
    delivery_id: r.deliveryId,
    tenant_id: r.tenantId,
    webhook_id: r.webhookId,
    number: r.number,
    trigger: r.trigger,
    started_at: r.startedAt,
    duration_ms: r.durationMs,
    url: r.url,
    request_headers: r.requestHeaders,
    request_body: r.requestBody,
    response_status: r.responseStatus,
    response_headers: r.responseHeaders,
    response_body: r.responseBody,
    error_class: r.errorClass,
    error_message: r.errorMessage,
    status: r.status,
    next_attempt_at: r.nextAttemptAt,
  };
}
