import { isDomainEventType } from '../../events/event-types.js';

/** `{ "carrier.scac": ["DHLF"], "order.customer.ref": ["C-42"] }`: a dotted path in `data` → allowed values. */
export type Filters = Record<string, Array<string | number | boolean>>;

const PATH = /^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$/;
export const MAX_FILTER_KEYS = 20;
export const MAX_FILTER_VALUES = 100;

/** Problems with a filters object as sent by a client (empty when it is well formed). */
export function filterProblems(filters: unknown): string[] {
  if (typeof filters !== 'object' || filters === null || Array.isArray(filters)) {
    return ['must be an object mapping a dotted path in the event data to a list of values'];
  }
  const problems: string[] = [];
  const entries = Object.entries(filters);
  if (entries.length > MAX_FILTER_KEYS) problems.push(`may have at most ${MAX_FILTER_KEYS} paths`);
  for (const [path, values] of entries) {
    if (!PATH.test(path)) problems.push(`"${path}" is not a dotted path such as carrier.scac`);
    if (!Array.isArray(values) || values.length === 0 || values.length > MAX_FILTER_VALUES) {
      problems.push(`"${path}" must list 1 to ${MAX_FILTER_VALUES} values`);
    } else if (!values.every((v) => ['string', 'number', 'boolean'].includes(typeof v))) {
      problems.push(`"${path}" values must be strings, numbers or booleans`);
    }
  }
  return problems;
}

function valuesAt(data: unknown, segments: string[]): unknown[] {
  if (segments.length === 0) return Array.isArray(data) ? data : [data];
  if (Array.isArray(data)) return data.flatMap((item) => valuesAt(item, segments));
  if (typeof data !== 'object' || data === null) return [];
  const [head, ...rest] = segments;
  if (!(head in data)) return [];
  return valuesAt((data as Record<string, unknown>)[head], rest);
}

/**
 * Every path must match; a value matches when equal as a string; a missing path does not match;
 * an array at (or on the way to) the path matches when any element does.
 */
export function matchesFilters(filters: Filters, data: unknown): boolean {
  for (const [path, allowed] of Object.entries(filters)) {
    const wanted = new Set(allowed.map(String));
    const found = valuesAt(data, path.split('.')).filter((v) => v !== null && v !== undefined && typeof v !== 'object');
    if (!found.some((v) => wanted.has(String(v)))) return false;
  }
  return true;
}

/** `*` means every domain event; operational events (and `webhook.test`) match only by name. */
export function matchesEventTypes(eventTypes: readonly string[], type: string): boolean {
  return eventTypes.includes(type) || (eventTypes.includes('*') && isDomainEventType(type));
}
