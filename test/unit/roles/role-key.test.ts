/**
 * Canonical role keys: equal values (by value, whatever the object key order) get one key,
 * different values never share one, what the wire would change is refused, and a role that went
 * through the wire codec keeps its key.
 */
import fc from 'fast-check';
import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import { decode, encode } from '../../../src/internal.js';
import { MAX_ROLE_DEPTH, MAX_ROLE_KEY_LENGTH, roleKey } from '../../../src/roles/role-key.js';

const key = (role: unknown): string => roleKey(role, 'test');

/** Role values: JSON-like, with bigints, and -0 left out (it is the same role as 0, checked apart). */
const roleArb = fc.letrec((tie) => ({
  leaf: fc.oneof(fc.string({ unit: 'grapheme' }), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }).filter((x) => !Object.is(x, -0)), fc.boolean(), fc.constant(null), fc.bigInt()),
  node: fc.oneof({ depthSize: 'small' }, tie('leaf'), fc.array(tie('node'), { maxLength: 4 }), fc.dictionary(fc.string().filter((k) => k !== '__proto__'), tie('node'), { maxKeys: 4, noNullPrototype: true })),
})).node;

describe('roleKey', () => {
  it('one key per value: equal iff deep-equal (property)', () => {
    fc.assert(
      fc.property(roleArb, roleArb, (a, b) => {
        expect(key(a) === key(b)).toBe(isDeepStrictEqual(a, b));
      }),
      { numRuns: 500 },
    );
  });

  it('a role that crossed the wire codec has the same key (property)', () => {
    fc.assert(
      fc.property(roleArb, (role) => {
        expect(key(decode(encode(role)))).toBe(key(role));
      }),
      { numRuns: 500 },
    );
  });

  it('object key order does not matter; types and nesting do', () => {
    expect(key({ a: 1, b: [1, { c: 2, d: 3 }] })).toBe(key({ b: [1, { d: 3, c: 2 }], a: 1 }));
    const distinct = [1, '1', 1n, '1n', [1], '[1]', true, 'true', null, 'null', { a: 1 }, [['a', 1]], '', [], {}, 0];
    expect(new Set(distinct.map(key)).size).toBe(distinct.length);
    expect(key(-0)).toBe(key(0));
    // A null-prototype object is the plain object it looks like (the wire makes it one anyway).
    expect(key(Object.assign(Object.create(null) as object, { a: 1 }))).toBe(key({ a: 1 }));
  });

  it('refuses what is not a plain value, naming where the problem is', () => {
    const cases: Array<[unknown, RegExp]> = [
      [undefined, /the role is undefined/],
      [() => 1, /the role is a function/],
      [Symbol('x'), /a symbol/],
      [NaN, /NaN \(numbers must be finite\)/],
      [Infinity, /finite/],
      [new Date(0), /a Date \(only plain objects and arrays/],
      [new Map(), /a Map/],
      [new Set([1]), /a Set/],
      [{ a: [1, { b: undefined }] }, /role\.a\[1\]\.b is undefined/],
      [[1, , 3], /role\[1\] is undefined/],
      [JSON.parse('{"__proto__": 1}'), /__proto__/],
      ['\uD800', /the role is a string with a lone surrogate/],
      [{ a: ['ok', 'x\uDC00'] }, /role\.a\[1\] is a string with a lone surrogate/],
    ];
    for (const [role, message] of cases) {
      expect(() => key(role)).toThrow(message);
      try {
        key(role);
      } catch (error) {
        expect((error as { code?: string }).code).toBe('ERR_ROLLCALL_INVALID_ARGUMENT');
      }
    }
    const cycle: Record<string, unknown> = {};
    cycle['self'] = cycle;
    expect(() => key(cycle)).toThrow(/role(\.self)+ is a value nested deeper than \d+ levels \(or a cycle\)/);
    let deep: unknown = 1;
    for (let i = 0; i <= MAX_ROLE_DEPTH; i++) deep = [deep];
    expect(() => key(deep)).toThrow(/nested deeper than/);
    expect(() => key('x'.repeat(MAX_ROLE_KEY_LENGTH))).toThrow(/shorter tag/);
    expect(() => key(['x'.repeat(MAX_ROLE_KEY_LENGTH)])).toThrow(/shorter tag/);
    // The same object twice (not a cycle) is fine.
    const shared = { s: 1 };
    expect(key([shared, shared])).toBe('[{"s":1},{"s":1}]');
  });
});
