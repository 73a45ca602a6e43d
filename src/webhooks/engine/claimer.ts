import { Logger } from '@nestjs/common';
import type { SchedulerRegistry } from '@nestjs/schedule';
import pg from 'pg';
import type { AppConfig } from '../../config/config.js';
import type { ClaimedDelivery } from '../deliveries/delivery.rows.js';
import type { DeliveryRepository } from '../deliveries/delivery.repository.js';
import { DELIVERY_CHANNEL } from './delivery-signal.js';

/** Deliveries claimed per statement. */
const CLAIM_BATCH = 256;
/**
 * While this instance holds work, claim only once this much room has freed: every claim walks
 * the due index past the entries of rows claimed since the last vacuum, so a few large claims
 * drain a backlog much faster than many small ones.
 */
const CLAIM_LOW_WATER = 64;
/** At most this many of one subscription's deliveries per claim. */
const PER_WEBHOOK_CLAIM = 128;

const SWEEP = 'delivery-sweep';
const HEARTBEAT = 'delivery-lease-heartbeat';

/** What the claimer asks of the dispatcher it feeds. */
export interface ClaimSink {
  /** Deliveries held here (claimed, queued or in flight, not yet recorded). */
  heldIds(): Iterable<string>;
  heldCount(): number;
  /** Held deliveries that still count against claiming (not those of subscriptions that can take no more). */
  busyCount(): number;
  /** Subscriptions that have enough claimed here already. */
  saturated(): string[];
  take(deliveries: ClaimedDelivery[]): void;
  /** Runs on every sweep. */
  tick(): void;
}

/** How often followers left waiting with nothing to release them are looked for. */
const STRANDED_FOLLOWERS_EVERY_MS = 60_000;

/**
 * Finds due work: claims due deliveries in batches whenever woken (in process after a commit,
 * by NOTIFY from other instances on one dedicated LISTEN connection, and by a sweep for retries
 * that come due and leases that expired), and keeps the leases of what this instance holds alive.
 */
export class Claimer {
  private readonly logger = new Logger(Claimer.name);
  private running = false;
  private claiming = false;
  /** A stranded-followers sweep under way: a sweep due meanwhile is skipped, not run beside it. */
  private releasingStranded = false;
  private claimAgain = false;
  private dueWake = true;
  /** The subscriptions excluded from the last claim, when it found nothing. */
  private fruitless: string | null = null;
  private listener: pg.Client | null = null;
  /** Deliveries claimed since start. */
  claimed = 0;

  constructor(
    private readonly config: AppConfig,
    private readonly databaseUrl: string,
    private readonly repository: DeliveryRepository,
    private readonly scheduler: SchedulerRegistry,
    private readonly sink: ClaimSink,
  ) {}

  start(): void {
    this.running = true;
    const settings = this.config.webhooks;
    let strandedAt = Date.now();
    this.scheduler.addInterval(
      SWEEP,
      setInterval(() => {
        this.sink.tick();
        this.wake();
        if (Date.now() - strandedAt >= STRANDED_FOLLOWERS_EVERY_MS) {
          strandedAt = Date.now();
          void this.releaseStrandedFollowers();
        }
      }, settings.sweepIntervalMs),
    );
    this.scheduler.addInterval(
      HEARTBEAT,
      setInterval(() => void this.extendLeases(), Math.max(1_000, Math.floor(settings.leaseMs / 3))),
    );
    void this.listen();
    this.wake();
  }

  /**
   * Something may be due: claim now, or right after the claim under way. `released`: only room
   * freed here (outcomes recorded); that is worth a claim unless the last one found nothing and
   * the subscriptions this instance has enough of are still the same.
   */
  wake(reason: 'due' | 'released' = 'due'): void {
    if (!this.running) return;
    if (reason === 'due') this.dueWake = true;
    if (this.claiming) {
      this.claimAgain = true;
      return;
    }
    void this.claimLoop();
  }

  /** Claims nothing more; the heartbeat and LISTEN end. */
  async stop(): Promise<void> {
    this.running = false;
    for (const name of [SWEEP, HEARTBEAT]) {
      if (this.scheduler.doesExist('interval', name)) this.scheduler.deleteInterval(name);
    }
    const listener = this.listener;
    this.listener = null;
    await listener?.end().catch(() => undefined);
  }

  private async claimLoop(): Promise<void> {
    this.claiming = true;
    const maxInFlight = this.config.webhooks.maxInFlight;
    try {
      do {
        this.claimAgain = false;
        while (this.running) {
          // Deliveries queued behind subscriptions that can take no more do not delay claiming for the others.
          const room = maxInFlight - this.sink.heldCount();
          const busy = this.sink.busyCount();
          if (room <= 0 || (busy > 0 && room < Math.min(CLAIM_LOW_WATER, maxInFlight))) break;
          const want = Math.min(room, CLAIM_BATCH);
          const excluded = this.sink.saturated();
          const key = excluded.sort().join(',');
          if (!this.dueWake && key === this.fruitless) break;
          this.dueWake = false;
          const { deliveries: batch, more } = await this.repository.claimDueDeliveries(
            want,
            excluded,
            this.config.webhooks.leaseMs,
            PER_WEBHOOK_CLAIM,
          );
          this.claimed += batch.length;
          this.sink.take(batch);
          this.fruitless = batch.length === 0 ? key : null;
          // A short batch is the end of what is due, unless subscriptions had more than their share.
          if (batch.length === 0 || (batch.length < want && !more)) break;
        }
      } while (this.claimAgain && this.running);
    } catch (error) {
      this.logger.error(`claiming deliveries failed: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      this.claiming = false;
    }
  }

  private async releaseStrandedFollowers(): Promise<void> {
    if (this.releasingStranded) return;
    this.releasingStranded = true;
    try {
      const released = await this.repository.releaseStrandedFollowers();
      if (released > 0) this.logger.warn(`released ${released} ordered deliveries left waiting for no predecessor`);
    } catch (error) {
      this.logger.warn(`looking for stranded ordered deliveries failed: ${String(error)}`);
    } finally {
      this.releasingStranded = false;
    }
  }

  private async extendLeases(): Promise<void> {
    if (!this.running || this.sink.heldCount() === 0) return;
    try {
      await this.repository.extendLeases([...this.sink.heldIds()], this.config.webhooks.leaseMs);
    } catch (error) {
      this.logger.warn(`extending leases failed: ${String(error)}`);
    }
  }

  /** Other instances' commits arrive as a NOTIFY on one dedicated connection. */
  private async listen(): Promise<void> {
    if (!this.running) return;
    const client = new pg.Client({ connectionString: this.databaseUrl, application_name: 'waybill-listener' });
    client.on('notification', () => this.wake());
    client.on('error', () => undefined);
    client.on('end', () => {
      if (this.listener === client) this.listener = null;
      if (this.running) setTimeout(() => void this.listen(), 1_000).unref();
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${DELIVERY_CHANNEL}`);
      if (this.running) this.listener = client;
      else await client.end();
    } catch (error) {
      this.logger.warn(`LISTEN failed, relying on the sweep until it reconnects: ${String(error)}`);
      await client.end().catch(() => undefined);
    }
  }
}
