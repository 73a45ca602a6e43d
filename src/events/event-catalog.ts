import { EVENT_SCHEMAS, type JsonSchema } from './event-schemas.js';
import { API_VERSION, type Envelope, EVENT_TYPES, type EventType } from './event-types.js';

export interface CatalogEntry {
  name: EventType;
  description: string;
  example: Envelope;
  /** JSON Schema (draft 2020-12) of this type's envelope. */
  schema: JsonSchema;
}

const EXAMPLE_TENANT = '7b0c7f0e-5d1a-4c43-9a7e-2f1f3f0b9d11';
const EXAMPLE_ORDER_ID = '4f6a1c52-8e0b-4a8e-b7c4-0d2b9f0c6a31';
const EXAMPLE_SHIPMENT_ID = 'c1d7e8a2-3b4f-4c5d-9e6f-7a8b9c0d1e2f';

const address = (name: string, street: string, city: string, postalCode: string, country: string) => ({
  name,
  street,
  city,
  postalCode,
  country,
});

const exampleOrder = {
  id: EXAMPLE_ORDER_ID,
  orderNumber: 'SO-10042',
  externalRef: 'PO-88231',
  customer: { name: 'Acme Retail GmbH', ref: 'C-42' },
  shipFrom: address('Waybill DC Hamburg', 'Am Kaiserkai 1', 'Hamburg', '20457', 'DE'),
  shipTo: address('Acme Store Munich', 'Marienplatz 8', 'Munich', '80331', 'DE'),
  requestedPickupAt: '2026-11-23T08:00:00.000Z',
  requestedDeliveryAt: '2026-11-25T16:00:00.000Z',
  lines: [
    { sku: 'PAL-EUR-01', description: 'Euro pallet, mixed goods', quantity: 4, unit: 'PLT', weightKg: 1480 },
    { sku: 'CTN-220', description: 'Carton, electronics', quantity: 12, unit: 'CTN', weightKg: 96.5 },
  ],
  notes: 'Dock 4, call ahead',
  status: 'open',
  version: 1,
  createdAt: '2026-11-22T10:15:30.123Z',
  updatedAt: '2026-11-22T10:15:30.123Z',
};

const exampleShipment = {
  id: EXAMPLE_SHIPMENT_ID,
  shipmentNumber: 'SH-20017',
  status: 'in_transit',
  statusReason: null,
  carrier: { name: 'DHL Freight', scac: 'DHLF' },
  mode: 'ltl',
  serviceLevel: 'standard',
  trackingNumber: 'JJD0099912345',
  origin: exampleOrder.shipFrom,
  destination: exampleOrder.shipTo,
  plannedPickupAt: '2026-11-23T08:00:00.000Z',
  plannedDeliveryAt: '2026-11-25T16:00:00.000Z',
  actualPickupAt: '2026-11-23T08:42:00.000Z',
  actualDeliveryAt: null,
  eta: '2026-11-25T14:30:00.000Z',
  packages: [{ reference: 'PLT-1', weightKg: 370, lengthCm: 120, widthCm: 80, heightCm: 150 }],
  proofOfDelivery: null,
  order: {
    id: EXAMPLE_ORDER_ID,
    orderNumber: exampleOrder.orderNumber,
    externalRef: exampleOrder.externalRef,
    customer: exampleOrder.customer,
  },
  version: 4,
  createdAt: '2026-11-22T10:16:02.481Z',
  updatedAt: '2026-11-23T09:05:11.020Z',
};

const deliveredShipment = {
  ...exampleShipment,
  status: 'delivered',
  actualDeliveryAt: '2026-11-25T14:12:00.000Z',
  proofOfDelivery: { signedBy: 'M. Weber', at: '2026-11-25T14:12:00.000Z' },
  version: 6,
  updatedAt: '2026-11-25T14:12:03.550Z',
};

const exceptionShipment = {
  ...exampleShipment,
  status: 'exception',
  statusReason: 'Consignee closed, delivery attempt failed',
  version: 5,
  updatedAt: '2026-11-25T11:02:44.310Z',
};

const exampleSubscription = {
  webhookId: '5e3b8f2a-9c1d-4e7f-8a6b-2d4c6e8f0a1b',
  name: 'SAP S/4 inbound',
  url: 'https://erp.example.com/hooks/waybill',
};

const OPERATIONAL_NOTE =
  'An operational event: sent only to subscriptions that name it (`*` does not include it), never to the subscription it is about.';

const DESCRIPTIONS: Record<EventType, [string, Record<string, unknown>]> = {
  'order.created': ['An order was created. `data` is the full order.', exampleOrder],
  'order.updated': [
    'Fields of an order changed. `data` is the full order plus `changes: { field: { from, to } }`.',
    {
      ...exampleOrder,
      version: 2,
      notes: 'Dock 6, call ahead',
      changes: { notes: { from: 'Dock 4, call ahead', to: 'Dock 6, call ahead' } },
    },
  ],
  'order.status_changed': [
    'An order moved to another status, by request or by following its shipments (first pickup: in_transit; all delivered: delivered). `data` is the full order plus `previousStatus`, `reason` (null when none was given) and `occurredAt`.',
    {
      ...exampleOrder,
      status: 'in_transit',
      version: 3,
      previousStatus: 'planned',
      reason: null,
      occurredAt: '2026-11-23T08:42:00.000Z',
    },
  ],
  'shipment.created': [
    'A shipment was created. `data` is the full shipment.',
    { ...exampleShipment, status: 'planned', actualPickupAt: null, version: 1 },
  ],
  'shipment.updated': [
    'Fields of a shipment changed. `data` is the full shipment plus `changes: { field: { from, to } }`.',
    {
      ...exampleShipment,
      trackingNumber: 'JJD0099912346',
      changes: { trackingNumber: { from: 'JJD0099912345', to: 'JJD0099912346' } },
    },
  ],
  'shipment.status_changed': [
    'A shipment moved to another status. `data` is the full shipment plus `previousStatus`.',
    { ...exampleShipment, previousStatus: 'picked_up' },
  ],
  'shipment.tracking_updated': [
    'A tracking event was recorded for a shipment, or its ETA changed. `data` is the full shipment plus `trackingEvent: { code, description, location, occurredAt, eta }`.',
    {
      ...exampleShipment,
      trackingEvent: {
        code: 'ARRIVED_AT_HUB',
        description: 'Arrived at hub Nuremberg',
        location: { name: 'Hub Nuremberg', city: 'Nuremberg', region: 'BY', postalCode: '90451', country: 'DE' },
        occurredAt: '2026-11-24T21:17:00.000Z',
        eta: '2026-11-25T14:30:00.000Z',
      },
    },
  ],
  'shipment.delivered': [
    'A shipment was delivered (sent after its shipment.status_changed). `data` is the full shipment with proofOfDelivery when given, plus `previousStatus`.',
    { ...deliveredShipment, previousStatus: 'out_for_delivery' },
  ],
  'shipment.exception': [
    'A shipment moved to exception (sent after its shipment.status_changed); `statusReason` says why. `data` is the full shipment plus `previousStatus`.',
    { ...exceptionShipment, previousStatus: 'out_for_delivery' },
  ],
  'webhook.failing': [
    `A subscription became failing: WEBHOOK_FAILING_AFTER attempts in a row failed (its deliveries keep being retried). \`data\` names the subscription (\`webhookId\`, \`name\`, \`url\`) with \`reason\` (the last attempt's), \`previousStatus\` and its health counters. ${OPERATIONAL_NOTE}`,
    {
      ...exampleSubscription,
      status: 'failing',
      previousStatus: 'healthy',
      reason: '503 Service Unavailable',
      consecutiveFailures: 5,
      failingSince: '2026-11-22T10:02:11.204Z',
      lastSuccessAt: '2026-11-22T09:58:40.913Z',
      lastFailureAt: '2026-11-22T10:15:30.123Z',
    },
  ],
  'webhook.disabled': [
    `A subscription was disabled: its endpoint answered 410 Gone, or no attempt succeeded for WEBHOOK_DISABLE_AFTER. New deliveries are held until it is re-enabled (PATCH { status: "healthy" }). \`data\` names the subscription with \`reason\`, \`previousStatus\` and its health counters. ${OPERATIONAL_NOTE}`,
    {
      ...exampleSubscription,
      status: 'disabled',
      previousStatus: 'failing',
      reason: 'the endpoint answered 410 Gone',
      consecutiveFailures: 9,
      failingSince: '2026-11-22T10:02:11.204Z',
      lastSuccessAt: '2026-11-22T09:58:40.913Z',
      lastFailureAt: '2026-11-22T10:15:30.123Z',
    },
  ],
  'webhook.recovered': [
    `A failing or disabled subscription is healthy again: an attempt succeeded, or it was re-enabled through the API. \`data\` names the subscription with \`reason\`, \`previousStatus\` and its health counters. ${OPERATIONAL_NOTE}`,
    {
      ...exampleSubscription,
      status: 'healthy',
      previousStatus: 'failing',
      reason: 'an attempt succeeded',
      consecutiveFailures: 0,
      failingSince: null,
      lastSuccessAt: '2026-11-22T10:15:30.123Z',
      lastFailureAt: '2026-11-22T10:11:02.877Z',
    },
  ],
  'delivery.failed': [
    `A delivery failed for good: its retries ran out, or the endpoint answered one of the subscription's \`permanentStatuses\` (\`permanent: true\`). It stays \`failed\` until redelivered or replayed. \`data\` names the subscription, the delivery (\`deliveryId\`), its event (\`eventId\`, \`eventType\`), the number of attempts, the last attempt's HTTP status (\`lastStatus\`, null when nothing answered), error class and \`reason\`. ${OPERATIONAL_NOTE}`,
    {
      ...exampleSubscription,
      deliveryId: '9a1f3c5e-7b2d-4f6a-8c0e-1d3b5f7a9c2e',
      eventId: 'evt_01JDQ3Z8Y4K6M2N9P0R5S7T1V2',
      eventType: 'shipment.status_changed',
      attempts: 1,
      lastStatus: 422,
      errorClass: 'http_status',
      reason: 'Customer C-9 does not exist in company code 1000',
      permanent: true,
      lastAttemptAt: '2026-11-22T10:15:30.123Z',
    },
  ],
  'webhook.test': [
    'Sent only on request (the test button or POST /v1/webhooks/:id/test) to check an endpoint.',
    { message: 'This is a test event from Waybill.', webhookId: '00000000-0000-4000-8000-000000000000' },
  ],
};

const SEQUENCES: Partial<Record<EventType, number>> = { 'order.created': 1, 'shipment.created': 1 };

export const EVENT_CATALOG: readonly CatalogEntry[] = EVENT_TYPES.map((name) => {
  const [description, data] = DESCRIPTIONS[name];
  return {
    name,
    description,
    example: {
      id: 'evt_01JDQ3Z8Y4K6M2N9P0R5S7T1V3',
      type: name,
      apiVersion: API_VERSION,
      createdAt: (data.updatedAt as string | undefined) ?? '2026-11-22T10:15:30.123Z',
      tenantId: EXAMPLE_TENANT,
      sequence: SEQUENCES[name] ?? 7,
      data,
    },
    schema: EVENT_SCHEMAS[name],
  };
});

export function catalogEntry(type: EventType): CatalogEntry {
  return EVENT_CATALOG.find((entry) => entry.name === type)!;
}
