import type { MigrationInterface, QueryRunner } from 'typeorm';

export class DeliveryLogIndexes1764300000000 implements MigrationInterface {
  name = 'DeliveryLogIndexes1764300000000';

  async up(db: QueryRunner): Promise<void> {
    // The delivery log of one subscription, newest first, without a status filter (delivery_webhook_list
    // leads with status, so it cannot give that order): a page is an index range, at any depth.
    await db.query(`CREATE INDEX delivery_webhook_recent ON delivery (webhook_id, created_at DESC, id DESC)`);
    // The log by event type (?eventType=), newest first, for the tenant.
    await db.query(`CREATE INDEX delivery_tenant_type ON delivery (tenant_id, event_type, created_at DESC, id DESC)`);
    // Retention: finished deliveries by last change. Pending rows are not in it, so creating a
    // delivery costs nothing here; finishing one (already a non-HOT update) adds one entry.
    await db.query(
      `CREATE INDEX delivery_finished ON delivery (updated_at) WHERE status IN ('delivered', 'failed', 'discarded', 'superseded')`,
    );
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP INDEX IF EXISTS delivery_finished`);
    await db.query(`DROP INDEX IF EXISTS delivery_tenant_type`);
    await db.query(`DROP INDEX IF EXISTS delivery_webhook_recent`);
  }
}
