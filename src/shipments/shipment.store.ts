import { Injectable } from '@nestjs/common';
import type pg from 'pg';
import { DataSource } from 'typeorm';
import { pgPool, prepared, type Statement } from '../database/sql.js';
import type { Tx } from '../database/transaction.js';
import type { Shipment } from './shipment.entity.js';
import type { TrackingEvent } from './tracking-event.entity.js';

/** A shipment row's columns under the entity's names. */
const SHIPMENT_COLUMNS = `s.id, s.tenant_id AS "tenantId", s.order_id AS "orderId", s.shipment_number AS "shipmentNumber", s.status,
  s.status_reason AS "statusReason", s.carrier, s.mode, s.service_level AS "serviceLevel", s.tracking_number AS "trackingNumber",
  s.origin, s.destination, s.planned_pickup_at AS "plannedPickupAt", s.planned_delivery_at AS "plannedDeliveryAt",
  s.actual_pickup_at AS "actualPickupAt", s.actual_delivery_at AS "actualDeliveryAt", s.eta, s.packages,
  s.proof_of_delivery AS "proofOfDelivery", s.version, s.created_at AS "createdAt", s.updated_at AS "updatedAt"`;

const TRACKING_COLUMNS = `t.id, t.tenant_id AS "tenantId", t.shipment_id AS "shipmentId", t.code, t.description, t.location,
  t.occurred_at AS "occurredAt", t.eta, t.created_at AS "createdAt"`;

const json = (value: unknown) => (value === null || value === undefined ? null : JSON.stringify(value));

/**
 * The hot statements on `shipment` and `tracking_event` as plain SQL (the list stays a TypeORM
 * query): inserts and write-backs are handed to the outbox to run with their events in one
 * statement.
 */
@Injectable()
export class ShipmentStore {
  private readonly pool: pg.Pool;

  constructor(dataSource: DataSource) {
    this.pool = pgPool(dataSource);
  }

  insert(s: Shipment): Statement {
    return {
      sql: `INSERT INTO shipment (id, tenant_id, order_id, shipment_number, status, status_reason, carrier, mode, service_level,
                                  tracking_number, origin, destination, planned_pickup_at, planned_delivery_at, actual_pickup_at,
                                  actual_delivery_at, eta, packages, proof_of_delivery, version, created_at, updated_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)`,
      params: [
        s.id,
        s.tenantId,
        s.orderId,
        s.shipmentNumber,
        s.status,
        s.statusReason,
        json(s.carrier),
        s.mode,
        s.serviceLevel,
        s.trackingNumber,
        json(s.origin),
        json(s.destination),
        s.plannedPickupAt,
        s.plannedDeliveryAt,
        s.actualPickupAt,
        s.actualDeliveryAt,
        s.eta,
        json(s.packages),
        json(s.proofOfDelivery),
        s.version,
        s.createdAt,
        s.updatedAt,
      ],
    };
  }

  /** Writes back every changeable column of a shipment locked in this transaction. */
  update(s: Shipment): Statement {
    return {
      sql: `UPDATE shipment SET status = $2, status_reason = $3, carrier = $4, mode = $5, service_level = $6, tracking_number = $7,
                   origin = $8, destination = $9, planned_pickup_at = $10, planned_delivery_at = $11, actual_pickup_at = $12,
                   actual_delivery_at = $13, eta = $14, packages = $15, proof_of_delivery = $16, version = $17, updated_at = $18
             WHERE id = $1`,
      params: [
        s.id,
        s.status,
        s.statusReason,
        json(s.carrier),
        s.mode,
        s.serviceLevel,
        s.trackingNumber,
        json(s.origin),
        json(s.destination),
        s.plannedPickupAt,
        s.plannedDeliveryAt,
        s.actualPickupAt,
        s.actualDeliveryAt,
        s.eta,
        json(s.packages),
        json(s.proofOfDelivery),
        s.version,
        s.updatedAt,
      ],
    };
  }

  insertTracking(t: TrackingEvent): Statement {
    return {
      sql: `INSERT INTO tracking_event (id, tenant_id, shipment_id, code, description, location, occurred_at, eta, created_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      params: [
        t.id,
        t.tenantId,
        t.shipmentId,
        t.code,
        t.description,
        json(t.location),
        t.occurredAt,
        t.eta,
        t.createdAt,
      ],
    };
  }

  /** A tenant's shipment, its row locked until the transaction ends. */
  async lock(tx: Tx, tenantId: string, id: string): Promise<Shipment | undefined> {
    const [row] = await tx.query<Shipment>(
      `SELECT ${SHIPMENT_COLUMNS} FROM shipment s WHERE s.id = $1 AND s.tenant_id = $2 FOR NO KEY UPDATE`,
      [id, tenantId],
    );
    return row;
  }

  async find(tenantId: string, id: string): Promise<Shipment | undefined> {
    const { rows } = await this.pool.query<Shipment>(
      prepared(`SELECT ${SHIPMENT_COLUMNS} FROM shipment s WHERE s.id = $1 AND s.tenant_id = $2`, [id, tenantId]),
    );
    return rows[0];
  }

  /** A shipment's tracking events, oldest first. */
  async trackingOf(shipmentId: string): Promise<TrackingEvent[]> {
    const { rows } = await this.pool.query<TrackingEvent>(
      prepared(
        `SELECT ${TRACKING_COLUMNS} FROM tracking_event t WHERE t.shipment_id = $1 ORDER BY t.occurred_at, t.id`,
        [shipmentId],
      ),
    );
    return rows;
  }
}
