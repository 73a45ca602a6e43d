import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration, parseDurationList } from './durations.js';

describe('parseDuration', () => {
  it.each([
    ['250ms', 250],
    ['5s', 5_000],
    ['30m', 1_800_000],
    ['2h', 7_200_000],
    ['5d', 432_000_000],
    ['0s', 0],
  ])('reads %s as %i ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it('reads decimal amounts and rounds to whole milliseconds', () => {
    expect(parseDuration('1.5h')).toBe(5_400_000);
    expect(parseDuration('0.5s')).toBe(500);
    expect(parseDuration('1.0005s')).toBe(1_001);
    expect(parseDuration('2.4ms')).toBe(2);
  });

  it('allows whitespace around and between the amount and the unit', () => {
    expect(parseDuration(' 5 m ')).toBe(300_000);
    expect(parseDuration('10\ts')).toBe(10_000);
  });

  it('tells minutes (m) from milliseconds (ms)', () => {
    expect(parseDuration('5m')).toBe(300_000);
    expect(parseDuration('5ms')).toBe(5);
  });

  it.each([
    [''],
    ['5'],
    ['s'],
    ['-5s'],
    ['5x'],
    ['5 seconds'],
    ['5S'],
    ['1h30m'],
    ['.5s'],
    ['5.s'],
    ['1e3ms'],
    ['5s,5m'],
  ])('returns undefined for %j', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });
});

describe('parseDurationList', () => {
  it('reads a comma-separated list in order', () => {
    expect(parseDurationList('5s,5m,30m')).toEqual([5_000, 300_000, 1_800_000]);
    expect(parseDurationList('5s, 5m , 2h,1d')).toEqual([5_000, 300_000, 7_200_000, 86_400_000]);
  });

  it('reads a single duration as a list of one', () => {
    expect(parseDurationList('10s')).toEqual([10_000]);
  });

  it('returns undefined when any part is not a duration', () => {
    expect(parseDurationList('5s,soon,30m')).toBeUndefined();
    expect(parseDurationList('5s,,30m')).toBeUndefined();
    expect(parseDurationList('5s,5m,')).toBeUndefined();
    expect(parseDurationList('')).toBeUndefined();
  });
});

describe('formatDuration', () => {
  it.each([
    [86_400_000, '1d'],
    [432_000_000, '5d'],
    [3_600_000, '1h'],
    [7_200_000, '2h'],
    [1_800_000, '30m'],
    [5_000, '5s'],
    [250, '250ms'],
    [0, '0ms'],
  ])('formats %i ms as %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it('uses the largest unit that divides the duration exactly', () => {
    expect(formatDuration(90_000)).toBe('90s');
    expect(formatDuration(5_400_000)).toBe('90m');
    expect(formatDuration(129_600_000)).toBe('36h');
    expect(formatDuration(1_500)).toBe('1500ms');
    expect(formatDuration(172_800_000)).toBe('2d');
  });

  it('gives text that parseDuration reads back to the same milliseconds', () => {
    for (const ms of [1, 999, 1_000, 1_001, 61_000, 3_600_000, 5_400_000, 86_400_000, 90_061_001, 604_800_000]) {
      expect(parseDuration(formatDuration(ms))).toBe(ms);
    }
  });
});
