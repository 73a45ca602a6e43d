import type { MigrationInterface, QueryRunner } from 'typeorm';

export class DeliveryClaimRoom1764900000000 implements MigrationInterface {
  name = 'DeliveryClaimRoom1764900000000';

  async up(db: QueryRunner): Promise<void> {
    // A claim leases up to a batch of rows in one statement, most of them neighbours on a page:
    // each takes a new version on its own page (a HOT update, no index entries) only if the page
    // has room for every row's new version at once (the old ones are pruned only after the claim
    // commits). At fillfactor 80 a page of ~200-byte rows had room for a quarter of them; the
    // others' leases were written with an entry in each of the table's indexes.
    await db.query(`ALTER TABLE delivery SET (fillfactor = 50)`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE delivery SET (fillfactor = 80)`);
  }
}
