export const API_VERSION = '2026-11-01';

export const DOMAIN_EVENT_TYPES = [
  'order.created',
  'order.updated',
  'order.status_changed',
  'shipment.created',
  'shipment.updated',
  'shipment.status_changed',
  'shipment.tracking_updated',
  'shipment.delivered',
  'shipment.exception',
] as const;
export type DomainEventType = (typeof DOMAIN_EVENT_TYPES)[number];

/**
 * Operational events: Waybill telling the tenant about its own deliveries (a subscription going
 * failing, disabled or healthy again; a delivery that failed for good). Recorded when the state
 * changes; a subscription gets them only by naming them (`*` means the domain events) and never
 * about itself. Their aggregate is the subscription they are about.
 */
export const OPERATIONAL_EVENT_TYPES = [
  'webhook.failing',
  'webhook.disabled',
  'webhook.recovered',
  'delivery.failed',
] as const;
export type OperationalEventType = (typeof OPERATIONAL_EVENT_TYPES)[number];

/** The types the outbox records. */
export type RecordedEventType = DomainEventType | OperationalEventType;

/** `webhook.test` is never emitted by a change: it is sent only when asked for. */
export const EVENT_TYPES = [...DOMAIN_EVENT_TYPES, ...OPERATIONAL_EVENT_TYPES, 'webhook.test'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export const AGGREGATE_TYPES = ['order', 'shipment', 'webhook'] as const;
export type AggregateType = (typeof AGGREGATE_TYPES)[number];

export function isEventType(value: string): value is EventType {
  return (EVENT_TYPES as readonly string[]).includes(value);
}

export function isDomainEventType(value: string): value is DomainEventType {
  return (DOMAIN_EVENT_TYPES as readonly string[]).includes(value);
}

export function isOperationalEventType(value: string): value is OperationalEventType {
  return (OPERATIONAL_EVENT_TYPES as readonly string[]).includes(value);
}

/** The body of every push (the `envelope` format). */
export interface Envelope {
  id: string;
  type: EventType;
  apiVersion: string;
  createdAt: string;
  tenantId: string;
  sequence: number;
  data: Record<string, unknown>;
}
