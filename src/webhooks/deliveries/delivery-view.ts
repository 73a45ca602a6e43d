import { shownStatus } from './delivery-status.js';
import type { AttemptRow, DeliveryRow } from './delivery.rows.js';

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function attemptView(row: AttemptRow) {
  return {
    number: row.number,
    trigger: row.trigger as string,
    startedAt: iso(row.startedAt),
    durationMs: row.durationMs,
    url: row.url,
    requestHeaders: row.requestHeaders,
    requestBody: row.requestBody,
    responseStatus: row.responseStatus,
    responseHeaders: row.responseHeaders,
    responseBody: row.responseBody,
    errorClass: row.errorClass,
    errorMessage: row.errorMessage,
    reason: row.reason,
  };
}

export type AttemptView = ReturnType<typeof attemptView>;

export function deliveryView(row: DeliveryRow) {
  return {
    id: row.id,
    webhookId: row.webhookId,
    eventId: row.eventId,
    eventType: row.eventType,
    status: shownStatus(row.status, row.leaseExpiresAt, new Date()) as string,
    attemptCount: row.attemptCount,
    nextAttemptAt: iso(row.nextAttemptAt),
    lastAttemptAt: iso(row.lastAttemptAt),
    lastResponseStatus: row.lastResponseStatus,
    lastErrorClass: row.lastErrorClass,
    lastReason: row.lastReason,
    createdAt: iso(row.createdAt),
    updatedAt: iso(row.updatedAt),
  };
}
