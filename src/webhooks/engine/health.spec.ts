import { describe, expect, it } from 'vitest';
import { type AttemptVerdict, type HealthRules, type HealthState, applyAttempt } from './health.js';

const HOUR = 3_600_000;
const RULES: HealthRules = { failingAfter: 3, disableAfterMs: 24 * HOUR };
const T0 = Date.UTC(2025, 0, 15, 0, 0, 0);
const at = (offsetMs: number) => new Date(T0 + offsetMs);

const healthy = (): HealthState => ({
  status: 'healthy',
  disabledReason: null,
  consecutiveFailures: 0,
  failingSince: null,
  lastSuccessAt: null,
  lastFailureAt: null,
});

const run = (state: HealthState, verdicts: AttemptVerdict[], rules: HealthRules = RULES): HealthState =>
  verdicts.reduce((s, v) => applyAttempt(s, v, rules), state);

const failures = (...offsets: number[]): AttemptVerdict[] => offsets.map((o) => ({ kind: 'failure', at: at(o) }));

describe('applyAttempt', () => {
  it('stays healthy below failingAfter consecutive failures while counting them', () => {
    const state = run(healthy(), failures(0, 1_000));
    expect(state.status).toBe('healthy');
    expect(state.consecutiveFailures).toBe(2);
    expect(state.failingSince).toEqual(at(0));
    expect(state.lastFailureAt).toEqual(at(1_000));
  });

  it('turns healthy into failing at exactly failingAfter consecutive failures', () => {
    const state = run(healthy(), failures(0, 1_000, 2_000));
    expect(state.status).toBe('failing');
    expect(state.consecutiveFailures).toBe(3);
    expect(state.disabledReason).toBeNull();
  });

  it('keeps failingSince at the first failure since the last success', () => {
    const state = run(healthy(), failures(0, HOUR, 2 * HOUR, 3 * HOUR));
    expect(state.failingSince).toEqual(at(0));
    expect(state.lastFailureAt).toEqual(at(3 * HOUR));
  });

  it('keeps a failing subscription failing while its first failure is younger than disableAfterMs', () => {
    const state = run(healthy(), failures(0, HOUR, 2 * HOUR, 24 * HOUR - 1));
    expect(state.status).toBe('failing');
    expect(state.disabledReason).toBeNull();
  });

  it('disables a failing subscription once its first failure is exactly disableAfterMs old', () => {
    const state = run(healthy(), failures(0, HOUR, 2 * HOUR, 24 * HOUR));
    expect(state.status).toBe('disabled');
    expect(state.disabledReason).toContain('no successful delivery for 86400s');
    expect(state.disabledReason).toContain(at(0).toISOString());
  });

  it('disables a failing subscription whose first failure is older than disableAfterMs', () => {
    const state = run(healthy(), failures(0, HOUR, 2 * HOUR, 30 * HOUR));
    expect(state.status).toBe('disabled');
    expect(state.consecutiveFailures).toBe(4);
  });

  it('measures disableAfterMs from the first failure after the last success, not an earlier one', () => {
    const state = run(healthy(), [
      ...failures(0, HOUR, 2 * HOUR),
      { kind: 'success', at: at(3 * HOUR) },
      ...failures(4 * HOUR, 5 * HOUR, 6 * HOUR, 25 * HOUR),
    ]);
    expect(state.status).toBe('failing');
    expect(state.failingSince).toEqual(at(4 * HOUR));
    expect(run(state, failures(28 * HOUR)).status).toBe('disabled');
  });

  it("disables at once on 'gone' (410), from healthy, with a reason that mentions 410", () => {
    const state = applyAttempt(healthy(), { kind: 'gone', at: at(0) }, RULES);
    expect(state.status).toBe('disabled');
    expect(state.disabledReason).toMatch(/410/);
    expect(state.consecutiveFailures).toBe(1);
    expect(state.failingSince).toEqual(at(0));
    expect(state.lastFailureAt).toEqual(at(0));
  });

  it("disables a failing subscription on 'gone' and keeps the first-failure time", () => {
    const state = run(healthy(), [...failures(0, 1_000, 2_000), { kind: 'gone', at: at(3_000) }]);
    expect(state.status).toBe('disabled');
    expect(state.disabledReason).toMatch(/410/);
    expect(state.failingSince).toEqual(at(0));
    expect(state.consecutiveFailures).toBe(4);
  });

  it("changes only lastFailureAt on 'throttled'", () => {
    const failing = run(healthy(), failures(0, 1_000, 2_000));
    const state = applyAttempt(failing, { kind: 'throttled', at: at(5_000) }, RULES);
    expect(state).toEqual({ ...failing, lastFailureAt: at(5_000) });
  });

  it("never disables or marks failing on 'throttled', however long it lasts", () => {
    const throttled: AttemptVerdict[] = Array.from({ length: 10 }, (_, i) => ({
      kind: 'throttled',
      at: at(i * 10 * HOUR),
    }));
    const state = run(healthy(), throttled);
    expect(state).toEqual({ ...healthy(), lastFailureAt: at(90 * HOUR) });
  });

  it('resets a failing subscription to healthy on success and records when', () => {
    const failing = run(healthy(), failures(0, 1_000, 2_000));
    const state = applyAttempt(failing, { kind: 'success', at: at(3_000) }, RULES);
    expect(state).toEqual({
      status: 'healthy',
      disabledReason: null,
      consecutiveFailures: 0,
      failingSince: null,
      lastSuccessAt: at(3_000),
      lastFailureAt: at(2_000),
    });
  });

  it('resets the failure count on success so failingAfter counts again from zero', () => {
    const state = run(healthy(), [
      ...failures(0, 1_000),
      { kind: 'success', at: at(2_000) },
      ...failures(3_000, 4_000),
    ]);
    expect(state.status).toBe('healthy');
    expect(state.consecutiveFailures).toBe(2);
  });

  it('keeps a disabled subscription disabled, with its reason, after a success', () => {
    const disabled = applyAttempt(healthy(), { kind: 'gone', at: at(0) }, RULES);
    const state = applyAttempt(disabled, { kind: 'success', at: at(1_000) }, RULES);
    expect(state.status).toBe('disabled');
    expect(state.disabledReason).toBe(disabled.disabledReason);
    expect(state.lastSuccessAt).toEqual(at(1_000));
    expect(state.consecutiveFailures).toBe(0);
  });

  it('keeps a disabled subscription disabled with its original reason after more failures', () => {
    const disabled = run(healthy(), failures(0, HOUR, 2 * HOUR, 24 * HOUR));
    const state = applyAttempt(disabled, { kind: 'failure', at: at(25 * HOUR) }, RULES);
    expect(state.status).toBe('disabled');
    expect(state.disabledReason).toBe(disabled.disabledReason);
    expect(state.consecutiveFailures).toBe(5);
  });

  it('does not modify the state it is given', () => {
    const before = healthy();
    const copy = structuredClone(before);
    applyAttempt(before, { kind: 'failure', at: at(0) }, RULES);
    applyAttempt(before, { kind: 'gone', at: at(0) }, RULES);
    expect(before).toEqual(copy);
  });
});

describe('applyAttempt after a shutdown cut an attempt short', () => {
  it('leaves health as it was', () => {
    const failing = run(healthy(), failures(0, 1_000, 2_000));
    expect(applyAttempt(failing, { kind: 'aborted', at: at(3_000) }, RULES)).toEqual(failing);
  });
});
