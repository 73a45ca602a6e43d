import type { StatusMachine } from '../../common/status-machine.js';

/** What the API shows. `delivering` is not stored: it is a pending row under an unexpired lease. */
export const DELIVERY_STATUSES = ['pending', 'delivering', 'delivered', 'failed', 'superseded', 'discarded'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/** What the `delivery.status` column holds. */
export const STORED_DELIVERY_STATUSES = ['pending', 'delivered', 'failed', 'superseded', 'discarded'] as const;
export type StoredDeliveryStatus = (typeof STORED_DELIVERY_STATUSES)[number];

export const ATTEMPT_TRIGGERS = ['auto', 'manual', 'replay', 'test', 'pull'] as const;
export type AttemptTrigger = (typeof ATTEMPT_TRIGGERS)[number];

/**
 * The moves of a stored delivery. `pending` is the only open state: an attempt ends it as
 * delivered or failed (or leaves it pending until its retry), coalescing supersedes it, a DELETE
 * or `discardHeld` discards it. Every other state is reopened only by hand: redeliver (any of
 * them) or replay (failed ones).
 */
export const DELIVERY_MACHINE: StatusMachine<StoredDeliveryStatus> = {
  pending: ['delivered', 'failed', 'superseded', 'discarded'],
  delivered: ['pending'],
  failed: ['pending'],
  superseded: ['pending'],
  discarded: ['pending'],
};

/** How an attempt went, as far as the delivery's state is concerned. */
export type AttemptVerdictKind = 'success' | 'failure' | 'throttled' | 'permanent' | 'gone' | 'aborted';

/**
 * The delivery's state after an attempt: delivered on success; otherwise pending while the
 * schedule has a retry left, failed when it has none, the endpoint is gone or the answer is one
 * of the subscription's permanent statuses. An attempt cut short by shutdown stays pending:
 * another instance sends it at once.
 */
export function statusAfterAttempt(
  verdict: AttemptVerdictKind,
  retryLeft: boolean,
): 'delivered' | 'pending' | 'failed' {
  if (verdict === 'success') return 'delivered';
  if (verdict === 'gone' || verdict === 'permanent') return 'failed';
  if (verdict === 'aborted') return 'pending';
  return retryLeft ? 'pending' : 'failed';
}

/** The status the API shows for a stored row at `now`. */
export function shownStatus(status: StoredDeliveryStatus, leaseExpiresAt: Date | null, now: Date): DeliveryStatus {
  return status === 'pending' && leaseExpiresAt !== null && leaseExpiresAt > now ? 'delivering' : status;
}
