import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { toAddress } from '../common/address.dto.js';
import { diffSnapshots } from '../common/changes.js';
import { toDate } from '../common/dates.js';
import { conflict } from '../common/errors.js';
import { notFound } from '../common/ids.js';
import { decodeCursor, DEFAULT_PAGE_SIZE, type Page, toPage } from '../common/pagination.js';
import { describeForbiddenMove, isTransitionAllowed } from '../common/status-machine.js';
import { randomUUID } from 'node:crypto';
import { TransactionRunner, type Tx } from '../database/transaction.js';
import { OutboxService } from '../events/outbox.service.js';
import { Order } from './order.entity.js';
import { OrderStore } from './order.store.js';
import { orderSnapshot, type OrderSnapshot, toCustomer, toLines } from './order-snapshot.js';
import { ORDER_BEFORE_TRANSIT, ORDER_MACHINE, type OrderStatus } from './order-status.js';
import type { ChangeOrderStatusDto, CreateOrderDto, ListOrdersQuery, UpdateOrderDto } from './orders.dto.js';

const EDITABLE: readonly (keyof OrderSnapshot & string)[] = [
  'externalRef',
  'customer',
  'shipFrom',
  'shipTo',
  'requestedPickupAt',
  'requestedDeliveryAt',
  'lines',
  'notes',
];

@Injectable()
export class OrdersService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly transactions: TransactionRunner,
    private readonly outbox: OutboxService,
    private readonly store: OrderStore,
  ) {}

  /** One statement: the order, its event and their fan-out (see `OutboxService.recordAlone`). */
  async create(tenantId: string, dto: CreateOrderDto): Promise<OrderSnapshot> {
    const now = new Date();
    const order: Order = {
      id: randomUUID(),
      tenantId,
      orderNumber: dto.orderNumber,
      externalRef: dto.externalRef ?? null,
      customer: toCustomer(dto.customer),
      shipFrom: toAddress(dto.shipFrom),
      shipTo: toAddress(dto.shipTo),
      requestedPickupAt: toDate(dto.requestedPickupAt),
      requestedDeliveryAt: toDate(dto.requestedDeliveryAt),
      lines: toLines(dto.lines),
      notes: dto.notes ?? null,
      status: 'open',
      version: 1,
      createdAt: now,
      updatedAt: now,
    };
    const snapshot = orderSnapshot(order);
    await this.outbox.recordAlone(
      tenantId,
      [{ type: 'order.created', aggregateType: 'order', aggregateId: order.id, data: snapshot }],
      this.store.insert(order),
    );
    return snapshot;
  }

  async get(tenantId: string, id: string): Promise<OrderSnapshot> {
    const order = await this.store.find(tenantId, id);
    if (!order) throw notFound('order', id);
    return orderSnapshot(order);
  }

  async list(tenantId: string, query: ListOrdersQuery): Promise<Page<OrderSnapshot>> {
    const limit = query.limit ?? DEFAULT_PAGE_SIZE;
    const after = decodeCursor(query.cursor);
    const qb = this.dataSource.manager
      .createQueryBuilder(Order, 'o')
      .where('o.tenant_id = :tenantId', { tenantId })
      .orderBy('o.created_at', 'DESC')
      .addOrderBy('o.id', 'DESC')
      .limit(limit + 1);
    if (query.status) qb.andWhere('o.status = :status', { status: query.status });
    if (query.orderNumber) qb.andWhere('o.order_number = :orderNumber', { orderNumber: query.orderNumber });
    if (query.externalRef) qb.andWhere('o.external_ref = :externalRef', { externalRef: query.externalRef });
    if (after)
      qb.andWhere('(o.created_at, o.id) < (:key::timestamptz, :afterId::uuid)', { key: after.key, afterId: after.id });
    const rows = await qb.getMany();
    return toPage(rows, limit, (o) => ({ key: o.createdAt.toISOString(), id: o.id }), orderSnapshot);
  }

  async update(tenantId: string, id: string, dto: UpdateOrderDto): Promise<OrderSnapshot> {
    return this.transactions.run(async (tx) => {
      const order = await this.lock(tx, tenantId, id);
      const before = orderSnapshot(order);
      if (dto.externalRef !== undefined) order.externalRef = dto.externalRef;
      if (dto.customer !== undefined) order.customer = toCustomer(dto.customer);
      if (dto.shipFrom !== undefined) order.shipFrom = toAddress(dto.shipFrom);
      if (dto.shipTo !== undefined) order.shipTo = toAddress(dto.shipTo);
      if (dto.requestedPickupAt !== undefined) order.requestedPickupAt = toDate(dto.requestedPickupAt);
      if (dto.requestedDeliveryAt !== undefined) order.requestedDeliveryAt = toDate(dto.requestedDeliveryAt);
      if (dto.lines !== undefined) order.lines = toLines(dto.lines);
      if (dto.notes !== undefined) order.notes = dto.notes;
      const changes = diffSnapshots(before, orderSnapshot(order), EDITABLE);
      if (Object.keys(changes).length === 0) return before;
      order.version += 1;
      order.updatedAt = new Date();
      const snapshot = orderSnapshot(order);
      await this.outbox.record(
        tx,
        tenantId,
        [{ type: 'order.updated', aggregateType: 'order', aggregateId: order.id, data: { ...snapshot, changes } }],
        this.store.update(order),
      );
      return snapshot;
    });
  }

  async changeStatus(tenantId: string, id: string, dto: ChangeOrderStatusDto): Promise<OrderSnapshot> {
    return this.transactions.run(async (tx) => {
      const order = await this.lock(tx, tenantId, id);
      if (!isTransitionAllowed(ORDER_MACHINE, order.status, dto.status)) {
        throw conflict(describeForbiddenMove(ORDER_MACHINE, `order ${order.orderNumber}`, order.status, dto.status));
      }
      return this.move(tx, order, dto.status, dto.reason ?? null, toDate(dto.occurredAt) ?? new Date());
    });
  }

  /**
   * The order follows its shipments, in the shipment's transaction: the first pickup moves it to
   * in_transit, all (non-cancelled) shipments delivered moves it to delivered. The order row is
   * locked before its shipments are counted, so two shipments delivered at once still deliver it.
   */
  async followShipments(tx: Tx, tenantId: string, orderId: string, occurredAt: Date): Promise<void> {
    const order = await this.lock(tx, tenantId, orderId);
    if (order.status === 'delivered' || order.status === 'cancelled') return;
    const [counts] = await tx.query<{ picked: number; delivered: number; live: number }>(
      `SELECT count(*) FILTER (WHERE status IN ('picked_up', 'in_transit', 'out_for_delivery', 'delivered', 'returned') OR actual_pickup_at IS NOT NULL)::int AS picked,
              count(*) FILTER (WHERE status = 'delivered')::int AS delivered,
              count(*) FILTER (WHERE status <> 'cancelled')::int AS live
         FROM shipment WHERE order_id = $1`,
      [orderId],
    );
    let target: OrderStatus | undefined;
    if (counts.live > 0 && counts.delivered === counts.live) target = 'delivered';
    else if (counts.picked > 0 && ORDER_BEFORE_TRANSIT.includes(order.status)) target = 'in_transit';
    if (target && target !== order.status) await this.move(tx, order, target, null, occurredAt);
  }

  private async move(
    tx: Tx,
    order: Order,
    status: OrderStatus,
    reason: string | null,
    occurredAt: Date,
  ): Promise<OrderSnapshot> {
    const previousStatus = order.status;
    order.status = status;
    order.version += 1;
    order.updatedAt = new Date();
    const snapshot = orderSnapshot(order);
    await this.outbox.record(
      tx,
      order.tenantId,
      [
        {
          type: 'order.status_changed',
          aggregateType: 'order',
          aggregateId: order.id,
          data: { ...snapshot, previousStatus, reason, occurredAt: occurredAt.toISOString() },
        },
      ],
      this.store.update(order),
    );
    return snapshot;
  }

  /** Loads a tenant's order for change, holding its row lock until the transaction ends. */
  async lock(tx: Tx, tenantId: string, id: string): Promise<Order> {
    const order = await this.store.lock(tx, tenantId, id);
    if (!order) throw notFound('order', id);
    return order;
  }

  async findInTx(tx: Tx, tenantId: string, id: string): Promise<Order | null> {
    return (await this.store.find(tenantId, id, tx)) ?? null;
  }

  /** Orders by id, for the shipments that name them. */
  async findMany(ids: string[]): Promise<Order[]> {
    return this.store.findMany(ids);
  }
}
