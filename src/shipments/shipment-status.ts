import type { StatusMachine } from '../common/status-machine.js';
import type { ShipmentStatus } from '../events/vocabulary.js';

export { SHIPMENT_MODES, SHIPMENT_STATUSES, type ShipmentMode, type ShipmentStatus } from '../events/vocabulary.js';

export const SHIPMENT_MACHINE: StatusMachine<ShipmentStatus> = {
  planned: ['booked', 'cancelled'],
  booked: ['picked_up', 'exception', 'cancelled'],
  picked_up: ['in_transit', 'exception'],
  in_transit: ['out_for_delivery', 'delivered', 'exception'],
  out_for_delivery: ['delivered', 'in_transit', 'exception'],
  exception: ['in_transit', 'out_for_delivery', 'delivered', 'returned', 'cancelled'],
  delivered: [],
  cancelled: [],
  returned: [],
};
