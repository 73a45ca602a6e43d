import { toAddress } from '../common/address.dto.js';
import { iso } from '../common/dates.js';
import type { Customer, Order, OrderLine } from './order.entity.js';

/* These put fields in the contract's order and fill absent ones with null; they serve both a
   request's DTO and a row read back (jsonb does not keep key order). */
export const toCustomer = (c: { name: string; ref?: string | null }): Customer => ({
  name: c.name,
  ref: c.ref ?? null,
});
export const toLines = (lines: Array<Partial<OrderLine>>): OrderLine[] =>
  lines.map((l) => ({
    sku: l.sku!,
    description: l.description ?? null,
    quantity: l.quantity!,
    unit: l.unit!,
    weightKg: l.weightKg ?? null,
  }));

/** The order as the API answers it and as every order event carries it in `data`. */
export function orderSnapshot(order: Order) {
  return {
    id: order.id,
    orderNumber: order.orderNumber,
    externalRef: order.externalRef,
    customer: toCustomer(order.customer),
    shipFrom: toAddress(order.shipFrom),
    shipTo: toAddress(order.shipTo),
    requestedPickupAt: iso(order.requestedPickupAt),
    requestedDeliveryAt: iso(order.requestedDeliveryAt),
    lines: toLines(order.lines),
    notes: order.notes,
    status: order.status,
    version: order.version,
    createdAt: iso(order.createdAt)!,
    updatedAt: iso(order.updatedAt)!,
  };
}

export type OrderSnapshot = ReturnType<typeof orderSnapshot>;

/** What a shipment's payload says of its order. */
export function orderSummary(order: Order) {
  return {
    id: order.id,
    orderNumber: order.orderNumber,
    externalRef: order.externalRef,
    customer: toCustomer(order.customer),
  };
}
