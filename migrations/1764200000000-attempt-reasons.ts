import type { MigrationInterface, QueryRunner } from 'typeorm';

export class AttemptReasons1764200000000 implements MigrationInterface {
  name = 'AttemptReasons1764200000000';

  async up(db: QueryRunner): Promise<void> {
    // The one line read from each answer (problem+json detail, OData message, SOAP fault, text);
    // the delivery keeps its last one, the subscription the last failure's (the screen's banner).
    await db.query(`ALTER TABLE delivery_attempt ADD COLUMN reason text`);
    await db.query(`ALTER TABLE delivery ADD COLUMN last_reason text`);
    await db.query(`ALTER TABLE webhook ADD COLUMN last_failure_reason text`);
    // Answers that end a delivery as failed at once, without counting toward health.
    await db.query(`ALTER TABLE webhook ADD COLUMN permanent_statuses int[] NOT NULL DEFAULT '{}'`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE webhook DROP COLUMN IF EXISTS permanent_statuses`);
    await db.query(`ALTER TABLE webhook DROP COLUMN IF EXISTS last_failure_reason`);
    await db.query(`ALTER TABLE delivery DROP COLUMN IF EXISTS last_reason`);
    await db.query(`ALTER TABLE delivery_attempt DROP COLUMN IF EXISTS reason`);
  }
}
