import type { MigrationInterface, QueryRunner } from 'typeorm';

export class ErpConnectivity1763930000000 implements MigrationInterface {
  name = 'ErpConnectivity1763930000000';

  async up(db: QueryRunner): Promise<void> {
    // Receiver authentication: the type and its non-secret fields in the clear, the whole settings sealed.
    await db.query(`ALTER TABLE webhook ADD COLUMN auth_type text NOT NULL DEFAULT 'none'`);
    await db.query(`ALTER TABLE webhook ADD COLUMN auth_public jsonb`);
    await db.query(`ALTER TABLE webhook ADD COLUMN auth_encrypted text`);
    // Mutual TLS: certificate, key and CA sealed; what the certificate says (subject, expiry) in the clear.
    await db.query(`ALTER TABLE webhook ADD COLUMN tls_public jsonb`);
    await db.query(`ALTER TABLE webhook ADD COLUMN tls_encrypted text`);
    // Pull feed: a pull subscription has no endpoint. feed_head is the last position handed out
    // (taken under the row lock, so positions are in commit order), feed_acked the acknowledged one.
    await db.query(`ALTER TABLE webhook ADD COLUMN delivery_mode text NOT NULL DEFAULT 'push'`);
    await db.query(`ALTER TABLE webhook ALTER COLUMN url DROP NOT NULL`);
    await db.query(`ALTER TABLE webhook ADD COLUMN feed_head bigint NOT NULL DEFAULT 0`);
    await db.query(`ALTER TABLE webhook ADD COLUMN feed_acked bigint NOT NULL DEFAULT 0`);
    await db.query(`ALTER TABLE delivery ADD COLUMN feed_position bigint`);
    await db.query(
      `CREATE INDEX delivery_feed ON delivery (webhook_id, feed_position) WHERE status = 'pending' AND feed_position IS NOT NULL`,
    );
    await db.query(`
      CREATE TABLE feed_token (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        tenant_id uuid NOT NULL REFERENCES tenant (id) ON DELETE CASCADE,
        webhook_id uuid NOT NULL REFERENCES webhook (id) ON DELETE CASCADE,
        token_hash text NOT NULL UNIQUE,
        prefix text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await db.query(`CREATE INDEX feed_token_webhook ON feed_token (webhook_id)`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE IF EXISTS feed_token`);
    await db.query(`DROP INDEX IF EXISTS delivery_feed`);
    await db.query(`ALTER TABLE delivery DROP COLUMN feed_position`);
    await db.query(`ALTER TABLE webhook DROP COLUMN feed_acked`);
    await db.query(`ALTER TABLE webhook DROP COLUMN feed_head`);
    await db.query(`UPDATE webhook SET url = '' WHERE url IS NULL`);
    await db.query(`ALTER TABLE webhook ALTER COLUMN url SET NOT NULL`);
    await db.query(`ALTER TABLE webhook DROP COLUMN delivery_mode`);
    await db.query(`ALTER TABLE webhook DROP COLUMN tls_encrypted`);
    await db.query(`ALTER TABLE webhook DROP COLUMN tls_public`);
    await db.query(`ALTER TABLE webhook DROP COLUMN auth_encrypted`);
    await db.query(`ALTER TABLE webhook DROP COLUMN auth_public`);
    await db.query(`ALTER TABLE webhook DROP COLUMN auth_type`);
  }
}
