import { describe, expect, it } from 'vitest';
import { FairQueue } from './fair-queue.js';

const DEADLINE = 2_000;

describe('FairQueue', () => {
  it('serves owners in arrival order while nobody has used anything', () => {
    const q = new FairQueue<string>(DEADLINE, 10);
    q.enqueue('a', 'a1');
    q.enqueue('b', 'b1');
    expect(q.next()).toEqual({ owner: 'a', item: 'a1' });
    expect(q.next()).toEqual({ owner: 'b', item: 'b1' });
    expect(q.next()).toBeUndefined();
  });

  it('puts a quiet owner ahead of a flood that was queued first, whatever its length', () => {
    const q = new FairQueue<string>(DEADLINE, 1_000);
    for (let i = 0; i < 500; i++) q.enqueue('hostile', `h${i}`);
    // Two slots busy with the flood, each evaluation killed at the deadline.
    const first = q.next()!;
    const second = q.next()!;
    expect([first.owner, second.owner]).toEqual(['hostile', 'hostile']);
    q.enqueue('quiet', 'q1');
    q.enqueue('quiet', 'q2');
    q.settle('hostile', DEADLINE);
    expect(q.next()).toEqual({ owner: 'quiet', item: 'q1' });
    q.settle('quiet', 5);
    expect(q.next()).toEqual({ owner: 'quiet', item: 'q2' });
    q.settle('quiet', 5);
    expect(q.next()!.owner).toBe('hostile');
  });

  it('a quiet owner waits at first for one evaluation of each hostile owner not yet seen, then only for a slot', () => {
    // Two slots, simulated time: hostile evaluations run 2,000 ms (the deadline), quiet ones 3 ms;
    // the quiet owner asks again every 500 ms.
    const q = new FairQueue<string>(DEADLINE, 1_000);
    const hostile = ['h1', 'h2', 'h3', 'h4', 'h5'];
    for (const owner of hostile) for (let i = 0; i < 200; i++) q.enqueue(owner, owner);
    const cost = (owner: string) => (owner === 'quiet' ? 3 : DEADLINE);
    let now = 0;
    const slots: Array<{ owner: string; endsAt: number }> = [];
    const start = () => {
      while (slots.length < 2) {
        const next = q.next();
        if (!next) return;
        slots.push({ owner: next.owner, endsAt: now + cost(next.owner) });
      }
    };
    start();
    const waits: number[] = [];
    for (let ask = 0; ask < 40; ask++) {
      const askedAt = now + 500;
      // Run the slots up to the ask.
      for (;;) {
        slots.sort((a, b) => a.endsAt - b.endsAt);
        if (!slots.length || slots[0].endsAt > askedAt) break;
        const done = slots.shift()!;
        now = done.endsAt;
        q.settle(done.owner, cost(done.owner));
        start();
      }
      now = askedAt;
      q.enqueue('quiet', 'quiet');
      // Until the quiet evaluation starts.
      for (;;) {
        slots.sort((a, b) => a.endsAt - b.endsAt);
        const done = slots.shift()!;
        now = Math.max(now, done.endsAt);
        q.settle(done.owner, cost(done.owner));
        start();
        if (slots.some((s) => s.owner === 'quiet')) break;
      }
      waits.push(now - askedAt);
    }
    // The first time: the hostile owners that had not run yet (nothing known of them) go first.
    expect(waits[0]).toBeLessThanOrEqual((hostile.length / 2) * DEADLINE);
    // Then never longer than one hostile evaluation (a slot freeing), however long the hostile queues are.
    expect(Math.max(...waits.slice(1))).toBeLessThanOrEqual(DEADLINE);
    expect(q.size).toBeGreaterThan(900);
  });

  it('shares slot time, not turns, between two busy owners', () => {
    const q = new FairQueue<string>(DEADLINE, 1_000);
    for (let i = 0; i < 200; i++) {
      q.enqueue('slow', `s${i}`);
      q.enqueue('fast', `f${i}`);
    }
    const served = { slow: 0, fast: 0 };
    for (let i = 0; i < 100; i++) {
      const { owner } = q.next()!;
      served[owner as 'slow' | 'fast']++;
      q.settle(owner, owner === 'slow' ? 1_000 : 10);
    }
    // 10 ms against 1,000 ms: the fast owner runs about a hundred times as often.
    expect(served.fast).toBeGreaterThan(90);
    expect(served.slow).toBeGreaterThanOrEqual(1);
  });

  it('an owner that was idle starts at the current level: no banked credit', () => {
    const q = new FairQueue<string>(DEADLINE, 100);
    for (let i = 0; i < 10; i++) q.enqueue('busy', `b${i}`);
    for (let i = 0; i < 5; i++) {
      const next = q.next()!;
      q.settle(next.owner, 1_000);
    }
    q.enqueue('late', 'l1');
    q.enqueue('late', 'l2');
    q.enqueue('late', 'l3');
    // The late owner's evaluations cost as much as the busy one's: it goes first (it used nothing),
    // then they alternate; its five idle turns do not buy it a run of five.
    const order = Array.from({ length: 4 }, () => {
      const next = q.next()!;
      q.settle(next.owner, 1_000);
      return next.owner;
    });
    expect(order).toEqual(['late', 'busy', 'late', 'busy']);
  });

  it('refuses past the waiting limit of one owner only', () => {
    const q = new FairQueue<string>(DEADLINE, 2);
    expect(q.enqueue('a', 'a1')).toBe(true);
    expect(q.enqueue('a', 'a2')).toBe(true);
    expect(q.enqueue('a', 'a3')).toBe(false);
    expect(q.enqueue('b', 'b1')).toBe(true);
    expect(q.size).toBe(3);
  });

  it('keeps no entry for owners that are idle, with or without contention', () => {
    const q = new FairQueue<string>(DEADLINE, 10);
    for (let i = 0; i < 1_000; i++) {
      q.enqueue(`tenant-${i}`, 'x');
      const next = q.next()!;
      q.settle(next.owner, 5);
    }
    expect(q.owners).toBe(0);
    // Under steady contention (a busy owner always running), passers-by are forgotten too.
    for (let i = 0; i < 10; i++) q.enqueue('busy', `b${i}`);
    let running = q.next()!;
    for (let i = 0; i < 1_000; i++) {
      q.enqueue(`tenant-${i}`, 'x');
      q.settle(running.owner, running.owner === 'busy' ? DEADLINE : 5);
      running = q.next()!;
      if (q.size < 5) q.enqueue('busy', 'more');
    }
    expect(q.owners).toBeLessThanOrEqual(100);
  });
});
