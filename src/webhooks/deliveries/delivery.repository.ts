import pg from 'pg';
import type { DataSource, EntityManager } from 'typeorm';
import { affectedRows, queryRows, type Statement } from '../../database/sql.js';
import type { Tx } from '../../database/transaction.js';
import { API_VERSION } from '../../events/event-types.js';
import { envelopeColumns, envelopeFromRow } from '../../events/outbox.service.js';
import {
  type CurrentRuntime,
  sendsNow,
  WEBHOOK_RUNTIME_COLUMNS,
  webhookRuntimeFromRow,
  type WebhookRuntimeRow,
} from '../subscriptions/webhook-runtime.js';
import { type DeliveryStatus, STORED_DELIVERY_STATUSES } from './delivery-status.js';
import {
  ATTEMPT_COLUMNS,
  type AttemptRecord,
  type AttemptRow,
  type ClaimedDelivery,
  DELIVERY_COLUMNS,
  type DeliveryDetail,
  type DeliveryRow,
  type FeedRow,
  type NewDelivery,
} from './delivery.rows.js';

/**
 * A timestamp as the cursor's key, to the microsecond PostgreSQL keeps (a JS Date keeps the
 * millisecond: a row written with now() by hand, in the same millisecond as a page's last row but
 * older, would fall between two pages). With its era (a BC year read back without one is AD), and
 * `infinity` as itself.
 */
const MICROSECOND_KEY = (column: string) =>
  `coalesce(to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z" AD'), ${column}::text)`;

/** The filters of the delivery list. */
export interface DeliveryFilter {
  webhookId?: string;
  status?: DeliveryStatus;
  eventType?: string;
  since?: string;
  /** Keyset position: rows strictly older than (createdAt, id). */
  before?: { createdAt: string; id: string };
}

/** A test send: its delivery row and its one attempt, written together. */
export interface TestSendRecord {
  tenantId: string;
  webhookId: string;
  eventId: string;
  eventType: string;
  envelope: string;
  attempt: Omit<
    AttemptRecord,
    | 'attemptId'
    | 'deliveryId'
    | 'tenantId'
    | 'webhookId'
    | 'number'
    | 'trigger'
    | 'retryInMs'
    | 'retryBase'
    | 'releasesFollower'
    | 'aggregateId'
  >;
}

/** What a batch of outcomes changed: subscriptions whose success was written, deliveries that failed. */
export interface RecordedOutcomes {
  healthy: Set<string>;
  failed: Set<string>;
}

const recorded = (rows: Array<{ kind: string; id: string }>): RecordedOutcomes => ({
  healthy: new Set(rows.filter((r) => r.kind === 'healthy').map((r) => r.id)),
  failed: new Set(rows.filter((r) => r.kind === 'failed').map((r) => r.id)),
});

/** Why a redelivery was refused. */
export type RedeliverRefusal = 'not_found' | 'deleted' | 'pull' | 'in_flight';

/** "delivering" is a pending row under an unexpired lease; "pending" is one without. */
function statusCondition(status: DeliveryStatus): string {
  switch (status) {
    case 'delivering':
      return `d.status = 'pending' AND d.lease_expires_at > now()`;
    case 'pending':
      return `d.status = 'pending' AND (d.lease_expires_at IS NULL OR d.lease_expires_at <= now())`;
    default:
      return `d.status = '${status}'`;
  }
}

/** The batch as rows (`o`) and the delivery updates; $1 the batch as JSON, $2 this instance. */
const RECORD_CTES = `o AS (
    SELECT * FROM json_to_recordset($1::json) AS o(
      attempt_id bigint, delivery_id uuid, tenant_id uuid, webhook_id uuid, number int, trigger text, started_at timestamptz,
      duration_ms int, url text, request_headers jsonb, request_body text, response_status int,
      response_headers jsonb, response_body text, error_class text, error_message text, reason text,
      status text, retry_in_ms bigint, retry_base int)
  ), updated AS (
    UPDATE delivery d
       SET status = o.status, attempt_count = o.number, next_trigger = 'auto',
           next_attempt_at = CASE WHEN o.status = 'pending' THEN now() + o.retry_in_ms * interval '1 millisecond' END,
           retry_base = coalesce(o.retry_base, d.retry_base),
           lease_expires_at = NULL, leased_by = NULL, last_attempt_at = o.started_at,
           last_response_status = o.response_status, last_error_class = o.error_class, last_reason = o.reason,
           updated_at = now()
      FROM o
     WHERE d.id = ANY($5::uuid[]) AND d.id = o.delivery_id AND d.status = 'pending' AND d.leased_by = $2
       -- Subscription rows first, in id order, then deliveries: the order every other writer keeps.
       AND (SELECT count(*) FROM locked) >= 0
    RETURNING d.id, d.status
  )`;

/** The audit rows of the batch: each attempt's row, written with its lease, takes its outcome. */
const INSERT_ATTEMPTS = `UPDATE delivery_attempt a
     SET started_at = o.started_at, duration_ms = o.duration_ms, url = o.url, request_headers = o.request_headers,
         request_body = o.request_body, response_status = o.response_status, response_headers = o.response_headers,
         response_body = o.response_body, error_class = o.error_class, error_message = o.error_message, reason = o.reason
    FROM o
   WHERE a.id = ANY($6::bigint[]) AND a.id = o.attempt_id`;

/** What an attempt row says until its outcome is written: if its instance stops first, it stays so. */
export const INTERRUPTED = 'interrupted';
const INTERRUPTED_MESSAGE =
  'its instance stopped while the request was (or was about to be) on the wire; no outcome was recorded';

/**
 * The audit rows of attempts about to be made, written with their lease (claim or direct
 * hand-over): whatever happens to the instance, a request that goes out has its row. `source`
 * is a CTE of leased deliveries with id, tenant_id, webhook_id, attempt_count (this attempt's
 * number) and next_trigger. A delivery given back unsent takes its row back.
 */
const INSERT_STARTED_ATTEMPTS = (
  source: string,
) => `INSERT INTO delivery_attempt (delivery_id, tenant_id, webhook_id, number,
           trigger, started_at, duration_ms, url, request_headers, error_class, error_message)
         SELECT s.id, s.tenant_id, s.webhook_id, s.attempt_count, s.next_trigger, now(), 0, coalesce(sw.url, ''),
                '{}'::jsonb, '${INTERRUPTED}', '${INTERRUPTED_MESSAGE}'
           FROM ${source} s JOIN webhook sw ON sw.id = s.webhook_id
         RETURNING id, delivery_id`;

interface ClaimRow extends WebhookRuntimeRow {
  id: string;
  /** Some subscription had more due than its share of this claim. */
  more: boolean;
  attempt_id: string;
  tenant_id: string;
  aggregate_id: string | null;
  event_id: string;
  event_type: string;
  attempt_count: number;
  retry_base: number;
  next_trigger: ClaimedDelivery['trigger'];
  payload: string | null;
  created_at: Date;
  ev_api_version: string | null;
}

function toRecordRow(r: AttemptRecord) {
  return {
    attempt_id: r.attemptId,
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
    reason: r.reason,
    status: r.status,
    retry_in_ms: r.retryInMs,
    retry_base: r.retryBase,
  };
}

/**
 * The write-back of a batch of outcomes: $1 the batch, $2 this instance, $3/$4 the subscriptions
 * whose success is written here (healthy ones only). Answers ('healthy', webhook id) and
 * ('failed', delivery id) rows.
 */
const RECORD = `WITH locked AS (
      SELECT id, status FROM webhook WHERE id = ANY($3::uuid[]) ORDER BY id FOR NO KEY UPDATE
    ), ${RECORD_CTES}, inserted AS (${INSERT_ATTEMPTS}), healthy AS (
      UPDATE webhook w
         SET consecutive_failures = 0, failing_since = NULL,
             last_success_at = GREATEST(coalesce(w.last_success_at, h.at), h.at)
        FROM locked JOIN unnest($3::uuid[], $4::timestamptz[]) AS h(id, at) ON h.id = locked.id
       WHERE w.id = ANY($3::uuid[]) AND w.id = h.id AND locked.status = 'healthy'
      RETURNING w.id
    )
    SELECT 'healthy' AS kind, id FROM healthy
    UNION ALL SELECT 'failed', id FROM updated WHERE status = 'failed'`;

/**
 * The write-back of `records` as the engine's pool runs it: prepared once per connection (named),
 * so each batch is bound and executed without being parsed and planned again (its plan does not
 * depend on the values: a batch read from JSON joined by primary key). Each row it changes is
 * also named by an id array ($5 deliveries, $6 attempts, $3 subscriptions), an index condition
 * that bounds every lookup by the batch whatever plan is cached: joined by the JSON alone, a plan
 * made while `delivery_attempt` was small hashed the whole table for every batch. The pre-send
 * check is prepared likewise; the claim is planned each time (see claimDueDeliveries).
 */
function recordStatement(
  records: AttemptRecord[],
  successes: Map<string, Date>,
  instanceId: string,
): { name: string; text: string; values: unknown[] } {
  const ids = [...successes.keys()].sort();
  return {
    name: 'waybill_record',
    text: RECORD,
    values: [
      JSON.stringify(records.map(toRecordRow)),
      instanceId,
      ids,
      ids.map((id) => successes.get(id)),
      records.map((r) => r.deliveryId),
      records.map((r) => r.attemptId),
    ],
  };
}

/** The next pending delivery of each (subscription, aggregate), when it waits for its predecessor: it may go now. */
const RELEASE_FOLLOWERS = `WITH done AS (
    SELECT DISTINCT w, a FROM unnest($1::uuid[], $2::uuid[]) AS p(w, a) WHERE a IS NOT NULL
  ), heads AS (
    SELECT h.id
      FROM done
      CROSS JOIN LATERAL (
        SELECT e.id, e.awaiting_predecessor FROM delivery e
         WHERE e.webhook_id = done.w AND e.aggregate_id = done.a AND e.status = 'pending'
         ORDER BY e.event_sequence LIMIT 1
      ) h
     WHERE h.awaiting_predecessor
  )
  UPDATE delivery d SET awaiting_predecessor = false, next_attempt_at = now(), updated_at = now()
    FROM heads WHERE d.id = heads.id`;

/**
 * Every SQL statement on `delivery` and `delivery_attempt`: fan-out, the engine's claims and
 * write-backs, the admin moves of a subscription's deliveries, feeds, test sends, the audit,
 * metrics and pruning. Claims and write-backs are batched: a statement per batch, never a round
 * trip per delivery.
 *
 * The engine's statements run on a small pool of its own whose sessions use synchronous_commit
 * = off: a lease or an outcome lost in a crash (the last few ms of commits) only means that
 * delivery is sent again when its lease expires, which at-least-once delivery allows; not
 * waiting for the WAL flush on every claim and every batch of outcomes is what lets the engine
 * drain several times faster. Deliveries themselves are created in the domain's transaction,
 * durably; so are the admin moves.
 */
export class DeliveryRepository {
  private readonly pool: pg.Pool;
  private closed = false;

  constructor(
    private readonly dataSource: DataSource,
    databaseUrl: string,
    readonly instanceId: string,
  ) {
    this.pool = new pg.Pool({
      connectionString: databaseUrl,
      max: 6,
      application_name: 'waybill-dispatcher',
      // JIT compiles a plan whose estimated cost passes jit_above_cost on every call (node-pg's
      // statements are unnamed, so re-planned): 352 ms instead of 14 ms measured for a claim.
      // No sequential scans: the engine's statements find their rows by index (ids, a
      // subscription's due range; only the claim reads every subscription, where an index scan
      // of `webhook` costs little more), and a prepared statement keeps the plan it was given
      // while the tables were small (a fresh database, a TRUNCATE) until the next ANALYZE: a
      // scan of the whole table then, which each batch repeats as the table grows
      // (test/engine/write-back-cost).
      options: '-c synchronous_commit=off -c jit=off -c enable_seqscan=off',
    });
    this.pool.on('error', () => undefined);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }

  // ---- fan-out (in the domain's transaction)

  /**
   * The deliveries of one recorded batch of events, in one statement. Due times are the
   * database's clock (plus a coalescing window), never this process's.
   */
  async insertFanOut(
    tx: Tx,
    tenantId: string,
    createdAt: Date,
    rows: NewDelivery[],
    leaseMs: number,
  ): Promise<Map<string, string>> {
    const started = await tx.query<{ delivery_id: string; id: string }>(
      `WITH inserted AS (
         INSERT INTO delivery (id, tenant_id, webhook_id, event_id, event_type, aggregate_id, event_sequence, status,
                               next_attempt_at, awaiting_predecessor, attempt_count, lease_expires_at, leased_by,
                               created_at, updated_at, feed_position)
         SELECT i, $1, w, e, t, a, s, 'pending', now() + due * interval '1 millisecond', aw, CASE WHEN l THEN 1 ELSE 0 END,
                CASE WHEN l THEN now() + $10 * interval '1 millisecond' END, CASE WHEN l THEN $11 END, $8, $8, f
           FROM unnest($2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::uuid[], $7::int[], $9::bool[], $12::bigint[],
                       $13::bigint[], $14::bool[])
                AS x(i, w, e, t, a, s, l, due, f, aw)
         RETURNING id, tenant_id, webhook_id, attempt_count, next_trigger, leased_by
       ), leased AS (
         SELECT * FROM inserted WHERE leased_by IS NOT NULL
       )
       ${INSERT_STARTED_ATTEMPTS('leased')}`,
      [
        tenantId,
        rows.map((r) => r.id),
        rows.map((r) => r.webhookId),
        rows.map((r) => r.eventId),
        rows.map((r) => r.eventType),
        rows.map((r) => r.aggregateId),
        rows.map((r) => r.eventSequence),
        createdAt,
        rows.map((r) => r.leased),
        leaseMs,
        this.instanceId,
        rows.map((r) => r.dueInMs),
        rows.map((r) => r.feedPosition),
        rows.map((r) => r.awaiting),
      ],
    );
    return new Map(started.map((r) => [r.delivery_id, String(r.id)]));
  }

  /**
   * The same deliveries as `insertFanOut`, as CTEs of the statement that records their events
   * (`recorded`: id, sequence, which gives each delivery its event's sequence), for a fan-out
   * planned before that statement. `result` is the started attempts of the leased ones, as
   * `[[deliveryId, attemptId], …]` (or null).
   */
  fanOutCtes(
    tenantId: string,
    createdAt: Date,
    rows: Array<Omit<NewDelivery, 'eventSequence'>>,
    leaseMs: number,
  ): { ctes: Array<Statement & { name: string }>; result: string } {
    const ctes: Array<Statement & { name: string }> = [
      {
        name: 'fanout_inserted',
        sql: `INSERT INTO delivery (id, tenant_id, webhook_id, event_id, event_type, aggregate_id, event_sequence, status,
                                    next_attempt_at, awaiting_predecessor, attempt_count, lease_expires_at, leased_by,
                                    created_at, updated_at, feed_position)
              SELECT i, $1, w, e, t, a, r.sequence, 'pending', now() + due * interval '1 millisecond', aw, CASE WHEN l THEN 1 ELSE 0 END,
                     CASE WHEN l THEN now() + $8 * interval '1 millisecond' END, CASE WHEN l THEN $9 END, $7, $7, f
                FROM unnest($2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::uuid[], $10::bool[], $11::bigint[],
                            $12::bigint[], $13::bool[]) AS x(i, w, e, t, a, l, due, f, aw)
                JOIN recorded r ON r.id = x.e
              RETURNING id, tenant_id, webhook_id, attempt_count, next_trigger, leased_by`,
        params: [
          tenantId,
          rows.map((r) => r.id),
          rows.map((r) => r.webhookId),
          rows.map((r) => r.eventId),
          rows.map((r) => r.eventType),
          rows.map((r) => r.aggregateId),
          createdAt,
          leaseMs,
          this.instanceId,
          rows.map((r) => r.leased),
          rows.map((r) => r.dueInMs),
          rows.map((r) => r.feedPosition),
          rows.map((r) => r.awaiting),
        ],
      },
    ];
    if (!rows.some((r) => r.leased)) return { ctes, result: 'NULL::json' };
    ctes.push({
      name: 'fanout_attempts',
      sql: INSERT_STARTED_ATTEMPTS('(SELECT * FROM fanout_inserted WHERE leased_by IS NOT NULL)'),
      params: [],
    });
    return { ctes, result: '(SELECT json_agg(json_build_array(delivery_id, id::text)) FROM fanout_attempts)' };
  }

  /**
   * Ordered subscriptions: which of these (subscription, aggregate) pairs have an open delivery
   * already. The oldest open one is share-locked until the caller's transaction ends, so it cannot
   * end (and release its follower) before the new follower is committed; one that is being written
   * right now is skipped, never waited for (the claim still checks order, so skipping only costs
   * that follower its place in the queue of heads).
   */
  async pairsWithOpenDelivery(tx: Tx, pairs: Array<{ webhookId: string; aggregateId: string }>): Promise<Set<string>> {
    if (pairs.length === 0) return new Set();
    const rows = await tx.query<{ w: string; a: string }>(
      `SELECT p.w, p.a FROM unnest($1::uuid[], $2::uuid[]) AS p(w, a)
        CROSS JOIN LATERAL (
          SELECT e.id FROM delivery e
           WHERE e.webhook_id = p.w AND e.aggregate_id = p.a AND e.status = 'pending'
           ORDER BY e.event_sequence LIMIT 1
           FOR SHARE SKIP LOCKED
        ) h`,
      [pairs.map((p) => p.webhookId), pairs.map((p) => p.aggregateId)],
    );
    return new Set(rows.map((r) => `${r.w}/${r.a}`));
  }

  /** The next delivery of each pair, when it awaits its predecessor and none is open any more, becomes due. */
  async releaseFollowers(tx: Tx, pairs: Array<{ webhookId: string; aggregateId: string }>): Promise<void> {
    if (pairs.length === 0) return;
    await tx.manager.query(RELEASE_FOLLOWERS, [pairs.map((p) => p.webhookId), pairs.map((p) => p.aggregateId)]);
  }

  /**
   * Coalescing: a covered delivery of the aggregate still waiting for its window gives way to the
   * newer one. It stays in the audit as superseded.
   */
  async supersedeOlder(
    tx: Tx,
    covered: { webhookId: string; aggregateId: string; eventTypes: string[]; sequence: number },
  ): Promise<void> {
    await tx.manager.query(
      `UPDATE delivery SET status = 'superseded', next_attempt_at = NULL, awaiting_predecessor = false, updated_at = now()
        WHERE webhook_id = $1 AND aggregate_id = $2 AND event_type = ANY($3::text[]) AND event_sequence < $4
          AND status = 'pending' AND (lease_expires_at IS NULL OR lease_expires_at < now())`,
      [covered.webhookId, covered.aggregateId, covered.eventTypes, covered.sequence],
    );
  }

  // ---- the engine (its own pool)

  /**
   * Leases up to `limit` due deliveries: a pending row whose lease is unset or expired (a crashed
   * instance's deliveries come back that way). Heads first: each deliverable subscription offers
   * its oldest due delivery (one probe of its own index range), the `limit` subscriptions with
   * the oldest heads are chosen, and each of those offers its oldest due deliveries up to an
   * equal share of the batch (at most `perWebhookLimit`, and at most eight times its
   * concurrency); the oldest of those are taken. The claim reads one row per subscription plus
   * about a batch, whatever the backlog: a subscription with a huge or stuck backlog can neither
   * starve the others nor make the claim walk its rows. Candidates are read without locks; only
   * the rows taken are locked (SKIP LOCKED, re-checked), so a second instance is not kept off
   * rows this claim does not take. The lease (not a held transaction) marks them taken. Only the
   * lease columns change, none indexed, so the update is HOT: claiming adds no index entries.
   * Paused, disabled, in-maintenance, switched-off, deleted and pull subscriptions hold theirs;
   * an ordered subscription's followers wait with no due time (only heads are due), and the NOT
   * EXISTS keeps order should a follower be due anyway; `excluded` are subscriptions this
   * instance has enough of already. `more`: a subscription had more due than its share (a
   * shorter batch than asked does not mean nothing is left).
   */
  async claimDueDeliveries(
    limit: number,
    excluded: string[],
    leaseMs: number,
    perWebhookLimit = limit,
  ): Promise<{ deliveries: ClaimedDelivery[]; more: boolean }> {
    // Not prepared: its best plan depends on the values (how many to take, the subscriptions
    // excluded) and on the backlog's shape, and a cached generic plan of it once walked every
    // follower of a blocked ordered subscription on each claim (test/engine/faults, 8.).
    const { rows } = await this.pool.query<ClaimRow>({
      text: `WITH heads AS MATERIALIZED (
         SELECT w.id, w.ordered, least($5, 8 * w.max_concurrency) AS cap, h.next_attempt_at, h.event_sequence
           FROM webhook w
           CROSS JOIN LATERAL (
             SELECT x.next_attempt_at, x.event_sequence
               FROM delivery x
              WHERE x.webhook_id = w.id AND x.status = 'pending' AND x.next_attempt_at <= now()
                AND (x.lease_expires_at IS NULL OR x.lease_expires_at < now())
                AND (NOT w.ordered OR NOT EXISTS (
                      SELECT 1 FROM delivery e
                       WHERE e.webhook_id = x.webhook_id AND e.aggregate_id = x.aggregate_id
                         AND e.status = 'pending' AND e.event_sequence < x.event_sequence))
              ORDER BY x.next_attempt_at, x.event_sequence
              LIMIT 1
           ) h
          WHERE ${sendsNow('w')}
            AND NOT (w.id = ANY($2::uuid[]))
          ORDER BY h.next_attempt_at, h.event_sequence
          LIMIT $1
       ), share AS (
         SELECT greatest(1, ceil($1::numeric / greatest(1, count(*))))::int AS quota FROM heads
       ), due AS (
         SELECT d.id, h.id AS webhook_id, least(h.cap, s.quota) AS quota, d.next_attempt_at, d.event_sequence
           FROM heads h CROSS JOIN share s
           CROSS JOIN LATERAL (
             SELECT x.id, x.next_attempt_at, x.event_sequence
               FROM delivery x
              WHERE x.webhook_id = h.id AND x.status = 'pending' AND x.next_attempt_at <= now()
                AND (x.next_attempt_at, x.event_sequence) >= (h.next_attempt_at, h.event_sequence)
                AND (x.lease_expires_at IS NULL OR x.lease_expires_at < now())
                AND (NOT h.ordered OR NOT EXISTS (
                      SELECT 1 FROM delivery e
                       WHERE e.webhook_id = x.webhook_id AND e.aggregate_id = x.aggregate_id
                         AND e.status = 'pending' AND e.event_sequence < x.event_sequence))
              ORDER BY x.next_attempt_at, x.event_sequence
              LIMIT least(h.cap, s.quota)
           ) d
          ORDER BY d.next_attempt_at, d.event_sequence
          LIMIT $1
       ), cut AS (
         SELECT EXISTS (SELECT 1 FROM due GROUP BY webhook_id, quota HAVING count(*) >= quota) AS more
       ), taken AS (
         SELECT x.id FROM delivery x
          WHERE x.id IN (SELECT id FROM due) AND x.status = 'pending' AND x.next_attempt_at <= now()
            AND (x.lease_expires_at IS NULL OR x.lease_expires_at < now())
          FOR UPDATE SKIP LOCKED
       ), claimed AS (
         UPDATE delivery d
            SET lease_expires_at = now() + $3 * interval '1 millisecond', leased_by = $4, attempt_count = d.attempt_count + 1
           FROM taken WHERE d.id = taken.id
         RETURNING d.id, d.tenant_id, d.webhook_id, d.event_id, d.event_type, d.aggregate_id, d.attempt_count, d.retry_base,
                   d.next_trigger, d.payload::text AS payload, d.next_attempt_at, d.event_sequence, d.created_at
       ), attempts AS (
         ${INSERT_STARTED_ATTEMPTS('claimed')}
       )
       SELECT c.*, a.id::text AS attempt_id, cut.more, ${envelopeColumns('ev')}, ${WEBHOOK_RUNTIME_COLUMNS}
         FROM claimed c
         CROSS JOIN cut
         JOIN attempts a ON a.delivery_id = c.id
         JOIN webhook w ON w.id = c.webhook_id
         LEFT JOIN event ev ON ev.id = c.event_id
        ORDER BY c.next_attempt_at, c.event_sequence`,
      values: [limit, excluded, leaseMs, this.instanceId, perWebhookLimit],
    });
    const deliveries = rows.map((r) => ({
      id: r.id,
      tenantId: r.tenant_id,
      webhookId: r.webhook_id,
      eventId: r.event_id,
      eventType: r.event_type,
      aggregateId: r.aggregate_id,
      attemptId: r.attempt_id,
      // The claim counted this attempt already.
      attemptCount: r.attempt_count - 1,
      retryBase: r.retry_base,
      trigger: r.next_trigger,
      createdAt: r.created_at,
      body: r.payload ?? envelopeFromRow(r)!,
      bodyIsEnvelope: r.payload === null,
      bodyVersion: r.ev_api_version ?? API_VERSION,
      webhook: webhookRuntimeFromRow(r),
    }));
    return { deliveries, more: rows.some((r) => r.more) };
  }

  /**
   * The pre-send check, for the subscriptions of the deliveries about to start (one statement per
   * turn of the event loop): each as it is now, and whether it may be sent to.
   */
  async currentRuntimes(webhookIds: string[]): Promise<Map<string, CurrentRuntime>> {
    const { rows } = await this.pool.query<WebhookRuntimeRow & { sendable: boolean }>({
      name: 'waybill_check',
      text: `SELECT ${WEBHOOK_RUNTIME_COLUMNS}, ${sendsNow('w')} AS sendable
         FROM webhook w WHERE w.id = ANY($1::uuid[])`,
      values: [webhookIds],
    });
    return new Map(rows.map((r) => [r.webhook_id, { runtime: webhookRuntimeFromRow(r), sendable: r.sendable }]));
  }

  /**
   * Writes finished attempts in one statement: the delivery rows and their audit rows. A delivery
   * this instance no longer holds (its lease expired and another took it, or it was discarded)
   * keeps its state; the attempt is still audited. Writing the same attempt twice (a retried
   * batch) adds no second audit row. When an attempt ends an ordered subscription's delivery,
   * the next one of its aggregate is released in the same transaction.
   *
   * `successes`: subscriptions whose attempts here all succeeded, with the last success. Those
   * that are healthy already take their success in the same statement (no read, no transaction);
   * their rows are locked in id order first, so two instances never deadlock on them. A `failing`
   * one's recovery is a change of state that records `webhook.recovered`: the health transaction
   * does that. Answers the subscriptions written here, and the deliveries this batch ended as
   * failed (those this instance still held).
   */
  async recordOutcomes(records: AttemptRecord[], successes: Map<string, Date>): Promise<RecordedOutcomes> {
    const statement = recordStatement(records, successes, this.instanceId);
    const releasing = records.filter((r) => r.releasesFollower && r.aggregateId);
    if (releasing.length === 0) {
      const { rows } = await this.pool.query<{ kind: string; id: string }>(statement);
      return recorded(rows);
    }
    const client = await this.pool.connect();
    // A checked-out client has no listener of its own: a server going away (a restart) would
    // otherwise be an unhandled 'error' and end the process.
    let broken: Error | undefined;
    const onError = (error: Error) => (broken = error);
    client.on('error', onError);
    try {
      await client.query('BEGIN');
      const { rows } = await client.query<{ kind: string; id: string }>(statement);
      // A statement of its own: it must see the rows the record statement waited for.
      await client.query(RELEASE_FOLLOWERS, [releasing.map((r) => r.webhookId), releasing.map((r) => r.aggregateId)]);
      await client.query('COMMIT');
      return recorded(rows);
    } catch (error) {
      broken ??= error instanceof Error ? error : new Error(String(error));
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.off('error', onError);
      // A client that failed is not given back to the pool for reuse.
      client.release(broken);
    }
  }

  /**
   * `recordOutcomes` inside the caller's transaction, for a batch whose outcomes change more than
   * the delivery rows (a delivery failed for good, a subscription's health): the caller holds the
   * subscriptions' rows locked, writes their health and records the operational events in the
   * same transaction, so a delivery is `failed` only together with its `delivery.failed`. Health
   * is the caller's: no success is written here.
   */
  async recordOutcomesIn(tx: Tx, records: AttemptRecord[]): Promise<RecordedOutcomes> {
    const { text, values } = recordStatement(records, new Map(), this.instanceId);
    const rows = await tx.query<{ kind: string; id: string }>(text, values);
    const releasing = records.filter((r) => r.releasesFollower && r.aggregateId);
    if (releasing.length > 0)
      await tx.query(RELEASE_FOLLOWERS, [releasing.map((r) => r.webhookId), releasing.map((r) => r.aggregateId)]);
    return recorded(rows);
  }

  /**
   * Followers left waiting with nothing to release them (an ordering switched on or off, a crash
   * between writes): each one whose aggregate has no earlier open delivery becomes due. Those are
   * the waiting ones at their aggregate's lowest open sequence: one walk of the waiting followers'
   * index for their aggregates and one probe per aggregate for its lowest, taken once (an array)
   * and then locked by primary key in id order, skipping rows another statement holds (the next
   * sweep takes them), so the sweep never waits in a lock cycle. Asked of each follower instead
   * ("is any open delivery of its aggregate earlier?"), a hash anti-join compared every pair of an
   * aggregate's followers (11 M comparisons for 149 k followers in aggregates of 149); a join of
   * the candidates back to `delivery`, planned on statistics from before a backlog formed, ran the
   * whole search again for every waiting follower.
   */
  async releaseStrandedFollowers(): Promise<number> {
    const { rowCount } = await this.pool.query(
      `UPDATE delivery d SET awaiting_predecessor = false, next_attempt_at = now(), updated_at = now()
         FROM (SELECT id FROM delivery
                WHERE id = ANY (ARRAY(
                        SELECT f.id
                          FROM (SELECT DISTINCT webhook_id, aggregate_id FROM delivery
                                 WHERE status = 'pending' AND awaiting_predecessor AND aggregate_id IS NOT NULL) g
                          CROSS JOIN LATERAL (
                            SELECT f.id FROM delivery f
                             WHERE f.webhook_id = g.webhook_id AND f.aggregate_id = g.aggregate_id
                               AND f.status = 'pending' AND f.awaiting_predecessor
                               AND f.event_sequence = (
                                     SELECT e.event_sequence FROM delivery e
                                      WHERE e.webhook_id = g.webhook_id AND e.aggregate_id = g.aggregate_id
                                        AND e.status = 'pending'
                                      ORDER BY e.event_sequence LIMIT 1)
                            OFFSET 0) f
                        UNION ALL
                        -- No aggregate, nothing to wait for.
                        SELECT id FROM delivery WHERE status = 'pending' AND awaiting_predecessor AND aggregate_id IS NULL))
                  AND status = 'pending' AND awaiting_predecessor
                ORDER BY id FOR UPDATE SKIP LOCKED) stranded
        WHERE d.id = stranded.id`,
    );
    return rowCount ?? 0;
  }

  /** Keeps this instance's leases alive while their deliveries wait or are in flight here. */
  async extendLeases(ids: string[], leaseMs: number): Promise<void> {
    if (ids.length === 0) return;
    // SKIP LOCKED: a row being written right now (its outcome, its start) is not waited for, so
    // the heartbeat never deadlocks with those statements; the next beat renews it.
    await this.pool.query(
      `UPDATE delivery d SET lease_expires_at = now() + $2 * interval '1 millisecond'
         FROM (SELECT id FROM delivery WHERE id = ANY($1::uuid[]) AND status = 'pending' AND leased_by = $3
                ORDER BY id FOR UPDATE SKIP LOCKED) mine
        WHERE d.id = mine.id`,
      [ids, leaseMs, this.instanceId],
    );
  }

  /**
   * Hands back deliveries this instance leased but did not send (shutdown, a subscription paused
   * or deleted since, no concurrency slot): due again at once for whoever may send them; the
   * attempt each had started is taken back, with its audit row.
   */
  async releaseLeases(unsent: Array<{ deliveryId: string; attemptId: string }>): Promise<void> {
    if (unsent.length === 0) return;
    await this.pool.query(
      `WITH back AS (
         DELETE FROM delivery_attempt a
          WHERE a.id = ANY($2::bigint[]) AND a.error_class = '${INTERRUPTED}'
         RETURNING a.delivery_id, a.number
       ), released AS (
         UPDATE delivery d
            SET lease_expires_at = NULL, leased_by = NULL, updated_at = now(),
                attempt_count = CASE WHEN back.number = d.attempt_count THEN d.attempt_count - 1 ELSE d.attempt_count END
           FROM back
          WHERE d.id = back.delivery_id AND d.status = 'pending' AND d.leased_by = $3
         RETURNING d.id
       )
       UPDATE delivery d SET lease_expires_at = NULL, leased_by = NULL, updated_at = now()
        WHERE d.id = ANY($1::uuid[]) AND d.status = 'pending' AND d.leased_by = $3
          AND d.id NOT IN (SELECT delivery_id FROM back)`,
      [unsent.map((u) => u.deliveryId), unsent.map((u) => u.attemptId), this.instanceId],
    );
  }

  // ---- admin moves of a subscription's deliveries (in the transaction that changes the subscription)

  /** `discardHeld`: the held deliveries of a re-enabled subscription are discarded instead of sent. */
  async discardHeld(tx: Tx, webhookId: string): Promise<void> {
    await tx.manager.query(
      `UPDATE delivery SET status = 'discarded', next_attempt_at = NULL, awaiting_predecessor = false, updated_at = now()
        WHERE webhook_id = $1 AND status = 'pending' AND (lease_expires_at IS NULL OR lease_expires_at < now())`,
      [webhookId],
    );
  }

  /** DELETE: every open delivery of the subscription is discarded; the audit stays. */
  async discardOpen(tx: Tx, webhookId: string): Promise<void> {
    await tx.manager.query(
      `UPDATE delivery SET status = 'discarded', next_attempt_at = NULL, awaiting_predecessor = false,
                           lease_expires_at = NULL, leased_by = NULL, updated_at = now()
        WHERE webhook_id = $1 AND status = 'pending'`,
      [webhookId],
    );
  }

  /**
   * Deliveries with no due time that may go now (from a feed, or held by an older Waybill that
   * created held deliveries without one) become due as of their creation, so the backlog goes out
   * oldest first. On an ordered subscription only the oldest open one of each aggregate becomes
   * due; the others await it (those awaiting already are left as they are). Deliveries created
   * while paused or disabled are due already: resuming rewrites none of them.
   */
  async releaseHeld(tx: Tx, webhookId: string, ordered: boolean): Promise<void> {
    if (!ordered) {
      await tx.manager.query(
        `UPDATE delivery SET next_attempt_at = created_at, awaiting_predecessor = false, updated_at = now()
          WHERE webhook_id = $1 AND status = 'pending' AND next_attempt_at IS NULL`,
        [webhookId],
      );
      return;
    }
    await tx.manager.query(
      `WITH open AS (
         SELECT id, next_attempt_at IS NULL AND NOT awaiting_predecessor AS held,
                row_number() OVER (PARTITION BY aggregate_id ORDER BY event_sequence) = 1 AS head
           FROM delivery WHERE webhook_id = $1 AND status = 'pending'
            AND EXISTS (SELECT 1 FROM delivery h
                         WHERE h.webhook_id = $1 AND h.status = 'pending' AND h.next_attempt_at IS NULL
                           AND NOT h.awaiting_predecessor)
       )
       UPDATE delivery d
          SET next_attempt_at = CASE WHEN open.head THEN d.created_at END, awaiting_predecessor = NOT open.head,
              updated_at = now()
         FROM open WHERE d.id = open.id AND open.held`,
      [webhookId],
    );
  }

  /**
   * Push → pull: the subscription's open deliveries join its feed after position `head`, oldest
   * first. One in flight joins too and loses its lease: if its attempt succeeds the ERP may read
   * it once more (at least once), if it fails it waits in the feed. Answers how many joined.
   */
  async moveWaitingToFeed(tx: Tx, webhookId: string, head: number): Promise<number> {
    const rows = await queryRows<{ n: number }>(
      tx.manager,
      `WITH waiting AS (
         SELECT id, row_number() OVER (ORDER BY created_at, event_sequence, id) AS n
           FROM delivery
          WHERE webhook_id = $1 AND status = 'pending' AND feed_position IS NULL
       )
       UPDATE delivery d SET feed_position = $2 + w.n, next_attempt_at = NULL, awaiting_predecessor = false,
                             lease_expires_at = NULL, leased_by = NULL, updated_at = now()
         FROM waiting w WHERE d.id = w.id
       RETURNING w.n`,
      [webhookId, head],
    );
    return rows.length;
  }

  // ---- redeliver and replay

  /** Queues one more attempt now (trigger manual); on failure the retry schedule starts again. Null: refused. */
  async redeliver(tenantId: string, id: string): Promise<DeliveryRow | null> {
    const rows = await queryRows<DeliveryRow>(
      this.dataSource,
      `UPDATE delivery d SET status = 'pending', next_attempt_at = now(), next_trigger = 'manual', retry_base = d.attempt_count,
                             awaiting_predecessor = false, updated_at = now()
         FROM webhook w
        WHERE d.id = $1 AND d.tenant_id = $2 AND w.id = d.webhook_id AND w.deleted_at IS NULL AND w.delivery_mode = 'push'
          AND (d.status <> 'pending' OR d.lease_expires_at IS NULL OR d.lease_expires_at <= now())
        RETURNING ${DELIVERY_COLUMNS}`,
      [id, tenantId],
    );
    return rows[0] ?? null;
  }

  /** Why `redeliver` refused this delivery. */
  async redeliverRefusal(tenantId: string, id: string): Promise<RedeliverRefusal> {
    const [row] = await queryRows<{ deleted: boolean; mode: string }>(
      this.dataSource,
      `SELECT w.deleted_at IS NOT NULL AS deleted, w.delivery_mode AS mode
         FROM delivery d JOIN webhook w ON w.id = d.webhook_id WHERE d.id = $1 AND d.tenant_id = $2`,
      [id, tenantId],
    );
    if (!row) return 'not_found';
    if (row.deleted) return 'deleted';
    if (row.mode === 'pull') return 'pull';
    return 'in_flight';
  }

  /** Re-queues the subscription's failed deliveries created in [since, until); answers how many. */
  async replayFailed(tenantId: string, webhookId: string, since: string, until: string | null): Promise<number> {
    return affectedRows(
      this.dataSource,
      `UPDATE delivery SET status = 'pending', next_attempt_at = now(), next_trigger = 'replay', retry_base = attempt_count, updated_at = now()
        WHERE tenant_id = $1 AND webhook_id = $2 AND status = 'failed' AND created_at >= $3::timestamptz
          AND ($4::timestamptz IS NULL OR created_at < $4::timestamptz)`,
      [tenantId, webhookId, since, until],
    );
  }

  // ---- pull feeds

  /** What waits in a feed after position `after`, in feed order. */
  async readFeed(webhookId: string, after: string, limit: number): Promise<FeedRow[]> {
    const rows = await queryRows<{ event_id: string; event_type: string; position: string; payload: string | null }>(
      this.dataSource,
      `SELECT d.event_id, d.event_type, d.feed_position::text AS position, d.payload::text AS payload, ${envelopeColumns('ev')}
         FROM delivery d LEFT JOIN event ev ON ev.id = d.event_id
        WHERE d.webhook_id = $1 AND d.status = 'pending' AND d.feed_position > $2::bigint
        ORDER BY d.feed_position
        LIMIT $3`,
      [webhookId, after, limit],
    );
    return rows.map((row) => ({
      eventId: row.event_id,
      eventType: row.event_type,
      position: row.position,
      body: row.payload ?? envelopeFromRow(row)!,
      bodyVersion: (row as { ev_api_version?: string | null }).ev_api_version ?? API_VERSION,
    }));
  }

  /** Everything in the feed up to `cursor` becomes delivered, each with a `pull` attempt. Answers how many. */
  async acknowledgeFeed(tx: Tx, webhookId: string, cursor: string, feedUrl: string): Promise<number> {
    const rows = await queryRows<{ id: string }>(
      tx.manager,
      `WITH done AS (
         UPDATE delivery SET status = 'delivered', attempt_count = attempt_count + 1, next_attempt_at = NULL, next_trigger = 'auto',
                last_attempt_at = now(), last_response_status = 200, last_error_class = NULL,
                last_reason = 'acknowledged through the feed', updated_at = now()
          WHERE webhook_id = $1 AND status = 'pending' AND feed_position IS NOT NULL AND feed_position <= $2::bigint
         RETURNING id, tenant_id, webhook_id, attempt_count
       )
       INSERT INTO delivery_attempt (delivery_id, tenant_id, webhook_id, number, trigger, started_at, duration_ms, url,
                                     request_headers, response_status, error_class, reason)
       SELECT id, tenant_id, webhook_id, attempt_count, 'pull', now(), 0, $3, '{}'::jsonb, 200, NULL,
              'acknowledged through the feed' FROM done
       RETURNING delivery_id AS id`,
      [webhookId, cursor, feedUrl],
    );
    return rows.length;
  }

  // ---- test sends

  /** A test send's delivery (its body stored, since it is no outbox event) and its one attempt. */
  async recordTestSend(send: TestSendRecord): Promise<{ deliveryId: string; attempt: AttemptRow }> {
    return this.dataSource.transaction(async (manager: EntityManager) => {
      const a = send.attempt;
      const [delivery] = await queryRows<{ id: string }>(
        manager,
        `INSERT INTO delivery (tenant_id, webhook_id, event_id, event_type, payload, status, next_trigger, attempt_count,
                               last_attempt_at, last_response_status, last_error_class, last_reason, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, 'test', 1, $7, $8, $9, $10, $7, now()) RETURNING id`,
        [
          send.tenantId,
          send.webhookId,
          send.eventId,
          send.eventType,
          send.envelope,
          a.status,
          a.startedAt,
          a.responseStatus,
          a.errorClass,
          a.reason,
        ],
      );
      const [attempt] = await queryRows<AttemptRow>(
        manager,
        `INSERT INTO delivery_attempt AS a (delivery_id, tenant_id, webhook_id, number, trigger, started_at, duration_ms, url,
                                       request_headers, request_body, response_status, response_headers, response_body, error_class, error_message, reason)
         VALUES ($1, $2, $3, 1, 'test', $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING ${ATTEMPT_COLUMNS}`,
        [
          delivery.id,
          send.tenantId,
          send.webhookId,
          a.startedAt,
          a.durationMs,
          a.url,
          a.requestHeaders,
          a.requestBody,
          a.responseStatus,
          a.responseHeaders,
          a.responseBody,
          a.errorClass,
          a.errorMessage,
          a.reason,
        ],
      );
      return { deliveryId: delivery.id, attempt };
    });
  }

  // ---- the audit

  /**
   * A page of the tenant's deliveries, newest first (`limit + 1` rows: the extra one says more
   * exist). One subscription's log without a status is the merge of its log per stored status
   * (a range of delivery_webhook_list each, newest first, cut at the page: a branch with quals is
   * planned apart, so the cut must be its own): a page reads at most a page per status at any
   * depth, with no index of its own to keep up on every delivery's creation and outcome.
   */
  async list(
    tenantId: string,
    filter: DeliveryFilter,
    limit: number,
  ): Promise<Array<DeliveryRow & { createdKey: string }>> {
    const params: unknown[] = [tenantId];
    const where = ['d.tenant_id = $1'];
    if (filter.webhookId) where.push(`d.webhook_id = $${params.push(filter.webhookId)}::uuid`);
    if (filter.status) where.push(statusCondition(filter.status));
    if (filter.eventType) where.push(`d.event_type = $${params.push(filter.eventType)}`);
    if (filter.since) where.push(`d.created_at >= $${params.push(filter.since)}::timestamptz`);
    if (filter.before)
      where.push(
        `(d.created_at, d.id) < ($${params.push(filter.before.createdAt)}::timestamptz, $${params.push(filter.before.id)}::uuid)`,
      );
    const rows =
      filter.webhookId && !filter.status
        ? `(${STORED_DELIVERY_STATUSES.map(
            (status) =>
              `(SELECT * FROM delivery d WHERE ${where.join(' AND ')} AND d.status = '${status}'
                 ORDER BY d.created_at DESC, d.id DESC LIMIT ${limit + 1})`,
          ).join(' UNION ALL ')}) d`
        : `delivery d WHERE ${where.join(' AND ')}`;
    return queryRows<DeliveryRow & { createdKey: string }>(
      this.dataSource,
      `SELECT ${DELIVERY_COLUMNS}, ${MICROSECOND_KEY('d.created_at')} AS "createdKey"
         FROM ${rows} ORDER BY d.created_at DESC, d.id DESC LIMIT ${limit + 1}`,
      params,
    );
  }

  /** One of the tenant's deliveries with its body, or null. */
  async find(tenantId: string, id: string): Promise<DeliveryDetail | null> {
    const [row] = await queryRows<DeliveryRow & { payload: string | null }>(
      this.dataSource,
      `SELECT ${DELIVERY_COLUMNS}, d.payload::text AS payload, ${envelopeColumns('ev')}
         FROM delivery d LEFT JOIN event ev ON ev.id = d.event_id
        WHERE d.id = $1 AND d.tenant_id = $2`,
      [id, tenantId],
    );
    if (!row) return null;
    const envelope = envelopeFromRow(row);
    const detail: Record<string, unknown> = { ...row, envelope };
    for (const key of Object.keys(detail)) if (key.startsWith('ev_')) delete detail[key];
    return detail as unknown as DeliveryDetail;
  }

  async attemptsOf(deliveryId: string): Promise<AttemptRow[]> {
    return queryRows<AttemptRow>(
      this.dataSource,
      `SELECT ${ATTEMPT_COLUMNS} FROM delivery_attempt a WHERE a.delivery_id = $1 ORDER BY a.number, a.id`,
      [deliveryId],
    );
  }

  // ---- metrics (read at every scrape: costs that do not grow with the backlog)

  /**
   * Deliveries waiting to be sent (all instances), held ones included: counted exactly up to
   * `exactUpTo` (a bounded walk of the pending index), beyond that the planner's estimate of that
   * index (kept by autovacuum and ANALYZE), so a scrape never scans a large backlog.
   */
  async countWaiting(exactUpTo = 1_000): Promise<number> {
    const [row] = await queryRows<{ n: number; estimate: number }>(
      this.dataSource,
      `SELECT (SELECT count(*)::int FROM (
                 SELECT 1 FROM delivery WHERE status = 'pending' AND (lease_expires_at IS NULL OR lease_expires_at < now())
                 LIMIT $1) bounded) AS n,
              (SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE oid = 'delivery_due'::regclass) AS estimate`,
      [exactUpTo],
    );
    return row.n < exactUpTo ? row.n : Math.max(row.n, Number(row.estimate));
  }

  /**
   * Age in seconds of the oldest delivery that is due and not yet sent (0 when none): the head of
   * each subscription's due range (its own index range, past what is in flight), so the cost
   * follows the number of subscriptions, not of pending rows. Only subscriptions the engine sends
   * to count: held deliveries (paused, disabled, in a maintenance window) are not due.
   */
  async oldestDueAgeSeconds(): Promise<number> {
    const [row] = await queryRows<{ age: number }>(
      this.dataSource,
      `SELECT coalesce(extract(epoch FROM now() - min(h.at)), 0)::float AS age
         FROM webhook w
         CROSS JOIN LATERAL (
           SELECT x.next_attempt_at AS at FROM delivery x
            WHERE x.webhook_id = w.id AND x.status = 'pending' AND x.next_attempt_at <= now()
              AND (x.lease_expires_at IS NULL OR x.lease_expires_at < now())
            ORDER BY x.next_attempt_at LIMIT 1
         ) h
        WHERE ${sendsNow('w')}`,
    );
    return row.age;
  }

  // ---- retention (each chunk an index range, walked from the oldest: no rescan from the start per chunk)

  /**
   * Deletes the attempts older than `days` among the `chunk` next ids after `after` (ids are
   * taken as requests start, in time order: the oldest attempts are a range at the start of the
   * primary key, walked a chunk at a time). Answers how many went and the chunk's last id (null
   * past the end). A chunk with none old enough is where the old ones end: an attempt whose
   * clock ran ahead does not stop the walk, it is stepped over.
   */
  async pruneAttempts(days: number, chunk: number, after: string): Promise<{ deleted: number; last: string | null }> {
    const [row] = await queryRows<{ deleted: number; last: string | null }>(
      this.dataSource,
      `WITH chunk AS (
         SELECT id, started_at FROM delivery_attempt WHERE id > $2::bigint ORDER BY id LIMIT ${chunk}
       ), gone AS (
         DELETE FROM delivery_attempt a USING chunk c
          WHERE a.id = c.id AND c.started_at < now() - $1 * interval '1 day'
         RETURNING a.id
       )
       SELECT (SELECT count(*) FROM gone)::int AS deleted, (SELECT max(id) FROM chunk)::text AS last`,
      [days, after],
    );
    return row;
  }

  /** Deletes up to `chunk` finished deliveries last changed more than `days` ago (index delivery_finished); answers how many. */
  async pruneDeliveries(days: number, chunk: number): Promise<number> {
    return affectedRows(
      this.dataSource,
      `DELETE FROM delivery WHERE id IN (
         SELECT id FROM delivery WHERE status IN ('delivered', 'failed', 'discarded', 'superseded')
            AND updated_at < now() - $1 * interval '1 day' ORDER BY updated_at LIMIT ${chunk})`,
      [days],
    );
  }
}

/**
 * Whether a delivery still refers to event `e` (the alias of an event row): event retention
 * keeps such events (a delivery may be redelivered, and its detail shows the envelope). A
 * delivery is created in the transaction that records its event, with the event's created_at,
 * so the probe is a point in delivery_tenant_list rather than a scan.
 */
export const DELIVERY_REFERS_TO_EVENT = (e: string) =>
  `EXISTS (SELECT 1 FROM delivery d WHERE d.tenant_id = ${e}.tenant_id AND d.created_at = ${e}.created_at AND d.event_id = ${e}.id)`;
