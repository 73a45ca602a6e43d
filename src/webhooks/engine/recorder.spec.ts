import { describe, expect, it } from 'vitest';
import type { AttemptRecord } from '../deliveries/delivery.rows.js';
import { isConnectionError, storableRecord, UNSTORABLE, unstorableRecord, writeSplitting } from './recorder.js';

const dataError = (message: string) => Object.assign(new Error(message), { code: '22P02' });

describe('writeSplitting', () => {
  const refuses = (bad: Set<number>) => {
    const calls: number[][] = [];
    const write = async (records: number[]) => {
      calls.push(records);
      if (records.some((r) => bad.has(r))) throw dataError('refused');
    };
    return { calls, write };
  };

  it('writes a good batch in one call', async () => {
    const { calls, write } = refuses(new Set());
    const result = await writeSplitting([1, 2, 3, 4], write, (r) => -r);
    expect(result).toEqual({ written: [1, 2, 3, 4], lost: [] });
    expect(calls).toHaveLength(1);
  });

  it('splits a refused batch until the one bad outcome is alone, and writes it reduced', async () => {
    const { calls, write } = refuses(new Set([3]));
    const result = await writeSplitting([1, 2, 3, 4, 5, 6, 7, 8], write, (r) => -r);
    expect(result.written.sort((a, b) => a - b)).toEqual([-3, 1, 2, 4, 5, 6, 7, 8]);
    expect(result.lost).toEqual([]);
    expect(calls.length).toBeLessThanOrEqual(1 + 2 * 3 + 1);
  });

  it('gives up an outcome whose reduced form is refused too, and only that one', async () => {
    const { write } = refuses(new Set([2, -2]));
    const result = await writeSplitting([1, 2, 3], write, (r) => -r);
    expect(result.written.sort((a, b) => a - b)).toEqual([1, 3]);
    expect(result.lost.map((l) => l.record)).toEqual([2]);
  });

  it('does not split when the database cannot be reached', async () => {
    const calls: number[][] = [];
    const down = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    const result = await writeSplitting(
      [1, 2, 3, 4],
      async (records) => {
        calls.push(records);
        throw down;
      },
      (r) => -r,
    );
    expect(calls).toHaveLength(1);
    expect(result.lost.map((l) => l.record)).toEqual([1, 2, 3, 4]);
  });
});

describe('isConnectionError', () => {
  it('tells a database that cannot be reached from data it refuses', () => {
    expect(isConnectionError(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isConnectionError(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toBe(true);
    expect(isConnectionError(Object.assign(new Error('x'), { code: '57P01' }))).toBe(true);
    expect(isConnectionError(Object.assign(new Error('x'), { code: '08006' }))).toBe(true);
    expect(isConnectionError(dataError('bad'))).toBe(false);
    expect(isConnectionError(Object.assign(new Error('x'), { code: '40P01' }))).toBe(false);
  });
});

describe('storable records', () => {
  const record: AttemptRecord = {
    attemptId: '1',
    deliveryId: 'd',
    tenantId: 't',
    webhookId: 'w',
    aggregateId: null,
    number: 1,
    trigger: 'auto',
    startedAt: new Date(0),
    durationMs: 3,
    url: 'http://erp.example/in',
    requestHeaders: { 'webhook-id': 'evt_1' },
    requestBody: 'a'.repeat(16_383) + '😀',
    responseStatus: 200,
    responseHeaders: { 'x-odd': 'half \uD83D' },
    responseBody: 'ok\u0000',
    errorClass: null,
    errorMessage: null,
    reason: 'HTTP 200',
    status: 'delivered',
    retryInMs: null,
    retryBase: null,
    releasesFollower: false,
  };

  it('cuts bodies on a character boundary and strips what PostgreSQL refuses', () => {
    const clean = storableRecord(record);
    expect(clean.requestBody).toBe('a'.repeat(16_383));
    expect(clean.responseHeaders).toEqual({ 'x-odd': 'half ' });
    expect(clean.responseBody).toBe('ok');
    expect(clean.status).toBe('delivered');
  });

  it('keeps of an unstorable outcome when and what came of it, and says why', () => {
    const reduced = unstorableRecord(record, new Error('value too long'));
    expect(reduced).toMatchObject({
      errorClass: UNSTORABLE,
      responseStatus: 200,
      status: 'delivered',
      requestBody: null,
      responseBody: null,
    });
    expect(reduced.errorMessage).toContain('value too long');
  });
});
