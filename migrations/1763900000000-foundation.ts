import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Foundation1763900000000 implements MigrationInterface {
  name = 'Foundation1763900000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE tenant (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        name text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await db.query(`
      CREATE TABLE api_key (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        tenant_id uuid NOT NULL REFERENCES tenant(id) ON DELETE CASCADE,
        name text NOT NULL,
        key_hash text NOT NULL UNIQUE,
        key_prefix text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        last_used_at timestamptz,
        revoked_at timestamptz
      )`);
    await db.query(`CREATE INDEX api_key_tenant ON api_key (tenant_id, created_at DESC, id DESC)`);

    await db.query(`
      CREATE TABLE "order" (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        tenant_id uuid NOT NULL REFERENCES tenant(id) ON DELETE CASCADE,
        order_number text NOT NULL,
        external_ref text,
        customer jsonb NOT NULL,
        ship_from jsonb,
        ship_to jsonb,
        requested_pickup_at timestamptz,
        requested_delivery_at timestamptz,
        lines jsonb NOT NULL,
        notes text,
        status text NOT NULL,
        version integer NOT NULL DEFAULT 1,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT order_number_unique UNIQUE (tenant_id, order_number)
      )`);
    await db.query(`CREATE INDEX order_tenant_list ON "order" (tenant_id, created_at DESC, id DESC)`);
    await db.query(`CREATE INDEX order_tenant_status ON "order" (tenant_id, status, created_at DESC, id DESC)`);

    await db.query(`
      CREATE TABLE shipment (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        tenant_id uuid NOT NULL REFERENCES tenant(id) ON DELETE CASCADE,
        order_id uuid REFERENCES "order"(id),
        shipment_number text NOT NULL,
        status text NOT NULL,
        status_reason text,
        carrier jsonb NOT NULL,
        mode text NOT NULL,
        service_level text,
        tracking_number text,
        origin jsonb,
        destination jsonb,
        planned_pickup_at timestamptz,
        planned_delivery_at timestamptz,
        actual_pickup_at timestamptz,
        actual_delivery_at timestamptz,
        eta timestamptz,
        packages jsonb NOT NULL DEFAULT '[]',
        proof_of_delivery jsonb,
        version integer NOT NULL DEFAULT 1,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT shipment_number_unique UNIQUE (tenant_id, shipment_number)
      )`);
    await db.query(`CREATE INDEX shipment_tenant_list ON shipment (tenant_id, created_at DESC, id DESC)`);
    await db.query(`CREATE INDEX shipment_tenant_status ON shipment (tenant_id, status, created_at DESC, id DESC)`);
    await db.query(`CREATE INDEX shipment_order ON shipment (order_id)`);

    await db.query(`
      CREATE TABLE tracking_event (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        tenant_id uuid NOT NULL REFERENCES tenant(id) ON DELETE CASCADE,
        shipment_id uuid NOT NULL REFERENCES shipment(id) ON DELETE CASCADE,
        code text NOT NULL,
        description text,
        location jsonb,
        occurred_at timestamptz NOT NULL,
        eta timestamptz,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await db.query(`CREATE INDEX tracking_event_shipment ON tracking_event (shipment_id, occurred_at, id)`);

    // The outbox: one row per domain event, written in the transaction that made the change.
    await db.query(`
      CREATE TABLE event (
        id text PRIMARY KEY,
        position bigserial NOT NULL UNIQUE,
        tenant_id uuid NOT NULL REFERENCES tenant(id) ON DELETE CASCADE,
        type text NOT NULL,
        aggregate_type text NOT NULL,
        aggregate_id uuid NOT NULL,
        sequence integer NOT NULL,
        api_version text NOT NULL,
        -- json, not jsonb: the payload keeps its field order, and is stored as written.
        data json NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT event_aggregate_sequence UNIQUE (aggregate_id, sequence)
      )`);
    await db.query(`CREATE INDEX event_tenant_list ON event (tenant_id, position DESC)`);
    await db.query(`CREATE INDEX event_tenant_type ON event (tenant_id, type, position DESC)`);
  }

  async down(db: QueryRunner): Promise<void> {
    for (const table of ['event', 'tracking_event', 'shipment', '"order"', 'api_key', 'tenant']) {
      await db.query(`DROP TABLE IF EXISTS ${table}`);
    }
  }
}
