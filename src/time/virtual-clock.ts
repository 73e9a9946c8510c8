import { InvalidArgumentError } from '../errors.js';
import type { Clock, Timer } from './clock.js';

/**
 * Virtual time for the deterministic simulation: `now()` only moves when a test calls
 * `advance()` / `runUntilIdle()`, and timers fire in a total order (due time, then the order
 * they were set), so the same operations always produce the same run.
 *
 * Between two timers the clock yields a few macrotask turns so that promise chains and
 * `setImmediate` callbacks started by one timer finish before the next timer fires, at the
 * virtual time they were started.
 *
 * @example
 *   const clock = new VirtualClock();
 *   clock.setTimeout(() => console.log('fired at', clock.now()), 100);
 *   await clock.advance(100); // prints "fired at 100"
 */
export class VirtualClock implements Clock {
  readonly #startWallMs: number;
  readonly #settleTurns: number;
  readonly #queue = new TimerQueue();
  #now = 0;
  #running = false;

  /**
   * @param options.startWallMs `wallNow()` at virtual time 0 (default 1_700_000_000_000).
   * @param options.settleTurns macrotask turns yielded between timers (default 2). One turn runs
   *   every pending promise callback; each extra turn also covers one level of `setImmediate`
   *   scheduled from a promise callback (batching flushes do that).
   */
  constructor(options: { startWallMs?: number; settleTurns?: number } = {}) {
    const { startWallMs = 1_700_000_000_000, settleTurns = 2 } = options;
    if (!Number.isFinite(startWallMs)) {
      throw new InvalidArgumentError(`VirtualClock: startWallMs must be a finite number of epoch milliseconds, got ${String(startWallMs)}`);
    }
    if (!Number.isInteger(settleTurns) || settleTurns < 1) {
      throw new InvalidArgumentError(`VirtualClock: settleTurns must be an integer >= 1, got ${String(settleTurns)}`);
    }
    this.#startWallMs = startWallMs;
    this.#settleTurns = settleTurns;
  }

  now(): number {
    return this.#now;
  }

  wallNow(): number {
    return this.#startWallMs + this.#now;
  }

  /** A negative delay means "as soon as possible" (a deadline that already passed), i.e. 0. */
  setTimeout(fn: () => void, ms: number): Timer {
    const delay = checkDelay('setTimeout', ms);
    return this.#queue.add(fn, this.#now + delay, 0);
  }

  /** `ms` must be > 0: a zero interval would fire forever without time moving. */
  setInterval(fn: () => void, ms: number): Timer {
    const period = checkDelay('setInterval', ms);
    if (period <= 0) throw new InvalidArgumentError(`VirtualClock.setInterval: ms must be > 0, got ${String(ms)}`);
    return this.#queue.add(fn, this.#now + period, period);
  }

  /** Timers set and not yet fired or cancelled (an interval counts once). */
  pendingTimers(): number {
    return this.#queue.liveCount();
  }

  /** Virtual time of the next timer, or undefined when none is pending. */
  nextDueAt(): number | undefined {
    return this.#queue.peek()?.due;
  }

  /** Let pending promise callbacks and immediates run, without moving time. */
  async settle(): Promise<void> {
    for (let i = 0; i < this.#settleTurns; i++) await new Promise<void>(yieldTurn);
  }

  /**
   * Move time forward by `ms`, firing in order every timer due within the window (including
   * timers set by those timers). If a timer throws, `advance` rejects with that error and time
   * stays at that timer's due time; the remaining timers stay pending.
   */
  async advance(ms: number): Promise<void> {
    if (!Number.isFinite(ms) || ms < 0) {
      throw new InvalidArgumentError(`VirtualClock.advance: ms must be a finite number >= 0, got ${String(ms)}`);
    }
    this.#enter('advance');
    try {
      await this.#runTo(this.#now + ms);
    } finally {
      this.#running = false;
    }
  }

  /**
   * Fire timers one after the other until none is left. With intervals pending this never ends,
   * so `maxMs` is then required: it bounds the virtual time that may pass, and when timers remain
   * beyond it, time stops exactly `maxMs` later. Without `maxMs`, it rejects after
   * 100_000 timers (timers that keep re-arming themselves).
   */
  async runUntilIdle(options: { maxMs?: number } = {}): Promise<void> {
    const { maxMs } = options;
    if (maxMs !== undefined && (!Number.isFinite(maxMs) || maxMs < 0)) {
      throw new InvalidArgumentError(`VirtualClock.runUntilIdle: maxMs must be a finite number >= 0, got ${String(maxMs)}`);
    }
    this.#enter('runUntilIdle');
    try {
      const limit = maxMs === undefined ? Infinity : this.#now + maxMs;
      let fired = 0;
      await this.settle();
      for (;;) {
        if (maxMs === undefined && this.#queue.liveIntervals > 0) {
          throw new InvalidArgumentError('VirtualClock.runUntilIdle: intervals are pending, so it would never be idle; pass { maxMs }');
        }
        const next = this.#queue.peek();
        if (next === undefined) return;
        if (next.due > limit) {
          this.#now = limit;
          return;
        }
        if (maxMs === undefined && ++fired > RUN_UNTIL_IDLE_MAX_TIMERS) {
          throw new InvalidArgumentError(
            `VirtualClock.runUntilIdle: still not idle after ${RUN_UNTIL_IDLE_MAX_TIMERS} timers (a timer keeps re-arming itself); pass { maxMs }`,
          );
        }
        await this.#fire(next);
      }
    } finally {
      this.#running = false;
    }
  }

  #enter(what: string): void {
    // Two interleaved runs would fire timers out of order; this is always a test bug.
    if (this.#running) throw new Error(`VirtualClock.${what}: the clock is already advancing; await the previous advance first`);
    this.#running = true;
  }

  async #runTo(target: number): Promise<void> {
    // Work started before advance() runs at the current time, so its timers get the right due time.
    await this.settle();
    for (;;) {
      const next = this.#queue.peek();
      if (next === undefined || next.due > target) break;
      await this.#fire(next);
    }
    this.#now = target;
  }

  async #fire(entry: TimerEntry): Promise<void> {
    this.#now = entry.due;
    this.#queue.popFiring(entry);
    entry.callback();
    await this.settle();
  }
}

const RUN_UNTIL_IDLE_MAX_TIMERS = 100_000;

function yieldTurn(resolve: () => void): void {
  setImmediate(resolve);
}

function checkDelay(method: string, ms: number): number {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) {
    throw new InvalidArgumentError(`VirtualClock.${method}: ms must be a finite number of milliseconds, got ${String(ms)}`);
  }
  return ms < 0 ? 0 : ms;
}

const PENDING = 0;
const DONE = 1;
const CANCELLED = 2;

class TimerEntry implements Timer {
  due: number;
  seq: number;
  state = PENDING;
  readonly callback: () => void;
  readonly period: number;
  readonly #queue: TimerQueue;

  constructor(queue: TimerQueue, callback: () => void, due: number, seq: number, period: number) {
    this.#queue = queue;
    this.callback = callback;
    this.due = due;
    this.seq = seq;
    this.period = period;
  }

  cancel(): void {
    if (this.state !== PENDING) return;
    this.state = CANCELLED;
    this.#queue.noteCancelled(this);
  }
}

/**
 * A binary min-heap of timers ordered by (due, seq). Cancelled timers stay in the heap (lazy
 * deletion keeps cancel O(1)) and are skipped at the top; when they make up most of the heap it
 * is rebuilt, so cancelled call timeouts cannot pile up.
 */
class TimerQueue {
  readonly #heap: TimerEntry[] = [];
  #seq = 0;
  #cancelledInHeap = 0;
  liveIntervals = 0;

  add(callback: () => void, due: number, period: number): TimerEntry {
    const entry = new TimerEntry(this, callback, due, this.#seq++, period);
    if (period > 0) this.liveIntervals++;
    this.#push(entry);
    return entry;
  }

  liveCount(): number {
    return this.#heap.length - this.#cancelledInHeap;
  }

  /** The next live timer, dropping cancelled ones from the top. */
  peek(): TimerEntry | undefined {
    const heap = this.#heap;
    while (heap.length > 0 && heap[0]!.state === CANCELLED) {
      this.#popTop();
      this.#cancelledInHeap--;
    }
    return heap[0];
  }

  /** Remove `entry` (the current top) before running it; an interval goes back in first, so it can cancel itself. */
  popFiring(entry: TimerEntry): void {
    this.#popTop();
    if (entry.period > 0) {
      entry.due += entry.period;
      entry.seq = this.#seq++;
      this.#push(entry);
    } else {
      entry.state = DONE;
    }
  }

  noteCancelled(entry: TimerEntry): void {
    if (entry.period > 0) this.liveIntervals--;
    this.#cancelledInHeap++;
    if (this.#cancelledInHeap > 64 && this.#cancelledInHeap * 2 > this.#heap.length) this.#compact();
  }

  #compact(): void {
    const heap = this.#heap;
    let kept = 0;
    for (let i = 0; i < heap.length; i++) {
      const entry = heap[i]!;
      if (entry.state !== CANCELLED) heap[kept++] = entry;
    }
    heap.length = kept;
    this.#cancelledInHeap = 0;
    for (let i = (kept >> 1) - 1; i >= 0; i--) this.#siftDown(i);
  }

  #push(entry: TimerEntry): void {
    const heap = this.#heap;
    heap.push(entry);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const up = heap[parent]!;
      if (!before(entry, up)) break;
      heap[i] = up;
      i = parent;
    }
    heap[i] = entry;
  }

  #popTop(): void {
    const heap = this.#heap;
    const last = heap.pop()!;
    if (heap.length === 0) return;
    heap[0] = last;
    this.#siftDown(0);
  }

  #siftDown(start: number): void {
    const heap = this.#heap;
    const length = heap.length;
    const entry = heap[start]!;
    let i = start;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= length) break;
      const right = left + 1;
      let child = left;
      if (right < length && before(heap[right]!, heap[left]!)) child = right;
      if (!before(heap[child]!, entry)) break;
      heap[i] = heap[child]!;
      i = child;
    }
    heap[i] = entry;
  }
}

function before(a: TimerEntry, b: TimerEntry): boolean {
  return a.due < b.due || (a.due === b.due && a.seq < b.seq);
}
