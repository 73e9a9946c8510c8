/**
 * IdTable against a Map model: every sequence of sets and deletes leaves the same contents,
 * sizes and iteration (ids ascending within a chunk); ids that are not non-negative safe
 * integers are never found and cannot alias a valid one.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IdTable } from '../../../src/process/id-table.js';

const idArb = fc.oneof(
  fc.integer({ min: 0, max: 300 }),
  fc.constantFrom(63, 64, 65, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 63, 2 ** 32 + 64, Number.MAX_SAFE_INTEGER),
);

type Op = { op: 'set'; id: number; value: number } | { op: 'delete'; id: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('set' as const), id: idArb, value: fc.integer() }),
  fc.record({ op: fc.constant('delete' as const), id: idArb }),
);

describe('IdTable', () => {
  it('behaves as a Map of ids (fast-check model)', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 200 }), (ops) => {
        const table = new IdTable<number>();
        const model = new Map<number, number>();
        for (const step of ops) {
          if (step.op === 'set') {
            table.set(step.id, step.value);
            model.set(step.id, step.value);
          } else {
            expect(table.delete(step.id)).toBe(model.delete(step.id));
          }
          expect(table.size).toBe(model.size);
        }
        for (const [id, value] of model) expect(table.get(id)).toBe(value);
        expect(table.entries().sort((a, b) => a[0] - b[0])).toEqual([...model].sort((a, b) => a[0] - b[0]));
        expect(table.values().sort()).toEqual([...model.values()].sort());
      }),
      { numRuns: 300 },
    );
  });

  it('never finds ids that are not non-negative safe integers, and refuses to store them', () => {
    const table = new IdTable<string>();
    table.set(1, 'one');
    table.set(2 ** 32 - 1, 'max32');
    for (const bad of [-1, -64, 1.5, 0.5, NaN, Infinity, 2 ** 53]) {
      expect(table.get(bad)).toBeUndefined();
      expect(table.delete(bad)).toBe(false);
      expect(() => table.set(bad, 'x')).toThrow(TypeError);
    }
    expect(table.get(1)).toBe('one');
    expect(table.size).toBe(2);
  });

  it('drops a chunk when its last id goes (a few live ids among many dead keep little)', () => {
    const table = new IdTable<number>();
    for (let id = 0; id < 6400; id++) table.set(id, id);
    for (let id = 0; id < 6400; id++) if (id % 640 !== 0) table.delete(id);
    expect(table.size).toBe(10);
    const chunks = (table as unknown as { chunks: Map<number, unknown> }).chunks;
    expect(chunks.size).toBe(10);
    for (let id = 0; id < 6400; id += 640) table.delete(id);
    expect(chunks.size).toBe(0);
    expect(table.size).toBe(0);
  });
});
