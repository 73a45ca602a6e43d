import type { ClaimedDelivery } from '../deliveries/delivery.rows.js';

/** A subscription may have this many times its pace (concurrency or rate) claimed here. */
const LANE_BUFFER = 8;

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

/**
 * Per-subscription lanes: claimed deliveries queue in their subscription's lane and start while
 * it has fewer than `maxConcurrency` in flight and, with a rate limit, a token in its bucket.
 */
export class Lanes {
  private readonly lanes = new Map<string, Lane>();
  private readonly buckets = new Map<string, Bucket>();
  private stopped = false;

  /** `send` runs one delivery; the lane's slot is free again when it settles. */
  constructor(private readonly send: (delivery: ClaimedDelivery) => Promise<void>) {}

  enqueue(delivery: ClaimedDelivery): void {
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

  /** Subscriptions with enough claimed here already: a slow one must not fill this instance. */
  saturated(): string[] {
    const saturated: string[] = [];
    for (const [id, lane] of this.lanes) {
      const pace = Math.min(lane.maxConcurrency, lane.ratePerSecond ?? Infinity);
      if (lane.active + lane.queue.length >= LANE_BUFFER * pace) saturated.push(id);
    }
    return saturated;
  }

  /** Requests under way in every lane. */
  get active(): number {
    let active = 0;
    for (const lane of this.lanes.values()) active += lane.active;
    return active;
  }

  /** Shutdown: start nothing more; answers what was queued and not started. */
  stop(): ClaimedDelivery[] {
    this.stopped = true;
    const queued: ClaimedDelivery[] = [];
    for (const lane of this.lanes.values()) {
      if (lane.timer) clearTimeout(lane.timer);
      lane.timer = null;
      queued.push(...lane.queue);
      lane.queue = [];
    }
    return queued;
  }

  private pump(id: string, lane: Lane): void {
    while (lane.queue.length > 0 && lane.active < lane.maxConcurrency && !this.stopped) {
      if (lane.ratePerSecond !== null && !this.takeToken(id, lane)) return;
      const delivery = lane.queue.shift()!;
      lane.active += 1;
      void this.send(delivery).finally(() => {
        lane.active -= 1;
        if (lane.active === 0 && lane.queue.length === 0 && !lane.timer) this.lanes.delete(id);
        else this.pump(id, lane);
      });
    }
  }

  /** Takes a token from the lane's bucket, or sets a timer for when one is there. */
  private takeToken(id: string, lane: Lane): boolean {
    const rate = lane.ratePerSecond!;
    const now = Date.now();
    let bucket = this.buckets.get(id);
    if (!bucket) {
      bucket = { tokens: rate, refilledAt: now };
      this.buckets.set(id, bucket);
    }
    bucket.tokens = Math.min(rate, bucket.tokens + ((now - bucket.refilledAt) / 1000) * rate);
    bucket.refilledAt = now;
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return true;
    }
    if (!lane.timer) {
      const waitMs = Math.ceil(((1 - bucket.tokens) / rate) * 1000);
      lane.timer = setTimeout(() => {
        lane.timer = null;
        this.pump(id, lane);
      }, waitMs);
    }
    return false;
  }
}
