import type { StatusMachine } from '../common/status-machine.js';

export const SHIPMENT_STATUSES = [
  'planned',
  'booked',
  'picked_up',
  'in_transit',
  'out_for_delivery',
  'delivered',
  'exception',
  'cancelled',
  'returned',
] as const;
export type ShipmentStatus = (typeof SHIPMENT_STATUSES)[number];

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

export const SHIPMENT_MODES = ['parcel', 'ltl', 'ftl', 'ocean', 'air', 'rail'] as const;
export type ShipmentMode = (typeof SHIPMENT_MODES)[number];
