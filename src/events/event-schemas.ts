import { ORDER_STATUSES, SHIPMENT_MODES, SHIPMENT_STATUSES } from './vocabulary.js';
import { API_VERSION, EVENT_TYPES, type EventType } from './event-types.js';

/**
 * The JSON Schema (draft 2020-12) of every event type's envelope, built here from shared parts:
 * the one place the payload contract is written down. The catalog serves these; the test suite
 * validates every catalog example and every envelope it receives against them.
 */
export type JsonSchema = Record<string, unknown>;

const nullable = (schema: JsonSchema): JsonSchema => ({ anyOf: [schema, { type: 'null' }] });
const string: JsonSchema = { type: 'string' };
const dateTime: JsonSchema = { type: 'string', format: 'date-time' };
const uuid: JsonSchema = { type: 'string', format: 'uuid' };
const number: JsonSchema = { type: 'number' };

/** An object whose every listed property is present (null where unknown) and nothing else. */
const record = (properties: Record<string, JsonSchema>, description?: string): JsonSchema => ({
  type: 'object',
  ...(description ? { description } : {}),
  properties,
  required: Object.keys(properties),
  additionalProperties: false,
});

const address = nullable(
  record(
    {
      name: nullable(string),
      street: nullable(string),
      city: string,
      postalCode: nullable(string),
      country: { type: 'string', pattern: '^[A-Z]{2}$', description: 'ISO 3166-1 alpha-2' },
    },
    'An address; null when not given',
  ),
);
const customer = record({ name: string, ref: nullable(string) });

export const orderProperties: Record<string, JsonSchema> = {
  id: uuid,
  orderNumber: string,
  externalRef: nullable(string),
  customer,
  shipFrom: address,
  shipTo: address,
  requestedPickupAt: nullable(dateTime),
  requestedDeliveryAt: nullable(dateTime),
  lines: {
    type: 'array',
    minItems: 1,
    items: record({
      sku: string,
      description: nullable(string),
      quantity: { type: 'number', exclusiveMinimum: 0 },
      unit: string,
      weightKg: nullable(number),
    }),
  },
  notes: nullable(string),
  status: { enum: [...ORDER_STATUSES] },
  version: { type: 'integer', minimum: 1 },
  createdAt: dateTime,
  updatedAt: dateTime,
};

export const trackingLocation = nullable(
  record({
    name: nullable(string),
    city: nullable(string),
    region: nullable(string),
    postalCode: nullable(string),
    country: nullable(string),
  }),
);

export const shipmentProperties: Record<string, JsonSchema> = {
  id: uuid,
  shipmentNumber: string,
  status: { enum: [...SHIPMENT_STATUSES] },
  statusReason: nullable(string),
  carrier: record({ name: string, scac: nullable(string) }),
  mode: { enum: [...SHIPMENT_MODES] },
  serviceLevel: nullable(string),
  trackingNumber: nullable(string),
  origin: address,
  destination: address,
  plannedPickupAt: nullable(dateTime),
  plannedDeliveryAt: nullable(dateTime),
  actualPickupAt: nullable(dateTime),
  actualDeliveryAt: nullable(dateTime),
  eta: nullable(dateTime),
  packages: {
    type: 'array',
    items: record({
      reference: nullable(string),
      weightKg: nullable(number),
      lengthCm: nullable(number),
      widthCm: nullable(number),
      heightCm: nullable(number),
    }),
  },
  proofOfDelivery: nullable(record({ signedBy: string, at: dateTime })),
  order: nullable(record({ id: uuid, orderNumber: string, externalRef: nullable(string), customer })),
  version: { type: 'integer', minimum: 1 },
  createdAt: dateTime,
  updatedAt: dateTime,
};

const changes: JsonSchema = {
  type: 'object',
  description: 'Each changed field with its old and new value',
  minProperties: 1,
  additionalProperties: record({ from: {}, to: {} }),
};

const subscription: Record<string, JsonSchema> = {
  webhookId: uuid,
  name: string,
  url: nullable(string),
};

const webhookStatus = { enum: ['healthy', 'failing', 'disabled'] };

/** A subscription's health as it changed: the operational `webhook.*` events. */
const healthChange = (status: string, previousStatuses: string[]): JsonSchema =>
  record({
    ...subscription,
    status: { const: status },
    previousStatus: { ...webhookStatus, enum: previousStatuses },
    reason: { type: 'string', description: 'One line saying why' },
    consecutiveFailures: { type: 'integer', minimum: 0 },
    failingSince: nullable(dateTime),
    lastSuccessAt: nullable(dateTime),
    lastFailureAt: nullable(dateTime),
  });

/** The envelope's own fields, around a type's `data`. */
export function envelopeProperties(
  data: JsonSchema,
  type: JsonSchema,
  apiVersion: JsonSchema,
): Record<string, JsonSchema> {
  return {
    id: { type: 'string', pattern: '^evt_[0-9A-Z]{26}$' },
    type,
    apiVersion,
    createdAt: dateTime,
    tenantId: uuid,
    sequence: { type: 'integer', minimum: 0 },
    data,
  };
}

const DATA: Record<EventType, JsonSchema> = {
  'order.created': record(orderProperties),
  'order.updated': record({ ...orderProperties, changes }),
  'order.status_changed': record({
    ...orderProperties,
    previousStatus: { enum: [...ORDER_STATUSES] },
    reason: nullable(string),
    occurredAt: dateTime,
  }),
  'shipment.created': record(shipmentProperties),
  'shipment.updated': record({ ...shipmentProperties, changes }),
  'shipment.status_changed': record({ ...shipmentProperties, previousStatus: { enum: [...SHIPMENT_STATUSES] } }),
  'shipment.tracking_updated': record({
    ...shipmentProperties,
    trackingEvent: record({
      code: string,
      description: nullable(string),
      location: trackingLocation,
      occurredAt: dateTime,
      eta: nullable(dateTime),
    }),
  }),
  'shipment.delivered': record({ ...shipmentProperties, previousStatus: { enum: [...SHIPMENT_STATUSES] } }),
  'shipment.exception': record({ ...shipmentProperties, previousStatus: { enum: [...SHIPMENT_STATUSES] } }),
  'webhook.failing': healthChange('failing', ['healthy']),
  'webhook.disabled': healthChange('disabled', ['healthy', 'failing']),
  'webhook.recovered': healthChange('healthy', ['failing', 'disabled']),
  'delivery.failed': record({
    ...subscription,
    deliveryId: uuid,
    eventId: string,
    eventType: string,
    attempts: { type: 'integer', minimum: 1 },
    lastStatus: {
      ...nullable({ type: 'integer' }),
      description: "The last attempt's HTTP status; null when nothing answered",
    },
    errorClass: nullable(string),
    reason: { type: 'string', description: "The last attempt's reason, one line" },
    permanent: {
      type: 'boolean',
      description:
        "true: the answer's status is one of the subscription's permanentStatuses; false: the retries ran out",
    },
    lastAttemptAt: dateTime,
  }),
  'webhook.test': record({ message: string, webhookId: uuid }),
};

export function eventSchema(type: EventType, apiVersion = API_VERSION): JsonSchema {
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: `urn:waybill:event:${apiVersion}:${type}`,
    title: type,
    ...record(envelopeProperties(DATA[type], { const: type }, { const: apiVersion })),
  };
}

export const EVENT_SCHEMAS: Readonly<Record<EventType, JsonSchema>> = Object.fromEntries(
  EVENT_TYPES.map((type) => [type, eventSchema(type)]),
) as Record<EventType, JsonSchema>;
