import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Webhooks1763910000000 implements MigrationInterface {
  name = 'Webhooks1763910000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE webhook (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        tenant_id uuid NOT NULL REFERENCES tenant(id) ON DELETE CASCADE,
        name text NOT NULL,
        url text NOT NULL,
        description text,
        event_types text[] NOT NULL,
        filters jsonb NOT NULL DEFAULT '{}',
        headers_encrypted text,
        header_names text[] NOT NULL DEFAULT '{}',
        enabled boolean NOT NULL DEFAULT true,
        paused boolean NOT NULL DEFAULT false,
        ordered boolean NOT NULL DEFAULT false,
        timeout_ms integer NOT NULL,
        max_concurrency integer NOT NULL,
        rate_limit_per_second integer,
        retry_schedule integer[],
        api_version text NOT NULL,
        status text NOT NULL DEFAULT 'healthy',
        disabled_reason text,
        consecutive_failures integer NOT NULL DEFAULT 0,
        failing_since timestamptz,
        last_success_at timestamptz,
        last_failure_at timestamptz,
        secret_encrypted text NOT NULL,
        previous_secret_encrypted text,
        previous_secret_expires_at timestamptz,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        deleted_at timestamptz
      )`);
    await db.query(
      `CREATE INDEX webhook_tenant_list ON webhook (tenant_id, created_at DESC, id DESC) WHERE deleted_at IS NULL`,
    );

    await db.query(`
      CREATE TABLE delivery (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        tenant_id uuid NOT NULL REFERENCES tenant(id) ON DELETE CASCADE,
        webhook_id uuid NOT NULL REFERENCES webhook(id) ON DELETE CASCADE,
        event_id text NOT NULL,
        event_type text NOT NULL,
        aggregate_id uuid,
        event_sequence integer NOT NULL DEFAULT 0,
        -- Only for deliveries whose body is not an outbox event (test sends): the envelope itself.
        payload json,
        -- pending | delivered | failed | superseded | discarded. "delivering" is not stored: it is a
        -- pending row under an unexpired lease, so claiming touches no indexed column (a HOT update).
        status text NOT NULL,
        next_trigger text NOT NULL DEFAULT 'auto',
        attempt_count integer NOT NULL DEFAULT 0,
        -- Attempt count when the retry schedule last restarted (a redelivery or replay).
        retry_base integer NOT NULL DEFAULT 0,
        -- NULL while held (subscription paused or disabled when the event came): not due.
        next_attempt_at timestamptz,
        lease_expires_at timestamptz,
        leased_by text,
        last_attempt_at timestamptz,
        last_response_status integer,
        last_error_class text,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL
      ) WITH (fillfactor = 80)`);
    // The claim reads each subscription's due pending rows in time order (expired leases included).
    await db.query(
      `CREATE INDEX delivery_due ON delivery (webhook_id, next_attempt_at, event_sequence) WHERE status = 'pending'`,
    );
    // Ordered subscriptions: is an earlier delivery of this aggregate still open?
    await db.query(
      `CREATE INDEX delivery_open_by_aggregate ON delivery (webhook_id, aggregate_id, event_sequence) WHERE status = 'pending'`,
    );
    await db.query(`CREATE INDEX delivery_tenant_list ON delivery (tenant_id, created_at DESC, id DESC)`);
    await db.query(`CREATE INDEX delivery_webhook_list ON delivery (webhook_id, status, created_at DESC, id DESC)`);

    await db.query(`
      CREATE TABLE delivery_attempt (
        id bigserial PRIMARY KEY,
        delivery_id uuid NOT NULL REFERENCES delivery(id) ON DELETE CASCADE,
        tenant_id uuid NOT NULL,
        webhook_id uuid NOT NULL,
        number integer NOT NULL,
        trigger text NOT NULL,
        started_at timestamptz NOT NULL,
        duration_ms integer NOT NULL,
        url text NOT NULL,
        request_headers jsonb NOT NULL,
        request_body text,
        response_status integer,
        response_headers jsonb,
        response_body text,
        error_class text,
        error_message text
      )`);
    await db.query(`CREATE INDEX delivery_attempt_delivery ON delivery_attempt (delivery_id, number)`);
    await db.query(`CREATE INDEX delivery_attempt_started ON delivery_attempt (started_at)`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE IF EXISTS delivery_attempt`);
    await db.query(`DROP TABLE IF EXISTS delivery`);
    await db.query(`DROP TABLE IF EXISTS webhook`);
  }
}
