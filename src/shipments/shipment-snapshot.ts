import { toAddress } from '../common/address.dto.js';
import { iso } from '../common/dates.js';
import type { Order } from '../orders/order.entity.js';
import { orderSummary } from '../orders/order-snapshot.js';
import type { Carrier, ProofOfDelivery, Shipment, ShipmentPackage } from './shipment.entity.js';

/* Contract order, absent fields as null: for DTOs and for rows read back from jsonb alike. */
export const toCarrier = (c: { name: string; scac?: string | null }): Carrier => ({
  name: c.name,
  scac: c.scac ?? null,
});
export const toPackages = (packages: Array<Partial<ShipmentPackage>> | null | undefined): ShipmentPackage[] =>
  (packages ?? []).map((p) => ({
    reference: p.reference ?? null,
    weightKg: p.weightKg ?? null,
    lengthCm: p.lengthCm ?? null,
    widthCm: p.widthCm ?? null,
    heightCm: p.heightCm ?? null,
  }));
export const toLocation = (l: Partial<TrackingLocation> | null | undefined): TrackingLocation | null =>
  l
    ? {
        name: l.name ?? null,
        city: l.city ?? null,
        region: l.region ?? null,
        postalCode: l.postalCode ?? null,
        country: l.country?.toUpperCase() ?? null,
      }
    : null;
const toProofOfDelivery = (pod: ProofOfDelivery | null): ProofOfDelivery | null =>
  pod ? { signedBy: pod.signedBy, at: pod.at } : null;
import type { TrackingEvent, TrackingLocation } from './tracking-event.entity.js';

/** The shipment as the API answers it and as every shipment event carries it in `data`. */
export function shipmentSnapshot(shipment: Shipment, order: Order | null) {
  return {
    id: shipment.id,
    shipmentNumber: shipment.shipmentNumber,
    status: shipment.status,
    statusReason: shipment.statusReason,
    carrier: toCarrier(shipment.carrier),
    mode: shipment.mode,
    serviceLevel: shipment.serviceLevel,
    trackingNumber: shipment.trackingNumber,
    origin: toAddress(shipment.origin),
    destination: toAddress(shipment.destination),
    plannedPickupAt: iso(shipment.plannedPickupAt),
    plannedDeliveryAt: iso(shipment.plannedDeliveryAt),
    actualPickupAt: iso(shipment.actualPickupAt),
    actualDeliveryAt: iso(shipment.actualDeliveryAt),
    eta: iso(shipment.eta),
    packages: toPackages(shipment.packages),
    proofOfDelivery: toProofOfDelivery(shipment.proofOfDelivery),
    order: order ? orderSummary(order) : null,
    version: shipment.version,
    createdAt: iso(shipment.createdAt)!,
    updatedAt: iso(shipment.updatedAt)!,
  };
}

export type ShipmentSnapshot = ReturnType<typeof shipmentSnapshot>;

export function trackingEventView(event: TrackingEvent) {
  return {
    id: event.id,
    code: event.code,
    description: event.description,
    location: toLocation(event.location),
    occurredAt: iso(event.occurredAt)!,
    eta: iso(event.eta),
    createdAt: iso(event.createdAt)!,
  };
}

/** The `trackingEvent` of a shipment.tracking_updated payload. */
export function trackingEventPayload(
  event: Pick<TrackingEvent, 'code' | 'description' | 'location' | 'occurredAt' | 'eta'>,
) {
  return {
    code: event.code,
    description: event.description,
    location: toLocation(event.location),
    occurredAt: iso(event.occurredAt)!,
    eta: iso(event.eta),
  };
}
