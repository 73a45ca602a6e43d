import { Logger } from '@nestjs/common';
import pg from 'pg';

/**
 * A subscription's `maxConcurrency` across every instance: slot i of subscription S is the
 * session advisory lock (hashtext(S), i) on this instance's own connection, so at most
 * `maxConcurrency` requests run to S at once whichever instances send them. A crashed instance's
 * connection closes and its slots are free at once; a lost connection loses this instance's slots,
 * and the lanes stop starting requests until they are taken again. Two subscriptions whose ids
 * hash alike share slots: stricter, never looser.
 */
export class ConcurrencySlots {
  private readonly logger = new Logger(ConcurrencySlots.name);
  private client: pg.Client | null = null;
  private connecting: Promise<pg.Client> | null = null;
  private readonly held = new Map<string, Set<number>>();
  private closed = false;
  /** One statement at a time on the connection. */
  private queue: Promise<unknown> = Promise.resolve();
  /** Called when the connection is lost with its slots. */
  onLost: () => void = () => undefined;

  constructor(private readonly databaseUrl: string) {}

  /** Slots this instance holds for a subscription. */
  count(webhookId: string): number {
    return this.held.get(webhookId)?.size ?? 0;
  }

  /** Takes free slots of the subscription until this instance holds `want` (of `max`); answers how many it holds. */
  async acquire(webhookId: string, want: number, max: number): Promise<number> {
    const mine = this.held.get(webhookId) ?? new Set<number>();
    const missing = Math.min(want, max) - mine.size;
    if (missing <= 0) return mine.size;
    const client = await this.connection();
    const { rows } = await this.serially(() =>
      client.query<{ slot: number }>(
        `SELECT s AS slot FROM generate_series(0, $2::int - 1) s
          WHERE NOT (s = ANY($3::int[])) AND pg_try_advisory_lock(hashtext($1), s)
          LIMIT $4`,
        [webhookId, max, [...mine], missing],
      ),
    );
    if (this.client !== client) return this.count(webhookId);
    for (const { slot } of rows) mine.add(slot);
    if (mine.size > 0) this.held.set(webhookId, mine);
    return mine.size;
  }

  /** Gives back slots until this instance holds `keep` (the lowest are kept). */
  async release(webhookId: string, keep = 0): Promise<void> {
    const mine = this.held.get(webhookId);
    if (!mine || mine.size <= keep) return;
    const sorted = [...mine].sort((a, b) => a - b);
    const freed = sorted.slice(keep);
    for (const slot of freed) mine.delete(slot);
    if (mine.size === 0) this.held.delete(webhookId);
    const client = this.client;
    if (!client) return;
    await this.serially(() =>
      client.query(`SELECT pg_advisory_unlock(hashtext($1), s) FROM unnest($2::int[]) s`, [webhookId, freed]),
    ).catch((error: unknown) => this.logger.warn(`releasing concurrency slots failed: ${String(error)}`));
  }

  private serially<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.held.clear();
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => undefined);
  }

  private connection(): Promise<pg.Client> {
    if (this.client) return Promise.resolve(this.client);
    if (this.closed) return Promise.reject(new Error('the concurrency slots are closed'));
    this.connecting ??= (async () => {
      const client = new pg.Client({ connectionString: this.databaseUrl, application_name: 'waybill-slots' });
      client.on('error', () => undefined);
      client.on('end', () => {
        if (this.client !== client) return;
        this.client = null;
        if (this.held.size > 0) {
          this.held.clear();
          this.onLost();
        }
      });
      try {
        await client.connect();
        if (this.closed) throw new Error('the concurrency slots are closed');
      } catch (error) {
        await client.end().catch(() => undefined);
        throw error;
      }
      this.client = client;
      return client;
    })().finally(() => (this.connecting = null));
    return this.connecting;
  }
}
