import type { MigrationInterface, QueryRunner } from 'typeorm';

export class AttemptOutcomeInPlace1765000000000 implements MigrationInterface {
  name = 'AttemptOutcomeInPlace1765000000000';

  async up(db: QueryRunner): Promise<void> {
    // An attempt's row is written small as its request starts (what it says if the instance
    // stops) and rewritten with the outcome, several times its size (headers, the answer). The
    // rewrite stays on its page (a HOT update: no index entry) only if no indexed column changes
    // and the page has room for every row's new version: started_at (the moment the request
    // went out) was indexed for retention, which walks the primary key instead (ids are taken in
    // time order), and pages are filled to a fifth by the small rows, the rest left for their outcomes.
    await db.query(`DROP INDEX IF EXISTS delivery_attempt_started`);
    await db.query(`ALTER TABLE delivery_attempt SET (fillfactor = 20)`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE delivery_attempt SET (fillfactor = 70)`);
    await db.query(`CREATE INDEX IF NOT EXISTS delivery_attempt_started ON delivery_attempt (started_at)`);
  }
}
