import { Logger } from '@nestjs/common';
import type { AppConfig } from '../../config/config.js';
import type { Tx, TransactionRunner } from '../../database/transaction.js';
import { isOperationalEventType } from '../../events/event-types.js';
import type { DomainEvent, OutboxService } from '../../events/outbox.service.js';
import type { AttemptRecord } from '../deliveries/delivery.rows.js';
import type { DeliveryRepository } from '../deliveries/delivery.repository.js';
import { cutText, storableHeaders, storableText } from '../deliveries/storable.js';
import type {
  HealthRow,
  LockedHealthRow,
  SubscriptionHealthStore,
} from '../subscriptions/subscription-health.store.js';
import { AUDIT_BODY_LIMIT } from '../transport/sender.js';
import { type AttemptVerdict, applyAttempt } from './health.js';
import { deliveryFailedEvent, healthChangeEvent } from './operational-events.js';

/** Attempts written per statement. */
const RECORD_BATCH = 500;
/** The health transaction is tried this many times (a lost connection, a deadlock). */
const HEALTH_TRIES = 3;

/** A finished attempt: what to write, how it counts toward health, and the event it carried. */
export interface Finished {
  record: AttemptRecord;
  verdict: AttemptVerdict;
  eventId: string;
  eventType: string;
}

/** The error class of an attempt whose outcome could not be stored as it was. */
export const UNSTORABLE = 'unstorable_outcome';

/** An attempt as PostgreSQL can store it: texts cut on character boundaries, no lone surrogates, no NUL. */
export function storableRecord(record: AttemptRecord): AttemptRecord {
  const text = (value: string | null, limit = AUDIT_BODY_LIMIT) =>
    value === null ? null : storableText(cutText(value, limit));
  return {
    ...record,
    url: storableText(record.url),
    requestHeaders: storableHeaders(record.requestHeaders) ?? {},
    requestBody: text(record.requestBody),
    responseHeaders: storableHeaders(record.responseHeaders),
    responseBody: text(record.responseBody),
    errorMessage: text(record.errorMessage, 2_000),
    reason: text(record.reason, 2_000),
  };
}

/** What is left of an attempt whose outcome cannot be stored: when, where, what came of it, and why. */
export function unstorableRecord(record: AttemptRecord, error: unknown): AttemptRecord {
  return {
    ...record,
    url: storableText(cutText(record.url, 2_000)),
    requestHeaders: {},
    requestBody: null,
    responseHeaders: null,
    responseBody: null,
    errorClass: UNSTORABLE,
    errorMessage: storableText(
      cutText(
        `the outcome (${record.errorClass ?? `status ${record.responseStatus}`}) could not be stored: ${describe(error)}`,
        2_000,
      ),
    ),
  };
}

/** A failure of the database itself (unreachable, restarting, out of connections), as opposed to one of the data. */
export function isConnectionError(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  if (typeof code !== 'string' || !/^[0-9A-Z]{5}$/.test(code)) return true;
  return code.startsWith('08') || code.startsWith('57P') || code.startsWith('53');
}

const describe = (error: unknown) => (error instanceof Error ? error.message : String(error));

/**
 * Writes `records` with `write`, so that one outcome that cannot be stored never blocks the
 * others: a batch the database refuses for its data is split in halves, down to single
 * outcomes; a single one refused again is written as an `unstorable_outcome` attempt; only when
 * even that fails (or the database cannot be reached) is an outcome given up. Answers what was
 * written and what was given up.
 */
export async function writeSplitting<R>(
  records: R[],
  write: (records: R[]) => Promise<void>,
  fallback: (record: R, error: unknown) => R,
): Promise<{ written: R[]; lost: Array<{ record: R; error: unknown }> }> {
  try {
    await write(records);
    return { written: records, lost: [] };
  } catch (error) {
    if (isConnectionError(error)) return { written: [], lost: records.map((record) => ({ record, error })) };
    if (records.length > 1) {
      const middle = Math.ceil(records.length / 2);
      const first = await writeSplitting(records.slice(0, middle), write, fallback);
      const second = await writeSplitting(records.slice(middle), write, fallback);
      return { written: [...first.written, ...second.written], lost: [...first.lost, ...second.lost] };
    }
    const reduced = fallback(records[0], error);
    try {
      await write([reduced]);
      return { written: [reduced], lost: [] };
    } catch (again) {
      return { written: [], lost: [{ record: records[0], error: again }] };
    }
  }
}

/**
 * Writes finished attempts back in batches. Subscriptions whose attempts here all succeeded take
 * the fast way: the delivery rows and their audit rows in one statement (success health included
 * for those healthy already), then the health transaction for a recovery only. The others' outcomes
 * change a state an operational event tells of (a delivery failed for good, a subscription failing
 * or disabled): their delivery rows, audit rows, health and events are written in one transaction,
 * so a delivery is never `failed` without its `delivery.failed`, nor a subscription failing or
 * disabled without its event. A transaction that fails leaves the deliveries leased and unwritten:
 * it is tried again, and when it cannot be written the lease expires and the delivery is sent again.
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
        await this.write(batch);
        this.onRecorded(batch.map((f) => f.record.deliveryId));
      }
    } finally {
      this.flushing = null;
      if (this.finished.length > 0) this.scheduleFlush();
    }
  }

  private async write(batch: Finished[]): Promise<void> {
    const changing = new Set(batch.filter((f) => f.verdict.kind !== 'success').map((f) => f.record.webhookId));
    const successes = batch.filter((f) => !changing.has(f.record.webhookId));
    if (successes.length > 0) await this.writeSuccesses(successes);
    if (changing.size > 0) await this.writeChanges(batch.filter((f) => changing.has(f.record.webhookId)));
  }

  /** Attempts that all succeeded: one statement, then the health transaction for subscriptions that recover. */
  private async writeSuccesses(batch: Finished[]): Promise<void> {
    const healthy = new Set<string>();
    await this.writeRetrying(
      batch.map((f) => storableRecord(f.record)),
      async (part) => {
        const successes = new Map<string, Date>();
        for (const r of part) {
          const last = successes.get(r.webhookId);
          if (!last || last < r.startedAt) successes.set(r.webhookId, r.startedAt);
        }
        const written = await this.repository.recordOutcomes(part, successes);
        for (const id of written.healthy) healthy.add(id);
      },
    );
    // Subscriptions not healthy before (a recovery, a disabled one) take the health transaction.
    const rest = batch.filter((f) => !healthy.has(f.record.webhookId));
    if (rest.length === 0) return;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.transactions.run(async (tx) => {
          // Like the engine's own pool: a health change lost in a crash is only made again.
          await tx.manager.query('SET LOCAL synchronous_commit = off');
          const current = await this.health.lock(tx, [...new Set(rest.map((f) => f.record.webhookId))].sort());
          const updated = this.applyHealth(current, rest);
          await this.health.write(tx, updated);
          await this.recordOperationalEvents(tx, current, updated, rest, new Set());
        });
        return;
      } catch (error) {
        if (attempt >= HEALTH_TRIES) {
          this.logger.error(`updating subscription health failed: ${describe(error)}`);
          return;
        }
      }
    }
  }

  /** Attempts that change a state: outcomes, health and operational events in one transaction. */
  private async writeChanges(batch: Finished[]): Promise<void> {
    const byDelivery = new Map(batch.map((f) => [f.record.deliveryId, f]));
    await this.writeRetrying(
      batch.map((f) => storableRecord(f.record)),
      (part) => this.recordChanges(part.map((record) => ({ ...byDelivery.get(record.deliveryId)!, record }))),
    );
  }

  /**
   * Writes `records` with `write`, split around outcomes the database refuses (`writeSplitting`);
   * while the database cannot be reached (a restart), outcomes wait, their leases kept alive,
   * rather than be sent again.
   */
  private async writeRetrying(
    records: AttemptRecord[],
    write: (part: AttemptRecord[]) => Promise<void>,
  ): Promise<void> {
    const deadline = Date.now() + this.config.webhooks.leaseMs / 2;
    let pending = records;
    for (let wait = 100; ; wait = Math.min(wait * 2, 2_000)) {
      const { lost } = await writeSplitting(pending, write, unstorableRecord);
      if (lost.length === 0) return;
      if (!lost.every((l) => isConnectionError(l.error)) || Date.now() + wait > deadline) {
        // Their leases expire and they are sent again: at least once, never lost.
        this.logger.error(`could not record ${lost.length} attempts: ${describe(lost[0].error)}`);
        return;
      }
      pending = lost.map((l) => l.record);
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }

  /**
   * The state-changing transaction: locks the subscriptions (in id order, before any delivery
   * row, the order every writer keeps), writes the outcomes, applies the health rules to each
   * attempt in order and records the operational events of what changed. A failure after the
   * outcomes statement (the health or the events refused, a deadlock) is tried again as a whole.
   */
  private async recordChanges(batch: Finished[]): Promise<void> {
    const ids = [...new Set(batch.map((f) => f.record.webhookId))].sort();
    for (let attempt = 1; ; attempt++) {
      let outcomesWritten = false;
      try {
        await this.transactions.run(async (tx) => {
          // Like the engine's own pool: what a crash loses is lost together, and the lease sends it again.
          await tx.manager.query('SET LOCAL synchronous_commit = off');
          const current = await this.health.lock(tx, ids);
          const { failed } = await this.repository.recordOutcomesIn(
            tx,
            batch.map((f) => f.record),
          );
          outcomesWritten = true;
          const updated = this.applyHealth(current, batch);
          await this.health.write(tx, updated);
          await this.recordOperationalEvents(tx, current, updated, batch, failed);
        });
        return;
      } catch (error) {
        const again = outcomesWritten || String((error as { code?: unknown }).code).startsWith('40');
        if (!again || isConnectionError(error) || attempt >= HEALTH_TRIES) throw error;
      }
    }
  }

  /**
   * Per subscription, in the transaction that changes its health: `delivery.failed` for each delivery this batch
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
      // The tenant deleted it while an answer was on the wire: there is nothing left to tell about.
      if (subscription.deleted) continue;
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
