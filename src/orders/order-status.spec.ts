import { describe, expect, it } from 'vitest';
import { isFinal, isTransitionAllowed } from '../common/status-machine.js';
import { ORDER_MACHINE, ORDER_STATUSES } from './order-status.js';

describe('order status machine', () => {
  it('walks open → confirmed → planned → in_transit → delivered one step at a time', () => {
    const path = ['open', 'confirmed', 'planned', 'in_transit', 'delivered'] as const;
    for (let i = 0; i < path.length - 1; i++)
      expect(isTransitionAllowed(ORDER_MACHINE, path[i], path[i + 1])).toBe(true);
    expect(isTransitionAllowed(ORDER_MACHINE, 'open', 'planned')).toBe(false);
    expect(isTransitionAllowed(ORDER_MACHINE, 'open', 'delivered')).toBe(false);
    expect(isTransitionAllowed(ORDER_MACHINE, 'planned', 'confirmed')).toBe(false);
  });

  it('cancels from every non-terminal status and from no terminal one', () => {
    for (const status of ORDER_STATUSES) {
      expect(isTransitionAllowed(ORDER_MACHINE, status, 'cancelled')).toBe(!isFinal(ORDER_MACHINE, status));
    }
    expect(ORDER_STATUSES.filter((s) => isFinal(ORDER_MACHINE, s))).toEqual(['delivered', 'cancelled']);
  });
});
