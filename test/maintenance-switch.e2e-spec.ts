import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLOCK, type Clock } from '../src/common/clock.js';
import { MaintenanceSwitch } from '../src/webhooks/engine/maintenance-switch.js';
import { createTestApp, type TestApp } from './support/test-app.js';

class TestClock implements Clock {
  current = new Date('2026-11-23T00:30:00Z'); // a Monday, before the window
  now(): Date {
    return new Date(this.current);
  }
}

/** Many tenants' ERPs share a batch window (01:00 Berlin is everyone's favourite): it must open for all of them at once. */
describe('maintenance switch at scale', () => {
  let t: TestApp;
  let db: pg.Client;
  const clock = new TestClock();

  beforeAll(async () => {
    t = await createTestApp({
      // The sweep stays out of the way: the test runs the switch itself, one tick.
      env: { WEBHOOK_SWEEP_INTERVAL_MS: '60000' },
      overrides: [{ provide: CLOCK, useValue: clock }],
    });
    db = new pg.Client(t.databaseUrl);
    await db.connect();
  });
  afterAll(async () => {
    await db?.end();
    await t?.close();
  });

  it('one tick switches every subscription whose window opens (or ends) now, however many share it', async () => {
    const created = await t.api('POST', '/v1/webhooks', {
      body: {
        name: 'nightly',
        url: 'http://127.0.0.1:9/hook',
        eventTypes: ['order.created'],
        maintenanceWindows: [{ days: ['mon'], start: '01:00', end: '02:00', timeZone: 'UTC' }],
      },
    });
    expect(created.status).toBe(201);
    expect(created.body.inMaintenance).toBe(false);
    // 1,199 more like it, as many tenants would have made them.
    await db.query(
      `INSERT INTO webhook
       SELECT (jsonb_populate_record(NULL::webhook, to_jsonb(w) || jsonb_build_object('id', gen_random_uuid(), 'name', 'copy ' || n))).*
         FROM webhook w, generate_series(1, 1199) AS n WHERE w.id = $1`,
      [created.body.id],
    );
    const inMaintenance = async () =>
      Number((await db.query(`SELECT count(*) FROM webhook WHERE in_maintenance`)).rows[0].count);
    const maintenance = t.app.get(MaintenanceSwitch);

    clock.current = new Date('2026-11-23T01:00:00Z');
    await maintenance.tick();
    expect(await inMaintenance()).toBe(1200);

    clock.current = new Date('2026-11-23T02:00:00Z');
    expect(await maintenance.tick()).toBe(1200);
    expect(await inMaintenance()).toBe(0);
  });
});
