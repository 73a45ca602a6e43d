import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { toAddress } from '../common/address.dto.js';
import { diffSnapshots } from '../common/changes.js';
import { toDate } from '../common/dates.js';
import { conflict, fieldError } from '../common/errors.js';
import { notFound } from '../common/ids.js';
import { decodeCursor, DEFAULT_PAGE_SIZE, type Page, toPage } from '../common/pagination.js';
import { describeForbiddenMove, isTransitionAllowed } from '../common/status-machine.js';
import { TransactionRunner, type Tx } from '../database/transaction.js';
import { type DomainEvent, OutboxService } from '../events/outbox.service.js';
import type { Order } from '../orders/order.entity.js';
import { OrdersService } from '../orders/orders.service.js';
import { Shipment } from './shipment.entity.js';
import { ShipmentStore } from './shipment.store.js';
import {
  shipmentSnapshot,
  type ShipmentSnapshot,
  toCarrier,
  toLocation,
  toPackages,
  trackingEventPayload,
  trackingEventView,
} from './shipment-snapshot.js';
import { SHIPMENT_MACHINE } from './shipment-status.js';
import type {
  ChangeShipmentStatusDto,
  CreateShipmentDto,
  CreateTrackingEventDto,
  ListShipmentsQuery,
  UpdateShipmentDto,
} from './shipments.dto.js';
import type { TrackingEvent } from './tracking-event.entity.js';

const EDITABLE: readonly (keyof ShipmentSnapshot & string)[] = [
  'carrier',
  'mode',
  'serviceLevel',
  'trackingNumber',
  'origin',
  'destination',
  'plannedPickupAt',
  'plannedDeliveryAt',
  'eta',
  'packages',
];

/** Sent as the trackingEvent of the shipment.tracking_updated that a PATCHed eta emits. */
const ETA_CHANGED_CODE = 'ETA_CHANGED';

export type ShipmentView = ShipmentSnapshot & { trackingEvents: ReturnType<typeof trackingEventView>[] };

@Injectable()
export class ShipmentsService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly transactions: TransactionRunner,
    private readonly outbox: OutboxService,
    private readonly orders: OrdersService,
    private readonly store: ShipmentStore,
  ) {}

  async create(tenantId: string, dto: CreateShipmentDto): Promise<ShipmentView> {
    return this.transactions.run(async (tx) => {
      const order = dto.orderId ? await this.orders.findInTx(tx, tenantId, dto.orderId) : null;
      if (dto.orderId && !order) throw fieldError('orderId', `no order ${dto.orderId} exists for this tenant`);
      const now = new Date();
      const shipment: Shipment = {
        id: randomUUID(),
        tenantId,
        orderId: order?.id ?? null,
        shipmentNumber: dto.shipmentNumber,
        status: 'planned',
        statusReason: null,
        carrier: toCarrier(dto.carrier),
        mode: dto.mode,
        serviceLevel: dto.serviceLevel ?? null,
        trackingNumber: dto.trackingNumber ?? null,
        origin: toAddress(dto.origin),
        destination: toAddress(dto.destination),
        plannedPickupAt: toDate(dto.plannedPickupAt),
        plannedDeliveryAt: toDate(dto.plannedDeliveryAt),
        actualPickupAt: null,
        actualDeliveryAt: null,
        eta: toDate(dto.eta),
        packages: toPackages(dto.packages),
        proofOfDelivery: null,
        version: 1,
        createdAt: now,
        updatedAt: now,
      };
      const snapshot = shipmentSnapshot(shipment, order);
      await this.outbox.record(
        tx,
        tenantId,
        [this.event('shipment.created', shipment, snapshot)],
        this.store.insert(shipment),
      );
      return { ...snapshot, trackingEvents: [] };
    });
  }

  async get(tenantId: string, id: string): Promise<ShipmentView> {
    const shipment = await this.store.find(tenantId, id);
    if (!shipment) throw notFound('shipment', id);
    const [order, tracking] = await Promise.all([
      shipment.orderId ? this.orders.findMany([shipment.orderId]).then((found) => found[0] ?? null) : null,
      this.store.trackingOf(id),
    ]);
    return { ...shipmentSnapshot(shipment, order), trackingEvents: tracking.map(trackingEventView) };
  }

  async list(tenantId: string, query: ListShipmentsQuery): Promise<Page<ShipmentSnapshot>> {
    const limit = query.limit ?? DEFAULT_PAGE_SIZE;
    const after = decodeCursor(query.cursor);
    const qb = this.dataSource.manager
      .createQueryBuilder(Shipment, 's')
      .where('s.tenant_id = :tenantId', { tenantId })
      .orderBy('s.created_at', 'DESC')
      .addOrderBy('s.id', 'DESC')
      .limit(limit + 1);
    if (query.status) qb.andWhere('s.status = :status', { status: query.status });
    if (query.shipmentNumber)
      qb.andWhere('s.shipment_number = :shipmentNumber', { shipmentNumber: query.shipmentNumber });
    if (query.trackingNumber)
      qb.andWhere('s.tracking_number = :trackingNumber', { trackingNumber: query.trackingNumber });
    if (query.orderId) qb.andWhere('s.order_id = :orderId', { orderId: query.orderId });
    if (after)
      qb.andWhere('(s.created_at, s.id) < (:key::timestamptz, :afterId::uuid)', { key: after.key, afterId: after.id });
    const rows = await qb.getMany();
    const orderIds = [...new Set(rows.map((s) => s.orderId).filter((id): id is string => id !== null))];
    const orders = await this.orders.findMany(orderIds);
    const byId = new Map(orders.map((o) => [o.id, o]));
    return toPage(
      rows,
      limit,
      (s) => ({ key: s.createdAt.toISOString(), id: s.id }),
      (s) => shipmentSnapshot(s, s.orderId ? (byId.get(s.orderId) ?? null) : null),
    );
  }

  async update(tenantId: string, id: string, dto: UpdateShipmentDto): Promise<ShipmentView> {
    const snapshot = await this.transactions.run(async (tx) => {
      const { shipment, order } = await this.lock(tx, tenantId, id);
      const before = shipmentSnapshot(shipment, order);
      if (dto.carrier !== undefined) shipment.carrier = toCarrier(dto.carrier);
      if (dto.mode !== undefined) shipment.mode = dto.mode;
      if (dto.serviceLevel !== undefined) shipment.serviceLevel = dto.serviceLevel;
      if (dto.trackingNumber !== undefined) shipment.trackingNumber = dto.trackingNumber;
      if (dto.origin !== undefined) shipment.origin = toAddress(dto.origin);
      if (dto.destination !== undefined) shipment.destination = toAddress(dto.destination);
      if (dto.plannedPickupAt !== undefined) shipment.plannedPickupAt = toDate(dto.plannedPickupAt);
      if (dto.plannedDeliveryAt !== undefined) shipment.plannedDeliveryAt = toDate(dto.plannedDeliveryAt);
      if (dto.eta !== undefined) shipment.eta = toDate(dto.eta);
      if (dto.packages !== undefined) shipment.packages = toPackages(dto.packages);
      const changes = diffSnapshots(before, shipmentSnapshot(shipment, order), EDITABLE);
      if (Object.keys(changes).length === 0) return before;
      shipment.version += 1;
      shipment.updatedAt = new Date();
      const after = shipmentSnapshot(shipment, order);
      const events: DomainEvent[] = [this.event('shipment.updated', shipment, { ...after, changes })];
      if (changes.eta) {
        const trackingEvent = trackingEventPayload({
          code: ETA_CHANGED_CODE,
          description: 'Estimated time of arrival changed',
          location: null,
          occurredAt: shipment.updatedAt,
          eta: shipment.eta,
        });
        events.push(this.event('shipment.tracking_updated', shipment, { ...after, trackingEvent }));
      }
      await this.outbox.record(tx, tenantId, events, this.store.update(shipment));
      return after;
    });
    return this.withTracking(snapshot);
  }

  async changeStatus(tenantId: string, id: string, dto: ChangeShipmentStatusDto): Promise<ShipmentView> {
    const snapshot = await this.transactions.run(async (tx) => {
      const { shipment, order } = await this.lock(tx, tenantId, id);
      if (!isTransitionAllowed(SHIPMENT_MACHINE, shipment.status, dto.status)) {
        throw conflict(
          describeForbiddenMove(SHIPMENT_MACHINE, `shipment ${shipment.shipmentNumber}`, shipment.status, dto.status),
        );
      }
      if (dto.proofOfDelivery && dto.status !== 'delivered') {
        throw fieldError('proofOfDelivery', 'is only accepted with status delivered');
      }
      const occurredAt = toDate(dto.occurredAt) ?? new Date();
      const previousStatus = shipment.status;
      shipment.status = dto.status;
      shipment.statusReason = dto.reason ?? null;
      if (dto.status === 'picked_up') shipment.actualPickupAt = occurredAt;
      if (dto.status === 'delivered') {
        shipment.actualDeliveryAt = occurredAt;
        if (dto.proofOfDelivery) {
          shipment.proofOfDelivery = {
            signedBy: dto.proofOfDelivery.signedBy,
            at: (toDate(dto.proofOfDelivery.at) ?? occurredAt).toISOString(),
          };
        }
      }
      shipment.version += 1;
      shipment.updatedAt = new Date();
      const after = shipmentSnapshot(shipment, order);
      const data = { ...after, previousStatus };
      const events: DomainEvent[] = [this.event('shipment.status_changed', shipment, data)];
      if (dto.status === 'delivered') events.push(this.event('shipment.delivered', shipment, data));
      if (dto.status === 'exception') events.push(this.event('shipment.exception', shipment, data));
      await this.outbox.record(tx, tenantId, events, this.store.update(shipment));
      if (shipment.orderId) await this.orders.followShipments(tx, tenantId, shipment.orderId, occurredAt);
      return after;
    });
    return this.withTracking(snapshot);
  }

  async addTrackingEvent(tenantId: string, id: string, dto: CreateTrackingEventDto) {
    return this.transactions.run(async (tx) => {
      const { shipment, order } = await this.lock(tx, tenantId, id);
      const now = new Date();
      const tracking: TrackingEvent = {
        id: randomUUID(),
        tenantId,
        shipmentId: shipment.id,
        code: dto.code,
        description: dto.description ?? null,
        location: toLocation(dto.location),
        occurredAt: new Date(dto.occurredAt),
        eta: toDate(dto.eta),
        createdAt: now,
      };
      if (tracking.eta) shipment.eta = tracking.eta;
      shipment.version += 1;
      shipment.updatedAt = now;
      const data = { ...shipmentSnapshot(shipment, order), trackingEvent: trackingEventPayload(tracking) };
      await this.outbox.record(
        tx,
        tenantId,
        [this.event('shipment.tracking_updated', shipment, data)],
        this.store.insertTracking(tracking),
        this.store.update(shipment),
      );
      return trackingEventView(tracking);
    });
  }

  private event(type: DomainEvent['type'], shipment: Shipment, data: Record<string, unknown>): DomainEvent {
    return { type, aggregateType: 'shipment', aggregateId: shipment.id, data };
  }

  private async lock(tx: Tx, tenantId: string, id: string): Promise<{ shipment: Shipment; order: Order | null }> {
    const shipment = await this.store.lock(tx, tenantId, id);
    if (!shipment) throw notFound('shipment', id);
    const order = shipment.orderId ? await this.orders.findInTx(tx, tenantId, shipment.orderId) : null;
    return { shipment, order };
  }

  private async withTracking(snapshot: ShipmentSnapshot): Promise<ShipmentView> {
    const tracking = await this.store.trackingOf(snapshot.id);
    return { ...snapshot, trackingEvents: tracking.map(trackingEventView) };
  }
}
