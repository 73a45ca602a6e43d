import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The event types a delivery can carry (src/events/event-types.ts EVENT_TYPES), as this migration knows them. */
const EVENT_TYPES = [
  'order.created',
  'order.updated',
  'order.status_changed',
  'shipment.created',
  'shipment.updated',
  'shipment.status_changed',
  'shipment.tracking_updated',
  'shipment.delivered',
  'shipment.exception',
  'webhook.failing',
  'webhook.disabled',
  'webhook.recovered',
  'delivery.failed',
  'webhook.test',
];

export class TenantLogByType1765000000002 implements MigrationInterface {
  name = 'TenantLogByType1765000000002';

  async up(db: QueryRunner): Promise<void> {
    // Moments of lock each, but queued behind any long reader: give up instead, the next start tries again.
    await db.query(`SET LOCAL lock_timeout = '10s'`);
    // A tenant's delivery log without a subscription or type filter is read as the merge of its
    // log per event type (delivery_tenant_type), and event retention's probe goes by type too:
    // the types must be these. NOT VALID: new rows and changes are checked, the existing ones
    // (all written by the code, with these types) are not scanned under the migration's lock.
    // A new event type needs a migration that widens this check (test/delivery-log compares it
    // with the catalog).
    await db.query(
      `ALTER TABLE delivery ADD CONSTRAINT delivery_event_type_known
         CHECK (event_type IN (${EVENT_TYPES.map((t) => `'${t}'`).join(', ')})) NOT VALID`,
    );
    // So the tenant log's own index goes: an entry on every delivery's creation and another on
    // its outcome (a non-HOT update).
    await db.query(`DROP INDEX IF EXISTS delivery_tenant_list`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`CREATE INDEX IF NOT EXISTS delivery_tenant_list ON delivery (tenant_id, created_at DESC, id DESC)`);
    await db.query(`ALTER TABLE delivery DROP CONSTRAINT IF EXISTS delivery_event_type_known`);
  }
}
