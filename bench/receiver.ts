import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve, wallNow } from './rpc.js';

/**
 * The ERP side of the benchmark, in its own process: answers 200 at once, except under /dead
 * (never answers) and /fail (500). Counts requests by first path segment; under /latency it
 * notes when each webhook-id arrived.
 */
const counts = new Map<string, number>();
const waiters: Array<{ key: string; n: number; resolve: (t: number) => void }> = [];
const arrivals = new Map<string, number>();

const server = http.createServer((req, res) => {
  const key = (req.url ?? '/').split('/')[1] ?? '';
  if (key === 'dead') {
    req.resume();
    return;
  }
  req.resume();
  req.on('end', () => {
    const now = wallNow();
    if (key === 'latency') arrivals.set(String(req.headers['webhook-id']), now);
    const count = (counts.get(key) ?? 0) + 1;
    counts.set(key, count);
    const status = key === 'fail' ? 500 : 200;
    res.writeHead(status, { 'content-type': 'text/plain', 'content-length': '2' });
    res.end(status === 200 ? 'ok' : 'no');
    for (let i = waiters.length - 1; i >= 0; i--) {
      if (waiters[i].key === key && count >= waiters[i].n) waiters.splice(i, 1)[0].resolve(now);
    }
  });
});
server.keepAliveTimeout = 120_000;
server.headersTimeout = 0;
server.requestTimeout = 0;

server.listen(0, '127.0.0.1', () => {
  serve({
    port: () => (server.address() as AddressInfo).port,
    reset: () => {
      counts.clear();
      arrivals.clear();
    },
    count: ({ key }: { key: string }) => counts.get(key) ?? 0,
    waitFor: ({ key, n }: { key: string; n: number }) =>
      (counts.get(key) ?? 0) >= n ? wallNow() : new Promise<number>((resolve) => waiters.push({ key, n, resolve })),
    arrivals: () => Object.fromEntries(arrivals),
  });
});
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
