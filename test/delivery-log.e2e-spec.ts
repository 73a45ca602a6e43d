import pg from 'pg';
import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENT_TYPES } from '../src/events/event-types.js';
import { DeliveryRepository, type DeliveryFilter } from '../src/webhooks/deliveries/delivery.repository.js';
import { createTestApp, type TestApp } from './support/test-app.js';

/**
 * The delivery log, newest first, where no index gives that order by itself: one subscription's
 * log without a status filter is the merge of its log per stored status, the tenant's log without
 * a subscription or type filter the merge of its log per event type (there is no index on
 * (webhook_id, created_at) or (tenant_id, created_at) to keep up on every delivery's creation and
 * outcome). Pages must come in order, none left out or repeated across branches and equal
 * timestamps, and a deep page must read no more than a page per branch.
 */

const ROWS = 600;
const PAGE = 7;
const STATUSES = ['pending', 'delivered', 'failed', 'superseded', 'discarded'];

describe('the delivery log', () => {
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

  /**
   * A tenant with two paused subscriptions and ROWS deliveries: statuses and event types
   * interleaved in time, pairs of rows with the same created_at, the second subscription's rows
   * between the first's. Times in milliseconds, as the service writes them (the cursor carries
   * milliseconds).
   */
  const seeded = async () => {
    const tenant = await t.newTenant();
    const hooks: string[] = [];
    for (const name of ['ERP', 'WMS']) {
      const created = await t.api('POST', '/v1/webhooks', {
        key: tenant.key,
        body: { name, url: 'https://erp.example.com/hook', eventTypes: ['*'], paused: true },
      });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      hooks.push((created.body as { id: string }).id);
    }
    await db.query(
      `INSERT INTO delivery (tenant_id, webhook_id, event_id, event_type, aggregate_id, status, attempt_count,
                             next_attempt_at, created_at, updated_at)
       SELECT $1, (ARRAY[$2, $3]::uuid[])[g % 3 / 2 + 1], 'evt_log_' || g,
              ($6::text[])[g * 5 % array_length($6::text[], 1) + 1], gen_random_uuid(),
              ($5::text[])[g * 7 % 5 + 1], 1, CASE WHEN ($5::text[])[g * 7 % 5 + 1] = 'pending' THEN now() END,
              date_trunc('milliseconds', now()) - (g / 2) * interval '1 second', now()
         FROM generate_series(1, $4::int) g`,
      [tenant.id, hooks[0], hooks[1], ROWS, STATUSES, EVENT_TYPES],
    );
    await db.query('ANALYZE delivery');
    return { tenant, hooks };
  };

  /** Every page of `query` (its parameters, each followed by `&`) through the API, in order. */
  const pages = async (key: string, query: string) => {
    const seen: Array<{ id: string; status: string; eventType: string; webhookId: string }> = [];
    let cursor: string | undefined;
    for (let pages = 0; ; pages++) {
      expect(pages, 'paging ends').toBeLessThan(ROWS);
      const page = await t.api('GET', `/v1/deliveries?${query}limit=${PAGE}${cursor ? `&cursor=${cursor}` : ''}`, {
        key,
      });
      expect(page.status, JSON.stringify(page.body)).toBe(200);
      const body = page.body as { data: typeof seen; nextCursor: string };
      seen.push(...body.data);
      if (!body.nextCursor) break;
      expect(body.data).toHaveLength(PAGE);
      cursor = body.nextCursor;
    }
    return seen;
  };

  /** The rows of `delivery` a page 80 % down `expected` reads, explained as it runs. */
  const deepPageReads = async (tenantId: string, filter: DeliveryFilter, expected: Array<{ id: string }>) => {
    const deep = expected[Math.floor(expected.length * 0.8)];
    const { rows: at } = await db.query<{ created_at: Date }>(`SELECT created_at FROM delivery WHERE id = $1`, [
      deep.id,
    ]);
    const dataSource = (t.app.get(DeliveryRepository) as unknown as { dataSource: DataSource }).dataSource;
    const query = dataSource.query.bind(dataSource);
    let plan: any;
    (dataSource as unknown as { query: unknown }).query = async (sql: string, params: unknown[]) => {
      plan = (await query(`EXPLAIN (ANALYZE, FORMAT JSON) ${sql}`, params))[0]['QUERY PLAN'][0].Plan;
      return [];
    };
    try {
      await t.app
        .get(DeliveryRepository)
        .list(tenantId, { ...filter, before: { createdAt: at[0].created_at.toISOString(), id: deep.id } }, PAGE);
    } finally {
      (dataSource as unknown as { query: unknown }).query = query;
    }
    let read = 0;
    const walk = (node: any) => {
      if (node['Relation Name'] === 'delivery')
        read += (node['Actual Rows'] + (node['Rows Removed by Filter'] ?? 0)) * node['Actual Loops'];
      for (const child of node.Plans ?? []) walk(child);
    };
    walk(plan);
    return { read, plan };
  };

  it('of one subscription pages newest first across every status, and a deep page reads a page per status', async () => {
    const { tenant, hooks } = await seeded();
    const { rows: expected } = await db.query<{ id: string }>(
      `SELECT id FROM delivery WHERE webhook_id = $1 ORDER BY created_at DESC, id DESC`,
      [hooks[0]],
    );
    expect(expected.length).toBeGreaterThan(ROWS / 2);
    const seen = await pages(tenant.key, `webhookId=${hooks[0]}&`);
    expect(seen.every((d) => d.webhookId === hooks[0])).toBe(true);
    expect(seen.map((d) => d.id)).toEqual(expected.map((r) => r.id));
    expect(new Set(seen.map((d) => d.status))).toEqual(new Set(STATUSES));

    const { read, plan } = await deepPageReads(tenant.id, { webhookId: hooks[0] }, expected);
    expect(read, JSON.stringify(plan)).toBeLessThanOrEqual(STATUSES.length * (PAGE + 1));
  });

  it('of a tenant pages newest first across every event type, and a deep page reads a page per type', async () => {
    const { tenant } = await seeded();
    const { rows: expected } = await db.query<{ id: string }>(
      `SELECT id FROM delivery WHERE tenant_id = $1 ORDER BY created_at DESC, id DESC`,
      [tenant.id],
    );
    expect(expected).toHaveLength(ROWS);
    const seen = await pages(tenant.key, '');
    expect(seen.map((d) => d.id)).toEqual(expected.map((r) => r.id));
    expect(new Set(seen.map((d) => d.eventType))).toEqual(new Set(EVENT_TYPES));
    // With a status, the same merge, filtered.
    const { rows: failed } = await db.query<{ id: string }>(
      `SELECT id FROM delivery WHERE tenant_id = $1 AND status = 'failed' ORDER BY created_at DESC, id DESC`,
      [tenant.id],
    );
    expect((await pages(tenant.key, 'status=failed&')).map((d) => d.id)).toEqual(failed.map((r) => r.id));

    const { read, plan } = await deepPageReads(tenant.id, {}, expected);
    expect(read, JSON.stringify(plan)).toBeLessThanOrEqual(EVENT_TYPES.length * (PAGE + 1));
  });

  it('holds deliveries to the statuses and event types the merges cover', async () => {
    const { rows } = await db.query<{ name: string; definition: string }>(
      `SELECT conname AS name, pg_get_constraintdef(oid) AS definition FROM pg_constraint
        WHERE conrelid = 'delivery'::regclass AND conname IN ('delivery_status_stored', 'delivery_event_type_known')
        ORDER BY conname`,
    );
    const listed = (definition: string) => [...definition.matchAll(/'([^']+)'/g)].map((m) => m[1]).sort();
    expect(rows.map((r) => r.name)).toEqual(['delivery_event_type_known', 'delivery_status_stored']);
    // A new event type in the catalog needs a migration that widens the check.
    expect(listed(rows[0].definition)).toEqual([...EVENT_TYPES].sort());
    expect(listed(rows[1].definition)).toEqual([...STATUSES].sort());
  });
});
