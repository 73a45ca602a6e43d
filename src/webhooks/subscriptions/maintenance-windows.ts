import type { NestedProblem } from '../../common/errors.js';
/**
 * Maintenance windows of a subscription: `[{ days: ["mon", …], start: "01:00", end: "03:30",
 * timeZone: "Europe/Berlin" }]`, in the receiver's local time. A window opens on each listed day
 * at `start` and closes at `end` the same day, or the next day when `end` is not after `start`
 * (a window crossing midnight belongs to the day it opens). Local times are read as RFC 5545
 * reads them: a time that does not exist (the clocks jumped over it) uses the offset before the
 * jump, so 02:30 on a spring-forward night in Berlin is 03:30 CEST; a time that happens twice
 * (the clocks went back) is its first occurrence. Pure functions of the windows and an instant.
 */
export const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

export interface MaintenanceWindow {
  days: Weekday[];
  /** "HH:MM", 24-hour local time. */
  start: string;
  /** "HH:MM"; "24:00" is the end of the day. */
  end: string;
  /** An IANA time zone name ("Europe/Berlin", "America/New_York", "UTC"). */
  timeZone: string;
}

/** One stretch of time during which the subscription is held: [startsAt, endsAt). */
export interface WindowSpan {
  startsAt: Date;
  endsAt: Date;
}

export const MAX_WINDOWS = 20;
const MINUTE = 60_000;
const DAY = 86_400_000;
/** How far ahead windows are looked for: a weekly schedule repeats within 8 days. */
const HORIZON_DAYS = 8;

const TIME = /^([01]\d|2[0-3]):([0-5]\d)$/;

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** The zone's canonical IANA name ("europe/berlin" → "Europe/Berlin", "US/Eastern" → "America/New_York"), or null. */
export function canonicalTimeZone(value: string): string | null {
  try {
    // Not cached: a client can spell one zone in many ways, and only stored (canonical) names are kept.
    return new Intl.DateTimeFormat('en-US', { timeZone: value }).resolvedOptions().timeZone;
  } catch {
    return null;
  }
}

export function isTimeZone(value: string): boolean {
  return canonicalTimeZone(value) !== null;
}

/** The wall-clock time in `timeZone` at `instant`, as milliseconds of a UTC calendar (the zone's offset added). */
function wallClock(instant: number, timeZone: string): number {
  const parts: Record<string, number> = {};
  for (const part of formatter(timeZone).formatToParts(new Date(instant))) {
    if (part.type !== 'literal') parts[part.type] = Number(part.value);
  }
  return Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour, parts.minute, parts.second);
}

/** The zone's UTC offset at `instant`, in ms (positive east of Greenwich). */
function offsetAt(instant: number, timeZone: string): number {
  const whole = Math.floor(instant / 1000) * 1000;
  return wallClock(whole, timeZone) - whole;
}

/**
 * A zone's offsets over a stretch of UTC days: the offset at its start, then each change (at
 * most one a day is looked for). Intl is slow (tens of µs a call) and a list of subscriptions
 * with many windows asks for thousands of offsets, so each zone's stretch is probed once (a
 * call per day, a binary search to the minute around a change) and kept, whatever the number of
 * windows and views that use it.
 */
interface OffsetTable {
  from: number;
  to: number;
  changes: Array<{ at: number; offset: number }>;
}

const offsetTables = new Map<string, OffsetTable>();
/** Zones × stretches kept; a new day starts new stretches, so the oldest go when it is full. */
const MAX_OFFSET_TABLES = 2048;

function offsetTable(timeZone: string, fromDay: number, toDay: number): OffsetTable {
  const key = `${timeZone} ${fromDay} ${toDay}`;
  const known = offsetTables.get(key);
  if (known) return known;
  let offset = offsetAt(fromDay * DAY, timeZone);
  const changes = [{ at: fromDay * DAY, offset }];
  for (let day = fromDay + 1; day <= toDay; day++) {
    const next = offsetAt(day * DAY, timeZone);
    if (next === offset) continue;
    // The first minute of the new offset: zones change on whole minutes.
    let low = (day - 1) * DAY;
    let high = day * DAY;
    while (high - low > MINUTE) {
      const middle = low + Math.floor((high - low) / MINUTE / 2) * MINUTE;
      if (offsetAt(middle, timeZone) === offset) low = middle;
      else high = middle;
    }
    changes.push({ at: high, offset: next });
    offset = next;
  }
  const table = { from: fromDay * DAY, to: toDay * DAY, changes };
  if (offsetTables.size >= MAX_OFFSET_TABLES) offsetTables.delete(offsetTables.keys().next().value!);
  offsetTables.set(key, table);
  return table;
}

/** The zone's offset at `instant`: from the table when it covers the instant, else asked of Intl. */
function offsetFrom(table: OffsetTable | null, instant: number, timeZone: string): number {
  if (!table || instant < table.from || instant > table.to) return offsetAt(instant, timeZone);
  let offset = table.changes[0].offset;
  for (const change of table.changes) {
    if (change.at > instant) break;
    offset = change.offset;
  }
  return offset;
}

/**
 * The instant of a local wall-clock time (given as ms of a UTC calendar). Offsets a day before
 * and a day after bracket any transition near it; a candidate is real when the zone's offset at
 * it is the one that produced it.
 */
export function instantOfWallClock(wall: number, timeZone: string, table: OffsetTable | null = null): number {
  const offset = (instant: number) => offsetFrom(table, instant, timeZone);
  const before = offset(wall - DAY);
  const after = offset(wall + DAY);
  const candidates = [wall - before, wall - after].filter((t) => offset(t) === wall - t);
  // Two real candidates: the time happens twice (clocks went back); none: it was skipped.
  return candidates.length > 0 ? Math.min(...candidates) : wall - before;
}

const minutesOf = (time: string) => (time === '24:00' ? 1440 : Number(time.slice(0, 2)) * 60 + Number(time.slice(3)));

/** Problems with `maintenanceWindows` as a client sent it, each at its path below the field (empty when well formed). */
export function maintenanceWindowProblems(value: unknown): NestedProblem[] {
  const at = (path: string, message: string) => ({ path, message });
  if (value === null) return [];
  if (!Array.isArray(value)) return [at('', 'must be a list of { days, start, end, timeZone }')];
  if (value.length > MAX_WINDOWS) return [at('', `may have at most ${MAX_WINDOWS} windows`)];
  return value.flatMap((window, i) => {
    if (typeof window !== 'object' || window === null || Array.isArray(window))
      return [at(`${i}`, 'must be { days, start, end, timeZone }')];
    const { days, start, end, timeZone, ...rest } = window as Record<string, unknown>;
    const problems: NestedProblem[] = [];
    for (const key of Object.keys(rest)) problems.push(at(`${i}.${key}`, 'is not a window field'));
    if (
      !Array.isArray(days) ||
      days.length === 0 ||
      !days.every((d) => typeof d === 'string' && (WEEKDAYS as readonly string[]).includes(d))
    )
      problems.push(at(`${i}.days`, `must list one or more of ${WEEKDAYS.join(', ')}`));
    if (typeof start !== 'string' || !TIME.test(start)) problems.push(at(`${i}.start`, 'must be a time such as 01:00'));
    if (typeof end !== 'string' || !(TIME.test(end) || end === '24:00'))
      problems.push(at(`${i}.end`, 'must be a time such as 03:30 (or 24:00)'));
    else if (typeof start === 'string' && TIME.test(start) && minutesOf(start) === minutesOf(end))
      problems.push(at(`${i}.end`, 'must differ from start'));
    if (typeof timeZone !== 'string' || !isTimeZone(timeZone))
      problems.push(at(`${i}.timeZone`, 'must be an IANA time zone such as Europe/Berlin'));
    return problems;
  });
}

/** The windows as stored: days in week order without duplicates, the zone by its canonical name. */
export function normalizeWindows(windows: MaintenanceWindow[]): MaintenanceWindow[] {
  return windows.map((w) => ({
    days: WEEKDAYS.filter((d) => w.days.includes(d)),
    start: w.start,
    end: w.end,
    timeZone: canonicalTimeZone(w.timeZone) ?? w.timeZone,
  }));
}

/** Every opening of one window whose local day lies in [fromDay, toDay] (UTC-calendar day numbers). */
function occurrences(window: MaintenanceWindow, fromDay: number, toDay: number): WindowSpan[] {
  const start = minutesOf(window.start);
  const end = minutesOf(window.end);
  const length = end > start ? end - start : end + 1440 - start;
  const spans: WindowSpan[] = [];
  // Wall-clock times a day either side of these days, up to two days long, 14 h off UTC.
  const table = offsetTable(window.timeZone, fromDay - 2, toDay + 4);
  for (let day = fromDay; day <= toDay; day++) {
    if (!window.days.includes(WEEKDAYS[new Date(day * DAY).getUTCDay()])) continue;
    const wallStart = day * DAY + start * MINUTE;
    const startsAt = instantOfWallClock(wallStart, window.timeZone, table);
    const endsAt = instantOfWallClock(wallStart + length * MINUTE, window.timeZone, table);
    // A window that DST squeezes to nothing (inside a skipped hour) holds nothing.
    if (endsAt > startsAt) spans.push({ startsAt: new Date(startsAt), endsAt: new Date(endsAt) });
  }
  return spans;
}

/**
 * The windows' openings from shortly before `now` to a week after, merged where they overlap or
 * touch (two windows back to back hold as one).
 */
export function upcomingSpans(windows: readonly MaintenanceWindow[], now: Date): WindowSpan[] {
  const today = Math.floor(now.getTime() / DAY);
  // Local days run up to 14 h ahead of or 12 h behind UTC, and a window may last almost two days.
  const spans = windows
    .flatMap((w) => occurrences(w, today - 3, today + HORIZON_DAYS))
    .filter((s) => s.endsAt.getTime() > now.getTime() - DAY)
    .sort((a, b) => a.startsAt.getTime() - b.startsAt.getTime());
  const merged: WindowSpan[] = [];
  for (const span of spans) {
    const last = merged[merged.length - 1];
    if (last && span.startsAt.getTime() <= last.endsAt.getTime()) {
      if (span.endsAt > last.endsAt) last.endsAt = span.endsAt;
    } else merged.push({ ...span });
  }
  return merged;
}

/** The window `now` is inside (merged with those it touches), or null. */
export function currentWindow(windows: readonly MaintenanceWindow[], now: Date): WindowSpan | null {
  const t = now.getTime();
  return upcomingSpans(windows, now).find((s) => s.startsAt.getTime() <= t && t < s.endsAt.getTime()) ?? null;
}

/** The window `now` is inside, else the next one to open; null when there is none (no windows). */
export function nextWindow(windows: readonly MaintenanceWindow[], now: Date): WindowSpan | null {
  const t = now.getTime();
  return upcomingSpans(windows, now).find((s) => t < s.endsAt.getTime()) ?? null;
}

export interface WindowState {
  /** Inside a window: deliveries are held. */
  inside: boolean;
  /** When `inside` next changes (the current window's end, or the next one's start); null: never. */
  changesAt: Date | null;
}

/** Whether `now` is inside a window, and when that next changes. */
export function windowState(windows: readonly MaintenanceWindow[] | null, now: Date): WindowState {
  if (!windows || windows.length === 0) return { inside: false, changesAt: null };
  const span = nextWindow(windows, now);
  if (!span) return { inside: false, changesAt: null };
  const inside = span.startsAt.getTime() <= now.getTime();
  return { inside, changesAt: inside ? span.endsAt : span.startsAt };
}
