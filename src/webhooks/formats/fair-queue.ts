/**
 * Who goes next when several owners (tenants) wait for a few shared slots (the JSONata sandbox's
 * processes): the owner that has used the least slot time, not the one that asked first.
 *
 * Each dispatch charges its owner an estimate up front (so an owner already running is behind
 * the others) and the real time when it ends. An owner that starts waiting begins at the current
 * level, so neither idling banks credit nor a past burst weighs forever. Among owners at one
 * level, the one whose evaluations lately took least goes first. So an owner whose evaluations
 * each run into the deadline is behind one whose evaluations take milliseconds: the quiet one
 * waits for a slot to free, never for the other's queue.
 */
export class FairQueue<T> {
  private readonly waiting = new Map<string, T[]>();
  private readonly usage = new Map<string, number>();
  private readonly running = new Map<string, number>();
  /** How long an owner's evaluations have taken lately (a moving average); unknown until one ends. */
  private readonly typical = new Map<string, number>();
  /** The usage of the owner dispatched last: where an owner that starts waiting begins. */
  private level = 0;
  /** When the usage map grows past this, idle owners near the level are forgotten. */
  private pruneAt = 64;

  constructor(
    /** What a dispatch is charged until it ends (the deadline: the most it can cost). */
    private readonly estimateMs: number,
    /** Past this many waiting items an owner's next one is refused. */
    private readonly maxWaitingPerOwner: number,
  ) {}

  /** Queues an item; false when its owner already has `maxWaitingPerOwner` waiting. */
  enqueue(owner: string, item: T): boolean {
    let queue = this.waiting.get(owner);
    if (!queue) {
      queue = [];
      this.waiting.set(owner, queue);
      if (!this.running.get(owner)) this.usage.set(owner, Math.max(this.usage.get(owner) ?? 0, this.level));
    }
    if (queue.length >= this.maxWaitingPerOwner) {
      if (queue.length === 0) this.waiting.delete(owner);
      return false;
    }
    queue.push(item);
    return true;
  }

  /** The next item to run, charged the estimate; undefined when none waits. */
  next(): { owner: string; item: T } | undefined {
    let owner: string | undefined;
    let least = 0;
    let first = Infinity;
    for (const candidate of this.waiting.keys()) {
      const used = this.usage.get(candidate) ?? 0;
      // By when its next evaluation would end if it takes what its recent ones took.
      const finish = used + (this.typical.get(candidate) ?? 0);
      if (finish < first) {
        first = finish;
        least = used;
        owner = candidate;
      }
    }
    if (owner === undefined) return undefined;
    const queue = this.waiting.get(owner)!;
    const item = queue.shift()!;
    if (queue.length === 0) this.waiting.delete(owner);
    this.level = Math.max(this.level, least);
    this.usage.set(owner, least + this.estimateMs);
    this.running.set(owner, (this.running.get(owner) ?? 0) + 1);
    return { owner, item };
  }

  /** A dispatched item ended after `elapsedMs`: its owner is charged that instead of the estimate. */
  settle(owner: string, elapsedMs: number): void {
    const left = (this.running.get(owner) ?? 1) - 1;
    if (left > 0) this.running.set(owner, left);
    else this.running.delete(owner);
    const elapsed = Math.max(0, elapsedMs);
    if (this.running.size === 0 && this.waiting.size === 0) {
      // Nobody waits for anybody: nothing to be fair about until the next contention.
      this.usage.clear();
      this.typical.clear();
      this.level = 0;
      this.pruneAt = 64;
      return;
    }
    const before = this.typical.get(owner);
    this.typical.set(owner, before === undefined ? elapsed : (before + elapsed) / 2);
    this.usage.set(owner, (this.usage.get(owner) ?? 0) - this.estimateMs + elapsed);
    if (this.usage.size > this.pruneAt) this.forgetIdle();
  }

  /**
   * Idle owners within one estimate of the level are forgotten (they would start at the level
   * again, at most one evaluation's worth early), so memory follows the busy owners, not every
   * tenant that ever evaluated something.
   */
  private forgetIdle(): void {
    for (const [owner, used] of this.usage) {
      if (used < this.level + this.estimateMs && !this.waiting.has(owner) && !this.running.has(owner)) {
        this.usage.delete(owner);
        this.typical.delete(owner);
      }
    }
    this.pruneAt = Math.max(64, 2 * this.usage.size);
  }

  /** Items waiting, all owners together. */
  get size(): number {
    let n = 0;
    for (const queue of this.waiting.values()) n += queue.length;
    return n;
  }

  /** Owners the queue keeps anything for. */
  get owners(): number {
    return new Set([...this.waiting.keys(), ...this.usage.keys(), ...this.running.keys(), ...this.typical.keys()]).size;
  }
}
