/**
 * Pids and refs:
 *  1. equality is by value (node, incarnation, id), never by object identity, and a Pid never equals a Ref;
 *  2. the order is total and lexicographic on (node, incarnation, id), consistent with equals;
 *  3. the string form parses back to an equal Pid, and survives the wire codec;
 *  4. PidMap keys by value.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Pid, PidMap, Ref } from '../../../src/process/pid.js';
import { decode, encode } from '../../../src/wire/codec.js';

const name = fc.stringMatching(/^[A-Za-z0-9_.-]{1,20}$/);
const num = fc.nat({ max: 2 ** 52 });
const pidArb = fc.tuple(name, num, num).map(([n, i, id]) => new Pid(n, i, id));

describe('Pid', () => {
  it('is equal by value, immutable, and never equal to a Ref with the same fields', () => {
    const a = new Pid('a', 7, 3);
    expect(a.equals(new Pid('a', 7, 3))).toBe(true);
    expect(a.equals(new Pid('a', 8, 3))).toBe(false);
    expect(a.equals(new Pid('b', 7, 3))).toBe(false);
    expect(a.equals(new Ref('a', 7, 3) as unknown as Pid)).toBe(false);
    expect(Object.isFrozen(a)).toBe(true);
    expect(() => {
      (a as { id: number }).id = 4;
    }).toThrow(TypeError);
  });

  it('orders by node, then incarnation, then id (total order, consistent with equals)', () => {
    fc.assert(
      fc.property(pidArb, pidArb, pidArb, (x, y, z) => {
        const expected = x.node !== y.node ? (x.node < y.node ? -1 : 1) : x.incarnation !== y.incarnation ? Math.sign(x.incarnation - y.incarnation) : Math.sign(x.id - y.id);
        expect(x.compare(y)).toBe(expected);
        expect(y.compare(x)).toBe(-expected);
        expect(x.compare(y) === 0).toBe(x.equals(y));
        if (x.compare(y) <= 0 && y.compare(z) <= 0) expect(x.compare(z)).toBeLessThanOrEqual(0);
      }),
    );
    const sorted = [new Pid('b', 1, 1), new Pid('a', 2, 1), new Pid('a', 1, 9), new Pid('a', 1, 2)].sort((p, q) => p.compare(q));
    expect(sorted.map(String)).toEqual(['<a.1.2>', '<a.1.9>', '<a.2.1>', '<b.1.1>']);
  });

  it('round-trips through its string form and the wire codec', () => {
    fc.assert(
      fc.property(pidArb, (pid) => {
        expect(Pid.parse(pid.toString()).equals(pid)).toBe(true);
        const back = decode(encode({ pid, ref: new Ref(pid.node, pid.incarnation, pid.id) })) as { pid: Pid; ref: Ref };
        expect(back.pid).toBeInstanceOf(Pid);
        expect(back.pid.equals(pid)).toBe(true);
        expect(back.ref).toBeInstanceOf(Ref);
        expect(JSON.stringify(pid)).toBe(JSON.stringify(pid.key));
      }),
    );
    expect(() => Pid.parse('a.1.2')).toThrow(/expected "<node.incarnation.id>"/);
    expect(Pid.parse('<node.with.dots.5.6>')).toEqual(new Pid('node.with.dots', 5, 6));
  });

  it('PidMap keys by value, not by object identity', () => {
    const map = new PidMap<string>();
    map.set(new Pid('a', 1, 1), 'x');
    expect(map.get(new Pid('a', 1, 1))).toBe('x');
    expect(map.has(new Pid('a', 1, 2))).toBe(false);
    map.set(new Pid('a', 1, 1), 'y');
    expect(map.size).toBe(1);
    expect([...map.values()]).toEqual(['y']);
    expect(map.delete(new Pid('a', 1, 1))).toBe(true);
    expect(map.size).toBe(0);
  });
});

describe('Pid wire encoding', () => {
  it('round-trips names of every string header size and ids of every integer width', () => {
    const names = ['a', 'x'.repeat(31), 'y'.repeat(32), 'z'.repeat(255), 'w'.repeat(256), 'v'.repeat(70_000), 'nöde-ü'];
    const numbers = [0, 1, 127, 128, 255, 256, 65_535, 65_536, 2 ** 32 - 1, 2 ** 32, 1838391652454877, Number.MAX_SAFE_INTEGER];
    for (const name of names) {
      for (const n of numbers) {
        const pid = new Pid(name, n, numbers[numbers.length - 1 - numbers.indexOf(n)]!);
        const back = decode(encode([pid, pid])) as [Pid, Pid];
        expect(back[0].equals(pid)).toBe(true);
        expect(back[1].equals(pid)).toBe(true);
        expect(typeof back[0].incarnation).toBe('number');
      }
    }
  });
});
