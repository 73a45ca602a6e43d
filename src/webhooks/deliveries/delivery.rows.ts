import { sendsNow, type WebhookRuntime } from '../subscriptions/webhook-runtime.js';
import type { AttemptTrigger, StoredDeliveryStatus } from './delivery-status.js';

/** A `delivery` row as the repository answers it. */
export interface DeliveryRow {
  id: string;
  tenantId: string;
  webhookId: string;
  eventId: string;
  eventType: string;
  aggregateId: string | null;
  eventSequence: number;
  status: StoredDeliveryStatus;
  nextTrigger: AttemptTrigger;
  attemptCount: number;
  /** Attempt count when the retry schedule last restarted (a redelivery or replay). */
  retryBase: number;
  /** Null while held (paused, disabled, a feed's) or awaiting its predecessor: not due. */
  nextAttemptAt: Date | null;
  leaseExpiresAt: Date | null;
  leasedBy: string | null;
  lastAttemptAt: Date | null;
  lastResponseStatus: number | null;
  lastErrorClass: string | null;
  /** The last attempt's reason (one line). */
  lastReason: string | null;
  createdAt: Date;
  updatedAt: Date;
}

/**
 * The select list that reads a delivery (aliased `d`) as a DeliveryRow. A pending delivery of a
 * subscription that is paused, disabled, inside a maintenance window or switched off is held: it
 * keeps its due time for when the subscription sends again, and shows none meanwhile.
 */
export const DELIVERY_COLUMNS = `d.id, d.tenant_id AS "tenantId", d.webhook_id AS "webhookId", d.event_id AS "eventId",
  d.event_type AS "eventType", d.aggregate_id AS "aggregateId", d.event_sequence AS "eventSequence", d.status,
  d.next_trigger AS "nextTrigger", d.attempt_count AS "attemptCount", d.retry_base AS "retryBase",
  CASE WHEN d.status = 'pending' AND EXISTS (SELECT 1 FROM webhook hw WHERE hw.id = d.webhook_id AND NOT ${sendsNow('hw')})
       THEN NULL ELSE d.next_attempt_at END AS "nextAttemptAt", d.lease_expires_at AS "leaseExpiresAt", d.leased_by AS "leasedBy",
  d.last_attempt_at AS "lastAttemptAt", d.last_response_status AS "lastResponseStatus",
  d.last_error_class AS "lastErrorClass", d.last_reason AS "lastReason", d.created_at AS "createdAt", d.updated_at AS "updatedAt"`;

/** A `delivery_attempt` row as the repository answers it. */
export interface AttemptRow {
  number: number;
  trigger: AttemptTrigger;
  startedAt: Date;
  durationMs: number;
  url: string;
  requestHeaders: Record<string, string>;
  /** Null when the body was the event's envelope (the audit rebuilds it from the event row). */
  requestBody: string | null;
  responseStatus: number | null;
  responseHeaders: Record<string, string> | null;
  responseBody: string | null;
  errorClass: string | null;
  errorMessage: string | null;
  /** One line read from the answer (problem+json, OData, SOAP fault, JSON message, text) or the error. */
  reason: string | null;
}

export const ATTEMPT_COLUMNS = `a.number, a.trigger, a.started_at AS "startedAt", a.duration_ms AS "durationMs", a.url,
  a.request_headers AS "requestHeaders", a.request_body AS "requestBody", a.response_status AS "responseStatus",
  a.response_headers AS "responseHeaders", a.response_body AS "responseBody", a.error_class AS "errorClass",
  a.error_message AS "errorMessage", a.reason`;

/** One delivery with what its audit shows of the body: the stored payload, or its event's envelope. */
export interface DeliveryDetail extends DeliveryRow {
  /** The body of a delivery that is not an outbox event (a test send). */
  payload: string | null;
  /** The event's envelope as sent, rebuilt from the event row. */
  envelope: string | null;
}

/** A delivery leased to this instance, with what sending it needs. */
export interface ClaimedDelivery {
  id: string;
  tenantId: string;
  webhookId: string;
  eventId: string;
  eventType: string;
  aggregateId: string | null;
  /** This attempt's audit row, written with the lease. */
  attemptId: string;
  /** Attempts made before this one. */
  attemptCount: number;
  retryBase: number;
  trigger: Exclude<AttemptTrigger, 'test' | 'pull'>;
  /** When the delivery was created (its event's commit). */
  createdAt: Date;
  /** The envelope as JSON text. */
  body: string;
  /** The body is the event's envelope, rebuilt from the event row whenever it is read. */
  bodyIsEnvelope: boolean;
  /** The payload version the body is in (the event's). */
  bodyVersion: string;
  webhook: WebhookRuntime;
}

/** One finished attempt and the delivery's state after it, ready to be written. */
export interface AttemptRecord extends Omit<AttemptRow, 'trigger' | 'errorClass'> {
  /** The audit row written when the attempt started. */
  attemptId: string;
  deliveryId: string;
  tenantId: string;
  webhookId: string;
  trigger: AttemptTrigger;
  errorClass: string | null;
  status: 'delivered' | 'pending' | 'failed';
  /** While pending: due this long after the record is written (by the database's clock). */
  retryInMs: number | null;
  /** A new start of the retry schedule (an attempt that does not spend a retry); null keeps it. */
  retryBase: number | null;
  /** The delivery leaves pending on an ordered subscription: the next of its aggregate may go. */
  releasesFollower: boolean;
  aggregateId: string | null;
}

/** A delivery fan-out creates. */
export interface NewDelivery {
  id: string;
  webhookId: string;
  eventId: string;
  eventType: string;
  aggregateId: string;
  eventSequence: number;
  /** Due this long after the commit (by the database's clock); null: a feed's, or awaiting its predecessor. */
  dueInMs: number | null;
  /** An ordered subscription's delivery behind an open one of its aggregate. */
  awaiting: boolean;
  /** Created leased to this instance, which sends it right after the commit. */
  leased: boolean;
  feedPosition: number | null;
}

/** One item waiting in a pull feed. */
export interface FeedRow {
  eventId: string;
  eventType: string;
  position: string;
  /** The stored payload, or the event's envelope. */
  body: string;
  bodyVersion: string;
}
