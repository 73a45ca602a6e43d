import { describe, expect, it } from 'vitest';
import { allowedMoves, describeForbiddenMove, isFinal, isTransitionAllowed } from '../common/status-machine.js';
import { SHIPMENT_MACHINE, SHIPMENT_STATUSES } from './shipment-status.js';

describe('shipment status machine', () => {
  const expected: Record<string, string[]> = {
    planned: ['booked', 'cancelled'],
    booked: ['picked_up', 'exception', 'cancelled'],
    picked_up: ['in_transit', 'exception'],
    in_transit: ['out_for_delivery', 'delivered', 'exception'],
    out_for_delivery: ['delivered', 'in_transit', 'exception'],
    exception: ['in_transit', 'out_for_delivery', 'delivered', 'returned', 'cancelled'],
    delivered: [],
    cancelled: [],
    returned: [],
  };

  it.each(SHIPMENT_STATUSES)('allows exactly the documented moves from %s', (from) => {
    for (const to of SHIPMENT_STATUSES) {
      expect(isTransitionAllowed(SHIPMENT_MACHINE, from, to), `${from} -> ${to}`).toBe(expected[from].includes(to));
    }
    expect([...allowedMoves(SHIPMENT_MACHINE, from)].sort()).toEqual([...expected[from]].sort());
  });

  it('treats delivered, cancelled and returned as final', () => {
    expect(SHIPMENT_STATUSES.filter((s) => isFinal(SHIPMENT_MACHINE, s))).toEqual([
      'delivered',
      'cancelled',
      'returned',
    ]);
  });

  it('names the allowed moves when refusing one', () => {
    expect(describeForbiddenMove(SHIPMENT_MACHINE, 'shipment SH-1', 'planned', 'delivered')).toBe(
      'cannot move shipment SH-1 from planned to delivered; allowed: booked, cancelled',
    );
    expect(describeForbiddenMove(SHIPMENT_MACHINE, 'shipment SH-1', 'delivered', 'in_transit')).toBe(
      'cannot move shipment SH-1 from delivered to in_transit; allowed: none',
    );
  });
});
