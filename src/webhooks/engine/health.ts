export type HealthStatus = 'healthy' | 'failing' | 'disabled';

export interface HealthState {
  status: HealthStatus;
  disabledReason: string | null;
  consecutiveFailures: number;
  /** The first failed attempt since the last success. */
  failingSince: Date | null;
  lastSuccessAt: Date | null;
  lastFailureAt: Date | null;
  /** The last failed attempt's reason (one line); kept as it was when the verdict carries none. */
  lastFailureReason?: string | null;
}

export type AttemptVerdict = (
  | { kind: 'success' }
  /** Counts toward health: errors, timeouts, 4xx/5xx. */
  | { kind: 'failure' }
  /** 429/503 with Retry-After: a retry is spent, health is not touched. */
  | { kind: 'throttled' }
  /** One of the subscription's permanentStatuses: the delivery fails at once, health is not touched. */
  | { kind: 'permanent' }
  | { kind: 'gone' }
  /** Cut short by this instance's shutdown: the receiver is not to blame, and no retry is spent. */
  | { kind: 'aborted' }
) & { at: Date; reason?: string };

export interface HealthRules {
  failingAfter: number;
  disableAfterMs: number;
}

/** The subscription's health after one attempt. A disabled subscription stays disabled until re-enabled by hand. */
export function applyAttempt(state: HealthState, verdict: AttemptVerdict, rules: HealthRules): HealthState {
  const next = { ...state };
  switch (verdict.kind) {
    case 'success':
      next.lastSuccessAt = verdict.at;
      next.consecutiveFailures = 0;
      next.failingSince = null;
      if (next.status !== 'disabled') next.status = 'healthy';
      return next;
    case 'throttled':
    case 'permanent':
      next.lastFailureAt = verdict.at;
      next.lastFailureReason = verdict.reason ?? next.lastFailureReason;
      return next;
    case 'aborted':
      return next;
    case 'gone':
      next.lastFailureAt = verdict.at;
      next.lastFailureReason = verdict.reason ?? next.lastFailureReason;
      next.consecutiveFailures += 1;
      next.failingSince ??= verdict.at;
      next.status = 'disabled';
      next.disabledReason = 'the endpoint answered 410 Gone';
      return next;
    case 'failure': {
      next.lastFailureAt = verdict.at;
      next.lastFailureReason = verdict.reason ?? next.lastFailureReason;
      next.consecutiveFailures += 1;
      next.failingSince ??= verdict.at;
      if (next.status === 'disabled') return next;
      if (verdict.at.getTime() - next.failingSince.getTime() >= rules.disableAfterMs) {
        next.status = 'disabled';
        next.disabledReason = `no successful delivery for ${Math.round(rules.disableAfterMs / 1000)}s (since ${next.failingSince.toISOString()})`;
      } else if (next.consecutiveFailures >= rules.failingAfter) {
        next.status = 'failing';
      }
      return next;
    }
  }
}
