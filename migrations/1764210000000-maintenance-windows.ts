import type { MigrationInterface, QueryRunner } from 'typeorm';

export class MaintenanceWindows1764210000000 implements MigrationInterface {
  name = 'MaintenanceWindows1764210000000';

  async up(db: QueryRunner): Promise<void> {
    // [{ days, start, end, timeZone }] in the receiver's local time; null: none.
    await db.query(`ALTER TABLE webhook ADD COLUMN maintenance_windows jsonb`);
    // Inside a window the claim holds the subscription's deliveries, as when paused. The flag is
    // switched by the engine at maintenance_changes_at (a window's end or the next one's start).
    await db.query(`ALTER TABLE webhook ADD COLUMN in_maintenance boolean NOT NULL DEFAULT false`);
    await db.query(`ALTER TABLE webhook ADD COLUMN maintenance_changes_at timestamptz`);
    await db.query(
      `CREATE INDEX webhook_maintenance_due ON webhook (maintenance_changes_at) WHERE maintenance_changes_at IS NOT NULL`,
    );
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP INDEX IF EXISTS webhook_maintenance_due`);
    await db.query(`ALTER TABLE webhook DROP COLUMN IF EXISTS maintenance_changes_at`);
    await db.query(`ALTER TABLE webhook DROP COLUMN IF EXISTS in_maintenance`);
    await db.query(`ALTER TABLE webhook DROP COLUMN IF EXISTS maintenance_windows`);
  }
}
