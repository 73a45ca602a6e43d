import { formatDuration } from '../../common/durations.js';
import type { Webhook } from './webhook.entity.js';

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/** A subscription as the API shows it: secrets and header values never appear. */
export function webhookView(webhook: Webhook) {
  return {
    id: webhook.id,
    name: webhook.name,
    url: webhook.url,
    description: webhook.description,
    eventTypes: webhook.eventTypes,
    filters: webhook.filters,
    headerNames: webhook.headerNames,
    enabled: webhook.enabled,
    paused: webhook.paused,
    ordered: webhook.ordered,
    timeoutMs: webhook.timeoutMs,
    maxConcurrency: webhook.maxConcurrency,
    rateLimitPerSecond: webhook.rateLimitPerSecond,
    retrySchedule: webhook.retrySchedule ? webhook.retrySchedule.map(formatDuration) : null,
    permanentStatuses: webhook.permanentStatuses,
    apiVersion: webhook.apiVersion,
    payloadFormat: webhook.payloadFormat,
    payloadOptions: webhook.payloadOptions,
    coalesce: webhook.coalesce,
    deliveryMode: webhook.deliveryMode,
    auth: webhook.authPublic ?? { type: 'none' as const },
    tls: webhook.tlsPublic,
    status: webhook.status,
    disabledReason: webhook.disabledReason,
    consecutiveFailures: webhook.consecutiveFailures,
    lastSuccessAt: iso(webhook.lastSuccessAt),
    lastFailureAt: iso(webhook.lastFailureAt),
    lastFailureReason: webhook.lastFailureReason,
    createdAt: webhook.createdAt.toISOString(),
    updatedAt: webhook.updatedAt.toISOString(),
  };
}

export type WebhookView = ReturnType<typeof webhookView>;
