import { Logger } from '@nestjs/common';
import type { AppConfig } from '../../config/config.js';
import type { Tx, TransactionRunner } from '../../database/transaction.js';
import { isOperationalEventType } from '../../events/event-types.js';
import type { DomainEvent, OutboxService } from '../../events/outbox.service.js';
import type { AttemptRecord } from '../deliveries/delivery.rows.js';
import type { DeliveryRepository } from '../deliveries/delivery.repository.js';
import type {
  HealthRow,
  LockedHealthRow,
  SubscriptionHealthStore,
} from '../subscriptions/subscription-health.store.js';
import { type AttemptVerdict, applyAttempt } from './health.js';
import { deliveryFailedEvent, healthChangeEvent } from './operational-events.js';

/** Attempts written per statement. */
const RECORD_BATCH = 500;
/** A batch whose write fails (a lost connection, a deadlock) is tried this many times. */
const RECORD_TRIES = 3;

/** A finished attempt: what to write, how it counts toward health, and the event it carried. */
export interface Finished {
  record: AttemptRecord;
  verdict: AttemptVerdict;
  eventId: string;
  eventType: string;
}

/**
 * Writes finished attempts back in batches: the delivery rows, their audit rows and the
 * subscriptions' health. Subscriptions whose attempts in a batch all succeeded take one
 * statement (no read of their state is needed); the others, and a failing subscription that
 * recovers, go through the health transaction, which locks their rows, applies the health rules
 * to each attempt in order and records the operational events of what changed (`webhook.*`,
 * `delivery.failed`) in the outbox, so they commit with the change.
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
    private readonly outbox: OutboxService,
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
    let recovering: Finished[] = [];
    if (succeeded.length > 0) {
      const unwritten = new Set(await this.repository.recordSuccesses(succeeded.map((f) => f.record)));
      recovering = succeeded.filter((f) => unwritten.has(f.record.webhookId));
    }
    if (mixed.length === 0 && recovering.length === 0) return;
    await this.transactions.run(async (tx) => {
      // Like the engine's own pool: an outcome lost in a crash is only sent again.
      await tx.manager.query('SET LOCAL synchronous_commit = off');
      const failed =
        mixed.length > 0
          ? await this.repository.recordAttempts(
              tx,
              mixed.map((f) => f.record),
            )
          : [];
      const health = [...mixed, ...recovering];
      const current = await this.health.lock(tx, [...new Set(health.map((f) => f.record.webhookId))]);
      const updated = this.applyHealth(current, health);
      await this.health.write(tx, updated);
      await this.recordOperationalEvents(tx, current, updated, mixed, new Set(failed));
    });
  }

  /**
   * Per subscription, in the health transaction: `delivery.failed` for each delivery this batch
   * ended as failed, then the change of health, if any. A delivery that carried an operational
   * event records none when it fails, so two broken endpoints cannot notify each other forever.
   */
  private async recordOperationalEvents(
    tx: Tx,
    before: LockedHealthRow[],
    after: HealthRow[],
    batch: Finished[],
    failed: Set<string>,
  ): Promise<void> {
    const byTenant = new Map<string, DomainEvent[]>();
    for (const subscription of before) {
      const events: DomainEvent[] = [];
      for (const f of batch) {
        if (f.record.webhookId !== subscription.id || !failed.has(f.record.deliveryId)) continue;
        if (isOperationalEventType(f.eventType)) continue;
        events.push(
          deliveryFailedEvent(subscription, {
            deliveryId: f.record.deliveryId,
            eventId: f.eventId,
            eventType: f.eventType,
            attempts: f.record.number,
            lastStatus: f.record.responseStatus,
            errorClass: f.record.errorClass,
            reason: f.record.reason,
            permanent: f.verdict.kind === 'permanent',
            lastAttemptAt: f.record.startedAt,
          }),
        );
      }
      const changed = healthChangeEvent(
        subscription,
        subscription,
        after.find((h) => h.id === subscription.id)!,
      );
      if (changed) events.push(changed);
      if (events.length > 0)
        byTenant.set(subscription.tenantId, [...(byTenant.get(subscription.tenantId) ?? []), ...events]);
    }
    for (const [tenantId, events] of byTenant) await this.outbox.record(tx, tenantId, events);
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
