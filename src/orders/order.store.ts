import { Injectable } from '@nestjs/common';
import type pg from 'pg';
import { DataSource } from 'typeorm';
import { pgPool, prepared, type Statement } from '../database/sql.js';
import type { Tx } from '../database/transaction.js';
import type { Order } from './order.entity.js';

/** An order row's columns under the entity's names (pg answers jsonb as objects, timestamptz as Dates). */
const ORDER_COLUMNS = `o.id, o.tenant_id AS "tenantId", o.order_number AS "orderNumber", o.external_ref AS "externalRef",
  o.customer, o.ship_from AS "shipFrom", o.ship_to AS "shipTo", o.requested_pickup_at AS "requestedPickupAt",
  o.requested_delivery_at AS "requestedDeliveryAt", o.lines, o.notes, o.status, o.version,
  o.created_at AS "createdAt", o.updated_at AS "updatedAt"`;

const json = (value: unknown) => (value === null || value === undefined ? null : JSON.stringify(value));

/**
 * The hot statements on `order` as plain SQL (the list stays a TypeORM query): the insert and
 * the write-back are handed to the outbox to run with their events in one statement.
 */
@Injectable()
export class OrderStore {
  private readonly pool: pg.Pool;

  constructor(dataSource: DataSource) {
    this.pool = pgPool(dataSource);
  }

  insert(order: Order): Statement {
    return {
      sql: `INSERT INTO "order" (id, tenant_id, order_number, external_ref, customer, ship_from, ship_to, requested_pickup_at,
                                 requested_delivery_at, lines, notes, status, version, created_at, updated_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
      params: [
        order.id,
        order.tenantId,
        order.orderNumber,
        order.externalRef,
        json(order.customer),
        json(order.shipFrom),
        json(order.shipTo),
        order.requestedPickupAt,
        order.requestedDeliveryAt,
        json(order.lines),
        order.notes,
        order.status,
        order.version,
        order.createdAt,
        order.updatedAt,
      ],
    };
  }

  /** Writes back every changeable column of an order locked in this transaction. */
  update(order: Order): Statement {
    return {
      sql: `UPDATE "order" SET external_ref = $2, customer = $3, ship_from = $4, ship_to = $5, requested_pickup_at = $6,
                   requested_delivery_at = $7, lines = $8, notes = $9, status = $10, version = $11, updated_at = $12
             WHERE id = $1`,
      params: [
        order.id,
        order.externalRef,
        json(order.customer),
        json(order.shipFrom),
        json(order.shipTo),
        order.requestedPickupAt,
        order.requestedDeliveryAt,
        json(order.lines),
        order.notes,
        order.status,
        order.version,
        order.updatedAt,
      ],
    };
  }

  /** A tenant's order, its row locked until the transaction ends (no key update: shipments may still reference it). */
  async lock(tx: Tx, tenantId: string, id: string): Promise<Order | undefined> {
    const [row] = await tx.query<Order>(
      `SELECT ${ORDER_COLUMNS} FROM "order" o WHERE o.id = $1 AND o.tenant_id = $2 FOR NO KEY UPDATE`,
      [id, tenantId],
    );
    return row;
  }

  /** A tenant's order, read in the transaction (tx) or on its own. */
  async find(tenantId: string, id: string, tx?: Tx): Promise<Order | undefined> {
    const sql = `SELECT ${ORDER_COLUMNS} FROM "order" o WHERE o.id = $1 AND o.tenant_id = $2`;
    const rows = tx
      ? await tx.query<Order>(sql, [id, tenantId])
      : (await this.pool.query<Order>(prepared(sql, [id, tenantId]))).rows;
    return rows[0];
  }

  /** Orders by id (a page of shipments names theirs). */
  async findMany(ids: string[]): Promise<Order[]> {
    if (ids.length === 0) return [];
    return (
      await this.pool.query<Order>(
        prepared(`SELECT ${ORDER_COLUMNS} FROM "order" o WHERE o.id = ANY($1::uuid[])`, [ids]),
      )
    ).rows;
  }
}
