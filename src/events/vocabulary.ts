/**
 * The status and mode vocabularies of orders and shipments, here so that events/ (payload schemas,
 * catalog) and the domain modules read the same lists without events/ importing the domain.
 */
export const ORDER_STATUSES = ['open', 'confirmed', 'planned', 'in_transit', 'delivered', 'cancelled'] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

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

export const SHIPMENT_MODES = ['parcel', 'ltl', 'ftl', 'ocean', 'air', 'rail'] as const;
export type ShipmentMode = (typeof SHIPMENT_MODES)[number];
