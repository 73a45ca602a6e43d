import type { MigrationInterface, QueryRunner } from 'typeorm';

export class AttemptOutcomeInPlace1765000000000 implements MigrationInterface {
  name = 'AttemptOutcomeInPlace1765000000000';

  async up(db: QueryRunner): Promise<void> {
    // A moment's lock, but it waits for any long reader and everything queues behind it: give
    // up instead, the next start tries again.
    await db.query(`SET LOCAL lock_timeout = '10s'`);
    // An attempt's row is written small as its request starts (~260 bytes: what it says if the
    // instance stops) and rewritten with the outcome (~600 bytes: headers, the answer). The
    // rewrite stays on its page (a HOT update: no index entry) only if no indexed column changes
    // and the page has room for the new versions of its rows while the old ones are still there
    // (a batch's write-back rewrites them together): started_at (the moment the request went
    // out) was indexed for retention, which walks the primary key instead (ids are taken in time
    // order), and pages take small rows up to 30 %, about 9, whose outcomes then fill them. The
    // price is space: about 9 outcomes to a page instead of 13.
    await db.query(`DROP INDEX IF EXISTS delivery_attempt_started`);
    await db.query(`ALTER TABLE delivery_attempt SET (fillfactor = 30)`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE delivery_attempt SET (fillfactor = 70)`);
    await db.query(`CREATE INDEX IF NOT EXISTS delivery_attempt_started ON delivery_attempt (started_at)`);
  }
}
