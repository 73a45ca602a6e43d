import { EVENT_TYPES, OPERATIONAL_EVENT_TYPES } from '../../events/event-types.js';

/** `{ eventTypes, windowMs }`: a covered delivery waits `windowMs`; a newer covered event of the same aggregate supersedes it. */
export interface Coalesce {
  eventTypes: string[];
  windowMs: number;
}

/** Status types (and the operational events, each a change of state) are never coalesced away: an ERP must see every move. */
export const UNCOALESCABLE = [
  'order.created',
  'order.status_changed',
  'shipment.created',
  'shipment.status_changed',
  'shipment.delivered',
  'shipment.exception',
  'webhook.test',
  ...OPERATIONAL_EVENT_TYPES,
];
export const COALESCABLE = EVENT_TYPES.filter((t) => !UNCOALESCABLE.includes(t));

export function coalesceProblems(value: unknown): string[] {
  if (value === null) return [];
  if (typeof value !== 'object' || Array.isArray(value)) return ['must be { eventTypes, windowMs } or null'];
  const { eventTypes, windowMs, ...rest } = value as Record<string, unknown>;
  const problems = Object.keys(rest).map((k) => `${k} is not a known field`);
  if (!Array.isArray(eventTypes) || eventTypes.length === 0)
    problems.push('eventTypes must list at least one event type');
  else {
    for (const type of eventTypes) {
      if (typeof type !== 'string' || !(EVENT_TYPES as readonly string[]).includes(type))
        problems.push(`${String(type)} is not an event type`);
      else if (UNCOALESCABLE.includes(type))
        problems.push(
          `${type} cannot be coalesced (status changes always arrive); coalescable: ${COALESCABLE.join(', ')}`,
        );
    }
  }
  if (typeof windowMs !== 'number' || !Number.isInteger(windowMs) || windowMs < 100 || windowMs > 3_600_000) {
    problems.push('windowMs must be a whole number of milliseconds from 100 to 3600000');
  }
  return problems;
}
