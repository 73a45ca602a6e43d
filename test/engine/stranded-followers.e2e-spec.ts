import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeliveryRepository } from '../../src/webhooks/deliveries/delivery.repository.js';
import { joinFilterDiscards, rowsRead } from '../support/plans.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

/**
 * An ordered subscription's follower waits (`awaiting_predecessor`) until the delivery before it
 * in its aggregate is settled. A follower can be left waiting with nothing before it (an ordering
 * switched on or off, a crash between writes): the claimer's sweep releases those, the followers
 * at their aggregate's lowest open sequence, and no other. It runs once a minute over every
 * waiting follower, so its cost must grow with their number, not with its square.
 */

const AGGREGATE = {
  A: '00000000-0000-4000-8000-00000000000a',
  B: '00000000-0000-4000-8000-00000000000b',
  C: '00000000-0000-4000-8000-00000000000c',
};

describe('engine: stranded ordered followers', () => {
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

  const orderedSubscription = async (key: string) => {
    const created = await t.api('POST', '/v1/webhooks', {
      key,
      body: { name: 'ERP', url: 'https://erp.example.com/hook', eventTypes: ['*'], ordered: true, paused: true },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    return (created.body as { id: string }).id;
  };

  /** Rows as [aggregate, sequence, status, waiting]; a pending row that does not wait is due in an hour. */
  const seed = async (tenantId: string, webhookId: string, rows: Array<[string | null, number, string, boolean]>) => {
    const { rows: ids } = await db.query<{ id: string }>(
      `INSERT INTO delivery (tenant_id, webhook_id, event_id, event_type, aggregate_id, event_sequence, status,
                             awaiting_predecessor, next_attempt_at, attempt_count, created_at, updated_at)
       SELECT $1, $2, 'evt_stranded_' || gen_random_uuid(), 'shipment.status_changed', r.aggregate, r.sequence, r.status,
              r.waiting, CASE WHEN r.status = 'pending' AND NOT r.waiting THEN now() + interval '1 hour' END, 0, now(), now()
         FROM unnest($3::uuid[], $4::int[], $5::text[], $6::boolean[]) WITH ORDINALITY AS r(aggregate, sequence, status, waiting, n)
        ORDER BY r.n
       RETURNING id`,
      [tenantId, webhookId, rows.map((r) => r[0]), rows.map((r) => r[1]), rows.map((r) => r[2]), rows.map((r) => r[3])],
    );
    return ids.map((r) => r.id);
  };

  it('releases exactly the waiting followers with no open delivery before them in their aggregate', async () => {
    const tenant = await t.newTenant();
    const [hook, other] = [await orderedSubscription(tenant.key), await orderedSubscription(tenant.key)];
    const ids = await seed(tenant.id, hook, [
      [AGGREGATE.A, 1, 'pending', false], // 0: an open head: its followers wait
      [AGGREGATE.A, 2, 'pending', true], // 1
      [AGGREGATE.A, 3, 'pending', true], // 2
      [AGGREGATE.B, 1, 'delivered', false], // 3: settled, and its follower was never released
      [AGGREGATE.B, 2, 'pending', true], // 4: stranded
      [AGGREGATE.B, 3, 'pending', true], // 5: waits for 4
      [AGGREGATE.C, 4, 'pending', true], // 6: stranded, with 7 at the same sequence (a replay)
      [AGGREGATE.C, 4, 'pending', true], // 7: stranded
      [AGGREGATE.C, 5, 'pending', true], // 8
      [null, 1, 'pending', true], // 9: no aggregate, nothing to wait for
    ]);
    // The other subscription's open head of aggregate B holds back only its own follower.
    const others = await seed(tenant.id, other, [
      [AGGREGATE.B, 0, 'pending', false],
      [AGGREGATE.B, 1, 'pending', true],
    ]);
    const repository = t.app.get(DeliveryRepository);

    expect(await repository.releaseStrandedFollowers()).toBe(4);
    const { rows } = await db.query<{ id: string; awaiting_predecessor: boolean; due: boolean }>(
      `SELECT id, awaiting_predecessor, next_attempt_at <= now() AS due FROM delivery WHERE webhook_id = ANY($1::uuid[])`,
      [[hook, other]],
    );
    const byId = new Map(rows.map((r) => [r.id, r]));
    for (const i of [4, 6, 7, 9])
      expect(byId.get(ids[i]), `row ${i}`).toMatchObject({ awaiting_predecessor: false, due: true });
    const waiting = rows.filter((r) => r.awaiting_predecessor).map((r) => r.id);
    expect(waiting.sort()).toEqual([...[1, 2, 5, 8].map((i) => ids[i]), others[1]].sort());
    // The released ones are open heads now: their followers go on waiting.
    expect(await repository.releaseStrandedFollowers()).toBe(0);
  });

  it('reads the waiting followers once, not every pair of an aggregate’s followers, on stale statistics too', async () => {
    const FOLLOWERS = 2_000;
    const tenant = await t.newTenant();
    const hook = await orderedSubscription(tenant.key);
    // Statistics taken before the backlog formed: the planner expects next to no waiting follower.
    await seed(tenant.id, hook, [
      [AGGREGATE.A, 0, 'pending', false],
      [AGGREGATE.A, 1, 'pending', true],
    ]);
    await db.query('ANALYZE delivery');
    // Then one aggregate's long queue behind its open head (a shipment's tracking updates while
    // its first delivery retries), and one stranded follower elsewhere.
    await seed(tenant.id, hook, [
      ...Array.from({ length: FOLLOWERS }, (_, i): [string, number, string, boolean] => [
        AGGREGATE.A,
        i + 2,
        'pending',
        true,
      ]),
      [AGGREGATE.B, 7, 'pending', true],
    ]);

    // The statement, explained as it runs on the engine's pool (and rolled back).
    const repository = t.app.get(DeliveryRepository);
    const pool = (repository as unknown as { pool: pg.Pool }).pool;
    const original = pool.query.bind(pool);
    let statement: string | undefined;
    (pool as unknown as { query: unknown }).query = async (text: string) => {
      statement = text;
      return { rows: [], rowCount: 0 };
    };
    try {
      await repository.releaseStrandedFollowers();
    } finally {
      (pool as unknown as { query: unknown }).query = original;
    }
    const explain = async () => {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const { rows } = await client.query(`EXPLAIN (ANALYZE, FORMAT JSON) ${statement}`);
        await client.query('ROLLBACK');
        return rows[0]['QUERY PLAN'][0].Plan;
      } finally {
        client.release();
      }
    };
    for (const statistics of ['stale', 'fresh']) {
      if (statistics === 'fresh') await db.query('ANALYZE delivery');
      const plan = await explain();
      const [read, compared, updated] = [
        rowsRead(plan).get('delivery') ?? 0,
        joinFilterDiscards(plan),
        plan.Plans[0]['Actual Rows'],
      ];
      expect(updated, `${statistics} statistics: the one stranded follower`).toBe(1);
      expect(compared, `${statistics}: ${JSON.stringify(plan)}`).toBeLessThanOrEqual(2 * FOLLOWERS);
      expect(read, `${statistics}: ${JSON.stringify(plan)}`).toBeLessThanOrEqual(3 * FOLLOWERS);
    }
  });
});
