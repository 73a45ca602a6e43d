import { describe, expect, it, vi } from 'vitest';
import {
  currentWindow,
  instantOfWallClock,
  maintenanceWindowProblems,
  type MaintenanceWindow,
  nextWindow,
  normalizeWindows,
  upcomingSpans,
  windowState,
} from './maintenance-windows.js';

const at = (iso: string) => new Date(iso);
const span = (s: { startsAt: Date; endsAt: Date } | null) =>
  s && { startsAt: s.startsAt.toISOString(), endsAt: s.endsAt.toISOString() };
const win = (days: MaintenanceWindow['days'], start: string, end: string, timeZone = 'UTC'): MaintenanceWindow => ({
  days,
  start,
  end,
  timeZone,
});

// 2026-11-23 is a Monday; 2026-03-29 and 2026-10-25 are the Sundays Europe changes clocks;
// 2026-03-08 and 2026-11-01 the Sundays the United States do.
describe('maintenance windows', () => {
  const nightly = [win(['mon'], '01:00', '03:30')];

  it('is inside a window between its start and end, and says when it ends', () => {
    expect(windowState(nightly, at('2026-11-23T02:00:00Z'))).toEqual({
      inside: true,
      changesAt: at('2026-11-23T03:30:00Z'),
    });
    expect(windowState(nightly, at('2026-11-23T01:00:00Z')).inside).toBe(true);
    expect(windowState(nightly, at('2026-11-23T03:30:00Z')).inside).toBe(false);
  });

  it('outside a window, names the next one (next week when this one is over)', () => {
    expect(windowState(nightly, at('2026-11-23T00:59:59Z'))).toEqual({
      inside: false,
      changesAt: at('2026-11-23T01:00:00Z'),
    });
    expect(span(nextWindow(nightly, at('2026-11-23T04:00:00Z')))).toEqual({
      startsAt: '2026-11-30T01:00:00.000Z',
      endsAt: '2026-11-30T03:30:00.000Z',
    });
    expect(windowState(null, at('2026-11-23T02:00:00Z'))).toEqual({ inside: false, changesAt: null });
    expect(windowState([], at('2026-11-23T02:00:00Z'))).toEqual({ inside: false, changesAt: null });
  });

  it('reads start and end in the window’s time zone', () => {
    const berlin = [win(['mon'], '01:00', '03:30', 'Europe/Berlin')];
    expect(span(nextWindow(berlin, at('2026-11-22T12:00:00Z')))).toEqual({
      startsAt: '2026-11-23T00:00:00.000Z',
      endsAt: '2026-11-23T02:30:00.000Z',
    });
    const newYork = [win(['sun'], '22:00', '23:00', 'America/New_York')];
    // Sunday 22:00 in New York is Monday 03:00 UTC.
    expect(windowState(newYork, at('2026-11-23T03:10:00Z'))).toEqual({
      inside: true,
      changesAt: at('2026-11-23T04:00:00Z'),
    });
  });

  it('a window crossing midnight belongs to the day it opens, across the end of the week too', () => {
    const friday = [win(['fri'], '22:00', '02:00', 'Europe/Berlin')];
    // Saturday 2026-11-28 00:30 in Berlin (23:30 UTC on Friday).
    expect(windowState(friday, at('2026-11-27T23:30:00Z'))).toEqual({
      inside: true,
      changesAt: at('2026-11-28T01:00:00Z'),
    });
    // Thursday night does not open it.
    expect(windowState(friday, at('2026-11-26T23:30:00Z')).inside).toBe(false);
    const sunday = [win(['sun'], '23:00', '01:00')];
    expect(windowState(sunday, at('2026-11-23T00:30:00Z'))).toEqual({
      inside: true,
      changesAt: at('2026-11-23T01:00:00Z'),
    });
  });

  it('runs to the end of the day with 24:00, and merges windows that touch or overlap', () => {
    expect(span(currentWindow([win(['mon'], '20:00', '24:00')], at('2026-11-23T23:59:00Z')))).toEqual({
      startsAt: '2026-11-23T20:00:00.000Z',
      endsAt: '2026-11-24T00:00:00.000Z',
    });
    const back2back = [win(['mon'], '01:00', '02:00'), win(['mon'], '02:00', '03:00'), win(['mon'], '02:30', '02:45')];
    expect(span(currentWindow(back2back, at('2026-11-23T01:30:00Z')))).toEqual({
      startsAt: '2026-11-23T01:00:00.000Z',
      endsAt: '2026-11-23T03:00:00.000Z',
    });
    const allWeek = [win(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], '00:00', '24:00')];
    const state = windowState(allWeek, at('2026-11-23T12:00:00Z'));
    expect(state.inside).toBe(true);
    expect(state.changesAt!.getTime()).toBeGreaterThan(at('2026-11-29T00:00:00Z').getTime());
  });

  it('spring forward: a start the clocks skip is read with the offset before the jump (RFC 5545)', () => {
    // Berlin, 2026-03-29: 02:00 CET jumps to 03:00 CEST (01:00 UTC).
    const w = [win(['sun'], '02:30', '04:00', 'Europe/Berlin')];
    expect(span(nextWindow(w, at('2026-03-28T12:00:00Z')))).toEqual({
      startsAt: '2026-03-29T01:30:00.000Z', // 03:30 CEST
      endsAt: '2026-03-29T02:00:00.000Z', // 04:00 CEST
    });
    // Before and after the change the same window keeps its local times.
    expect(span(nextWindow(w, at('2026-03-21T12:00:00Z')))?.startsAt).toBe('2026-03-22T01:30:00.000Z'); // 02:30 CET
    expect(span(nextWindow(w, at('2026-04-04T12:00:00Z')))?.startsAt).toBe('2026-04-05T00:30:00.000Z'); // 02:30 CEST
    // A window the jump squeezes to nothing (02:30 → 03:30, ending 03:15) holds nothing that night.
    const squeezed = [win(['sun'], '02:30', '03:15', 'Europe/Berlin')];
    expect(span(nextWindow(squeezed, at('2026-03-28T12:00:00Z')))?.startsAt).toBe('2026-04-05T00:30:00.000Z');
    // New York, 2026-03-08: 02:00 EST jumps to 03:00 EDT.
    expect(new Date(instantOfWallClock(Date.UTC(2026, 2, 8, 2, 30), 'America/New_York')).toISOString()).toBe(
      '2026-03-08T07:30:00.000Z', // 03:30 EDT
    );
  });

  it('fall back: a time that happens twice is its first occurrence, and the window lasts the real hours', () => {
    // Berlin, 2026-10-25: 03:00 CEST goes back to 02:00 CET (01:00 UTC).
    const w = [win(['sun'], '02:00', '03:00', 'Europe/Berlin')];
    expect(span(nextWindow(w, at('2026-10-24T12:00:00Z')))).toEqual({
      startsAt: '2026-10-25T00:00:00.000Z', // the first 02:00 (CEST)
      endsAt: '2026-10-25T02:00:00.000Z', // 03:00 CET: two real hours
    });
    expect(windowState(w, at('2026-10-25T01:30:00Z')).inside).toBe(true); // the second 02:30
    expect(new Date(instantOfWallClock(Date.UTC(2026, 10, 1, 1, 30), 'America/New_York')).toISOString()).toBe(
      '2026-11-01T05:30:00.000Z', // 01:30 EDT, the first one
    );
  });

  it('handles zones far from UTC (+14 and −11)', () => {
    const kiritimati = [win(['mon'], '00:00', '01:00', 'Pacific/Kiritimati')];
    // Monday 00:30 at UTC+14 is Sunday 10:30 UTC.
    expect(windowState(kiritimati, at('2026-11-22T10:30:00Z'))).toEqual({
      inside: true,
      changesAt: at('2026-11-22T11:00:00Z'),
    });
    const pagoPago = [win(['sun'], '23:00', '23:30', 'Pacific/Pago_Pago')];
    // Sunday 23:15 at UTC−11 is Monday 10:15 UTC.
    expect(windowState(pagoPago, at('2026-11-23T10:15:00Z')).inside).toBe(true);
  });

  it('looks a week ahead and keeps spans in order', () => {
    const spans = upcomingSpans([win(['mon', 'wed'], '01:00', '02:00')], at('2026-11-23T12:00:00Z'));
    const starts = spans.map((s) => s.startsAt.toISOString());
    expect(starts).toContain('2026-11-25T01:00:00.000Z');
    expect(starts).toContain('2026-11-30T01:00:00.000Z');
    expect([...starts].sort()).toEqual(starts);
  });

  it('validates the shape, the times and the zone, naming each problem at its path', () => {
    expect(maintenanceWindowProblems([win(['mon'], '01:00', '03:30', 'Europe/Berlin')])).toEqual([]);
    expect(maintenanceWindowProblems([win(['mon'], '00:00', '24:00')])).toEqual([]);
    expect(maintenanceWindowProblems(null)).toEqual([]);
    expect(maintenanceWindowProblems({})).toEqual([
      { path: '', message: 'must be a list of { days, start, end, timeZone }' },
    ]);
    expect(maintenanceWindowProblems([win(['mon'], '01:00', '02:00'), 'x'])).toEqual([
      { path: '1', message: 'must be { days, start, end, timeZone }' },
    ]);
    expect(
      maintenanceWindowProblems([{ days: ['monday'], start: '1:00', end: '25:00', timeZone: 'Mars/Olympus', x: 1 }]),
    ).toEqual([
      { path: '0.x', message: 'is not a window field' },
      { path: '0.days', message: 'must list one or more of sun, mon, tue, wed, thu, fri, sat' },
      { path: '0.start', message: 'must be a time such as 01:00' },
      { path: '0.end', message: 'must be a time such as 03:30 (or 24:00)' },
      { path: '0.timeZone', message: 'must be an IANA time zone such as Europe/Berlin' },
    ]);
    expect(maintenanceWindowProblems([win(['mon'], '02:00', '02:00')])).toEqual([
      { path: '0.end', message: 'must differ from start' },
    ]);
    expect(maintenanceWindowProblems([win([], '01:00', '02:00')])).toEqual([
      { path: '0.days', message: 'must list one or more of sun, mon, tue, wed, thu, fri, sat' },
    ]);
    expect(maintenanceWindowProblems(Array.from({ length: 21 }, () => win(['mon'], '01:00', '02:00')))).toEqual([
      { path: '', message: 'may have at most 20 windows' },
    ]);
  });

  it('stores days in week order without duplicates', () => {
    expect(normalizeWindows([win(['sat', 'mon', 'mon'], '01:00', '02:00')])[0].days).toEqual(['mon', 'sat']);
  });

  it('stores the canonical name of the zone', () => {
    const [stored] = normalizeWindows([win(['mon'], '01:00', '02:00', 'europe/BERLIN')]);
    expect(stored.timeZone).toBe('Europe/Berlin');
    expect(normalizeWindows([win(['mon'], '01:00', '02:00', 'US/Eastern')])[0].timeZone).toBe('America/New_York');
  });

  it('costs a bounded number of time-zone look-ups, however many windows and views (a list shows 200 subscriptions)', () => {
    const zones = ['Europe/Berlin', 'America/New_York', 'Australia/Lord_Howe', 'Asia/Kathmandu', 'Pacific/Chatham'];
    const every = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as MaintenanceWindow['days'];
    const windows = Array.from({ length: 20 }, (_, i) =>
      win(every, `${String(i).padStart(2, '0')}:${String(i * 2).padStart(2, '0')}`, '23:59', zones[i % zones.length]),
    );
    // Two weeks around the US and Lord Howe spring changes: every zone's offset moves or is checked.
    const now = at('2026-10-01T12:00:00Z');
    const expected = span(nextWindow(windows, now));
    const lookUps = vi.spyOn(Intl.DateTimeFormat.prototype, 'formatToParts');
    try {
      for (let view = 0; view < 200; view++)
        expect(span(nextWindow(windows, new Date(now.getTime() + view)))).toEqual(expected);
      expect(lookUps.mock.calls.length).toBeLessThan(200);
      lookUps.mockClear();
      const later = at('2026-11-02T00:30:00Z');
      windowState(windows, later);
      // A new stretch of days: a few look-ups per zone and day, not per window and day.
      expect(lookUps.mock.calls.length).toBeLessThan(zones.length * 60);
    } finally {
      lookUps.mockRestore();
    }
  });
});
