import type { StatusMachine } from '../common/status-machine.js';
import type { OrderStatus } from '../events/vocabulary.js';

export { ORDER_STATUSES, type OrderStatus } from '../events/vocabulary.js';

/** Moves asked for through the API; the automatic moves that follow shipments may skip states. */
export const ORDER_MACHINE: StatusMachine<OrderStatus> = {
  open: ['confirmed', 'cancelled'],
  confirmed: ['planned', 'cancelled'],
  planned: ['in_transit', 'cancelled'],
  in_transit: ['delivered', 'cancelled'],
  delivered: [],
  cancelled: [],
};

/** Statuses from which the first shipment pickup moves the order to in_transit. */
export const ORDER_BEFORE_TRANSIT: readonly OrderStatus[] = ['open', 'confirmed', 'planned'];
