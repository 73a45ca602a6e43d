import {
  component,
  dateTime,
  integer,
  nullable,
  oneOfValues,
  pageOf,
  record,
  string,
  stringMap,
  uuid,
} from '../../common/openapi.js';
import { EVENT_TYPES } from '../../events/event-types.js';
import { ATTEMPT_TRIGGERS, DELIVERY_STATUSES } from './delivery-status.js';

const attemptProperties = {
  number: integer,
  trigger: oneOfValues(ATTEMPT_TRIGGERS),
  startedAt: dateTime,
  durationMs: integer,
  url: string,
  requestHeaders: { ...stringMap, description: 'As sent; secrets and credentials [redacted]' },
  requestBody: nullable(string),
  responseStatus: { ...nullable(integer), description: 'null when nothing answered' },
  responseHeaders: nullable(stringMap),
  responseBody: nullable(string),
  errorClass: nullable(string),
  errorMessage: nullable(string),
  reason: {
    ...nullable(string),
    description: 'One line read from the answer (problem+json, OData, SOAP fault, JSON message, text)',
  },
};

export const ATTEMPT = component('Attempt', record(attemptProperties, { description: 'One HTTP attempt, audited' }));

export const TEST_ATTEMPT = component(
  'TestAttempt',
  record({ deliveryId: uuid, ...attemptProperties }, { description: 'The attempt of a test send' }),
);

const deliveryProperties = {
  id: uuid,
  webhookId: uuid,
  eventId: string,
  eventType: oneOfValues(EVENT_TYPES),
  status: oneOfValues(DELIVERY_STATUSES),
  attemptCount: integer,
  nextAttemptAt: nullable(dateTime),
  lastAttemptAt: nullable(dateTime),
  lastResponseStatus: nullable(integer),
  lastErrorClass: nullable(string),
  lastReason: { ...nullable(string), description: "The last attempt's reason" },
  createdAt: dateTime,
  updatedAt: dateTime,
};

export const DELIVERY_SUMMARY = component(
  'DeliverySummary',
  record(deliveryProperties, { description: 'A delivery of one event to one subscription' }),
);
export const DELIVERY = component(
  'Delivery',
  record(
    { ...deliveryProperties, attempts: { type: 'array', items: ATTEMPT } },
    { description: 'A delivery with every attempt, oldest first' },
  ),
);
export const DELIVERY_PAGE = pageOf('DeliveryPage', DELIVERY_SUMMARY);

export const REPLAYED = component(
  'Replayed',
  record({ replayed: { ...integer, description: 'Deliveries re-queued' } }),
);
