import { setMaxListeners } from 'node:events';
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
import type { WebhookRuntime } from '../subscriptions/webhook-runtime.js';
import type { CurrentRuntime } from '../subscriptions/webhook-runtime.js';
import { ReceiverClient } from '../transport/receiver-client.js';
import { RequestComposer } from '../transport/request-composer.js';
import { Sender } from '../transport/sender.js';
import { AttemptPipeline, type AttemptResult } from './attempt.js';
import { Claimer } from './claimer.js';
import { ConcurrencySlots } from './concurrency-slots.js';
import { DeliveryMetrics } from './delivery-metrics.js';
import { DeliverySignal } from './delivery-signal.js';
import { Lanes } from './lanes.js';
import { type Finished, Recorder } from './recorder.js';
import { retryWait } from './retry-policy.js';

/** Pre-send check statements under way at once. */
const CHECKS_AT_ONCE = 2;
/** After the grace, requests still in flight are cut; their outcomes are recorded within this long. */
const ABORT_SETTLE_MS = 5_000;

/**
 * The delivery engine, composed of its phases: the claimer finds due deliveries and leases them,
 * the lanes hold each subscription to its concurrency (across instances) and rate, a pre-send
 * check reads each subscription as it is now (admin actions win over claimed work), the attempt
 * pipeline sends one delivery, and the recorder writes outcomes back in batches. The dispatcher
 * owns what they share: the deliveries this instance holds, start-up and shutdown.
 */
@Injectable()
export class Dispatcher implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(Dispatcher.name);
  /** Deliveries leased to this instance and not yet recorded or given back. */
  private readonly held = new Map<string, ClaimedDelivery>();
  private readonly idleWaiters: Array<() => void> = [];
  private readonly claimer: Claimer;
  private readonly lanes: Lanes;
  private readonly slots: ConcurrencySlots;
  private readonly recorder: Recorder;
  private readonly abort = new AbortController();
  private checking: Array<{ webhookId: string; done: (current: CurrentRuntime | null | Error) => void }> = [];
  private checkScheduled = false;
  private checksRunning = 0;
  private checksStarted = 0;
  private returning: ClaimedDelivery[] = [];
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
    @Inject(RequestComposer) private readonly composer: RequestComposer,
    private readonly pipeline: AttemptPipeline,
    private readonly signal: DeliverySignal,
    scheduler: SchedulerRegistry,
    private readonly metrics: DeliveryMetrics,
    health: SubscriptionHealthStore,
    transactions: TransactionRunner,
    outbox: OutboxService,
  ) {
    // Every request in flight listens for shutdown on this one signal.
    setMaxListeners(0, this.abort.signal);
    this.slots = new ConcurrencySlots(databaseUrl, config.webhooks.maxInFlight);
    this.lanes = new Lanes(this.slots, config.webhooks.maxInFlight, {
      send: (delivery, token) => this.send(delivery, token),
      handBack: (deliveries) => this.giveBack(deliveries, true),
    });
    this.claimer = new Claimer(config, databaseUrl, repository, scheduler, {
      heldIds: () => this.held.keys(),
      busyCount: () => this.held.size - this.lanes.heldInSaturated(),
      heldCount: () => this.held.size,
      saturated: () => this.lanes.saturated(),
      take: (deliveries) => deliveries.forEach((d) => this.enqueue(d)),
      tick: () => {
        this.lanes.poke();
        this.receivers.forgetIdle();
        this.composer.forgetIdle();
      },
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

  /**
   * How many deliveries of this subscription fan-out may create already leased to this instance:
   * within this instance's room and the subscription's share of it (0 when it does not deliver).
   */
  roomForDirectHandOver(runtime: WebhookRuntime): number {
    if (!this.running || this.stopping) return 0;
    const room = this.config.webhooks.maxInFlight - this.held.size;
    return Math.max(0, Math.min(room, this.lanes.roomFor(runtime)));
  }

  /** Deliveries fan-out created leased to this instance, committed: send them as if claimed. */
  takeOver(deliveries: ClaimedDelivery[]): void {
    if (!this.running || this.stopping) return;
    this.directlyTaken += deliveries.length;
    for (const delivery of deliveries) this.enqueue(delivery);
  }

  /** Resolves once nothing is held here (for tests and shutdown). */
  whenIdle(): Promise<void> {
    if (this.held.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private enqueue(delivery: ClaimedDelivery): void {
    this.held.set(delivery.id, delivery);
    this.metrics.inFlight.set(this.held.size);
    this.lanes.enqueue(delivery);
  }

  /** One delivery through its lane's slot: the pre-send check, the attempt, its outcome to the recorder. */
  private async send(delivery: ClaimedDelivery, token: () => Promise<boolean>): Promise<void> {
    let current = this.stopping ? null : await this.currentSettings(delivery.webhookId);
    // A wait for the rate limit makes the check old: check again right before sending.
    if (current?.sendable && (await token()) && !this.stopping)
      current = await this.currentSettings(delivery.webhookId);
    if (!current?.sendable || this.stopping) {
      // Paused, disabled, deleted, in maintenance or switched to pull since it was claimed (or the
      // check could not be made): it is not sent under the old settings; its lease and its
      // started attempt go back (a DELETE discarded it already).
      this.giveBack([delivery], false);
      return;
    }
    delivery.webhook = current.runtime;
    const result = await this.pipeline.run(
      {
        webhook: delivery.webhook,
        eventId: delivery.eventId,
        envelope: delivery.body,
        envelopeVersion: delivery.bodyVersion,
        envelopeIsStored: delivery.bodyIsEnvelope,
      },
      new Date(),
      this.abort.signal,
    );
    this.attempted += 1;
    const finished: Finished = {
      record: this.recordOf(delivery, result),
      verdict: result.verdict,
      eventId: delivery.eventId,
      eventType: delivery.eventType,
    };
    this.observe(delivery, finished.record, result);
    this.recorder.add(finished);
  }

  /**
   * The pre-send check: the subscription as it is now, read together with the others about to
   * start (admin actions win over claimed work: a request goes out only under settings read after
   * it was claimed, just before it is sent). At most two statements at a time: checks that come
   * while both run wait for the next, so the batch grows with the load instead of the statements,
   * and a check that comes while one runs does not wait for it to end. While the
   * database cannot be reached the delivery waits (its lease kept alive) for up to a third of its
   * lease.
   */
  private async currentSettings(webhookId: string): Promise<CurrentRuntime | null> {
    const deadline = Date.now() + this.config.webhooks.leaseMs / 3;
    for (let wait = 100; ; wait = Math.min(wait * 2, 2_000)) {
      const current = await new Promise<CurrentRuntime | null | Error>((done) => {
        this.checking.push({ webhookId, done });
        this.scheduleCheck();
      });
      if (!(current instanceof Error)) return current;
      if (this.stopping || Date.now() + wait > deadline) {
        this.logger.warn(`could not check subscription ${webhookId} before sending: ${current.message}`);
        return null;
      }
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }

  private scheduleCheck(): void {
    if (this.checkScheduled || this.checksRunning >= CHECKS_AT_ONCE) return;
    this.checkScheduled = true;
    setImmediate(() => {
      this.checkScheduled = false;
      if (this.checking.length === 0) return;
      this.checksRunning += 1;
      void this.runChecks().finally(() => {
        this.checksRunning -= 1;
        if (this.checking.length > 0) this.scheduleCheck();
      });
    });
  }

  private async runChecks(): Promise<void> {
    const checks = this.checking;
    this.checking = [];
    // Two checks may run at once: a lane takes settings only from a read newer than the one it has.
    const read = ++this.checksStarted;
    try {
      const current = await this.repository.currentRuntimes([...new Set(checks.map((c) => c.webhookId))]);
      for (const { runtime } of current.values()) this.lanes.refresh(runtime, read);
      for (const check of checks) check.done(current.get(check.webhookId) ?? null);
    } catch (error) {
      const failure = error instanceof Error ? error : new Error(String(error));
      for (const check of checks) check.done(failure);
    }
  }

  /** The attempt as the audit keeps it, and the delivery's next state: delivered, pending until a retry, or failed. */
  private recordOf(delivery: ClaimedDelivery, result: AttemptResult): AttemptRecord {
    const { outcome, verdict } = result;
    const number = delivery.attemptCount + 1;
    const aborted = verdict.kind === 'aborted';
    const retryInMs =
      verdict.kind === 'success' || verdict.kind === 'gone' || verdict.kind === 'permanent'
        ? null
        : aborted
          ? 0
          : retryWait({
              schedule: delivery.webhook.retrySchedule ?? this.config.webhooks.retrySchedule,
              attemptsInSchedule: number - delivery.retryBase,
              retryAfterMs: result.retryAfterMs,
            });
    const status = statusAfterAttempt(verdict.kind, retryInMs !== null);
    return {
      attemptId: delivery.attemptId,
      deliveryId: delivery.id,
      tenantId: delivery.tenantId,
      webhookId: delivery.webhookId,
      aggregateId: delivery.aggregateId,
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
      status,
      retryInMs: status === 'pending' ? retryInMs : null,
      // An attempt cut short by shutdown spends no retry.
      retryBase: aborted ? delivery.retryBase + 1 : null,
      releasesFollower: delivery.webhook.ordered && status !== 'pending',
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

  /**
   * Deliveries this instance will not send after all: their leases go back (one statement per
   * turn of the event loop) so they are due again at once, for whichever instance can send them.
   */
  private giveBack(deliveries: ClaimedDelivery[], wakeOthers: boolean): void {
    this.returning.push(...deliveries);
    if (this.returning.length === deliveries.length) {
      setImmediate(() => {
        const returning = this.returning;
        this.returning = [];
        this.repository
          .releaseLeases(returning.map((d) => ({ deliveryId: d.id, attemptId: d.attemptId })))
          .catch((error: unknown) =>
            this.logger.warn(
              `could not release ${returning.length} leases; they expire on their own: ${String(error)}`,
            ),
          )
          .finally(() => {
            this.release(returning.map((d) => d.id));
            if (wakeOthers) this.signal.wake();
          });
      });
    }
  }

  /** These deliveries are no longer held here (recorded, or given back). */
  private release(ids: string[]): void {
    for (const id of ids) this.held.delete(id);
    this.metrics.inFlight.set(this.held.size);
    if (this.held.size === 0) this.idleWaiters.splice(0).forEach((resolve) => resolve());
    if (this.running && !this.stopping) this.claimer.wake('released');
  }

  /**
   * SIGTERM: stop claiming and starting requests; let those in flight finish within the grace;
   * then cut the rest short and record each as an `aborted` attempt (due again at once, no retry
   * spent) before its lease is released; hand back every lease not started.
   */
  async beforeApplicationShutdown(): Promise<void> {
    if (!this.running) {
      await this.slots.close();
      await this.repository.close();
      return;
    }
    this.stopping = true;
    await this.claimer.stop();
    const queued = this.lanes.stop();
    const until = async (deadline: number) => {
      while (this.lanes.active > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    };
    await until(Date.now() + this.config.webhooks.shutdownGraceMs);
    if (this.lanes.active > 0) {
      this.abort.abort();
      await until(Date.now() + ABORT_SETTLE_MS);
    }
    await this.recorder.drain();
    while (this.returning.length > 0) await new Promise((resolve) => setImmediate(resolve));
    const unfinished = new Map<string, ClaimedDelivery>(this.held);
    for (const delivery of queued) unfinished.set(delivery.id, delivery);
    try {
      await this.repository.releaseLeases(
        [...unfinished.values()].map((d) => ({ deliveryId: d.id, attemptId: d.attemptId })),
      );
    } catch (error) {
      this.logger.warn(`could not release ${unfinished.size} leases; they expire on their own: ${String(error)}`);
    }
    this.release([...unfinished.keys()]);
    this.running = false;
    await this.slots.close();
    await this.receivers.close().catch(() => undefined);
    await this.sender.close().catch(() => undefined);
    await this.repository.close().catch(() => undefined);
  }
}
