import type { MigrationInterface, QueryRunner } from 'typeorm';

export class StalePlanGuard1764700000000 implements MigrationInterface {
  name = 'StalePlanGuard1764700000000';

  async up(db: QueryRunner): Promise<void> {
    // A create is recorded in one statement whose deliveries were planned from cached
    // subscriptions; when the statement finds them changed under its locks it calls this, which
    // rolls the whole statement back, and the create is recorded again the ordinary way.
    await db.query(`CREATE FUNCTION waybill_stale_plan() RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
      BEGIN
        RAISE EXCEPTION 'a planned fan-out no longer matches the subscriptions' USING ERRCODE = 'WB001';
      END $$`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP FUNCTION IF EXISTS waybill_stale_plan()`);
  }
}
