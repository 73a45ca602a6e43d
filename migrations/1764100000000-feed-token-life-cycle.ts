import type { MigrationInterface, QueryRunner } from 'typeorm';

export class FeedTokenLifeCycle1764100000000 implements MigrationInterface {
  name = 'FeedTokenLifeCycle1764100000000';

  async up(db: QueryRunner): Promise<void> {
    // A feed token belongs to the API key that minted it and dies with it; it may expire, and is
    // revoked by hand, by deleting its subscription or by moving it to push.
    await db.query(`
      ALTER TABLE feed_token
        ADD COLUMN api_key_id uuid REFERENCES api_key (id) ON DELETE CASCADE,
        ADD COLUMN expires_at timestamptz,
        ADD COLUMN last_used_at timestamptz,
        ADD COLUMN revoked_at timestamptz`);
    // Tokens minted before this knew no key (some by settings sessions): they cannot be tied to
    // one, so they are revoked; the ERP needs a new token minted with an API key.
    await db.query(`UPDATE feed_token SET revoked_at = now() WHERE api_key_id IS NULL`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`
      ALTER TABLE feed_token
        DROP COLUMN revoked_at, DROP COLUMN last_used_at, DROP COLUMN expires_at, DROP COLUMN api_key_id`);
  }
}
