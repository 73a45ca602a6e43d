/** Jitter spreads retries of a burst so a recovering receiver is not hit all at once. */
export const RETRY_JITTER = 0.2;
/** A receiver's Retry-After is honoured up to this long. */
export const MAX_RETRY_AFTER_MS = 24 * 3_600_000;

export type Random = () => number;

/** The schedule's delay before retry number `retry` (1-based) with ±20 % jitter, or undefined after the last. */
export function retryDelay(
  schedule: readonly number[],
  retry: number,
  random: Random = Math.random,
): number | undefined {
  const base = schedule[retry - 1];
  if (base === undefined) return undefined;
  return Math.round(base * (1 + RETRY_JITTER * (2 * random() - 1)));
}

/** Retry-After as seconds or an HTTP date, in ms from `now`; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Math.min(Number(trimmed) * 1000, MAX_RETRY_AFTER_MS);
  // Otherwise only an HTTP date (it names a day or month); Date.parse would read "1.5" as a year.
  if (!/[A-Za-z]{3}/.test(trimmed)) return undefined;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.min(Math.max(0, date - now), MAX_RETRY_AFTER_MS);
}

export interface FailureInput {
  schedule: readonly number[];
  /** Attempts made since the schedule (re)started, this one included. */
  attemptsInSchedule: number;
  /** Milliseconds the receiver asked us to wait (429/503 Retry-After). */
  retryAfterMs?: number;
  now: number;
  random?: Random;
}

/**
 * How long to wait before trying a failed delivery again, or null when the schedule is spent (the
 * delivery fails). The engine adds it to the database's clock, never to this process's.
 */
export function retryWait(input: Omit<FailureInput, 'now'>): number | null {
  const delay = retryDelay(input.schedule, input.attemptsInSchedule, input.random);
  if (delay === undefined) return null;
  // Never sooner than the receiver asked; the retry is spent all the same.
  return input.retryAfterMs !== undefined ? Math.max(input.retryAfterMs, 0) : delay;
}

/** When to try a failed delivery again, as of `now`, or null when the schedule is spent. */
export function nextAttemptAt(input: FailureInput): Date | null {
  const wait = retryWait(input);
  return wait === null ? null : new Date(input.now + wait);
}
