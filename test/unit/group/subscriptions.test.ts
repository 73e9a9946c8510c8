/**
 * Group subscriptions: pattern parsing, matching and batch delivery.
 *
 * Invariants checked by the property at the end, against a naive model that scans every
 * subscription for every event:
 *  1. a subscriber receives exactly the events whose cluster equals one of its subscriptions'
 *     cluster and whose key that subscription's pattern matches (ALL, equality, startsWith);
 *  2. each such event once, in batch order;
 *  3. `send` is called at most once per subscriber, never with an empty batch, and in the
 *     order of each subscriber's first matching event;
 *  4. add / remove / removeSubscriber / count / isSubscribed agree with the model.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../../src/errors.js';
import { ALL, type GroupEvent, type GroupEventCallback, type GroupEventType, type Pattern, type Subscriber } from '../../../src/group/events.js';
import { Subscriptions, normalizeCluster, parsePattern } from '../../../src/group/subscriptions.js';
import { Pid } from '../../../src/process/pid.js';

let serial = 0;
function event(cluster: string | null, key: string, type: GroupEventType = 'joined'): GroupEvent {
  serial++;
  return { type, group: 'g', cluster, key, pid: new Pid('n1', 1, serial), meta: { serial }, previousMeta: null, reason: null };
}

/** Runs deliver and returns the calls in order, with each batch's keys. */
function deliverKeys(subs: Subscriptions, events: GroupEvent[]): [Subscriber, string[]][] {
  const calls: [Subscriber, string[]][] = [];
  subs.deliver(events, (subscriber, batch) => calls.push([subscriber, batch.map((e) => e.key)]));
  return calls;
}

function batchFor(subs: Subscriptions, events: GroupEvent[], who: Subscriber): GroupEvent[] | undefined {
  let found: GroupEvent[] | undefined;
  subs.deliver(events, (subscriber, batch) => {
    if (subscriber === who) found = batch;
  });
  return found;
}

const pidA = new Pid('n1', 1, 1000);
const pidB = new Pid('n1', 1, 1001);

describe('parsePattern', () => {
  it('ALL, an exact key, and a prefix ending in "/"', () => {
    expect(parsePattern(ALL)).toEqual({ kind: 'all' });
    expect(parsePattern('rooms/1')).toEqual({ kind: 'exact', key: 'rooms/1' });
    expect(parsePattern('rooms/')).toEqual({ kind: 'prefix', prefix: 'rooms/' });
    expect(parsePattern('/')).toEqual({ kind: 'prefix', prefix: '/' });
  });

  it('the string "all" and look-alike symbols are not ALL', () => {
    expect(parsePattern('all')).toEqual({ kind: 'exact', key: 'all' });
    expect(() => parsePattern(Symbol('rollcall.group.all'))).toThrow(InvalidArgumentError);
    // Symbol.for is the documented identity of ALL, so another library copy agrees on it.
    expect(parsePattern(Symbol.for('rollcall.group.all'))).toEqual({ kind: 'all' });
  });

  it.each([[''], [undefined], [null], [42], [{}], [['rooms/']], [Symbol('x')]])('refuses %s with a message that says what to pass', (bad) => {
    let error: unknown;
    try {
      parsePattern(bad);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as Error).message).toMatch(bad === '' ? /pass ALL/ : /must be ALL .*prefix string ending in "\/"/);
  });
});

describe('normalizeCluster', () => {
  it('null and undefined are the default cluster; names pass through', () => {
    expect(normalizeCluster(null)).toBe(null);
    expect(normalizeCluster(undefined)).toBe(null);
    expect(normalizeCluster('eu')).toBe('eu');
  });

  it.each([[''], [0], [{}], [false]])('refuses %s', (bad) => {
    expect(() => normalizeCluster(bad)).toThrow(/non-empty string, or null\/omitted for the default cluster/);
  });

  it('add refuses the empty cluster name instead of making it a cluster of its own', () => {
    const subs = new Subscriptions();
    expect(() => subs.add('', ALL, pidA)).toThrow(InvalidArgumentError);
    expect(subs.count()).toBe(0);
  });
});

describe('Subscriptions: matching', () => {
  it('ALL matches every key of its cluster', () => {
    const subs = new Subscriptions();
    subs.add(null, ALL, pidA);
    expect(deliverKeys(subs, [event(null, 'a'), event(null, 'b/c'), event(null, 'zzz')])).toEqual([[pidA, ['a', 'b/c', 'zzz']]]);
  });

  it('an exact pattern matches only that key (not longer keys, not a prefix of it)', () => {
    const subs = new Subscriptions();
    subs.add(null, 'rooms/1', pidA);
    const events = [event(null, 'rooms/1'), event(null, 'rooms/10'), event(null, 'rooms/'), event(null, 'rooms'), event(null, 'rooms/1/x')];
    expect(deliverKeys(subs, events)).toEqual([[pidA, ['rooms/1']]]);
  });

  it('a prefix pattern matches keys that start with it, at any depth', () => {
    const subs = new Subscriptions();
    subs.add(null, 'rooms/', pidA);
    const events = [event(null, 'rooms/1'), event(null, 'rooms'), event(null, 'rooms/1/users/2'), event(null, 'roomsx/1'), event(null, 'a/rooms/1')];
    expect(deliverKeys(subs, events)).toEqual([[pidA, ['rooms/1', 'rooms/1/users/2']]]);
  });

  it('nested prefixes each match; a shorter prefix sharing the trie path does not hide a longer one', () => {
    const subs = new Subscriptions();
    const outer = (): void => {};
    const inner = (): void => {};
    subs.add(null, 'a/', outer);
    subs.add(null, 'a/b/', inner);
    const calls = new Map(deliverKeys(subs, [event(null, 'a/x'), event(null, 'a/b/c'), event(null, 'a/b')]));
    expect(calls.get(outer)).toEqual(['a/x', 'a/b/c', 'a/b']);
    expect(calls.get(inner)).toEqual(['a/b/c']);
  });

  it('clusters are isolated: default (null) and named clusters never see each other', () => {
    const subs = new Subscriptions();
    const inDefault = (): void => {};
    const inEu = (): void => {};
    subs.add(null, ALL, inDefault);
    subs.add('eu', ALL, inEu);
    const calls = new Map(deliverKeys(subs, [event(null, 'k1'), event('eu', 'k2'), event('us', 'k3'), event(null, 'k4')]));
    expect(calls.get(inDefault)).toEqual(['k1', 'k4']);
    expect(calls.get(inEu)).toEqual(['k2']);
    expect(calls.size).toBe(2);
  });

  it('one subscriber in two clusters gets one batch holding both clusters\' events, in order', () => {
    const subs = new Subscriptions();
    subs.add(null, 'x', pidA);
    subs.add('eu', 'y', pidA);
    expect(deliverKeys(subs, [event('eu', 'y'), event(null, 'y'), event(null, 'x'), event('eu', 'x'), event('eu', 'y')])).toEqual([[pidA, ['y', 'x', 'y']]]);
  });

  it('an event matched by several patterns of one subscriber is in its batch once', () => {
    const subs = new Subscriptions();
    for (const pattern of [ALL, 'a/b', 'a/', 'a/b/'] as Pattern[]) subs.add(null, pattern, pidA);
    subs.add(null, 'a/', pidB);
    const calls = deliverKeys(subs, [event(null, 'a/b'), event(null, 'a/b/c'), event(null, 'q')]);
    expect(calls).toEqual([
      [pidA, ['a/b', 'a/b/c', 'q']],
      [pidB, ['a/b', 'a/b/c']],
    ]);
  });

  it('keeps batch order, including for the same key repeated', () => {
    const subs = new Subscriptions();
    subs.add(null, 'k', pidA);
    const events = [event(null, 'k', 'registered'), event(null, 'other'), event(null, 'k', 'unregistered'), event(null, 'k', 'registered')];
    expect(batchFor(subs, events, pidA)).toEqual([events[0], events[2], events[3]]);
  });

  it('calls send once per subscriber, in the order of each one\'s first matching event', () => {
    const subs = new Subscriptions();
    const first = (): void => {};
    const second = (): void => {};
    const third = (): void => {};
    subs.add(null, 'c', third);
    subs.add(null, 'b/', second);
    subs.add(null, 'a', first);
    const calls = deliverKeys(subs, [event(null, 'a'), event(null, 'b/1'), event(null, 'a'), event(null, 'c'), event(null, 'b/2')]);
    expect(calls).toEqual([
      [first, ['a', 'a']],
      [second, ['b/1', 'b/2']],
      [third, ['c']],
    ]);
  });

  it('never sends an empty batch: no match, no call', () => {
    const subs = new Subscriptions();
    subs.add(null, 'x', pidA);
    subs.add('eu', ALL, pidB);
    expect(deliverKeys(subs, [event(null, 'y'), event('us', 'x')])).toEqual([]);
    expect(deliverKeys(subs, [])).toEqual([]);
    expect(deliverKeys(new Subscriptions(), [event(null, 'x')])).toEqual([]);
  });

  it('hands the event objects through unchanged, in a fresh array per subscriber', () => {
    const subs = new Subscriptions();
    subs.add(null, ALL, pidA);
    subs.add(null, ALL, pidB);
    const events = [event(null, 'k')];
    const batches: GroupEvent[][] = [];
    subs.deliver(events, (_, batch) => batches.push(batch));
    expect(batches).toHaveLength(2);
    expect(batches[0]![0]).toBe(events[0]);
    expect(batches[0]).not.toBe(batches[1]);
    expect(batches[0]).not.toBe(events);
  });
});

describe('Subscriptions: add and remove', () => {
  it('adding the same pattern twice is one subscription (a Pid equal by value counts as the same)', () => {
    const subs = new Subscriptions();
    expect(subs.add(null, 'k', new Pid('n1', 1, 7))).toBe(true);
    expect(subs.add(null, 'k', new Pid('n1', 1, 7))).toBe(false);
    expect(subs.count()).toBe(1);
    const calls = deliverKeys(subs, [event(null, 'k')]);
    expect(calls).toHaveLength(1);
    expect((calls[0]![0] as Pid).key).toBe('<n1.1.7>');
  });

  it('the same pattern in two clusters is two subscriptions', () => {
    const subs = new Subscriptions();
    expect(subs.add(null, 'k', pidA)).toBe(true);
    expect(subs.add('eu', 'k', pidA)).toBe(true);
    expect([subs.count(), subs.count(null), subs.count('eu'), subs.count('us')]).toEqual([2, 1, 1, 0]);
  });

  it('callbacks are compared by identity: two equal-looking functions are two subscribers', () => {
    const subs = new Subscriptions();
    const make = () => (): void => {};
    const f = make();
    const g = make();
    subs.add(null, 'k', f);
    subs.add(null, 'k', g);
    expect(subs.count()).toBe(2);
    expect(subs.remove(null, 'k', make())).toBe(false);
    expect(subs.remove(null, 'k', f)).toBe(true);
    expect(deliverKeys(subs, [event(null, 'k')]).map(([s]) => s)).toEqual([g]);
  });

  it('remove takes out one pattern, returns whether it existed, and matches Pids by value', () => {
    const subs = new Subscriptions();
    subs.add(null, 'a/', pidA);
    subs.add(null, 'a/b', pidA);
    expect(subs.remove(null, 'a/', new Pid('n1', 1, 1000))).toBe(true);
    expect(subs.remove(null, 'a/', pidA)).toBe(false);
    expect(subs.remove('eu', 'a/b', pidA)).toBe(false);
    expect(subs.remove(null, ALL, pidA)).toBe(false);
    expect(subs.count()).toBe(1);
    expect(subs.isSubscribed(pidA)).toBe(true);
    expect(deliverKeys(subs, [event(null, 'a/b'), event(null, 'a/c')])).toEqual([[pidA, ['a/b']]]);
    expect(subs.remove(null, 'a/b', pidA)).toBe(true);
    expect(subs.isSubscribed(pidA)).toBe(false);
    expect(subs.count()).toBe(0);
  });

  it('removing a prefix keeps a longer and a shorter prefix on the same trie path working', () => {
    const subs = new Subscriptions();
    const short = (): void => {};
    const mid = (): void => {};
    const long = (): void => {};
    subs.add(null, 'a/', short);
    subs.add(null, 'a/b/', mid);
    subs.add(null, 'a/b/c/', long);
    subs.remove(null, 'a/b/', mid);
    const calls = new Map(deliverKeys(subs, [event(null, 'a/b/c/d'), event(null, 'a/b/x')]));
    expect(calls.get(short)).toEqual(['a/b/c/d', 'a/b/x']);
    expect(calls.get(long)).toEqual(['a/b/c/d']);
    expect(calls.has(mid)).toBe(false);
    subs.remove(null, 'a/b/c/', long);
    subs.add(null, 'a/b/c/', mid);
    expect(deliverKeys(subs, [event(null, 'a/b/c/d')]).map(([s]) => s)).toEqual([short, mid]);
  });

  it('removeSubscriber drops all of its subscriptions in every cluster and leaves others alone', () => {
    const subs = new Subscriptions();
    subs.add(null, ALL, pidA);
    subs.add(null, 'k', pidA);
    subs.add('eu', 'p/', pidA);
    subs.add('eu', 'p/', pidB);
    expect(subs.removeSubscriber(new Pid('n1', 1, 1000))).toBe(3);
    expect(subs.removeSubscriber(pidA)).toBe(0);
    expect(subs.isSubscribed(pidA)).toBe(false);
    expect([subs.count(), subs.count(null), subs.count('eu')]).toEqual([1, 0, 1]);
    expect(deliverKeys(subs, [event(null, 'k'), event('eu', 'p/1')])).toEqual([[pidB, ['p/1']]]);
  });

  it('rejects a subscriber that is neither a Pid nor a function, and a bad pattern, without changing anything', () => {
    const subs = new Subscriptions();
    expect(() => subs.add(null, 'k', { key: '<n1.1.1>' } as unknown as Pid)).toThrow(/must be a Pid .* or a function/);
    expect(() => subs.add(null, '', pidA)).toThrow(InvalidArgumentError);
    expect(() => subs.remove(null, 7 as unknown as string, pidA)).toThrow(InvalidArgumentError);
    expect(subs.count()).toBe(0);
    expect(subs.isSubscribed(pidA)).toBe(false);
  });
});

describe('Subscriptions: re-entrant send', () => {
  it('a send that delivers another batch at once does not mix the two batches', () => {
    const subs = new Subscriptions();
    const received: [string, string[]][] = [];
    const a = (events: readonly GroupEvent[]): void => {
      received.push(['a', events.map((e) => e.key)]);
    };
    const b = (events: readonly GroupEvent[]): void => {
      received.push(['b', events.map((e) => e.key)]);
    };
    subs.add(null, ALL, a);
    subs.add(null, ALL, b);
    let nested = false;
    const send = (subscriber: Subscriber, batch: GroupEvent[]): void => {
      (subscriber as GroupEventCallback)(batch, { group: 'g' });
      if (!nested) {
        nested = true;
        subs.deliver([event(null, 'inner')], send);
      }
    };
    subs.deliver([event(null, 'o1'), event(null, 'o2')], send);
    expect(received).toEqual([
      ['a', ['o1', 'o2']],
      ['a', ['inner']],
      ['b', ['inner']],
      ['b', ['o1', 'o2']],
    ]);
  });

  it('a subscriber removed during delivery still gets what it matched; later deliveries skip it', () => {
    const subs = new Subscriptions();
    const victim = (): void => {};
    const killer = (): void => {};
    subs.add(null, ALL, killer);
    subs.add(null, ALL, victim);
    const seen: Subscriber[] = [];
    const send = (subscriber: Subscriber): void => {
      seen.push(subscriber);
      if (subscriber === killer) subs.removeSubscriber(victim);
    };
    subs.deliver([event(null, 'k')], send);
    subs.deliver([event(null, 'k')], send);
    expect(seen).toEqual([killer, victim, killer]);
  });
});

describe('Subscriptions: agrees with a naive scan (property)', () => {
  const clusters = [null, 'eu', 'us'] as const;
  const patterns: Pattern[] = [ALL, 'a', 'a/', 'a/b', 'a/b/', 'ab', 'b/', '/', 'a/b/c/'];
  const keys = ['a', 'a/', 'a/b', 'a/b/c', 'a/b/c/d', 'ab', 'abc', 'b/1', '/', '/x', 'c'];
  const callbacks = [(): void => {}, (): void => {}];
  /** Pids are rebuilt on every use, so only value equality can make them match. */
  const subscriberAt = (i: number): Subscriber => (i < 3 ? new Pid('n1', 1, i + 1) : callbacks[i - 3]!);
  const idOf = (s: Subscriber): string => (typeof s === 'function' ? `cb${callbacks.indexOf(s as (typeof callbacks)[number])}` : s.key);

  const clusterArb = fc.constantFrom(...clusters);
  const op = fc.oneof(
    { weight: 6, arbitrary: fc.record({ kind: fc.constant('add' as const), cluster: clusterArb, pattern: fc.constantFrom(...patterns), who: fc.nat(4) }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('remove' as const), cluster: clusterArb, pattern: fc.constantFrom(...patterns), who: fc.nat(4) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('removeSubscriber' as const), who: fc.nat(4) }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('deliver' as const), events: fc.array(fc.tuple(clusterArb, fc.constantFrom(...keys)), { maxLength: 12 }) }) },
  );

  it('every delivery, count and return value matches the model', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const subs = new Subscriptions();
        /** subscriber id -> set of `${cluster}\u0000${pattern}` */
        const model = new Map<string, Set<string>>();
        const entry = (cluster: string | null, pattern: Pattern): string => `${String(cluster)}\u0000${String(pattern)}`;
        const matches = (id: string, e: GroupEvent): boolean =>
          [...(model.get(id) ?? [])].some((held) => {
            const [cluster, pattern] = held.split('\u0000') as [string, string];
            if (cluster !== String(e.cluster)) return false;
            if (pattern === String(ALL)) return true;
            return pattern.endsWith('/') ? e.key.startsWith(pattern) : e.key === pattern;
          });

        for (const o of ops) {
          if (o.kind === 'add' || o.kind === 'remove') {
            const s = subscriberAt(o.who);
            const held = model.get(idOf(s)) ?? new Set<string>();
            const had = held.has(entry(o.cluster, o.pattern));
            if (o.kind === 'add') {
              expect(subs.add(o.cluster, o.pattern, s)).toBe(!had);
              held.add(entry(o.cluster, o.pattern));
            } else {
              expect(subs.remove(o.cluster, o.pattern, s)).toBe(had);
              held.delete(entry(o.cluster, o.pattern));
            }
            if (held.size > 0) model.set(idOf(s), held);
            else model.delete(idOf(s));
          } else if (o.kind === 'removeSubscriber') {
            const s = subscriberAt(o.who);
            expect(subs.removeSubscriber(s)).toBe(model.get(idOf(s))?.size ?? 0);
            model.delete(idOf(s));
          } else {
            const events = o.events.map(([cluster, key]) => event(cluster, key));
            const calls: [string, GroupEvent[]][] = [];
            subs.deliver(events, (s, batch) => calls.push([idOf(s), batch]));

            const expected = new Map<string, GroupEvent[]>();
            for (const id of model.keys()) {
              const batch = events.filter((e) => matches(id, e));
              if (batch.length > 0) expected.set(id, batch);
            }
            expect(new Map(calls)).toEqual(expected);
            expect(calls.length).toBe(expected.size); // once per subscriber
            const firsts = calls.map(([, batch]) => events.indexOf(batch[0]!));
            expect(firsts).toEqual([...firsts].sort((x, y) => x - y));
          }
          for (let who = 0; who < 5; who++) expect(subs.isSubscribed(subscriberAt(who))).toBe(model.has(idOf(subscriberAt(who))));
          expect(subs.count()).toBe([...model.values()].reduce((n, held) => n + held.size, 0));
        }
      }),
      { numRuns: 500 },
    );
  });
});
