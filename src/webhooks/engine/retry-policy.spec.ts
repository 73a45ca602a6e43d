import { describe, expect, it } from 'vitest';
import { MAX_RETRY_AFTER_MS, nextAttemptAt, parseRetryAfter, retryDelay } from './retry-policy.js';

const SCHEDULE = [5_000, 300_000, 1_800_000] as const;
const NOW = Date.UTC(2025, 0, 15, 12, 0, 0);

describe('retryDelay', () => {
  it('returns the scheduled delay unchanged when the jitter draw is in the middle', () => {
    expect(retryDelay(SCHEDULE, 1, () => 0.5)).toBe(5_000);
    expect(retryDelay(SCHEDULE, 2, () => 0.5)).toBe(300_000);
    expect(retryDelay(SCHEDULE, 3, () => 0.5)).toBe(1_800_000);
  });

  it('shortens the delay by at most 20 % at the lowest jitter draw', () => {
    expect(retryDelay(SCHEDULE, 1, () => 0)).toBe(4_000);
    expect(retryDelay(SCHEDULE, 2, () => 0)).toBe(240_000);
  });

  it('lengthens the delay by at most 20 % at the highest jitter draw', () => {
    expect(retryDelay(SCHEDULE, 1, () => 1)).toBe(6_000);
    expect(retryDelay(SCHEDULE, 3, () => 1)).toBe(2_160_000);
  });

  it('scales the jitter linearly with the draw and rounds to whole milliseconds', () => {
    // 1 + 0.2 * (2 * 0.75 - 1) = 1.1
    expect(retryDelay(SCHEDULE, 1, () => 0.75)).toBe(5_500);
    // 1001 * 0.8 = 800.8 → 801
    expect(retryDelay([1_001], 1, () => 0)).toBe(801);
  });

  it('stays within ±20 % of the scheduled delay with the default Math.random', () => {
    for (let i = 0; i < 200; i++) {
      const delay = retryDelay(SCHEDULE, 2)!;
      expect(delay).toBeGreaterThanOrEqual(240_000);
      expect(delay).toBeLessThanOrEqual(360_000);
    }
  });

  it('returns undefined after the last scheduled retry', () => {
    expect(retryDelay(SCHEDULE, 4, () => 0.5)).toBeUndefined();
    expect(retryDelay([], 1, () => 0.5)).toBeUndefined();
  });

  it('returns undefined for retry number 0 (retries are 1-based)', () => {
    expect(retryDelay(SCHEDULE, 0, () => 0.5)).toBeUndefined();
  });
});

describe('parseRetryAfter', () => {
  it('reads a number of seconds as milliseconds', () => {
    expect(parseRetryAfter('120', NOW)).toBe(120_000);
    expect(parseRetryAfter('1', NOW)).toBe(1_000);
  });

  it.each(['1.5', '0.5', '-1', '1,5', '5 5'])(
    'treats the malformed value %s as absent, not as "retry now"',
    (value) => {
      expect(parseRetryAfter(value, NOW)).toBeUndefined();
    },
  );

  it('reads 0 seconds as no wait at all', () => {
    expect(parseRetryAfter('0', NOW)).toBe(0);
  });

  it('ignores whitespace around the seconds', () => {
    expect(parseRetryAfter('  30 ', NOW)).toBe(30_000);
  });

  it('caps a number of seconds at 24 hours', () => {
    expect(MAX_RETRY_AFTER_MS).toBe(86_400_000);
    expect(parseRetryAfter('86400', NOW)).toBe(86_400_000);
    expect(parseRetryAfter('86401', NOW)).toBe(86_400_000);
    expect(parseRetryAfter('999999999', NOW)).toBe(86_400_000);
  });

  it('reads an HTTP date as the time from now until then', () => {
    const in90s = new Date(NOW + 90_000).toUTCString();
    expect(parseRetryAfter(in90s, NOW)).toBe(90_000);
    expect(parseRetryAfter('Wed, 15 Jan 2025 13:00:00 GMT', NOW)).toBe(3_600_000);
  });

  it('reads an HTTP date in the past as no wait', () => {
    expect(parseRetryAfter('Wed, 15 Jan 2025 11:00:00 GMT', NOW)).toBe(0);
  });

  it('caps an HTTP date more than 24 hours away at 24 hours', () => {
    expect(parseRetryAfter(new Date(NOW + 3 * 86_400_000).toUTCString(), NOW)).toBe(86_400_000);
  });

  it('returns undefined when the header is absent or empty', () => {
    expect(parseRetryAfter(undefined, NOW)).toBeUndefined();
    expect(parseRetryAfter('', NOW)).toBeUndefined();
  });

  it('returns undefined when the header is neither seconds nor a date', () => {
    expect(parseRetryAfter('soon', NOW)).toBeUndefined();
    expect(parseRetryAfter('later please', NOW)).toBeUndefined();
  });
});

describe('nextAttemptAt', () => {
  it('schedules the next attempt after the jittered delay for the attempt number', () => {
    expect(nextAttemptAt({ schedule: SCHEDULE, attemptsInSchedule: 1, now: NOW, random: () => 0.5 })).toEqual(
      new Date(NOW + 5_000),
    );
    expect(nextAttemptAt({ schedule: SCHEDULE, attemptsInSchedule: 2, now: NOW, random: () => 0 })).toEqual(
      new Date(NOW + 240_000),
    );
    expect(nextAttemptAt({ schedule: SCHEDULE, attemptsInSchedule: 3, now: NOW, random: () => 1 })).toEqual(
      new Date(NOW + 2_160_000),
    );
  });

  it('returns null once the schedule is spent, so the delivery fails', () => {
    expect(nextAttemptAt({ schedule: SCHEDULE, attemptsInSchedule: 4, now: NOW, random: () => 0.5 })).toBeNull();
    expect(nextAttemptAt({ schedule: [], attemptsInSchedule: 1, now: NOW, random: () => 0.5 })).toBeNull();
  });

  it('returns null after the last retry even when the receiver sent Retry-After', () => {
    expect(
      nextAttemptAt({ schedule: SCHEDULE, attemptsInSchedule: 4, retryAfterMs: 60_000, now: NOW, random: () => 0.5 }),
    ).toBeNull();
  });

  it('waits exactly the Retry-After instead of a longer scheduled delay, without jitter', () => {
    expect(
      nextAttemptAt({ schedule: SCHEDULE, attemptsInSchedule: 3, retryAfterMs: 60_000, now: NOW, random: () => 1 }),
    ).toEqual(new Date(NOW + 60_000));
  });

  it('waits exactly the Retry-After instead of a shorter scheduled delay', () => {
    expect(
      nextAttemptAt({ schedule: SCHEDULE, attemptsInSchedule: 1, retryAfterMs: 600_000, now: NOW, random: () => 0 }),
    ).toEqual(new Date(NOW + 600_000));
  });

  it('retries at once for Retry-After 0 and treats a negative Retry-After as 0', () => {
    expect(
      nextAttemptAt({ schedule: SCHEDULE, attemptsInSchedule: 1, retryAfterMs: 0, now: NOW, random: () => 0.5 }),
    ).toEqual(new Date(NOW));
    expect(
      nextAttemptAt({ schedule: SCHEDULE, attemptsInSchedule: 1, retryAfterMs: -5_000, now: NOW, random: () => 0.5 }),
    ).toEqual(new Date(NOW));
  });
});
