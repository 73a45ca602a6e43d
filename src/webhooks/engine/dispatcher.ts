import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { APP_CONFIG, type AppConfig } from '../../config/config.js';
import { DATABASE_URL } from '../../database/database.tokens.js';
import { TransactionRunner } from '../../database/transaction.js';
import { OutboxService } from '../../events/outbox.service.js';
import { statusAfterAttempt } from '../deliveries/delivery-status.js';
import type { AttemptRecord, ClaimedDelivery } from '../deliveries/delivery.rows.js';
import { DeliveryRepository } from '../deliveries/delivery.repository.js';
import { SubscriptionHealthStore } from '../subscriptions/subscription-health.store.js';
import { ReceiverClient } from '../transport/receiver-client.js';
import { Sender } from '../transport/sender.js';
import { AttemptPipeline, type AttemptResult } from './attempt.js';
import { Claimer } from './claimer.js';
import { DeliveryMetrics } from './delivery-metrics.js';
import { DeliverySignal } from './delivery-signal.js';
import { Lanes } from './lanes.js';
import { type Finished, Recorder } from './recorder.js';
import { nextAttemptAt } from './retry-policy.js';

/**
 * The delivery engine, composed of its phases: the claimer finds due deliveries and leases them,
 * the lanes hold each subscription to its concurrency and rate, the attempt pipeline sends one
 * delivery, and the recorder writes outcomes back in batches. The dispatcher owns what they
 * share: the deliveries this instance holds, and start-up and shutdown.
 */
@Injectable()
export class Dispatcher implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(Dispatcher.name);
  /** Deliveries leased to this instance and not yet recorded. */
  private readonly held = new Set<string>();
  private readonly idleWaiters: Array<() => void> = [];
  private readonly claimer: Claimer;
  private readonly lanes: Lanes;
  private readonly recorder: Recorder;
  private running = false;
  private stopping = false;
  private attempted = 0;
  private directlyTaken = 0;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(DATABASE_URL) databaseUrl: string,
    @Inject(DeliveryRepository) private readonly repository: DeliveryRepository,
    @Inject(Sender) private readonly sender: Sender,
    @Inject(ReceiverClient) private readonly receivers: ReceiverClient,
    private readonly pipeline: AttemptPipeline,
    private readonly signal: DeliverySignal,
    scheduler: SchedulerRegistry,
    private readonly metrics: DeliveryMetrics,
    health: SubscriptionHealthStore,
    transactions: TransactionRunner,
    outbox: OutboxService,
  ) {
    this.lanes = new Lanes((delivery) => this.attempt(delivery));
    this.claimer = new Claimer(config, databaseUrl, repository, scheduler, {
      heldIds: () => this.held,
      heldCount: () => this.held.size,
      saturated: () => this.lanes.saturated(),
      take: (deliveries) => deliveries.forEach((d) => this.enqueue(d)),
    });
    this.recorder = new Recorder(config, repository, health, transactions, outbox, (ids) => this.release(ids));
  }

  /** What this instance has done since it started. */
  get stats(): { claimed: number; attempted: number } {
    return { claimed: this.claimer.claimed + this.directlyTaken, attempted: this.attempted };
  }

  onApplicationBootstrap(): void {
    if (this.config.role === 'api') return;
    this.running = true;
    this.signal.onWake(() => this.wake());
    this.claimer.start();
  }

  /** Something may be due: claim now, or right after the claim under way. */
  wake(): void {
    if (!this.running || this.stopping) return;
    this.claimer.wake();
  }

  get instanceId(): string {
    return this.repository.instanceId;
  }

  get leaseMs(): number {
    return this.config.webhooks.leaseMs;
  }

  /** How many deliveries fan-out may create already leased to this instance (0 when it does not deliver). */
  roomForDirectHandOver(): number {
    if (!this.running || this.stopping) return 0;
    return Math.max(0, this.config.webhooks.maxInFlight - this.held.size);
  }

  /** Deliveries fan-out created leased to this instance, committed: send them as if claimed. */
  takeOver(deliveries: ClaimedDelivery[]): void {
    if (!this.running) return;
    this.directlyTaken += deliveries.length;
    for (const delivery of deliveries) this.enqueue(delivery);
  }

  /** Resolves once nothing is held here (for tests and shutdown). */
  whenIdle(): Promise<void> {
    if (this.held.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private enqueue(delivery: ClaimedDelivery): void {
    this.held.add(delivery.id);
    this.metrics.inFlight.set(this.held.size);
    this.lanes.enqueue(delivery);
  }

  private async attempt(delivery: ClaimedDelivery): Promise<void> {
    const result = await this.pipeline.run({
      webhook: delivery.webhook,
      eventId: delivery.eventId,
      envelope: delivery.body,
      envelopeVersion: delivery.bodyVersion,
      envelopeIsStored: delivery.bodyIsEnvelope,
    });
    this.attempted += 1;
    if (this.stopping && !this.held.has(delivery.id)) return;
    const finished: Finished = {
      record: this.recordOf(delivery, result),
      verdict: result.verdict,
      eventId: delivery.eventId,
      eventType: delivery.eventType,
    };
    this.observe(delivery, finished.record, result);
    this.recorder.add(finished);
  }

  /** The attempt as the audit keeps it, and the delivery's next state: delivered, pending until a retry, or failed. */
  private recordOf(delivery: ClaimedDelivery, result: AttemptResult): AttemptRecord {
    const { outcome, verdict } = result;
    const number = delivery.attemptCount + 1;
    const retryAt =
      verdict.kind === 'success' || verdict.kind === 'gone' || verdict.kind === 'permanent'
        ? null
        : nextAttemptAt({
            schedule: delivery.webhook.retrySchedule ?? this.config.webhooks.retrySchedule,
            attemptsInSchedule: number - delivery.retryBase,
            retryAfterMs: result.retryAfterMs,
            now: Date.now(),
          });
    return {
      deliveryId: delivery.id,
      tenantId: delivery.tenantId,
      webhookId: delivery.webhookId,
      number,
      trigger: delivery.trigger,
      startedAt: outcome.startedAt,
      durationMs: outcome.durationMs,
      url: delivery.webhook.url,
      requestHeaders: result.auditHeaders,
      requestBody: result.auditBody,
      responseStatus: outcome.responseStatus,
      responseHeaders: outcome.responseHeaders,
      responseBody: outcome.responseBody,
      errorClass: outcome.errorClass,
      errorMessage: outcome.errorMessage,
      reason: result.reason,
      status: statusAfterAttempt(verdict.kind, retryAt),
      nextAttemptAt: retryAt,
    };
  }

  private observe(delivery: ClaimedDelivery, record: AttemptRecord, result: AttemptResult): void {
    const outcome = record.status === 'delivered' ? 'delivered' : record.status === 'pending' ? 'retry' : 'failed';
    this.metrics.deliveries.inc({ outcome });
    this.metrics.attemptDuration.observe({ outcome }, record.durationMs / 1000);
    if (record.number === 1 && record.trigger === 'auto') {
      this.metrics.commitToSend.observe(Math.max(0, record.startedAt.getTime() - delivery.createdAt.getTime()) / 1000);
    }
    if (result.verdict.kind !== 'success') this.metrics.webhookFailures.inc({ webhook_id: delivery.webhookId });
  }

  /** The recorder wrote these deliveries' outcomes: they are no longer held here. */
  private release(ids: string[]): void {
    for (const id of ids) this.held.delete(id);
    this.metrics.inFlight.set(this.held.size);
    if (this.held.size === 0) this.idleWaiters.splice(0).forEach((resolve) => resolve());
    this.wake();
  }

  /**
   * SIGTERM: stop claiming, let in-flight requests finish within the grace period, record them,
   * and hand back every lease not finished so another instance (or the next start) sends it.
   */
  async beforeApplicationShutdown(): Promise<void> {
    if (!this.running) {
      await this.repository.close();
      return;
    }
    this.stopping = true;
    await this.claimer.stop();
    const queued = this.lanes.stop().map((d) => d.id);
    for (const id of queued) this.held.delete(id);
    const deadline = Date.now() + this.config.webhooks.shutdownGraceMs;
    while (this.lanes.active > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await this.recorder.drain();
    const unfinished = [...queued, ...this.held];
    this.held.clear();
    try {
      await this.repository.releaseLeases(unfinished);
    } catch (error) {
      this.logger.warn(`could not release ${unfinished.length} leases; they expire on their own: ${String(error)}`);
    }
    this.running = false;
    await this.receivers.close().catch(() => undefined);
    await this.sender.close().catch(() => undefined);
    await this.repository.close().catch(() => undefined);
  }
}
