import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import pg from 'pg';
import { APP_CONFIG, type AppConfig } from '../../config/config.js';
import { DATABASE_URL } from '../../database/database.tokens.js';
import { DeliveryMetrics } from './delivery-metrics.js';
import { DELIVERY_CHANNEL, DeliverySignal } from './delivery-signal.js';
import {
  type AttemptRecord,
  type ClaimedDelivery,
  DeliveryStore,
  type HealthRow,
} from '../deliveries/delivery-store.js';
import { type AttemptVerdict, applyAttempt } from './health.js';
import { RequestComposer } from '../transport/request-composer.js';
import { nextAttemptAt, parseRetryAfter } from './retry-policy.js';
import { renderForSubscription, TransformError } from '../formats/payload-renderer.js';
import { ReceiverClient } from '../transport/receiver-client.js';
import { AUDIT_BODY_LIMIT, type AttemptOutcome, Sender } from '../transport/sender.js';

/** Deliveries claimed per statement. */
const CLAIM_BATCH = 256;
/**
 * While this instance holds work, claim only once this much room has freed: every claim walks
 * the due index past the entries of rows claimed since the last vacuum, so a few large claims
 * drain a backlog much faster than many small ones.
 */
const CLAIM_LOW_WATER = 64;
/** A subscription may have this many times its pace (concurrency or rate) claimed here. */
const LANE_BUFFER = 8;
/** At most this many of one subscription's deliveries per claim. */
const PER_WEBHOOK_CLAIM = 128;
/** Attempts written per statement. */
const RECORD_BATCH = 500;
/** A batch whose write fails (a lost connection, a deadlock) is tried this many times. */
const RECORD_TRIES = 3;

/** One subscription's share of this instance: its concurrency, its queue of claimed deliveries. */
interface Lane {
  maxConcurrency: number;
  ratePerSecond: number | null;
  active: number;
  queue: ClaimedDelivery[];
  timer: NodeJS.Timeout | null;
}

/** A token bucket per rate-limited subscription; it outlives the lane so a burst cannot reset it. */
interface Bucket {
  tokens: number;
  refilledAt: number;
}

interface Finished {
  record: AttemptRecord;
  verdict: AttemptVerdict;
}

export function verdictOf(outcome: AttemptOutcome, retryAfterMs: number | undefined): AttemptVerdict {
  const at = outcome.startedAt;
  const status = outcome.responseStatus;
  if (status !== null && status >= 200 && status < 300) return { kind: 'success', at };
  if (status === 410) return { kind: 'gone', at };
  if ((status === 429 || status === 503) && retryAfterMs !== undefined) return { kind: 'throttled', at };
  return { kind: 'failure', at };
}

/**
 * The delivery engine: claims due deliveries in batches, sends them with bounded concurrency
 * (globally and per subscription, with an optional rate), and records outcomes in batches.
 * Woken at once in process after a commit, by NOTIFY from other instances, and by a sweep for
 * retries that come due.
 */
@Injectable()
export class Dispatcher implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(Dispatcher.name);
  private readonly lanes = new Map<string, Lane>();
  private readonly buckets = new Map<string, Bucket>();
  /** Deliveries leased to this instance and not yet recorded. */
  private readonly held = new Set<string>();
  private readonly finished: Finished[] = [];
  private running = false;
  private stopping = false;
  private claiming = false;
  private claimAgain = false;
  private flushing: Promise<void> | null = null;
  private listener: pg.Client | null = null;
  private readonly idleWaiters: Array<() => void> = [];
  /** What this instance has done since it started. */
  readonly stats = { claimed: 0, attempted: 0 };

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(DATABASE_URL) private readonly databaseUrl: string,
    @Inject(DeliveryStore) private readonly store: DeliveryStore,
    @Inject(Sender) private readonly sender: Sender,
    @Inject(ReceiverClient) private readonly receivers: ReceiverClient,
    @Inject(RequestComposer) private readonly composer: RequestComposer,
    private readonly signal: DeliverySignal,
    private readonly scheduler: SchedulerRegistry,
    private readonly metrics: DeliveryMetrics,
  ) {}

  onApplicationBootstrap(): void {
    if (this.config.role === 'api') return;
    this.running = true;
    this.signal.onWake(() => this.wake());
    const settings = this.config.webhooks;
    this.scheduler.addInterval(
      'delivery-sweep',
      setInterval(() => this.wake(), settings.sweepIntervalMs),
    );
    this.scheduler.addInterval(
      'delivery-lease-heartbeat',
      setInterval(() => void this.extendLeases(), Math.max(1_000, Math.floor(settings.leaseMs / 3))),
    );
    void this.listen();
    this.wake();
  }

  /** Something may be due: claim now, or right after the claim under way. */
  wake(): void {
    if (!this.running || this.stopping) return;
    if (this.claiming) {
      this.claimAgain = true;
      return;
    }
    void this.claimLoop();
  }

  get instanceId(): string {
    return this.store.instanceId;
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
    this.stats.claimed += deliveries.length;
    for (const delivery of deliveries) this.enqueue(delivery);
  }

  /** Resolves once nothing is held here (for tests and shutdown). */
  whenIdle(): Promise<void> {
    if (this.held.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async claimLoop(): Promise<void> {
    this.claiming = true;
    try {
      do {
        this.claimAgain = false;
        while (!this.stopping) {
          const room = this.config.webhooks.maxInFlight - this.held.size;
          if (room <= 0 || (this.held.size > 0 && room < Math.min(CLAIM_LOW_WATER, this.config.webhooks.maxInFlight)))
            break;
          const want = Math.min(room, CLAIM_BATCH);
          const batch = await this.store.claimDueDeliveries(
            want,
            this.saturatedLanes(),
            this.config.webhooks.leaseMs,
            PER_WEBHOOK_CLAIM,
          );
          this.stats.claimed += batch.length;
          for (const delivery of batch) this.enqueue(delivery);
          if (batch.length < want) break;
        }
      } while (this.claimAgain && !this.stopping);
    } catch (error) {
      this.logger.error(`claiming deliveries failed: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      this.claiming = false;
    }
  }

  /** Subscriptions with enough claimed here already: a slow one must not fill this instance. */
  private saturatedLanes(): string[] {
    const saturated: string[] = [];
    for (const [id, lane] of this.lanes) {
      const pace = Math.min(lane.maxConcurrency, lane.ratePerSecond ?? Infinity);
      if (lane.active + lane.queue.length >= LANE_BUFFER * pace) saturated.push(id);
    }
    return saturated;
  }

  private enqueue(delivery: ClaimedDelivery): void {
    this.held.add(delivery.id);
    this.metrics.inFlight.set(this.held.size);
    const settings = delivery.webhook;
    let lane = this.lanes.get(settings.id);
    if (!lane) {
      lane = { maxConcurrency: 1, ratePerSecond: null, active: 0, queue: [], timer: null };
      this.lanes.set(settings.id, lane);
    }
    lane.maxConcurrency = settings.maxConcurrency;
    lane.ratePerSecond = settings.rateLimitPerSecond;
    lane.queue.push(delivery);
    this.pump(settings.id, lane);
  }

  private pump(id: string, lane: Lane): void {
    while (lane.queue.length > 0 && lane.active < lane.maxConcurrency && !this.stopping) {
      if (lane.ratePerSecond !== null) {
        const now = Date.now();
        let bucket = this.buckets.get(id);
        if (!bucket) {
          bucket = { tokens: lane.ratePerSecond, refilledAt: now };
          this.buckets.set(id, bucket);
        }
        bucket.tokens = Math.min(
          lane.ratePerSecond,
          bucket.tokens + ((now - bucket.refilledAt) / 1000) * lane.ratePerSecond,
        );
        bucket.refilledAt = now;
        if (bucket.tokens < 1) {
          if (!lane.timer) {
            const waitMs = Math.ceil(((1 - bucket.tokens) / lane.ratePerSecond) * 1000);
            lane.timer = setTimeout(() => {
              lane.timer = null;
              this.pump(id, lane);
            }, waitMs);
          }
          return;
        }
        bucket.tokens -= 1;
      }
      const delivery = lane.queue.shift()!;
      lane.active += 1;
      void this.attempt(delivery).finally(() => {
        lane.active -= 1;
        if (lane.active === 0 && lane.queue.length === 0 && !lane.timer) this.lanes.delete(id);
        else this.pump(id, lane);
      });
    }
  }

  private async attempt(delivery: ClaimedDelivery): Promise<void> {
    const now = new Date();
    let outcome: AttemptOutcome;
    let auditHeaders: Record<string, string> = {};
    // What the audit keeps of the body: null for an envelope (it is the event), the rendered body
    // otherwise, and nothing when the transform failed (nothing was sent).
    let auditBody: string | null = null;
    try {
      const rendered = await renderForSubscription(delivery.webhook, delivery.body, delivery.bodyVersion, {
        nextControlNumber: () => this.store.nextControlNumber(delivery.webhookId),
        now,
      });
      const sentAsStored =
        delivery.bodyIsEnvelope &&
        delivery.webhook.payloadFormat === 'envelope' &&
        delivery.webhook.apiVersion === delivery.bodyVersion;
      if (!sentAsStored) auditBody = rendered.body.slice(0, AUDIT_BODY_LIMIT);
      const composed = this.composer.compose(
        delivery.webhook,
        delivery.eventId,
        rendered.body,
        now,
        rendered.contentType,
      );
      auditHeaders = composed.auditHeaders;
      outcome = await this.receivers.deliver(delivery.webhook, composed.outgoing);
    } catch (error) {
      const transform = error instanceof TransformError;
      auditBody = transform ? '' : auditBody;
      outcome = {
        startedAt: now,
        durationMs: Math.round(Date.now() - now.getTime()),
        responseStatus: null,
        responseHeaders: null,
        responseBody: null,
        errorClass: transform ? 'transform_error' : 'network',
        errorMessage: transform
          ? error.message
          : `could not prepare the request: ${error instanceof Error ? error.message : String(error)}`,
      };
    }
    this.stats.attempted += 1;
    if (this.stopping && !this.held.has(delivery.id)) return;
    const finished = this.finish(delivery, outcome, auditHeaders, auditBody);
    this.observe(delivery, finished);
    this.finished.push(finished);
    this.scheduleFlush();
  }

  /** The delivery's next state after an attempt: delivered, pending until a retry, or failed. */
  private finish(
    delivery: ClaimedDelivery,
    outcome: AttemptOutcome,
    auditHeaders: Record<string, string>,
    auditBody: string | null,
  ): Finished {
    const number = delivery.attemptCount + 1;
    const status = outcome.responseStatus;
    const retryAfterMs =
      status === 429 || status === 503
        ? parseRetryAfter(outcome.responseHeaders?.['retry-after'], outcome.startedAt.getTime())
        : undefined;
    const verdict = verdictOf(outcome, retryAfterMs);
    let next: Date | null = null;
    if (verdict.kind !== 'success' && verdict.kind !== 'gone') {
      next = nextAttemptAt({
        schedule: delivery.webhook.retrySchedule ?? this.config.webhooks.retrySchedule,
        attemptsInSchedule: number - delivery.retryBase,
        retryAfterMs,
        now: Date.now(),
      });
    }
    return {
      verdict,
      record: {
        deliveryId: delivery.id,
        tenantId: delivery.tenantId,
        webhookId: delivery.webhookId,
        number,
        trigger: delivery.trigger,
        startedAt: outcome.startedAt,
        durationMs: outcome.durationMs,
        url: delivery.webhook.url,
        requestHeaders: auditHeaders,
        requestBody: auditBody,
        responseStatus: outcome.responseStatus,
        responseHeaders: outcome.responseHeaders,
        responseBody: outcome.responseBody,
        errorClass: outcome.errorClass,
        errorMessage: outcome.errorMessage,
        status: verdict.kind === 'success' ? 'delivered' : next ? 'pending' : 'failed',
        nextAttemptAt: next,
      },
    };
  }

  private observe(delivery: ClaimedDelivery, { record, verdict }: Finished): void {
    const outcome = record.status === 'delivered' ? 'delivered' : record.status === 'pending' ? 'retry' : 'failed';
    this.metrics.deliveries.inc({ outcome });
    this.metrics.attemptDuration.observe({ outcome }, record.durationMs / 1000);
    if (record.number === 1 && record.trigger === 'auto') {
      this.metrics.commitToSend.observe(Math.max(0, record.startedAt.getTime() - delivery.createdAt.getTime()) / 1000);
    }
    if (verdict.kind !== 'success') this.metrics.webhookFailures.inc({ webhook_id: delivery.webhookId });
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
            await this.store.recordAttempts(
              batch.map((f) => f.record),
              (rows) => this.applyHealth(rows, batch),
            );
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
        for (const f of batch) this.held.delete(f.record.deliveryId);
        this.metrics.inFlight.set(this.held.size);
        this.wake();
      }
    } finally {
      this.flushing = null;
      if (this.finished.length > 0) this.scheduleFlush();
      else if (this.held.size === 0) this.idleWaiters.splice(0).forEach((resolve) => resolve());
    }
  }

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

  private async extendLeases(): Promise<void> {
    if (this.stopping || this.held.size === 0) return;
    try {
      await this.store.extendLeases([...this.held], this.config.webhooks.leaseMs);
    } catch (error) {
      this.logger.warn(`extending leases failed: ${String(error)}`);
    }
  }

  /** Other instances' commits arrive as a NOTIFY on one dedicated connection. */
  private async listen(): Promise<void> {
    if (this.stopping) return;
    const client = new pg.Client({ connectionString: this.databaseUrl, application_name: 'waybill-listener' });
    client.on('notification', () => this.wake());
    client.on('error', () => undefined);
    client.on('end', () => {
      if (this.listener === client) this.listener = null;
      if (!this.stopping) setTimeout(() => void this.listen(), 1_000).unref();
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${DELIVERY_CHANNEL}`);
      this.listener = client;
    } catch (error) {
      this.logger.warn(`LISTEN failed, relying on the sweep until it reconnects: ${String(error)}`);
      await client.end().catch(() => undefined);
    }
  }

  /**
   * SIGTERM: stop claiming, let in-flight requests finish within the grace period, record them,
   * and hand back every lease not finished so another instance (or the next start) sends it.
   */
  async beforeApplicationShutdown(): Promise<void> {
    if (!this.running) {
      await this.store.close();
      return;
    }
    this.stopping = true;
    for (const name of ['delivery-sweep', 'delivery-lease-heartbeat']) {
      if (this.scheduler.doesExist('interval', name)) this.scheduler.deleteInterval(name);
    }
    const listener = this.listener;
    this.listener = null;
    await listener?.end().catch(() => undefined);

    const queued: string[] = [];
    for (const lane of this.lanes.values()) {
      if (lane.timer) clearTimeout(lane.timer);
      queued.push(...lane.queue.map((d) => d.id));
      lane.queue = [];
    }
    for (const id of queued) this.held.delete(id);
    const deadline = Date.now() + this.config.webhooks.shutdownGraceMs;
    while ([...this.lanes.values()].some((l) => l.active > 0) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    while (this.flushing || this.finished.length > 0) {
      if (!this.flushing) this.scheduleFlush();
      await this.flushing;
    }
    const unfinished = [...queued, ...this.held];
    this.held.clear();
    try {
      await this.store.releaseLeases(unfinished);
    } catch (error) {
      this.logger.warn(`could not release ${unfinished.length} leases; they expire on their own: ${String(error)}`);
    }
    this.running = false;
    await this.receivers.close().catch(() => undefined);
    await this.sender.close().catch(() => undefined);
    await this.store.close().catch(() => undefined);
  }
}
