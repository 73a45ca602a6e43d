import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { API_VERSION } from '../../src/events/event-types.js';
import { envelopeProblems } from './schemas.js';

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  receivedAt: number;
}

export type Reply =
  | { status: number; headers?: Record<string, string>; body?: string; delayMs?: number }
  /** Never answer (the sender's timeout fires). */
  | 'hang'
  /** Drop the connection without an answer. */
  | 'destroy';

/**
 * A real HTTP endpoint on loopback that records every push and answers as the test says. Every
 * JSON envelope it receives is checked against its type's published schema; `close()` fails the
 * test if one did not conform, so the schemas cannot drift from what is sent.
 */
export class Receiver {
  readonly requests: ReceivedRequest[] = [];
  readonly schemaViolations: string[] = [];
  private replies: Array<Reply | ((request: ReceivedRequest) => Reply)> = [];
  private fallback: Reply | ((request: ReceivedRequest) => Reply) = { status: 200, body: 'ok' };
  private readonly server: http.Server;
  private readonly waiters: Array<{ count: number; resolve: () => void }> = [];
  private readonly hanging = new Set<http.ServerResponse>();
  url = '';

  constructor() {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const received: ReceivedRequest = {
          method: req.method ?? '',
          path: req.url ?? '',
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          receivedAt: performance.now(),
        };
        this.requests.push(received);
        this.checkSchema(received);
        for (const waiter of [...this.waiters]) {
          if (this.requests.length >= waiter.count) {
            this.waiters.splice(this.waiters.indexOf(waiter), 1);
            waiter.resolve();
          }
        }
        const next = this.replies.shift() ?? this.fallback;
        const reply = typeof next === 'function' ? next(received) : next;
        if (reply === 'hang') {
          this.hanging.add(res);
          return;
        }
        if (reply === 'destroy') {
          req.socket.destroy();
          return;
        }
        const send = () => {
          res.writeHead(reply.status, reply.headers ?? {});
          res.end(reply.body ?? '');
        };
        if (reply.delayMs) setTimeout(send, reply.delayMs);
        else send();
      });
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  /** The next replies, in order; after them the fallback. */
  replyWith(...replies: Array<Reply | ((request: ReceivedRequest) => Reply)>): this {
    this.replies.push(...replies);
    return this;
  }

  always(reply: Reply | ((request: ReceivedRequest) => Reply)): this {
    this.fallback = reply;
    return this;
  }

  /** Resolves once `count` requests have arrived in all, or rejects after `timeoutMs`. */
  waitForRequests(count: number, timeoutMs = 10_000): Promise<ReceivedRequest[]> {
    if (this.requests.length >= count) return Promise.resolve(this.requests);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`expected ${count} requests within ${timeoutMs} ms, got ${this.requests.length}`)),
        timeoutMs,
      );
      this.waiters.push({
        count,
        resolve: () => {
          clearTimeout(timer);
          resolve(this.requests);
        },
      });
    });
  }

  bodies<T = any>(): T[] {
    return this.requests.map((r) => JSON.parse(r.body) as T);
  }

  private checkSchema(request: ReceivedRequest): void {
    if (!String(request.headers['content-type'] ?? '').startsWith('application/json')) return;
    let body: unknown;
    try {
      body = JSON.parse(request.body);
    } catch {
      this.schemaViolations.push(`a push was not JSON: ${request.body.slice(0, 80)}`);
      return;
    }
    // Only envelopes of the current version: a JSONata mapping sends its own shape, and an older
    // pinned version has the shape of its day.
    const looksLikeEnvelope =
      typeof body === 'object' && body !== null && (body as { apiVersion?: unknown }).apiVersion === API_VERSION;
    if (looksLikeEnvelope) this.schemaViolations.push(...envelopeProblems(body));
  }

  async close(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    if (this.schemaViolations.length > 0) {
      throw new Error(`pushes that do not match their published schema:\n${this.schemaViolations.join('\n')}`);
    }
  }
}

export async function startReceiver(): Promise<Receiver> {
  return new Receiver().start();
}

/**
 * Polls until `check` returns a value that is not undefined/false, or fails after `timeoutMs`.
 * `what` names the state in the failure; a function is read only then (a process's output so far).
 */
export async function eventually<T>(
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 10_000,
  what: string | (() => string) = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value as T;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out waiting for ${typeof what === 'string' ? what : what()}${last ? `: ${String(last)}` : ''}`,
      );
    await new Promise((r) => setTimeout(r, 25));
  }
}
