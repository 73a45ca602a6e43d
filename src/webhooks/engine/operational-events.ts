import type { DomainEvent } from '../../events/outbox.service.js';
import type { HealthState } from './health.js';

/** The subscription an operational event is about (its aggregate). */
export interface SubscriptionIdentity {
  id: string;
  tenantId: string;
  name: string;
  url: string | null;
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

const about = (subscription: SubscriptionIdentity) => ({
  aggregateType: 'webhook' as const,
  aggregateId: subscription.id,
});

/**
 * The event a change of health records: `webhook.failing`, `webhook.disabled` or
 * `webhook.recovered`; null when the status did not change. `recoveredBecause` says why a
 * subscription is healthy again.
 */
export function healthChangeEvent(
  subscription: SubscriptionIdentity,
  before: HealthState,
  after: HealthState,
  recoveredBecause = 'an attempt succeeded',
): DomainEvent | null {
  if (before.status === after.status) return null;
  const type =
    after.status === 'failing'
      ? 'webhook.failing'
      : after.status === 'disabled'
        ? 'webhook.disabled'
        : 'webhook.recovered';
  const last = after.lastFailureReason ? `; last: ${after.lastFailureReason}` : '';
  const reason =
    after.status === 'failing'
      ? `${after.consecutiveFailures} attempts in a row failed${last}`
      : after.status === 'disabled'
        ? `${after.disabledReason ?? 'disabled'}${last}`
        : recoveredBecause;
  return {
    type,
    ...about(subscription),
    data: {
      webhookId: subscription.id,
      name: subscription.name,
      url: subscription.url,
      status: after.status,
      previousStatus: before.status,
      reason,
      consecutiveFailures: after.consecutiveFailures,
      failingSince: iso(after.failingSince),
      lastSuccessAt: iso(after.lastSuccessAt),
      lastFailureAt: iso(after.lastFailureAt),
    },
  };
}

/** What `delivery.failed` tells of the delivery and its last attempt. */
export interface FailedDelivery {
  deliveryId: string;
  eventId: string;
  eventType: string;
  attempts: number;
  lastStatus: number | null;
  errorClass: string | null;
  reason: string | null;
  /** Ended by one of the subscription's permanentStatuses (not by running out of retries). */
  permanent: boolean;
  lastAttemptAt: Date;
}

export function deliveryFailedEvent(subscription: SubscriptionIdentity, failed: FailedDelivery): DomainEvent {
  return {
    type: 'delivery.failed',
    ...about(subscription),
    data: {
      webhookId: subscription.id,
      name: subscription.name,
      url: subscription.url,
      deliveryId: failed.deliveryId,
      eventId: failed.eventId,
      eventType: failed.eventType,
      attempts: failed.attempts,
      lastStatus: failed.lastStatus,
      errorClass: failed.errorClass,
      reason:
        failed.reason ?? (failed.lastStatus === null ? 'no answer' : `the endpoint answered ${failed.lastStatus}`),
      permanent: failed.permanent,
      lastAttemptAt: failed.lastAttemptAt.toISOString(),
    },
  };
}
