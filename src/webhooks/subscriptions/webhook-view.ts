import { formatDuration } from '../../common/durations.js';
import { nextWindow } from './maintenance-windows.js';
import type { Webhook } from './webhook.entity.js';

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/** A subscription as the API shows it: secrets and header values never appear. */
export function webhookView(webhook: Webhook, now: Date) {
  const next = webhook.maintenanceWindows ? nextWindow(webhook.maintenanceWindows, now) : null;
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
    maintenanceWindows: webhook.maintenanceWindows ?? [],
    /** Inside a maintenance window now: deliveries are held. */
    inMaintenance: webhook.inMaintenance,
    /** The window under way, else the next one to open (null without windows). */
    nextMaintenanceWindow: next ? { startsAt: next.startsAt.toISOString(), endsAt: next.endsAt.toISOString() } : null,
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
