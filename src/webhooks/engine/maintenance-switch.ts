import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { CLOCK, type Clock } from '../../common/clock.js';
import { APP_CONFIG, type AppConfig } from '../../config/config.js';
import { MaintenanceStore } from '../subscriptions/maintenance-store.js';
import { windowState } from '../subscriptions/maintenance-windows.js';
import { DeliverySignal } from './delivery-signal.js';

const TICK = 'maintenance-windows';
const BATCH = 500;
/** A tick switches at most this many batches (the next tick goes on). */
const MAX_ROUNDS = 100;

/**
 * Switches subscriptions into and out of their maintenance windows as the clock passes a
 * window's start or end (`maintenance_changes_at`). Inside, the claim holds the deliveries as
 * for a paused subscription: nothing is sent, no retry is spent, health does not change. At the
 * end the held deliveries are already due, so waking the dispatcher sends them, oldest first,
 * within a tick (WEBHOOK_SWEEP_INTERVAL_MS) and a claim.
 */
@Injectable()
export class MaintenanceSwitch implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(MaintenanceSwitch.name);
  private running = false;
  private ticking = false;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly store: MaintenanceStore,
    private readonly signal: DeliverySignal,
    private readonly scheduler: SchedulerRegistry,
  ) {}

  onApplicationBootstrap(): void {
    if (this.config.role === 'api') return;
    this.running = true;
    this.scheduler.addInterval(
      TICK,
      setInterval(() => void this.tick(), this.config.webhooks.sweepIntervalMs),
    );
  }

  onApplicationShutdown(): void {
    this.running = false;
    if (this.scheduler.doesExist('interval', TICK)) this.scheduler.deleteInterval(TICK);
  }

  /** Switches every subscription whose window state changed by now; answers how many left a window. */
  async tick(): Promise<number> {
    if (this.ticking || !this.running) return 0;
    this.ticking = true;
    let released = 0;
    try {
      const now = this.clock.now();
      // Many subscriptions share a window (01:00 local is everyone's): all of them switch now, a
      // statement per batch, not one batch per tick. Switched rows are no longer due, so this ends.
      for (let round = 0; round < MAX_ROUNDS; round++) {
        const due = await this.store.due(now, BATCH);
        const switches = due.map((row) => ({ row, ...windowState(row.windows, now) }));
        const switched = new Set(await this.store.switchStates(switches));
        const leaving = switches.filter((s) => switched.has(s.row.id) && s.row.inMaintenance && !s.inside).length;
        if (leaving > 0) this.signal.wake();
        released += leaving;
        if (due.length < BATCH) break;
      }
    } catch (error) {
      this.logger.warn(
        `switching maintenance windows failed: ${error instanceof Error ? error.message : String(error)}`,
      );
    } finally {
      this.ticking = false;
    }
    return released;
  }
}
