import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { monotonicFactory } from 'ulid';
import { hashApiKey } from '../src/tenancy/api-key-secret.js';
import { type Filters, matchesEventTypes, matchesFilters } from '../src/webhooks/subscriptions/filters.js';
import { serve } from './rpc.js';

/**
 * The ingest scenario's yardstick: `POST /v1/orders` on bare `node:http` + `pg`, issuing the
 * statements Waybill issued for it before the write path was reworked (issue 16), in the same
 * order: the API-key lookup, then in one transaction the order insert, the next-sequence
 * select, the event insert, the subscriptions select and the delivery insert. Validation is
 * minimal; the answer is the order snapshot, as Waybill's. Same pool size as Waybill's (20).
 */
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 20, application_name: 'bench-bare' });
const nextUlid = monotonicFactory();

const SELECT_KEY = `SELECT "ApiKey"."id" AS "ApiKey_id", "ApiKey"."tenant_id" AS "ApiKey_tenant_id", "ApiKey"."name" AS "ApiKey_name",
  "ApiKey"."key_hash" AS "ApiKey_key_hash", "ApiKey"."key_prefix" AS "ApiKey_key_prefix", "ApiKey"."created_at" AS "ApiKey_created_at",
  "ApiKey"."last_used_at" AS "ApiKey_last_used_at", "ApiKey"."revoked_at" AS "ApiKey_revoked_at"
  FROM "api_key" "ApiKey" WHERE (("ApiKey"."key_hash" = $1) AND ("ApiKey"."revoked_at" IS NULL)) LIMIT 1`;
const INSERT_ORDER = `INSERT INTO "order"("id", "tenant_id", "order_number", "external_ref", "customer", "ship_from", "ship_to",
  "requested_pickup_at", "requested_delivery_at", "lines", "notes", "status", "version", "created_at", "updated_at")
  VALUES (DEFAULT, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING "id"`;
const SELECT_SEQUENCE = `SELECT a.id AS aggregate_id, (SELECT max(e.sequence) FROM event e WHERE e.aggregate_id = a.id)::int AS last
  FROM unnest($1::uuid[]) AS a(id)`;
const INSERT_EVENT = `INSERT INTO event (id, tenant_id, type, aggregate_type, aggregate_id, sequence, api_version, data, created_at)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`;
const SELECT_SUBSCRIPTIONS = `SELECT w.event_types, w.filters, (w.paused OR w.status = 'disabled') AS holding, w.ordered, w.coalesce,
  w.delivery_mode, w.id AS webhook_id, w.url, w.timeout_ms, w.max_concurrency, w.rate_limit_per_second, w.retry_schedule,
  w.updated_at AS w_version, w.secret_encrypted, w.previous_secret_encrypted, w.previous_secret_expires_at, w.headers_encrypted,
  w.api_version AS w_api_version, w.payload_format, w.payload_options, w.auth_type, w.auth_encrypted, w.tls_encrypted
  FROM webhook w WHERE w.tenant_id = $1 AND w.enabled AND w.deleted_at IS NULL`;
const INSERT_DELIVERIES = `INSERT INTO delivery (id, tenant_id, webhook_id, event_id, event_type, aggregate_id, event_sequence, status,
  next_attempt_at, lease_expires_at, leased_by, created_at, updated_at, feed_position)
  SELECT i, $1, w, e, t, a, s, 'pending', due,
         CASE WHEN l THEN now() + $10 * interval '1 millisecond' END, CASE WHEN l THEN $11 END, $8, $8, f
    FROM unnest($2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::uuid[], $7::int[], $9::bool[], $12::timestamptz[], $13::bigint[])
         AS x(i, w, e, t, a, s, l, due, f)`;

const address = (a: any) =>
  a
    ? {
        name: a.name ?? null,
        street: a.street ?? null,
        city: a.city,
        postalCode: a.postalCode ?? null,
        country: a.country,
      }
    : null;

function reply(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

async function createOrder(tenantId: string, dto: any) {
  const client = await pool.connect();
  try {
    await client.query('START TRANSACTION');
    const now = new Date();
    const customer = { name: dto.customer.name, ref: dto.customer.ref ?? null };
    const lines = dto.lines.map((l: any) => ({
      sku: l.sku,
      description: l.description ?? null,
      quantity: l.quantity,
      unit: l.unit,
      weightKg: l.weightKg ?? null,
    }));
    const shipFrom = address(dto.shipFrom);
    const shipTo = address(dto.shipTo);
    const pickupAt = dto.requestedPickupAt ? new Date(dto.requestedPickupAt) : null;
    const deliveryAt = dto.requestedDeliveryAt ? new Date(dto.requestedDeliveryAt) : null;
    const { rows } = await client.query(INSERT_ORDER, [
      tenantId,
      dto.orderNumber,
      dto.externalRef ?? null,
      customer,
      shipFrom,
      shipTo,
      pickupAt,
      deliveryAt,
      JSON.stringify(lines),
      dto.notes ?? null,
      'open',
      1,
      now,
      now,
    ]);
    const id: string = rows[0].id;
    const snapshot = {
      id,
      orderNumber: dto.orderNumber,
      externalRef: dto.externalRef ?? null,
      customer,
      shipFrom,
      shipTo,
      requestedPickupAt: pickupAt?.toISOString() ?? null,
      requestedDeliveryAt: deliveryAt?.toISOString() ?? null,
      lines,
      notes: dto.notes ?? null,
      status: 'open',
      version: 1,
      createdAt: now.toISOString(),
      updatedAt: now.toISOString(),
    };
    const sequence = ((await client.query(SELECT_SEQUENCE, [[id]])).rows[0].last ?? 0) + 1;
    const eventId = `evt_${nextUlid()}`;
    const createdAt = new Date();
    await client.query(INSERT_EVENT, [
      eventId,
      tenantId,
      'order.created',
      'order',
      id,
      sequence,
      '2026-11-01',
      JSON.stringify(snapshot),
      createdAt,
    ]);
    const subscriptions = (await client.query(SELECT_SUBSCRIPTIONS, [tenantId])).rows.filter(
      (s: { event_types: string[]; filters: Filters }) =>
        matchesEventTypes(s.event_types, 'order.created') && matchesFilters(s.filters, snapshot),
    );
    if (subscriptions.length > 0) {
      const each = <T>(value: T) => subscriptions.map(() => value);
      await client.query(INSERT_DELIVERIES, [
        tenantId,
        subscriptions.map(() => randomUUID()),
        subscriptions.map((s: { webhook_id: string }) => s.webhook_id),
        each(eventId),
        each('order.created'),
        each(id),
        each(sequence),
        createdAt,
        each(false),
        30_000,
        'bare',
        subscriptions.map((s: { holding: boolean }) => (s.holding ? null : createdAt)),
        each(null),
      ]);
    }
    await client.query('COMMIT');
    return snapshot;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    void (async () => {
      if (req.method !== 'POST' || req.url !== '/v1/orders') return reply(res, 404, { statusCode: 404 });
      const match = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
      if (!match) return reply(res, 401, { statusCode: 401 });
      const key = (await pool.query(SELECT_KEY, [hashApiKey(match[1])])).rows[0];
      if (!key) return reply(res, 401, { statusCode: 401 });
      let dto: any;
      try {
        dto = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        return reply(res, 400, { statusCode: 400, message: 'not valid JSON' });
      }
      if (
        typeof dto?.orderNumber !== 'string' ||
        typeof dto.customer?.name !== 'string' ||
        !Array.isArray(dto.lines) ||
        dto.lines.length === 0 ||
        !dto.lines.every((l: any) => typeof l.sku === 'string' && l.quantity > 0 && typeof l.unit === 'string')
      )
        return reply(res, 400, { statusCode: 400, message: 'invalid order' });
      reply(res, 201, await createOrder(key.ApiKey_tenant_id, dto));
    })().catch((error: unknown) => reply(res, 500, { statusCode: 500, message: String(error) }));
  });
});
server.keepAliveTimeout = 120_000;

server.listen(0, '127.0.0.1', () => {
  serve({ port: () => (server.address() as AddressInfo).port });
});
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => void pool.end().finally(() => process.exit(0)));
});
