/**
 * What the EDI formats (X12 214, EDIFACT IFTSTA) read of a shipment event's envelope: the
 * shipment snapshot as the event catalog publishes it (events/event-schemas.ts), every field
 * optional because a stored envelope of an older payload version may lack it. Webhooks know
 * events, never the shipments module: this is the envelope's shape, not the entity's.
 */
export interface EnvelopeAddress {
  name?: string | null;
  street?: string | null;
  city?: string | null;
  postalCode?: string | null;
  country?: string | null;
}

export interface EnvelopeTrackingLocation {
  name?: string | null;
  city?: string | null;
  region?: string | null;
  postalCode?: string | null;
  country?: string | null;
}

export interface EnvelopeTrackingEvent {
  code?: string | null;
  description?: string | null;
  occurredAt?: string | null;
  eta?: string | null;
  location?: EnvelopeTrackingLocation | null;
}

export interface EnvelopeShipment {
  shipmentNumber?: string | null;
  trackingNumber?: string | null;
  status?: string | null;
  statusReason?: string | null;
  carrier?: { scac?: string | null } | null;
  order?: { orderNumber?: string | null; externalRef?: string | null } | null;
  origin?: EnvelopeAddress | null;
  destination?: EnvelopeAddress | null;
  actualPickupAt?: string | null;
  actualDeliveryAt?: string | null;
  packages?: Array<{ weightKg?: number | null }> | null;
  trackingEvent?: EnvelopeTrackingEvent | null;
}

export interface ShipmentEnvelope {
  id: string;
  type: string;
  createdAt: string;
  data: EnvelopeShipment;
}
