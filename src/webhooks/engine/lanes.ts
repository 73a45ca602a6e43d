import { Logger } from '@nestjs/common';
import type { ClaimedDelivery } from '../deliveries/delivery.rows.js';
import type { WebhookRuntime } from '../subscriptions/webhook-runtime.js';
import type { ConcurrencySlots } from './concurrency-slots.js';

/** A subscription may have this many times its pace (concurrency or rate) claimed here. */
const LANE_BUFFER = 8;
/**
 * A lane that could take no slot for this long hands its queue back for the instance that holds
 * them: at once (a sweep) when it cannot expect one (a rate-limited subscription is sent to by
 * one instance; fewer slots than instances wanting them), otherwise long enough for the holders
 * to count this instance on a sweep and give back what is above their share.
 */
const SLOT_WAIT_MS = 1_000;
const SLOT_WAIT_NO_SHARE_MS = 200;
/** A lane whose last take came back short asks again after this long (or when the counts change), not at once. */
const ACQUIRE_RETRY_MS = 200;
/** After handing back, this instance leaves the subscription to the others for this long. */
const HAND_BACK_COOLDOWN_MS = 5_000;
/**
 * An idle lane keeps its first slot this long (while the instance's slot budget has room), so a
 * steady trickle does not take and give it back each time.
 */
const IDLE_SLOT_HOLD_MS = 1_000;

/** One subscription's share of this instance. */
interface Lane {
  id: string;
  maxConcurrency: number;
  ratePerSecond: number | null;
  active: number;
  queue: ClaimedDelivery[];
  timer: NodeJS.Timeout | null;
  /** Requests that passed their check and wait for a token of the rate limit, in order. */
  waiting: Array<() => void>;
  /** Asking for slots (in the next or the running statement). */
  acquiring: boolean;
  /** Since when the lane has had work and no slot. */
  starvedSince: number | null;
  idleTimer: NodeJS.Timeout | null;
  /** Not before this time (ms) does the lane ask for slots again: its last take came back short. */
  retryAt: number;
  /** The pre-send check whose settings the lane has. */
  read: number;
}

/** A token bucket per rate-limited subscription; it outlives the lane so a burst cannot reset it. */
interface Bucket {
  tokens: number;
  refilledAt: number;
}

export interface LaneCallbacks {
  /**
   * Runs one delivery (the pre-send check, the attempt, the record); the slot is free again when
   * it settles. `token` waits for the rate limit, if any, and answers whether it had to wait.
   */
  send(delivery: ClaimedDelivery, token: () => Promise<boolean>): Promise<void>;
  /** Deliveries this instance gives back (no slot could be had): their leases are to be released. */
  handBack(deliveries: ClaimedDelivery[]): void;
}

/**
 * Per-subscription lanes. A claimed delivery queues in its subscription's lane and starts while
 * the lane has a free concurrency slot (slots are shared by all instances through the database,
 * so `maxConcurrency` holds across them) and, with a rate limit, a token in its bucket. A lane
 * takes only the slots it can use now (at most its requests queued and under way), gives back
 * what it no longer uses as its work ends, and the instance holds at most its
 * `WEBHOOK_MAX_IN_FLIGHT` slots in all. A rate-limited subscription is sent to by the instance
 * that holds its slot 0, at the full rate; the others leave it to that one. One subscription
 * holds at most half of this instance (and eight times its pace), so a slow endpoint cannot
 * fill it.
 */
export class Lanes {
  private readonly logger = new Logger(Lanes.name);
  private readonly lanes = new Map<string, Lane>();
  private readonly buckets = new Map<string, Bucket>();
  private readonly cooldown = new Map<string, number>();
  /** Lanes asking for slots in the next statement. */
  private readonly wanting = new Set<Lane>();
  private acquireScheduled = false;
  /** Idle lanes that keep a slot for a while. */
  private readonly idle = new Set<Lane>();
  private stopped = false;

  constructor(
    private readonly slots: ConcurrencySlots,
    private readonly maxInFlight: number,
    private readonly callbacks: LaneCallbacks,
  ) {
    slots.onLost = () => {
      for (const lane of this.lanes.values()) {
        this.pump(lane);
        this.settle(lane);
      }
    };
  }

  /** How many of one subscription this instance may hold at once. */
  capOf(runtime: Pick<WebhookRuntime, 'maxConcurrency' | 'rateLimitPerSecond'>): number {
    const pace = Math.min(runtime.maxConcurrency, runtime.rateLimitPerSecond ?? Infinity);
    return Math.max(1, Math.min(LANE_BUFFER * pace, Math.floor(this.maxInFlight / 2)));
  }

  /** How many more deliveries of this subscription fan-out may hand over to this instance directly. */
  roomFor(runtime: WebhookRuntime): number {
    if (this.stopped || this.coolingDown(runtime.id)) return 0;
    const lane = this.lanes.get(runtime.id);
    if (lane?.starvedSince) return 0;
    return Math.max(0, this.capOf(runtime) - (lane ? lane.active + lane.queue.length : 0));
  }

  enqueue(delivery: ClaimedDelivery): void {
    const settings = delivery.webhook;
    let lane = this.lanes.get(settings.id);
    if (!lane) {
      lane = {
        id: settings.id,
        maxConcurrency: 1,
        ratePerSecond: null,
        active: 0,
        queue: [],
        timer: null,
        waiting: [],
        acquiring: false,
        starvedSince: null,
        idleTimer: null,
        retryAt: 0,
        read: 0,
      };
      this.lanes.set(settings.id, lane);
    }
    this.apply(lane, settings);
    lane.queue.push(delivery);
    this.pump(lane);
  }

  /** The subscription's settings as pre-send check number `read` found them (an older read than the lane's last is ignored). */
  refresh(runtime: WebhookRuntime, read: number): void {
    const lane = this.lanes.get(runtime.id);
    if (!lane || read < lane.read) return;
    lane.read = read;
    this.apply(lane, runtime);
  }

  /** Subscriptions this instance should not claim more of: enough here, no slot, or just given back. */
  saturated(): string[] {
    const saturated = new Set<string>();
    const now = Date.now();
    for (const [id, until] of this.cooldown) {
      if (until > now) saturated.add(id);
      else this.cooldown.delete(id);
    }
    for (const [id, lane] of this.lanes) {
      const cap = this.capOf({ maxConcurrency: lane.maxConcurrency, rateLimitPerSecond: lane.ratePerSecond });
      if (lane.active + lane.queue.length >= cap || lane.starvedSince !== null) saturated.add(id);
    }
    return [...saturated];
  }

  /** Deliveries held in lanes that cannot take more (they do not count against claiming for others). */
  heldInSaturated(): number {
    let held = 0;
    for (const lane of this.lanes.values()) {
      const cap = this.capOf({ maxConcurrency: lane.maxConcurrency, rateLimitPerSecond: lane.ratePerSecond });
      if (lane.active + lane.queue.length >= cap || lane.starvedSince !== null) held += lane.active + lane.queue.length;
    }
    return held;
  }

  /** Requests under way in every lane. */
  get active(): number {
    let active = 0;
    for (const lane of this.lanes.values()) active += lane.active;
    return active;
  }

  /**
   * On each sweep: the instances that want each lane's slots are counted again (a lane holding
   * more than its share gives the rest back as its requests end); lanes waiting for slots try
   * again; long-starved ones give their queue back; idle buckets go.
   */
  poke(): void {
    const shared = [...this.lanes.values()].filter((l) => l.ratePerSecond === null).map((l) => l.id);
    void this.slots
      .countSharers(shared)
      .then((changed) => {
        if (!changed) return;
        for (const lane of this.lanes.values()) {
          lane.retryAt = 0;
          this.pump(lane);
        }
      })
      .catch((error: unknown) => this.logger.warn(`counting the instances that share slots failed: ${String(error)}`));
    const now = Date.now();
    for (const lane of this.lanes.values()) {
      const noShare = lane.ratePerSecond !== null || lane.maxConcurrency < this.slots.sharersOf(lane.id);
      const wait = noShare ? SLOT_WAIT_NO_SHARE_MS : SLOT_WAIT_MS;
      if (lane.starvedSince !== null && now - lane.starvedSince >= wait && lane.queue.length > 0) {
        const queued = lane.queue.splice(0);
        lane.starvedSince = null;
        this.slots.setWaiting(lane.id, false);
        this.cooldown.set(lane.id, now + HAND_BACK_COOLDOWN_MS);
        this.callbacks.handBack(queued);
        this.settle(lane);
      } else {
        this.pump(lane);
      }
    }
    for (const [id, bucket] of this.buckets) {
      // Refilled by now: a new bucket would be the same.
      if (!this.lanes.has(id) && now - bucket.refilledAt >= 1_000) this.buckets.delete(id);
    }
  }

  /** Shutdown: start nothing more; answers what was queued and not started. */
  stop(): ClaimedDelivery[] {
    this.stopped = true;
    const queued: ClaimedDelivery[] = [];
    for (const lane of this.lanes.values()) {
      if (lane.timer) clearTimeout(lane.timer);
      if (lane.idleTimer) clearTimeout(lane.idleTimer);
      lane.timer = null;
      lane.idleTimer = null;
      lane.waiting.splice(0).forEach((resolve) => resolve());
      this.idle.delete(lane);
      queued.push(...lane.queue);
      lane.queue = [];
    }
    return queued;
  }

  private apply(lane: Lane, settings: Pick<WebhookRuntime, 'maxConcurrency' | 'rateLimitPerSecond'>): void {
    lane.maxConcurrency = settings.maxConcurrency;
    lane.ratePerSecond = settings.rateLimitPerSecond;
    // A lowered limit gives back the slots above it.
    this.slots.releaseFrom(lane.id, lane.maxConcurrency);
  }

  private coolingDown(id: string): boolean {
    const until = this.cooldown.get(id);
    return until !== undefined && until > Date.now();
  }

  /**
   * Slots the lane can use now: one per request queued or under way, within its limit and, while
   * other instances deliver too, within this instance's share of it (never fewer than the
   * requests under way: a slot is given back only once its request has ended). A rate-limited
   * subscription is not shared: one instance sends to it.
   */
  private demand(lane: Lane): number {
    const share = lane.ratePerSecond === null ? this.slots.shareOf(lane.id, lane.maxConcurrency) : lane.maxConcurrency;
    return Math.min(lane.maxConcurrency, Math.max(lane.active, Math.min(share, lane.active + lane.queue.length)));
  }

  /** Slots the lane may start requests on: a rate-limited lane only while it holds slot 0. */
  private usable(lane: Lane): number {
    if (lane.ratePerSecond !== null && !this.slots.has(lane.id, 0)) return 0;
    return Math.min(lane.maxConcurrency, this.slots.count(lane.id));
  }

  private pump(lane: Lane): void {
    if (this.stopped) return;
    if (lane.idleTimer && lane.queue.length > 0) {
      clearTimeout(lane.idleTimer);
      lane.idleTimer = null;
      this.idle.delete(lane);
    }
    if (!lane.acquiring) {
      const held = this.slots.count(lane.id);
      // Not this subscription's sender (rate-limited since): its slots go to the one that is.
      if (held > 0 && this.usable(lane) === 0) this.slots.release(lane.id);
      // Slots no longer used go back at once, for other lanes and other instances.
      else if (held > this.demand(lane) && lane.active + lane.queue.length > 0)
        this.slots.release(lane.id, this.demand(lane));
      if (lane.queue.length > 0 && this.slots.count(lane.id) < this.demand(lane) && Date.now() >= lane.retryAt)
        this.acquire(lane);
      // Wanting more than it holds (short of free slots, or kept to its share): the others keep to theirs.
      if (!lane.acquiring) {
        const want = Math.min(lane.maxConcurrency, lane.active + lane.queue.length);
        this.slots.setWaiting(
          lane.id,
          lane.ratePerSecond === null && lane.queue.length > 0 && this.slots.count(lane.id) < want,
        );
      }
    }
    while (lane.queue.length > 0 && lane.active < this.usable(lane)) {
      const delivery = lane.queue.shift()!;
      lane.active += 1;
      void this.callbacks
        .send(delivery, () => this.token(lane))
        .catch((error: unknown) => this.logger.error(`sending a delivery failed: ${String(error)}`))
        .finally(() => {
          lane.active -= 1;
          this.pump(lane);
          this.settle(lane);
        });
    }
  }

  /** Asks for the slots a lane can use now, in one statement with every other lane asking in this turn. */
  private acquire(lane: Lane): void {
    lane.acquiring = true;
    this.wanting.add(lane);
    if (this.acquireScheduled) return;
    this.acquireScheduled = true;
    setImmediate(() => {
      this.acquireScheduled = false;
      const lanes = [...this.wanting];
      this.wanting.clear();
      if (this.stopped) {
        for (const l of lanes) l.acquiring = false;
        return;
      }
      const requests = lanes.map((l) => ({
        webhookId: l.id,
        want: this.demand(l),
        max: l.maxConcurrency,
        leader: l.ratePerSecond !== null,
      }));
      const missing = requests.reduce((sum, r) => sum + Math.max(0, r.want - this.slots.count(r.webhookId)), 0);
      this.makeRoom(this.slots.total + missing - this.slots.budget);
      void this.slots
        .acquire(requests)
        .catch((error: unknown) => {
          this.logger.warn(`taking concurrency slots failed: ${String(error)}`);
        })
        .then(() => {
          const now = Date.now();
          for (const l of lanes) {
            l.acquiring = false;
            if (this.usable(l) === 0 && l.queue.length > 0) l.starvedSince ??= now;
            else l.starvedSince = null;
            // Short of what it asked for: ask again on a sweep, or when the counts change, not on every turn.
            l.retryAt = this.slots.count(l.id) < this.demand(l) ? now + ACQUIRE_RETRY_MS : 0;
          }
          for (const l of lanes) {
            this.pump(l);
            this.settle(l);
          }
        });
    });
  }

  /** Gives back `over` slots for lanes that need them: idle lanes' first, then any held beyond a lane's use. */
  private makeRoom(over: number): void {
    if (over <= 0) return;
    for (const lane of [...this.idle]) {
      if (over <= 0) return;
      over -= this.slots.count(lane.id);
      this.forget(lane);
    }
    for (const lane of this.lanes.values()) {
      if (over <= 0) return;
      const spare = this.slots.count(lane.id) - this.demand(lane);
      if (spare > 0) {
        this.slots.release(lane.id, this.demand(lane));
        over -= spare;
      }
    }
  }

  /** An idle lane goes with its slots. */
  private forget(lane: Lane): void {
    this.slots.setWaiting(lane.id, false);
    if (lane.idleTimer) clearTimeout(lane.idleTimer);
    lane.idleTimer = null;
    this.idle.delete(lane);
    if (this.lanes.get(lane.id) === lane) this.lanes.delete(lane.id);
    this.slots.release(lane.id);
  }

  /** An idle lane goes; its first slot shortly after (unless work comes back or the budget needs it). */
  private settle(lane: Lane): void {
    if (lane.active > 0 || lane.queue.length > 0 || lane.timer || lane.acquiring || lane.idleTimer) return;
    if (this.slots.count(lane.id) === 0 || this.stopped) {
      this.slots.setWaiting(lane.id, false);
      if (this.lanes.get(lane.id) === lane) this.lanes.delete(lane.id);
      return;
    }
    this.slots.release(lane.id, 1);
    this.idle.add(lane);
    lane.idleTimer = setTimeout(() => {
      lane.idleTimer = null;
      if (lane.active > 0 || lane.queue.length > 0) return;
      this.forget(lane);
    }, IDLE_SLOT_HOLD_MS);
    lane.idleTimer.unref();
  }

  /** A token of the lane's rate limit, right away or in turn; answers whether it had to wait. */
  private token(lane: Lane): Promise<boolean> {
    if (lane.ratePerSecond === null) return Promise.resolve(false);
    if (lane.waiting.length === 0 && this.takeToken(lane)) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      lane.waiting.push(() => resolve(true));
      this.grant(lane);
    });
  }

  /** Hands tokens to the waiting requests as the bucket refills. */
  private grant(lane: Lane): void {
    while (lane.waiting.length > 0 && !this.stopped) {
      if (!this.takeToken(lane)) return;
      lane.waiting.shift()!();
    }
  }

  /** Takes a token from the lane's bucket, or sets a timer for when one is there. */
  private takeToken(lane: Lane): boolean {
    // Only the instance that holds slot 0 sends to a rate-limited subscription: the full rate is its.
    const rate = lane.ratePerSecond!;
    const now = Date.now();
    let bucket = this.buckets.get(lane.id);
    if (!bucket) {
      bucket = { tokens: Math.max(1, rate), refilledAt: now };
      this.buckets.set(lane.id, bucket);
    }
    bucket.tokens = Math.min(Math.max(1, rate), bucket.tokens + ((now - bucket.refilledAt) / 1000) * rate);
    bucket.refilledAt = now;
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return true;
    }
    if (!lane.timer) {
      const waitMs = Math.ceil(((1 - bucket.tokens) / rate) * 1000);
      lane.timer = setTimeout(() => {
        lane.timer = null;
        this.grant(lane);
        this.settle(lane);
      }, waitMs);
    }
    return false;
  }
}
