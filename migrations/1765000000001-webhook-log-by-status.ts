import type { MigrationInterface, QueryRunner } from 'typeorm';

export class WebhookLogByStatus1765000000001 implements MigrationInterface {
  name = 'WebhookLogByStatus1765000000001';

  async up(db: QueryRunner): Promise<void> {
    // Both statements lock the table only for a moment (no scan), but the lock waits for any
    // long reader and everything queues behind it: give up instead, the next start tries again.
    await db.query(`SET LOCAL lock_timeout = '10s'`);
    // One subscription's delivery log without a status filter is read as the merge of its log
    // per stored status (delivery_webhook_list): the statuses must be exactly these. Every row
    // the code ever wrote has one of them; NOT VALID checks each new row and change without
    // scanning the existing ones (which, inside the migration's transaction, would hold the
    // table locked against reads and writes for the whole scan).
    await db.query(
      `ALTER TABLE delivery ADD CONSTRAINT delivery_status_stored
         CHECK (status IN ('pending', 'delivered', 'failed', 'superseded', 'discarded')) NOT VALID`,
    );
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
