/**
 * ClusterMembership: forward and reverse indexes always agree (checked after every step of a
 * random sequence against a naive model), adds are idempotent, removing a node clears it everywhere.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ClusterMembership, type ClusterName } from '../../../src/group/clusters.js';

describe('ClusterMembership', () => {
  it('adds idempotently, removes, and forgets a node in every cluster', () => {
    const m = new ClusterMembership();
    m.add(null, 'a');
    m.add(null, 'a');
    m.add('chat', 'a');
    m.add('chat', 'b');
    expect(m.nodes(null)).toEqual(['a']);
    expect(m.nodes('chat')).toEqual(['a', 'b']);
    expect(m.clustersOf('a').sort()).toEqual(['chat', null].sort());
    expect(m.remove('chat', 'c')).toBe(false);
    expect(m.removeNode('a').sort()).toEqual(['chat', null].sort());
    expect(m.nodes(null)).toEqual([]);
    expect(m.has('chat', 'a')).toBe(false);
    expect(m.has('chat', 'b')).toBe(true);
    expect(m.checkConsistency()).toEqual([]);
  });

  it('matches a naive model under random operations (property)', () => {
    const cluster = fc.constantFrom<ClusterName>(null, 'x', 'y');
    const node = fc.constantFrom('a', 'b', 'c');
    const op = fc.oneof(
      fc.tuple(fc.constant('add' as const), cluster, node),
      fc.tuple(fc.constant('remove' as const), cluster, node),
      fc.tuple(fc.constant('removeNode' as const), cluster, node),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const m = new ClusterMembership();
        const model = new Set<string>();
        const k = (c: ClusterName, n: string) => `${String(c)}|${n}`;
        for (const [kind, c, n] of ops) {
          if (kind === 'add') {
            m.add(c, n);
            model.add(k(c, n));
          } else if (kind === 'remove') {
            expect(m.remove(c, n)).toBe(model.delete(k(c, n)));
          } else {
            const expected = [...model].filter((e) => e.endsWith(`|${n}`)).length;
            expect(m.removeNode(n).length).toBe(expected);
            for (const e of [...model]) if (e.endsWith(`|${n}`)) model.delete(e);
          }
          expect(m.checkConsistency()).toEqual([]);
          for (const c2 of [null, 'x', 'y']) {
            expect(m.nodes(c2)).toEqual(['a', 'b', 'c'].filter((n2) => model.has(k(c2, n2))));
          }
        }
      }),
    );
  });

  it('the checker is not vacuous: a corrupted reverse index is reported', () => {
    const m = new ClusterMembership();
    m.add('x', 'a');
    (m as unknown as { clustersByNode: Map<string, Set<ClusterName>> }).clustersByNode.get('a')!.delete('x');
    expect(m.checkConsistency().length).toBeGreaterThan(0);
  });
});
