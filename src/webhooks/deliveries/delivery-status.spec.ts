import { describe, expect, it } from 'vitest';
import { allowedMoves, isTransitionAllowed } from '../../common/status-machine.js';
import {
  DELIVERY_MACHINE,
  DELIVERY_STATUSES,
  shownStatus,
  statusAfterAttempt,
  STORED_DELIVERY_STATUSES,
} from './delivery-status.js';

describe('delivery status machine', () => {
  const expected: Record<string, string[]> = {
    pending: ['delivered', 'failed', 'superseded', 'discarded'],
    delivered: ['pending'],
    failed: ['pending'],
    superseded: ['pending'],
    discarded: ['pending'],
  };

  it.each(STORED_DELIVERY_STATUSES)('allows exactly the documented moves from %s', (from) => {
    for (const to of STORED_DELIVERY_STATUSES) {
      expect(isTransitionAllowed(DELIVERY_MACHINE, from, to), `${from} -> ${to}`).toBe(expected[from].includes(to));
    }
    expect([...allowedMoves(DELIVERY_MACHINE, from)].sort()).toEqual([...expected[from]].sort());
  });

  it('shows every stored status, plus delivering', () => {
    expect([...DELIVERY_STATUSES].sort()).toEqual([...STORED_DELIVERY_STATUSES, 'delivering'].sort());
  });

  it('ends an attempt as delivered, pending until the retry, or failed', () => {
    expect(statusAfterAttempt('success', false)).toBe('delivered');
    expect(statusAfterAttempt('success', true)).toBe('delivered');
    expect(statusAfterAttempt('failure', true)).toBe('pending');
    expect(statusAfterAttempt('throttled', true)).toBe('pending');
    expect(statusAfterAttempt('failure', false)).toBe('failed');
    expect(statusAfterAttempt('throttled', false)).toBe('failed');
    expect(statusAfterAttempt('gone', true)).toBe('failed');
    expect(statusAfterAttempt('aborted', false)).toBe('pending');
  });

  it('shows a pending row under an unexpired lease as delivering', () => {
    const now = new Date('2026-11-22T10:00:00Z');
    expect(shownStatus('pending', new Date('2026-11-22T10:00:05Z'), now)).toBe('delivering');
    expect(shownStatus('pending', new Date('2026-11-22T09:59:55Z'), now)).toBe('pending');
    expect(shownStatus('pending', null, now)).toBe('pending');
    expect(shownStatus('delivered', new Date('2026-11-22T10:00:05Z'), now)).toBe('delivered');
  });
});
