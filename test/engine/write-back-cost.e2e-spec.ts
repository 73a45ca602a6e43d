import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { catalogEntry } from '../../src/events/event-catalog.js';
import { DeliveryRepository } from '../../src/webhooks/deliveries/delivery.repository.js';
import type { AttemptRecord, ClaimedDelivery } from '../../src/webhooks/deliveries/delivery.rows.js';
import { rowsRead } from '../support/plans.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

/**
 * The write-back is prepared once per engine connection, so PostgreSQL may keep one generic plan
 * of it for the connection's life. A plan made while the tables were small (a fresh database, the
 * first minutes after a TRUNCATE) joined the batch to `delivery_attempt` by a hash over a scan of
 * the whole table: each batch then read every attempt row, a cost that grew with the audit until
 * the next ANALYZE (in the bench, with autovacuum held off, to the end of the drain: 14,438 rows
 * read to write 289). Every lookup of the write-back must stay bounded by the batch, and each
 * attempt row, written small as its request starts, takes its outcome in place: a HOT update,
 * with no new entry in the table's indexes.
 */

const BATCH = 10;
const GROWTH = 4_000;

describe('engine: write-back cost as the tables grow under a cached plan', () => {
  let t: TestApp;
  let db: pg.Client;

  beforeAll(async () => {
    t = await createTestApp({ env: { ROLE: 'api' } });
    db = new pg.Client({ connectionString: t.databaseUrl });
    await db.connect();
  });
  afterAll(async () => {
    await db?.end();
    await t?.close();
  });

  it('reads only the batch’s rows of delivery and delivery_attempt, however many there are, and writes outcomes in place', async () => {
    const tenant = await t.newTenant();
    const created = await t.api('POST', '/v1/webhooks', {
      key: tenant.key,
      body: { name: 'ERP', url: 'https://erp.example.com/hook', eventTypes: ['shipment.status_changed'], paused: true },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const webhookId = (created.body as { id: string }).id;
    const seed = async (count: number, prefix: string, status: string) => {
      await db.query(
        `INSERT INTO event (id, tenant_id, type, aggregate_type, aggregate_id, sequence, api_version, data, created_at)
         SELECT $4 || g, $1, 'shipment.status_changed', 'shipment', gen_random_uuid(), 1, '2026-11-01', $3::json,
                now() - interval '1 hour' + g * interval '1 millisecond'
           FROM generate_series(1, $2) g`,
        [tenant.id, count, JSON.stringify(catalogEntry('shipment.status_changed').example.data), prefix],
      );
      await db.query(
        `INSERT INTO delivery (tenant_id, webhook_id, event_id, event_type, aggregate_id, event_sequence, status,
                               next_attempt_at, created_at, updated_at)
         SELECT e.tenant_id, $2, e.id, e.type, e.aggregate_id, e.sequence, $4, CASE WHEN $4 = 'pending' THEN e.created_at END,
                e.created_at, e.created_at
           FROM event e WHERE e.tenant_id = $1 AND e.id LIKE $3 || '%'`,
        [tenant.id, webhookId, prefix, status],
      );
    };
    await seed(2 * BATCH, 'evt_wb_', 'pending');
    await db.query(`UPDATE webhook SET paused = false WHERE id = $1`, [webhookId]);
    await db.query('ANALYZE webhook, delivery, delivery_attempt');

    // Two batches claimed as the engine claims them (this instance runs no engine of its own).
    const repository = t.app.get(DeliveryRepository);
    const claimed = await repository.claimDueDeliveries(2 * BATCH, [], 60_000, 2 * BATCH);
    expect(claimed.deliveries).toHaveLength(2 * BATCH);
    const record = (d: ClaimedDelivery): AttemptRecord => ({
      attemptId: d.attemptId,
      deliveryId: d.id,
      tenantId: d.tenantId,
      webhookId: d.webhookId,
      number: d.attemptCount + 1,
      trigger: d.trigger,
      startedAt: new Date(),
      durationMs: 3,
      url: d.webhook.url,
      requestHeaders: { 'content-type': 'application/json' },
      requestBody: null,
      responseStatus: 200,
      responseHeaders: {},
      responseBody: '',
      errorClass: null,
      errorMessage: null,
      reason: null,
      status: 'delivered',
      retryInMs: null,
      retryBase: null,
      releasesFollower: false,
      aggregateId: d.aggregateId,
    });
    const [first, second] = [claimed.deliveries.slice(0, BATCH), claimed.deliveries.slice(BATCH)];
    const success = () => new Map([[webhookId, new Date()]]);

    // While the tables are small: enough write-backs (one or two deliveries each) on the engine's
    // pool for PostgreSQL to settle on a plan of the prepared statement for that connection.
    for (let i = 0; i < first.length; i += 2)
      await repository.recordOutcomes(first.slice(i, i + 2).map(record), success());

    // The audit and the delivery log grow; nothing analyzes them (autovacuum has not come round yet).
    await seed(GROWTH, 'evt_wb_more_', 'delivered');
    await db.query(
      `INSERT INTO delivery_attempt (delivery_id, tenant_id, webhook_id, number, trigger, started_at, duration_ms, url,
                                     request_headers, response_status)
       SELECT d.id, d.tenant_id, d.webhook_id, 1, 'auto', d.created_at, 3, 'https://erp.example.com/hook', '{}', 200
         FROM delivery d WHERE d.webhook_id = $1 AND d.status = 'delivered' AND d.attempt_count = 0`,
      [webhookId],
    );

    // The next batch on the same connection, explained as it runs there.
    const pool = (repository as unknown as { pool: pg.Pool }).pool;
    expect(pool.totalCount, 'the write-backs ran on one connection').toBe(1);
    const original = pool.query.bind(pool);
    let statement: pg.QueryConfig | undefined;
    (pool as unknown as { query: unknown }).query = async (config: pg.QueryConfig) => {
      statement = config;
      return { rows: [], rowCount: 0 };
    };
    try {
      await repository.recordOutcomes(second.map(record), success());
    } finally {
      (pool as unknown as { query: unknown }).query = original;
    }
    expect(statement?.name, 'the write-back is a prepared statement').toBeTruthy();
    // EXPLAIN EXECUTE takes no bound parameters: the values as literals, typed by the statement.
    const client = await pool.connect();
    const text = (value: unknown) => (value instanceof Date ? value.toISOString() : String(value));
    const args = (statement!.values ?? [])
      .map((value) =>
        client.escapeLiteral(Array.isArray(value) ? `{${value.map((v) => `"${text(v)}"`).join(',')}}` : text(value)),
      )
      .join(', ');
    let explained: pg.QueryResult;
    let inPlace: number;
    try {
      // The counter includes what this session did before and has not reported yet: a difference.
      const hotUpdates = async () =>
        (
          await client.query<{ n: number }>(
            `SELECT pg_stat_get_xact_tuples_hot_updated('delivery_attempt'::regclass)::int AS n`,
          )
        ).rows[0].n;
      await client.query('BEGIN');
      const before = await hotUpdates();
      explained = await client.query(`EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE ${statement!.name}(${args})`);
      // Each attempt row takes its outcome on its own page, with no new index entry (a HOT update).
      inPlace = (await hotUpdates()) - before;
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    expect(inPlace, 'attempt outcomes written in place').toBe(BATCH);
    const plan = explained.rows[0]['QUERY PLAN'][0].Plan;
    const read = rowsRead(plan);
    expect(read.get('delivery_attempt') ?? 0, JSON.stringify(plan)).toBeLessThanOrEqual(2 * BATCH);
    expect(read.get('delivery') ?? 0, JSON.stringify(plan)).toBeLessThanOrEqual(2 * BATCH);

    // The batch was written by the explained run itself.
    const { rows } = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM delivery WHERE webhook_id = $1 AND status = 'delivered' AND attempt_count = 1`,
      [webhookId],
    );
    expect(rows[0].n).toBe(2 * BATCH);
  });
});
