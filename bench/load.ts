import { Pool } from 'undici';

export interface LoadRequest {
  path: string;
  method: 'GET' | 'POST' | 'PATCH';
  headers: Record<string, string>;
  body?: string;
}

export interface LoadResult {
  requests: number;
  perSec: number;
  p50Ms: number;
  p99Ms: number;
  failures: number;
}

export const percentile = (values: number[], p: number) => {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
};

/**
 * A closed loop: `connections` clients, each sending its next request as soon as the previous
 * one answered, for `seconds`; spread over `origins` round-robin (several instances). Every
 * answer other than `expectStatus` counts as a failure (and fails the scenario: a bench that
 * measures errors measures nothing).
 */
export async function closedLoop(
  origins: string[],
  connections: number,
  seconds: number,
  next: (n: number) => LoadRequest,
  expectStatus: number,
): Promise<LoadResult> {
  const pools = origins.map((origin) => new Pool(origin, { connections: Math.ceil(connections / origins.length) }));
  const latencies: number[] = [];
  let requests = 0;
  let failures = 0;
  let firstFailure = '';
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  await Promise.all(
    Array.from({ length: connections }, async (_, c) => {
      const pool = pools[c % pools.length];
      while (performance.now() < deadline) {
        const request = next(requests++);
        const started = performance.now();
        const response = await pool.request(request);
        const text = await response.body.text();
        latencies.push(performance.now() - started);
        if (response.statusCode !== expectStatus) {
          failures += 1;
          firstFailure ||= `${response.statusCode} ${text.slice(0, 200)}`;
        }
      }
    }),
  );
  const elapsed = performance.now() - t0;
  await Promise.all(pools.map((p) => p.close()));
  if (failures > 0) throw new Error(`${failures} of ${latencies.length} requests failed, e.g. ${firstFailure}`);
  return {
    requests: latencies.length,
    perSec: (latencies.length / elapsed) * 1000,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    failures,
  };
}
