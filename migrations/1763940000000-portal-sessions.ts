import type { MigrationInterface, QueryRunner } from 'typeorm';

export class PortalSessions1763940000000 implements MigrationInterface {
  name = 'PortalSessions1763940000000';

  async up(db: QueryRunner): Promise<void> {
    // A portal session starts as a one-time link (link_hash); redeeming it sets token_hash, the
    // short-lived bearer the settings screen then uses. Only hashes are stored.
    await db.query(`
      CREATE TABLE portal_session (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        tenant_id uuid NOT NULL REFERENCES tenant (id) ON DELETE CASCADE,
        api_key_id uuid REFERENCES api_key (id) ON DELETE SET NULL,
        read_only boolean NOT NULL,
        link_hash text NOT NULL UNIQUE,
        token_hash text UNIQUE,
        expires_at timestamptz NOT NULL,
        redeemed_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await db.query(`CREATE INDEX portal_session_expiry ON portal_session (expires_at)`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE IF EXISTS portal_session`);
  }
}
