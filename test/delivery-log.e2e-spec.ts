import pg from 'pg';
import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeliveryRepository } from '../src/webhooks/deliveries/delivery.repository.js';
import { rowsRead } from './support/plans.js';
import { createTestApp, type TestApp } from './support/test-app.js';

/**
 * One subscription's delivery log, newest first, without a status filter: read as the merge of
 * its log per stored status (there is no index on (webhook_id, created_at) to keep up on every
 * delivery's creation and outcome). Pages must come in order, none left out or repeated across
 * statuses and equal timestamps, and a deep page must read no more than a page per status.
 */

const ROWS = 600;
const PAGE = 7;
const STATUSES = ['pending', 'delivered', 'failed', 'superseded', 'discarded'];

describe('the delivery log of one subscription', () => {
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

  it('pages newest first across every status, and a deep page reads a page per status', async () => {
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
    // Statuses interleaved in time, pairs of rows with the same created_at, and a second
    // subscription's rows between them.
    await db.query(
      `INSERT INTO delivery (tenant_id, webhook_id, event_id, event_type, aggregate_id, status, attempt_count,
                             next_attempt_at, created_at, updated_at)
       SELECT $1, (ARRAY[$2, $3]::uuid[])[g % 3 / 2 + 1], 'evt_log_' || g, 'order.created', gen_random_uuid(),
              ($5::text[])[g * 7 % 5 + 1], 1, CASE WHEN ($5::text[])[g * 7 % 5 + 1] = 'pending' THEN now() END,
              date_trunc('milliseconds', now()) - (g / 2) * interval '1 second', now()
         FROM generate_series(1, $4::int) g`,
      [tenant.id, hooks[0], hooks[1], ROWS, STATUSES],
    );
    await db.query('ANALYZE delivery');
    const { rows: expected } = await db.query<{ id: string }>(
      `SELECT id FROM delivery WHERE webhook_id = $1 ORDER BY created_at DESC, id DESC`,
      [hooks[0]],
    );
    expect(expected.length).toBeGreaterThan(ROWS / 2);

    const seen: Array<{ id: string; status: string }> = [];
    let cursor: string | undefined;
    for (let pages = 0; ; pages++) {
      expect(pages, 'paging ends').toBeLessThan(ROWS);
      const page = await t.api(
        'GET',
        `/v1/deliveries?webhookId=${hooks[0]}&limit=${PAGE}${cursor ? `&cursor=${cursor}` : ''}`,
        { key: tenant.key },
      );
      expect(page.status, JSON.stringify(page.body)).toBe(200);
      const body = page.body as { data: Array<{ id: string; status: string; webhookId: string }>; nextCursor: string };
      expect(body.data.every((d) => d.webhookId === hooks[0])).toBe(true);
      seen.push(...body.data);
      if (!body.nextCursor) break;
      expect(body.data).toHaveLength(PAGE);
      cursor = body.nextCursor;
    }
    expect(seen.map((d) => d.id)).toEqual(expected.map((r) => r.id));
    expect(new Set(seen.map((d) => d.status))).toEqual(new Set(STATUSES));

    // A page 80 % deep, explained as it runs: the rows of delivery it reads.
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
        .list(
          tenant.id,
          { webhookId: hooks[0], before: { createdAt: at[0].created_at.toISOString(), id: deep.id } },
          PAGE,
        );
    } finally {
      (dataSource as unknown as { query: unknown }).query = query;
    }
    const read = rowsRead(plan).get('delivery') ?? 0;
    expect(read, JSON.stringify(plan)).toBeLessThanOrEqual(STATUSES.length * (PAGE + 1));
  });

  it('pages rows written within one millisecond, microseconds apart, without skipping any', async () => {
    // The service writes its rows' times in milliseconds; a row written by hand with now() (a
    // migration, a repair, the bench's seed) has microseconds. A cursor cut to the millisecond
    // skipped the older rows of the page's last millisecond.
    const tenant = await t.newTenant();
    const created = await t.api('POST', '/v1/webhooks', {
      key: tenant.key,
      body: { name: 'ERP', url: 'https://erp.example.com/hook', eventTypes: ['*'], paused: true },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const hook = (created.body as { id: string }).id;
    await db.query(
      `INSERT INTO delivery (tenant_id, webhook_id, event_id, event_type, aggregate_id, status, attempt_count,
                             created_at, updated_at)
       SELECT $1, $2, 'evt_us_' || g, 'order.created', gen_random_uuid(), 'delivered', 1,
              date_trunc('milliseconds', now()) + g * interval '1 microsecond' * 37, now()
         FROM generate_series(1, 24) g`,
      [tenant.id, hook],
    );
    const { rows: expected } = await db.query<{ id: string }>(
      `SELECT id FROM delivery WHERE webhook_id = $1 ORDER BY created_at DESC, id DESC`,
      [hook],
    );
    for (const filter of ['', `webhookId=${hook}&`, 'status=delivered&', 'eventType=order.created&']) {
      const seen: string[] = [];
      let cursor: string | undefined;
      for (let pages = 0; ; pages++) {
        expect(pages, 'paging ends').toBeLessThan(expected.length);
        const page = await t.api('GET', `/v1/deliveries?${filter}limit=5${cursor ? `&cursor=${cursor}` : ''}`, {
          key: tenant.key,
        });
        expect(page.status, JSON.stringify(page.body)).toBe(200);
        const body = page.body as { data: Array<{ id: string }>; nextCursor: string | null };
        seen.push(...body.data.map((d) => d.id));
        if (!body.nextCursor) break;
        cursor = body.nextCursor;
      }
      expect(seen, filter || 'the tenant log').toEqual(expected.map((r) => r.id));
    }
    // The key reads back as the very time, whatever the era or the session's time zone.
    await db.query(`UPDATE delivery SET created_at = timestamptz '0044-03-15 12:00:00.123456+00 BC' WHERE id = $1`, [
      expected[0].id,
    ]);
    const keys = await t.app.get(DeliveryRepository).list(tenant.id, { webhookId: hook }, 30);
    const { rows: same } = await db.query<{ same: boolean }>(
      `SELECT bool_and(k.key::timestamptz = d.created_at) AS same
         FROM unnest($1::uuid[], $2::text[]) AS k(id, key) JOIN delivery d ON d.id = k.id`,
      [keys.map((k) => k.id), keys.map((k) => k.createdKey)],
    );
    expect(keys).toHaveLength(expected.length);
    expect(same[0].same).toBe(true);
  });
});
