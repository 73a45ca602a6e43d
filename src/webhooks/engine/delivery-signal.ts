import { Injectable, Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';

export const DELIVERY_CHANNEL = 'waybill_deliveries';

/**
 * "There may be deliveries to send": wakes this instance's dispatcher at once and the other
 * instances through NOTIFY. NOTIFYs are coalesced (one in flight at a time, one more if woken
 * meanwhile): a NOTIFY per event would cap ingest near 1.3–2.8k events/s.
 */
@Injectable()
export class DeliverySignal {
  private readonly logger = new Logger(DeliverySignal.name);
  private readonly localListeners: Array<() => void> = [];
  private notifying = false;
  private notifyAgain = false;

  constructor(private readonly dataSource: DataSource) {}

  onWake(listener: () => void): void {
    this.localListeners.push(listener);
  }

  wake(): void {
    for (const listener of this.localListeners) listener();
    this.notifyOthers();
  }

  private notifyOthers(): void {
    if (this.notifying) {
      this.notifyAgain = true;
      return;
    }
    this.notifying = true;
    this.notifyAgain = false;
    this.dataSource
      .query(`SELECT pg_notify($1, '')`, [DELIVERY_CHANNEL])
      .catch((error: unknown) => {
        if (this.dataSource.isInitialized)
          this.logger.warn(`NOTIFY failed (other instances rely on their sweep): ${String(error)}`);
      })
      .finally(() => {
        this.notifying = false;
        if (this.notifyAgain) this.notifyOthers();
      });
  }
}

/**
 * "A feed has something new": wakes long polls of pull feeds waiting in this instance. Commits
 * made by other instances reach a waiting reader through its own periodic re-read.
 */
@Injectable()
export class FeedSignal {
  private readonly waiters = new Map<string, Set<() => void>>();

  wake(webhookIds: string[]): void {
    for (const id of webhookIds) {
      const waiting = this.waiters.get(id);
      if (!waiting) continue;
      this.waiters.delete(id);
      for (const resolve of waiting) resolve();
    }
  }

  /** Resolves when the feed is woken or after `ms`, whichever comes first. */
  next(webhookId: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      let set = this.waiters.get(webhookId);
      if (!set) {
        set = new Set();
        this.waiters.set(webhookId, set);
      }
      const done = () => {
        clearTimeout(timer);
        const current = this.waiters.get(webhookId);
        current?.delete(done);
        if (current?.size === 0) this.waiters.delete(webhookId);
        resolve();
      };
      const timer = setTimeout(done, ms);
      set.add(done);
    });
  }
}
