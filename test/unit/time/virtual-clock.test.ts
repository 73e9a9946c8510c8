import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { VirtualClock } from '../../../src/time/virtual-clock.js';

describe('VirtualClock - time', () => {
  it('starts at 0 and only moves when advanced', async () => {
    const clock = new VirtualClock();
    expect(clock.now()).toBe(0);
    await clock.settle();
    expect(clock.now()).toBe(0);
    await clock.advance(250);
    expect(clock.now()).toBe(250);
    await clock.advance(0.5);
    expect(clock.now()).toBe(250.5);
  });

  it('wallNow is startWallMs plus virtual time', async () => {
    const clock = new VirtualClock({ startWallMs: 5_000_000 });
    expect(clock.wallNow()).toBe(5_000_000);
    await clock.advance(1234);
    expect(clock.wallNow()).toBe(5_001_234);
    expect(clock.now()).toBe(1234);
    expect(new VirtualClock().wallNow()).toBe(1_700_000_000_000);
  });

  it('rejects bad arguments with a message that says what to pass', async () => {
    const clock = new VirtualClock();
    await expect(clock.advance(-1)).rejects.toThrow(/advance: ms must be a finite number >= 0/);
    await expect(clock.advance(Number.NaN)).rejects.toThrow(/advance/);
    expect(() => clock.setTimeout(() => {}, Number.NaN)).toThrow(/setTimeout: ms must be a finite number/);
    expect(() => clock.setInterval(() => {}, 0)).toThrow(/setInterval: ms must be > 0/);
    expect(() => new VirtualClock({ startWallMs: Number.POSITIVE_INFINITY })).toThrow(/startWallMs/);
    expect(() => new VirtualClock({ settleTurns: 0 })).toThrow(/settleTurns/);
  });
});

describe('VirtualClock - timers', () => {
  it('fires timers by due time, and equal due times in the order they were set', async () => {
    const clock = new VirtualClock();
    const fired: string[] = [];
    const at = (label: string) => () => fired.push(`${label}@${clock.now()}`);
    clock.setTimeout(at('c'), 30);
    clock.setTimeout(at('a1'), 10);
    clock.setTimeout(at('b'), 20);
    clock.setTimeout(at('a2'), 10);
    clock.setTimeout(at('a3'), 10);
    await clock.advance(100);
    expect(fired).toEqual(['a1@10', 'a2@10', 'a3@10', 'b@20', 'c@30']);
    expect(clock.now()).toBe(100);
  });

  it('does not fire timers beyond the window, and fires them on a later advance', async () => {
    const clock = new VirtualClock();
    const fired: number[] = [];
    clock.setTimeout(() => fired.push(clock.now()), 50);
    await clock.advance(49);
    expect(fired).toEqual([]);
    expect(clock.nextDueAt()).toBe(50);
    await clock.advance(1);
    expect(fired).toEqual([50]);
    expect(clock.nextDueAt()).toBeUndefined();
  });

  it('treats a negative delay as 0 (a deadline that already passed)', async () => {
    const clock = new VirtualClock();
    await clock.advance(10);
    let firedAt = -1;
    clock.setTimeout(() => (firedAt = clock.now()), -5);
    expect(clock.nextDueAt()).toBe(10);
    await clock.advance(0);
    expect(firedAt).toBe(10);
  });

  it('cancel stops a timer, and is harmless twice or after it fired', async () => {
    const clock = new VirtualClock();
    const fired: string[] = [];
    const keep = clock.setTimeout(() => fired.push('keep'), 10);
    const drop = clock.setTimeout(() => fired.push('drop'), 10);
    expect(clock.pendingTimers()).toBe(2);
    drop.cancel();
    drop.cancel();
    expect(clock.pendingTimers()).toBe(1);
    await clock.advance(10);
    expect(fired).toEqual(['keep']);
    keep.cancel();
    expect(clock.pendingTimers()).toBe(0);
  });

  it('a timer can cancel a later timer due at the same time', async () => {
    const clock = new VirtualClock();
    const fired: string[] = [];
    clock.setTimeout(() => {
      fired.push('first');
      second.cancel();
    }, 5);
    const second = clock.setTimeout(() => fired.push('second'), 5);
    await clock.advance(5);
    expect(fired).toEqual(['first']);
  });

  it('intervals fire every period until cancelled, also from inside their callback', async () => {
    const clock = new VirtualClock();
    const ticks: number[] = [];
    const interval = clock.setInterval(() => {
      ticks.push(clock.now());
      if (ticks.length === 4) interval.cancel();
    }, 10);
    await clock.advance(35);
    expect(ticks).toEqual([10, 20, 30]);
    expect(clock.pendingTimers()).toBe(1);
    await clock.advance(100);
    expect(ticks).toEqual([10, 20, 30, 40]);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('an interval and a timeout due together fire in the order they were (re)armed', async () => {
    const clock = new VirtualClock();
    const fired: string[] = [];
    const interval = clock.setInterval(() => fired.push(`i@${clock.now()}`), 10);
    clock.setTimeout(() => fired.push(`t@${clock.now()}`), 20);
    await clock.advance(20);
    interval.cancel();
    // The interval re-armed for 20 when it fired at 10, after the timeout for 20 was set.
    expect(fired).toEqual(['i@10', 't@20', 'i@20']);
  });

  it('timers set by timers fire in the same advance when due within the window', async () => {
    const clock = new VirtualClock();
    const fired: string[] = [];
    clock.setTimeout(() => {
      fired.push(`outer@${clock.now()}`);
      clock.setTimeout(() => fired.push(`zero@${clock.now()}`), 0);
      clock.setTimeout(() => {
        fired.push(`inner@${clock.now()}`);
        clock.setTimeout(() => fired.push(`late@${clock.now()}`), 100);
      }, 15);
    }, 10);
    clock.setTimeout(() => fired.push(`sibling@${clock.now()}`), 10);
    await clock.advance(30);
    expect(fired).toEqual(['outer@10', 'sibling@10', 'zero@10', 'inner@25']);
    expect(clock.nextDueAt()).toBe(125);
  });

  it('fires any random set of timers in (due, insertion) order', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ delay: fc.integer({ min: 0, max: 50 }), cancel: fc.boolean() }), { maxLength: 300 }),
        async (specs) => {
          const clock = new VirtualClock();
          const fired: number[] = [];
          const timers = specs.map((spec, index) => clock.setTimeout(() => fired.push(index), spec.delay));
          specs.forEach((spec, index) => spec.cancel && timers[index]!.cancel());
          const live = specs.map((spec, index) => ({ ...spec, index })).filter((spec) => !spec.cancel);
          expect(clock.pendingTimers()).toBe(live.length);
          await clock.advance(50);
          const expected = live.sort((x, y) => x.delay - y.delay || x.index - y.index).map((spec) => spec.index);
          expect(fired).toEqual(expected);
          expect(clock.pendingTimers()).toBe(0);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('keeps the order when most timers are cancelled (the heap is rebuilt) and more are set after', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: 200, maxLength: 400 }),
        fc.array(fc.integer({ min: 0, max: 1000 }), { maxLength: 50 }),
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        async (delays, laterDelays, seed) => {
          const clock = new VirtualClock();
          const fired: number[] = [];
          const timers = delays.map((delay, index) => clock.setTimeout(() => fired.push(index), delay));
          // Cancel in a scattered order, keeping about one timer in eight.
          const kept = delays.map((_, index) => (index * 2654435761 + seed) % 8 === 0);
          const cancelOrder = delays.map((_, index) => index).sort((x, y) => ((x * 7919 + seed) % 997) - ((y * 7919 + seed) % 997));
          for (const index of cancelOrder) if (!kept[index]) timers[index]!.cancel();
          laterDelays.forEach((delay, offset) => clock.setTimeout(() => fired.push(delays.length + offset), delay));
          const all = [...delays, ...laterDelays].map((delay, index) => ({ delay, index }));
          const expected = all
            .filter(({ index }) => index >= delays.length || kept[index])
            .sort((x, y) => x.delay - y.delay || x.index - y.index)
            .map(({ index }) => index);
          expect(clock.pendingTimers()).toBe(expected.length);
          await clock.advance(1000);
          expect(fired).toEqual(expected);
        },
      ),
      { numRuns: 30 },
    );
  });

  it('if a timer throws, advance rejects and the remaining timers stay pending', async () => {
    const clock = new VirtualClock();
    const fired: string[] = [];
    clock.setTimeout(() => {
      throw new Error('boom');
    }, 10);
    clock.setTimeout(() => fired.push('after'), 20);
    await expect(clock.advance(30)).rejects.toThrow('boom');
    expect(clock.now()).toBe(10);
    expect(fired).toEqual([]);
    await clock.advance(20);
    expect(fired).toEqual(['after']);
  });

  it('refuses a second advance while one is running', async () => {
    const clock = new VirtualClock();
    clock.setTimeout(() => {}, 10);
    const first = clock.advance(10);
    await expect(clock.advance(5)).rejects.toThrow(/already advancing/);
    await first;
    expect(clock.now()).toBe(10);
  });
});

describe('VirtualClock - promise settling', () => {
  it('lets a promise chain started by one timer finish before the next timer fires', async () => {
    const clock = new VirtualClock();
    const log: string[] = [];
    const step = async (label: string): Promise<void> => {
      await Promise.resolve();
      log.push(`${label}@${clock.now()}`);
    };
    clock.setTimeout(() => {
      void (async () => {
        await step('chain-1');
        await step('chain-2');
        await new Promise<void>((resolve) => setImmediate(resolve));
        await step('chain-3');
      })();
    }, 10);
    clock.setTimeout(() => log.push(`next@${clock.now()}`), 10);
    await clock.advance(10);
    expect(log).toEqual(['chain-1@10', 'chain-2@10', 'chain-3@10', 'next@10']);
  });

  it('runs a setImmediate scheduled from a promise callback before the next timer', async () => {
    const clock = new VirtualClock();
    const log: string[] = [];
    clock.setTimeout(() => {
      void Promise.resolve().then(() => setImmediate(() => log.push(`flush@${clock.now()}`)));
    }, 10);
    clock.setTimeout(() => log.push(`next@${clock.now()}`), 20);
    await clock.advance(20);
    expect(log).toEqual(['flush@10', 'next@20']);
  });

  it('work started before advance schedules its timers at the current time', async () => {
    const clock = new VirtualClock();
    let firedAt = -1;
    void Promise.resolve().then(() => clock.setTimeout(() => (firedAt = clock.now()), 10));
    await clock.advance(15);
    expect(firedAt).toBe(10);
  });

  it('settle runs pending callbacks without moving time or firing timers', async () => {
    const clock = new VirtualClock();
    const log: string[] = [];
    clock.setTimeout(() => log.push('timer'), 0);
    void Promise.resolve().then(() => log.push('microtask'));
    setImmediate(() => log.push('immediate'));
    await clock.settle();
    expect(log).toEqual(['microtask', 'immediate']);
    expect(clock.now()).toBe(0);
    expect(clock.pendingTimers()).toBe(1);
  });
});

describe('VirtualClock - runUntilIdle', () => {
  it('fires every timer, including chained ones, and stops at the last one', async () => {
    const clock = new VirtualClock();
    const fired: number[] = [];
    const chain = (left: number): void => {
      fired.push(clock.now());
      if (left > 0) clock.setTimeout(() => chain(left - 1), 7);
    };
    clock.setTimeout(() => chain(3), 5);
    await clock.runUntilIdle();
    expect(fired).toEqual([5, 12, 19, 26]);
    expect(clock.now()).toBe(26);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('needs maxMs when intervals are pending, and stops exactly maxMs later', async () => {
    const clock = new VirtualClock();
    const ticks: number[] = [];
    clock.setInterval(() => ticks.push(clock.now()), 10);
    await expect(clock.runUntilIdle()).rejects.toThrow(/pass \{ maxMs \}/);
    await clock.runUntilIdle({ maxMs: 45 });
    expect(ticks).toEqual([10, 20, 30, 40]);
    expect(clock.now()).toBe(45);
  });

  it('stops before a timer beyond maxMs and leaves it pending', async () => {
    const clock = new VirtualClock();
    const fired: number[] = [];
    clock.setTimeout(() => fired.push(clock.now()), 10);
    clock.setTimeout(() => fired.push(clock.now()), 500);
    await clock.runUntilIdle({ maxMs: 100 });
    expect(fired).toEqual([10]);
    expect(clock.now()).toBe(100);
    expect(clock.nextDueAt()).toBe(500);
  });

  it('gives up on a timer that re-arms itself forever when no maxMs is given', async () => {
    const clock = new VirtualClock();
    const rearm = (): void => {
      clock.setTimeout(rearm, 1);
    };
    clock.setTimeout(rearm, 1);
    await expect(clock.runUntilIdle()).rejects.toThrow(/re-arming/);
  });

  it('runs timers that promise callbacks set after the previous timer', async () => {
    const clock = new VirtualClock();
    const fired: number[] = [];
    clock.setTimeout(() => {
      void Promise.resolve().then(() => clock.setTimeout(() => fired.push(clock.now()), 3));
    }, 2);
    await clock.runUntilIdle();
    expect(fired).toEqual([5]);
  });
});
