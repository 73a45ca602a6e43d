import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { catalogEntry } from '../../src/events/event-catalog.js';
import { DeliveryRepository } from '../../src/webhooks/deliveries/delivery.repository.js';
import { type Receiver, startReceiver } from '../support/receiver.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

/**
 * A claim's cost must not grow with the backlog (issue 13 item 8, the bench's `backlog`): every
 * deliverable subscription used to offer up to 128 of its due rows to each claim, so 1 M
 * pending over 2,000 subscriptions read ~243,000 index entries to claim 256.
 */

const SUBSCRIPTIONS = 40;
const PER_SUBSCRIPTION = 200;

describe('engine: claim cost with a backlog over many subscriptions', () => {
  let t: TestApp;
  let db: pg.Client;
  let receiver: Receiver;

  beforeAll(async () => {
    t = await createTestApp({ env: { ROLE: 'api' } });
    db = new pg.Client({ connectionString: t.databaseUrl });
    await db.connect();
    receiver = await startReceiver();
  });
  afterAll(async () => {
    await receiver?.close();
    await db?.end();
    await t?.close();
  });

  it('reads one due entry per subscription plus the rows it takes, not each backlog', async () => {
    const tenant = await t.newTenant();
    for (let i = 0; i < SUBSCRIPTIONS; i++) {
      const created = await t.api('POST', '/v1/webhooks', {
        key: tenant.key,
        body: {
          name: `ERP ${i}`,
          url: `${receiver.url}/s${i}`,
          eventTypes: ['shipment.status_changed'],
          paused: true,
          timeoutMs: 60_000,
        },
      });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
    }
    // A due backlog as the bench seeds it: every subscription has PER_SUBSCRIPTION due deliveries.
    await db.query(
      `INSERT INTO event (id, tenant_id, type, aggregate_type, aggregate_id, sequence, api_version, data, created_at)
       SELECT 'evt_cost_' || g, $1, 'shipment.status_changed', 'shipment', gen_random_uuid(), 1, '2026-11-01', $3::json,
              now() - interval '1 hour' + g * interval '1 millisecond'
         FROM generate_series(0, $2 - 1) g`,
      [tenant.id, PER_SUBSCRIPTION, JSON.stringify(catalogEntry('shipment.status_changed').example.data)],
    );
    await db.query(
      `INSERT INTO delivery (tenant_id, webhook_id, event_id, event_type, aggregate_id, event_sequence, status,
                             next_attempt_at, created_at, updated_at)
       SELECT e.tenant_id, w.id, e.id, e.type, e.aggregate_id, e.sequence, 'pending', e.created_at, e.created_at, e.created_at
         FROM event e JOIN webhook w ON w.tenant_id = e.tenant_id WHERE e.tenant_id = $1`,
      [tenant.id],
    );
    await db.query(`UPDATE webhook SET paused = false WHERE tenant_id = $1`, [tenant.id]);
    await db.query('ANALYZE webhook, delivery');

    // The claim statement as the engine issues it (this instance runs no engine), explained as it
    // runs: how many entries of the due index it reads.
    const repository = t.app.get(DeliveryRepository);
    const pool = (repository as unknown as { pool: pg.Pool }).pool;
    let plan: any;
    const query = pool.query.bind(pool) as (sql: string, params: unknown[]) => Promise<pg.QueryResult>;
    // The engine's statements are prepared (named): explained here as plain text with the same values.
    (pool as unknown as { query: unknown }).query = async (config: string | pg.QueryConfig, params?: unknown[]) => {
      const [sql, values] = typeof config === 'string' ? [config, params] : [config.text, config.values];
      const explained = await query(`EXPLAIN (ANALYZE, FORMAT JSON) ${sql}`, values ?? []);
      plan = explained.rows[0]['QUERY PLAN'][0].Plan;
      return { ...explained, rows: [], rowCount: 0 };
    };
    await repository.claimDueDeliveries(4, [], 30_000, 128);
    const dueEntries = (node: any): number =>
      (node['Index Name'] === 'delivery_due' ? node['Actual Rows'] * node['Actual Loops'] : 0) +
      ((node.Plans ?? []) as any[]).reduce((sum: number, child: any) => sum + dueEntries(child), 0);
    const { rows } = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM delivery WHERE leased_by IS NOT NULL`,
    );
    expect(rows[0].n).toBe(4);
    // Heads first: one entry per subscription, then the 4 taken (it was 40 × 128).
    expect(dueEntries(plan)).toBeLessThanOrEqual(2 * SUBSCRIPTIONS);
  });
});
