import type { MigrationInterface, QueryRunner } from 'typeorm';

export class OrderedFollowers1764000000000 implements MigrationInterface {
  name = 'OrderedFollowers1764000000000';

  async up(db: QueryRunner): Promise<void> {
    // An ordered subscription's delivery created while an earlier one of its aggregate is open waits
    // with no due time until that one ends, so claims see the heads of aggregates only.
    await db.query(`ALTER TABLE delivery ADD COLUMN awaiting_predecessor boolean NOT NULL DEFAULT false`);
    await db.query(
      `CREATE INDEX delivery_awaiting ON delivery (webhook_id, aggregate_id, event_sequence)
        WHERE status = 'pending' AND awaiting_predecessor`,
    );
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP INDEX IF EXISTS delivery_awaiting`);
    await db.query(`ALTER TABLE delivery DROP COLUMN awaiting_predecessor`);
  }
}
