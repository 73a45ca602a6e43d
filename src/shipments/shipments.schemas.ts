import { component, dateTime, nullable, pageOf, record, string, uuid } from '../common/openapi.js';
import { shipmentProperties, trackingLocation } from '../events/event-schemas.js';

export const TRACKING_EVENT = component(
  'TrackingEvent',
  record({
    id: uuid,
    code: string,
    description: nullable(string),
    location: trackingLocation,
    occurredAt: dateTime,
    eta: nullable(dateTime),
    createdAt: dateTime,
  }),
);

export const SHIPMENT_SNAPSHOT = component(
  'ShipmentSnapshot',
  record(shipmentProperties, {
    description: 'A shipment as every shipment event carries it in data (lists show shipments so)',
  }),
);

export const SHIPMENT = component(
  'Shipment',
  record(
    { ...shipmentProperties, trackingEvents: { type: 'array', items: TRACKING_EVENT } },
    { description: 'A shipment with its tracking events, oldest first' },
  ),
);

export const SHIPMENT_PAGE = pageOf('ShipmentPage', SHIPMENT_SNAPSHOT);
