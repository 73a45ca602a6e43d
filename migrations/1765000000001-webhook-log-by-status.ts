import type { MigrationInterface, QueryRunner } from 'typeorm';

export class WebhookLogByStatus1765000000001 implements MigrationInterface {
  name = 'WebhookLogByStatus1765000000001';

  async up(db: QueryRunner): Promise<void> {
    // One subscription's delivery log without a status filter is read as the merge of its log
    // per stored status (delivery_webhook_list): the statuses must be exactly these. NOT VALID
    // then VALIDATE: the check of existing rows does not hold off writes.
    await db.query(
      `ALTER TABLE delivery ADD CONSTRAINT delivery_status_stored
         CHECK (status IN ('pending', 'delivered', 'failed', 'superseded', 'discarded')) NOT VALID`,
    );
    await db.query(`ALTER TABLE delivery VALIDATE CONSTRAINT delivery_status_stored`);
    // So the log's own index goes: it took an entry on every delivery's creation and another on
    // its outcome (a non-HOT update), for one query.
    await db.query(`DROP INDEX IF EXISTS delivery_webhook_recent`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(
      `CREATE INDEX IF NOT EXISTS delivery_webhook_recent ON delivery (webhook_id, created_at DESC, id DESC)`,
    );
    await db.query(`ALTER TABLE delivery DROP CONSTRAINT IF EXISTS delivery_status_stored`);
  }
}
