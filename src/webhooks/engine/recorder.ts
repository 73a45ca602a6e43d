import { Logger } from '@nestjs/common';
import type { AppConfig } from '../../config/config.js';
import type { TransactionRunner } from '../../database/transaction.js';
import type { AttemptRecord } from '../deliveries/delivery.rows.js';
import type { DeliveryRepository } from '../deliveries/delivery.repository.js';
import type { HealthRow, SubscriptionHealthStore } from '../subscriptions/subscription-health.store.js';
import { type AttemptVerdict, applyAttempt } from './health.js';

/** Attempts written per statement. */
const RECORD_BATCH = 500;
/** A batch whose write fails (a lost connection, a deadlock) is tried this many times. */
const RECORD_TRIES = 3;

/** A finished attempt: what to write, and how it counts toward health. */
export interface Finished {
  record: AttemptRecord;
  verdict: AttemptVerdict;
}

/**
 * Writes finished attempts back in batches: the delivery rows, their audit rows and the
 * subscriptions' health. Subscriptions whose attempts in a batch all succeeded take one
 * statement (no read of their state is needed); the others go through the health transaction,
 * which locks their rows and applies the health rules to each attempt in order.
 */
export class Recorder {
  private readonly logger = new Logger(Recorder.name);
  private readonly finished: Finished[] = [];
  private flushing: Promise<void> | null = null;

  constructor(
    private readonly config: AppConfig,
    private readonly repository: DeliveryRepository,
    private readonly health: SubscriptionHealthStore,
    private readonly transactions: TransactionRunner,
    /** Called with the deliveries of each batch once it is written (or given up on). */
    private readonly onRecorded: (deliveryIds: string[]) => void,
  ) {}

  add(finished: Finished): void {
    this.finished.push(finished);
    this.scheduleFlush();
  }

  /** Resolves once everything added so far is written. */
  async drain(): Promise<void> {
    while (this.flushing || this.finished.length > 0) {
      if (!this.flushing) this.scheduleFlush();
      await this.flushing;
    }
  }

  private scheduleFlush(): void {
    if (this.flushing) return;
    this.flushing = new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.flushLoop());
  }

  private async flushLoop(): Promise<void> {
    try {
      while (this.finished.length > 0) {
        const batch = this.finished.splice(0, RECORD_BATCH);
        for (let attempt = 1; ; attempt++) {
          try {
            await this.write(batch);
            break;
          } catch (error) {
            if (attempt < RECORD_TRIES) continue;
            // The leases expire and the deliveries are tried again: at-least-once, never lost.
            this.logger.error(
              `recording ${batch.length} attempts failed: ${error instanceof Error ? error.message : String(error)}`,
            );
            break;
          }
        }
        this.onRecorded(batch.map((f) => f.record.deliveryId));
      }
    } finally {
      this.flushing = null;
      if (this.finished.length > 0) this.scheduleFlush();
    }
  }

  private async write(batch: Finished[]): Promise<void> {
    const failing = new Set(batch.filter((f) => f.record.status !== 'delivered').map((f) => f.record.webhookId));
    const succeeded = batch.filter((f) => !failing.has(f.record.webhookId));
    const mixed = batch.filter((f) => failing.has(f.record.webhookId));
    if (succeeded.length > 0) await this.repository.recordSuccesses(succeeded.map((f) => f.record));
    if (mixed.length === 0) return;
    await this.transactions.run(async (tx) => {
      // Like the engine's own pool: an outcome lost in a crash is only sent again.
      await tx.manager.query('SET LOCAL synchronous_commit = off');
      await this.repository.recordAttempts(
        tx,
        mixed.map((f) => f.record),
      );
      const current = await this.health.lock(tx, [...failing]);
      await this.health.write(tx, this.applyHealth(current, mixed));
    });
  }

  /** Each subscription's health after its attempts of the batch, in order. */
  private applyHealth(rows: HealthRow[], batch: Finished[]): HealthRow[] {
    const rules = {
      failingAfter: this.config.webhooks.failingAfter,
      disableAfterMs: this.config.webhooks.disableAfterMs,
    };
    return rows.map((row) => {
      let state: HealthRow = row;
      for (const f of batch)
        if (f.record.webhookId === row.id) state = { ...applyAttempt(state, f.verdict, rules), id: row.id };
      return state;
    });
  }
}
