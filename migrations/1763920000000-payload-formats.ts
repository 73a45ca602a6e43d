import type { MigrationInterface, QueryRunner } from 'typeorm';

export class PayloadFormats1763920000000 implements MigrationInterface {
  name = 'PayloadFormats1763920000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE webhook ADD COLUMN payload_format text NOT NULL DEFAULT 'envelope'`);
    await db.query(`ALTER TABLE webhook ADD COLUMN payload_options jsonb`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE webhook DROP COLUMN payload_options`);
    await db.query(`ALTER TABLE webhook DROP COLUMN payload_format`);
  }
}
