import type { MigrationInterface, QueryRunner } from 'typeorm';

export class PayloadFormats1763920000000 implements MigrationInterface {
  name = 'PayloadFormats1763920000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE webhook ADD COLUMN payload_format text NOT NULL DEFAULT 'envelope'`);
    await db.query(`ALTER TABLE webhook ADD COLUMN payload_options jsonb`);
    // { eventTypes, windowMs }: a newer covered event of the same aggregate supersedes a waiting one.
    await db.query(`ALTER TABLE webhook ADD COLUMN coalesce jsonb`);
    // EDI interchange/group control numbers: unique and increasing per subscription, across restarts.
    await db.query(`ALTER TABLE webhook ADD COLUMN edi_control_number bigint NOT NULL DEFAULT 0`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE webhook DROP COLUMN edi_control_number`);
    await db.query(`ALTER TABLE webhook DROP COLUMN coalesce`);
    await db.query(`ALTER TABLE webhook DROP COLUMN payload_options`);
    await db.query(`ALTER TABLE webhook DROP COLUMN payload_format`);
  }
}
