import { Logger } from '@nestjs/common';
import pg from 'pg';

/** The advisory lock key2 of a subscription's wait lock (its slots are 0 … maxConcurrency − 1). */
const WAIT_SLOT = -1;
/** The same as `pg_locks.objid` shows it (the key as an unsigned 32-bit number). */
const WAIT_OBJID = 4294967295;

/** What a lane asks for: slots of its subscription until this instance holds `want` (of `max`). */
export interface SlotRequest {
  webhookId: string;
  want: number;
  max: number;
  /** The lane may only use slots while it holds slot 0 (a rate-limited subscription's sender). */
  leader: boolean;
}

/**
 * A subscription's `maxConcurrency` across every instance: slot i of subscription S is the
 * session advisory lock (hashtext(S), i) on this instance's own connection, so at most
 * `maxConcurrency` requests run to S at once whichever instances send them. A crashed instance's
 * connection closes and its slots are free at once; a lost connection loses this instance's slots,
 * and the lanes stop starting requests until they are taken again. Two subscriptions whose ids
 * hash alike share slots: stricter, never looser.
 *
 * Advisory locks live in PostgreSQL's shared lock table (about max_locks_per_transaction ×
 * max_connections entries for every session of the server together), so the lanes take only the
 * slots they can use now and this class holds at most `budget` of them: what the instance can
 * have in flight. Requests made in the same turn of the event loop are taken in one statement,
 * releases are sent in one statement before the next take; one statement at a time on the
 * connection, so the server never holds more than the budget for this instance.
 *
 * Instances share a busy subscription's slots: an instance that wants more of them than it holds
 * takes the subscription's shared wait lock (hashtext(S), -1); while another instance does, each
 * takes at most an equal share (`maxConcurrency` divided by the instances that hold or want its
 * slots, counted on every sweep from `pg_locks`), and otherwise as many as are free, so slots an
 * instance does not need are not left idle. Without it the first instance to take a busy
 * subscription's slots kept them all while its queue lasted, and the others could only claim,
 * starve and give their claims back.
 */
export class ConcurrencySlots {
  private readonly logger = new Logger(ConcurrencySlots.name);
  private client: pg.Client | null = null;
  private connecting: Promise<pg.Client> | null = null;
  private readonly held = new Map<string, Set<number>>();
  private heldTotal = 0;
  private closed = false;
  /** One statement at a time on the connection. */
  private queue: Promise<unknown> = Promise.resolve();
  /** Slots given back here and not yet unlocked on the server. */
  private unlocking: Array<{ webhookId: string; slot: number }> = [];
  private unlockScheduled = false;
  /** Subscriptions whose wait lock this instance holds (it wants slots and has none). */
  private readonly waiting = new Set<string>();
  /** Per subscription, as last counted: the instances holding its locks, and whether another one waits for a slot. */
  private sharers = new Map<string, { n: number; othersWait: boolean }>();
  /** Called when the connection is lost with its slots. */
  onLost: () => void = () => undefined;

  constructor(
    private readonly databaseUrl: string,
    /** The most slots this instance holds at once. */
    readonly budget: number,
  ) {}

  /** Slots this instance holds for a subscription. */
  count(webhookId: string): number {
    return this.held.get(webhookId)?.size ?? 0;
  }

  /** Whether this instance holds a given slot of a subscription. */
  has(webhookId: string, slot: number): boolean {
    return this.held.get(webhookId)?.has(slot) ?? false;
  }

  /**
   * The most slots of a subscription this instance takes: all of them while no other instance
   * waits for one; while one does, an equal share among the instances that hold or want them.
   */
  shareOf(webhookId: string, maxConcurrency: number): number {
    const counted = this.sharers.get(webhookId);
    if (!counted?.othersWait) return maxConcurrency;
    return Math.max(1, Math.ceil(maxConcurrency / counted.n));
  }

  /** Instances that hold or want a subscription's slots, this one included (as last counted). */
  sharersOf(webhookId: string): number {
    return this.sharers.get(webhookId)?.n ?? 1;
  }

  /**
   * This instance wants more slots of the subscription than it holds (true), or no longer
   * (false): the wait lock tells the other holders to keep to their share. Within the budget,
   * like the slots.
   */
  setWaiting(webhookId: string, waiting: boolean): void {
    if (waiting === this.waiting.has(webhookId)) return;
    if (waiting && this.heldTotal >= this.budget) return;
    const client = this.client;
    if (!client) return;
    if (waiting) {
      this.waiting.add(webhookId);
      this.heldTotal += 1;
    } else {
      this.waiting.delete(webhookId);
    }
    void this.serially(async () => {
      if (this.client !== client) return;
      try {
        await client.query(
          waiting
            ? `SELECT pg_try_advisory_lock_shared(hashtext($1), ${WAIT_SLOT})`
            : `SELECT pg_advisory_unlock_shared(hashtext($1), ${WAIT_SLOT})`,
          [webhookId],
        );
      } catch (error) {
        this.logger.warn(`${waiting ? 'taking' : 'releasing'} a wait lock failed: ${String(error)}`);
      } finally {
        if (!waiting && this.client === client) this.heldTotal -= 1;
      }
    });
  }

  /**
   * Counts again, for these subscriptions, the instances that want their slots (this one
   * included); answers whether any count changed.
   */
  async countSharers(webhookIds: string[]): Promise<boolean> {
    const client = this.client;
    if (!client || webhookIds.length === 0) {
      const changed = this.sharers.size > 0;
      this.sharers = new Map();
      return changed;
    }
    return this.serially(async () => {
      const { rows } = await client.query<{ id: string; n: number; mine: boolean; others_wait: boolean }>(
        `WITH l AS MATERIALIZED (
           SELECT classid::bigint AS k, pid, bool_or(objid = ${WAIT_OBJID}) AS waits FROM pg_locks
            WHERE locktype = 'advisory' AND objsubid = 2 AND granted
              AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
            GROUP BY classid, pid
         )
         SELECT i.id, count(l.pid)::int AS n, coalesce(bool_or(l.pid = pg_backend_pid()), false) AS mine,
                coalesce(bool_or(l.waits AND l.pid <> pg_backend_pid()), false) AS others_wait
           FROM unnest($1::text[]) AS i(id) LEFT JOIN l ON l.k = (hashtext(i.id)::bigint + 4294967296) % 4294967296
          GROUP BY i.id`,
        [webhookIds],
      );
      const sharers = new Map<string, { n: number; othersWait: boolean }>();
      for (const { id, n, mine, others_wait } of rows) {
        // Not holding any of its locks yet, this instance is one more.
        if (n > (mine ? 1 : 0)) sharers.set(id, { n: n + (mine ? 0 : 1), othersWait: others_wait });
      }
      const changed =
        sharers.size !== this.sharers.size ||
        [...sharers].some(
          ([id, c]) => this.sharers.get(id)?.n !== c.n || this.sharers.get(id)?.othersWait !== c.othersWait,
        );
      this.sharers = sharers;
      return changed;
    });
  }

  /** Slots held (or being taken back) on the server for this instance, all subscriptions together. */
  get total(): number {
    return this.heldTotal;
  }

  /**
   * Takes free slots for several subscriptions in one statement, each up to its `want` and all
   * within the budget (the caller gives back what it can spare first). Answers the slots held
   * afterwards for each subscription asked about.
   */
  async acquire(requests: SlotRequest[]): Promise<Map<string, number>> {
    const client = await this.connection();
    return this.serially(async () => {
      await this.flushUnlocks(client);
      let room = this.budget - this.heldTotal;
      const asks: Array<{ i: number; id: string; max: number; want: number; mine: number[]; lead: boolean }> = [];
      for (const request of requests) {
        const mine = this.held.get(request.webhookId) ?? new Set<number>();
        const missing = Math.min(Math.min(request.want, request.max) - mine.size, room);
        if (missing <= 0) continue;
        const lead = request.leader && !mine.has(0);
        room -= missing;
        // The leader's slot 0 is taken first, by itself; the rest only if it was had.
        asks.push({
          i: asks.length,
          id: request.webhookId,
          max: request.max,
          want: missing - (lead ? 1 : 0),
          mine: [...mine],
          lead,
        });
      }
      if (asks.length > 0) {
        const { rows } = await client.query<{ i: number; slot: number }>(
          `WITH r AS MATERIALIZED (
             SELECT x.i, x.id, x.max, x.want, x.mine, x.lead,
                    CASE WHEN x.lead THEN pg_try_advisory_lock(hashtext(x.id), 0) ELSE true END AS ok
               FROM jsonb_to_recordset($1::jsonb) AS x(i int, id text, max int, want int, mine int[], lead bool)
           )
           SELECT r.i, 0 AS slot FROM r WHERE r.lead AND r.ok
           UNION ALL
           SELECT r.i, s.slot FROM r CROSS JOIN LATERAL (
             SELECT g AS slot FROM generate_series(CASE WHEN r.lead THEN 1 ELSE 0 END, r.max - 1) g
              WHERE CASE WHEN g = ANY(r.mine) THEN false ELSE pg_try_advisory_lock(hashtext(r.id), g) END
              LIMIT greatest(r.want, 0)
           ) s WHERE r.ok`,
          [JSON.stringify(asks)],
        );
        if (this.client !== client) {
          // The connection went while the statement ran: what it took went with it.
          return this.counts(requests);
        }
        for (const { i, slot } of rows) {
          const id = asks[i].id;
          let mine = this.held.get(id);
          if (!mine) this.held.set(id, (mine = new Set<number>()));
          if (!mine.has(slot)) {
            mine.add(slot);
            this.heldTotal += 1;
          }
        }
      }
      return this.counts(requests);
    });
  }

  /** Gives back slots until this instance holds `keep` of the subscription (the lowest are kept). */
  release(webhookId: string, keep = 0): void {
    const mine = this.held.get(webhookId);
    if (!mine || mine.size <= keep) return;
    const sorted = [...mine].sort((a, b) => a - b);
    this.unlock(webhookId, sorted.slice(keep));
  }

  /** Gives back the slots numbered `max` and above (a lowered `maxConcurrency`). */
  releaseFrom(webhookId: string, max: number): void {
    const mine = this.held.get(webhookId);
    if (!mine) return;
    this.unlock(
      webhookId,
      [...mine].filter((slot) => slot >= max),
    );
  }

  private unlock(webhookId: string, slots: number[]): void {
    const mine = this.held.get(webhookId);
    if (!mine || slots.length === 0) return;
    for (const slot of slots) {
      if (!mine.delete(slot)) continue;
      this.unlocking.push({ webhookId, slot });
    }
    if (mine.size === 0) this.held.delete(webhookId);
    const client = this.client;
    if (!client) {
      this.unlocking = [];
      this.heldTotal = 0;
      return;
    }
    // Sent with the next statement, or on the next turn of the event loop at the latest.
    if (!this.unlockScheduled && this.unlocking.length > 0) {
      this.unlockScheduled = true;
      setImmediate(() => {
        this.unlockScheduled = false;
        void this.serially(() => this.flushUnlocks(client));
      });
    }
  }

  /** Unlocks on the server what was given back here. */
  private async flushUnlocks(client: pg.Client): Promise<void> {
    const freed = this.unlocking;
    if (freed.length === 0) return;
    this.unlocking = [];
    try {
      if (this.client === client) {
        await client.query(
          `SELECT pg_advisory_unlock(hashtext(f.id), f.slot) FROM unnest($1::text[], $2::int[]) f(id, slot)`,
          [freed.map((f) => f.webhookId), freed.map((f) => f.slot)],
        );
      }
    } catch (error) {
      this.logger.warn(`releasing concurrency slots failed: ${String(error)}`);
    } finally {
      // A lost connection released them on the server.
      if (this.client === client) this.heldTotal -= freed.length;
    }
  }

  private counts(requests: SlotRequest[]): Map<string, number> {
    return new Map(requests.map((r) => [r.webhookId, this.count(r.webhookId)]));
  }

  private serially<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.held.clear();
    this.waiting.clear();
    this.unlocking = [];
    this.heldTotal = 0;
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
        this.unlocking = [];
        this.heldTotal = 0;
        this.waiting.clear();
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
