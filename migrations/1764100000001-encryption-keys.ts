import type { MigrationInterface, QueryRunner } from 'typeorm';

export class EncryptionKeys1764100000001 implements MigrationInterface {
  name = 'EncryptionKeys1764100000001';

  async up(db: QueryRunner): Promise<void> {
    // The encryption keys this database has known, by id and fingerprint (never the key): a start
    // with an unknown key is refused before it can write secrets nobody else can read.
    await db.query(`
      CREATE TABLE encryption_key (
        key_id text PRIMARY KEY,
        fingerprint text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        retired_at timestamptz
      )`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE IF EXISTS encryption_key`);
  }
}
