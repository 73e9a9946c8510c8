/**
 * Group tables (one Group instance's registry and process groups, no network):
 *  1. at most one registry row per (cluster, key) and one membership per (cluster, key, pid);
 *     writes insert or replace and return what they replaced or removed;
 *  2. clusters are isolated, null (default) and '' (a named cluster) are different clusters;
 *  3. members are in Pid order; prefix queries return exactly the keys starting with the prefix,
 *     in key order; rows of a pid come back in canonical order (cluster with null first,
 *     key, registry before membership, Pid);
 *  4. removePids / purgeNode / purgeClusterOwnedBy remove exactly the rows they name;
 *  5. after every operation checkConsistency() reports nothing, and it does report a corrupted index.
 */
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GroupTables, memberRow, prefixUpperBound, registryRow, type Cluster, type Row } from '../../../src/group/tables.js';
import { Pid } from '../../../src/process/pid.js';

/** A row as plain data, so results compare by value. */
function plain(row: Row | undefined): object | undefined {
  if (row === undefined) return undefined;
  return { kind: row.kind, cluster: row.cluster, key: row.key, pid: row.pid.key, meta: row.meta, time: row.time };
}
const plainAll = (rows: readonly Row[]): (object | undefined)[] => rows.map(plain);

const a1 = new Pid('a', 1, 1);
const a2 = new Pid('a', 1, 2);
const a10 = new Pid('a', 1, 10);
const a2i2 = new Pid('a', 2, 1);
const b1 = new Pid('b', 1, 1);
const c1 = new Pid('c', 1, 1);

describe('GroupTables', () => {
  let tables: GroupTables;
  beforeEach(() => {
    tables = new GroupTables();
  });
  afterEach(() => {
    expect(tables.checkConsistency()).toEqual([]);
  });

  describe('registry', () => {
    it('register inserts a row that lookup returns; a missing key is undefined', () => {
      expect(tables.lookup(null, 'k')).toBeUndefined();
      expect(tables.register(null, 'k', a1, { n: 1 }, 100)).toBeUndefined();
      const row = tables.lookup(null, 'k');
      expect(plain(row)).toEqual({ kind: 'registry', cluster: null, key: 'k', pid: a1.key, meta: { n: 1 }, time: 100 });
      expect(row?.node).toBe('a');
      expect(tables.registryCount(null)).toBe(1);
      expect(tables.lookup(null, 'other')).toBeUndefined();
      expect(tables.lookup('eu', 'k')).toBeUndefined();
    });

    it('re-registering the same pid replaces the row and returns the previous one', () => {
      tables.register(null, 'k', a1, { v: 1 }, 100);
      const previous = tables.register(null, 'k', new Pid('a', 1, 1), { v: 2 }, 200);
      expect(plain(previous)).toMatchObject({ meta: { v: 1 }, time: 100 });
      expect(plain(tables.lookup(null, 'k'))).toMatchObject({ pid: a1.key, meta: { v: 2 }, time: 200 });
      expect(tables.registryCount(null)).toBe(1);
      expect(plainAll(tables.rowsOfPid(a1))).toEqual([plain(tables.lookup(null, 'k'))]);
    });

    it('registering another pid on a taken key replaces it: the old pid loses the row', () => {
      tables.register(null, 'k', a1, 'm1', 100);
      const previous = tables.register(null, 'k', b1, 'm2', 50);
      expect(previous?.pid.equals(a1)).toBe(true);
      expect(tables.lookup(null, 'k')?.pid.equals(b1)).toBe(true);
      expect(tables.rowsOfPid(a1)).toEqual([]);
      expect(tables.ownerNodes()).toEqual(['b']);
      expect(tables.localRegistryCount(null, 'a')).toBe(0);
      expect(tables.localRegistryCount(null, 'b')).toBe(1);
    });

    it('unregister removes and returns the row; with a pid only if that pid holds the key', () => {
      tables.register(null, 'k', a1, null, 1);
      expect(tables.unregister(null, 'missing')).toBeUndefined();
      expect(tables.unregister('eu', 'k')).toBeUndefined();
      expect(tables.unregister(null, 'k', b1)).toBeUndefined();
      expect(tables.lookup(null, 'k')).toBeDefined();
      const removed = tables.unregister(null, 'k', new Pid('a', 1, 1));
      expect(removed?.pid.equals(a1)).toBe(true);
      expect(tables.lookup(null, 'k')).toBeUndefined();
      tables.register(null, 'k', a1, null, 1);
      expect(tables.unregister(null, 'k')?.key).toBe('k');
      expect(tables.registryCount(null)).toBe(0);
      expect(tables.ownerNodes()).toEqual([]);
    });

    it('clusters are isolated: null, "" and "eu" hold the same key independently', () => {
      tables.register(null, 'k', a1, 'default', 1);
      tables.register('', 'k', b1, 'empty', 2);
      tables.register('eu', 'k', c1, 'eu', 3);
      expect(tables.lookup(null, 'k')?.meta).toBe('default');
      expect(tables.lookup('', 'k')?.meta).toBe('empty');
      expect(tables.lookup('eu', 'k')?.meta).toBe('eu');
      expect(tables.lookup('', 'k')?.cluster).toBe('');
      expect(tables.clusters()).toEqual([null, '', 'eu']);
      expect([tables.registryCount(null), tables.registryCount(''), tables.registryCount('eu')]).toEqual([1, 1, 1]);
      tables.unregister('', 'k');
      expect(tables.lookup('', 'k')).toBeUndefined();
      expect(tables.lookup(null, 'k')?.meta).toBe('default');
      expect(tables.clusters()).toEqual([null, 'eu']);
    });

    it('a named cluster disappears once its last row goes; the default cluster is never listed empty', () => {
      tables.register('eu', 'k', a1, null, 1);
      tables.join('eu', 'g', a1, null, 1);
      tables.unregister('eu', 'k');
      expect(tables.clusters()).toEqual(['eu']);
      tables.leave('eu', 'g', a1);
      expect(tables.clusters()).toEqual([]);
      expect(tables.registryCount('eu')).toBe(0);
    });

    it('refuses invalid writes with a message that says what is expected', () => {
      const t = tables as unknown as { register(...args: unknown[]): unknown; join(...args: unknown[]): unknown };
      expect(() => t.register(undefined, 'k', a1, null, 1)).toThrow(/cluster must be a string or null/);
      expect(() => t.register(null, 42, a1, null, 1)).toThrow(/key must be a string/);
      expect(() => t.register(null, 'k', { node: 'a', id: 1 }, null, 1)).toThrow(/pid must be a Pid/);
      expect(() => t.join(null, 'k', a1, null, Number.NaN)).toThrow(/time must be a finite number/);
      expect(() => t.join(null, 'k', a1, null, '1')).toThrow(TypeError);
      expect(tables.registryCount(null)).toBe(0);
      expect(tables.memberCount(null)).toBe(0);
    });
  });

  describe('process groups', () => {
    it('join inserts, re-join replaces in place (no duplicate), leave removes', () => {
      expect(tables.join(null, 'g', a1, { v: 1 }, 1)).toBeUndefined();
      const previous = tables.join(null, 'g', new Pid('a', 1, 1), { v: 2 }, 2);
      expect(plain(previous)).toMatchObject({ kind: 'member', meta: { v: 1 }, time: 1 });
      expect(tables.memberCount(null, 'g')).toBe(1);
      expect(plainAll(tables.members(null, 'g'))).toEqual([
        { kind: 'member', cluster: null, key: 'g', pid: a1.key, meta: { v: 2 }, time: 2 },
      ]);
      expect(tables.leave(null, 'g', b1)).toBeUndefined();
      expect(tables.leave(null, 'nope', a1)).toBeUndefined();
      expect(tables.leave(null, 'g', a1)?.meta).toEqual({ v: 2 });
      expect(tables.members(null, 'g')).toEqual([]);
      expect(tables.groups(null)).toEqual([]);
      expect(tables.memberCount(null)).toBe(0);
    });

    it('members are in Pid order (node, incarnation, numeric id) whatever the join order', () => {
      for (const pid of [c1, a10, b1, a2i2, a2, a1]) tables.join(null, 'g', pid, pid.key, 1);
      expect(tables.members(null, 'g').map((r) => r.pid.key)).toEqual([a1, a2, a10, a2i2, b1, c1].map((p) => p.key));
      expect(tables.memberCount(null, 'g')).toBe(6);
      expect(tables.memberCount(null)).toBe(6);
      // re-joins and leaves keep the order
      tables.join(null, 'g', a10, 'updated', 2);
      tables.leave(null, 'g', a2i2);
      expect(tables.members(null, 'g').map((r) => r.pid.key)).toEqual([a1, a2, a10, b1, c1].map((p) => p.key));
      expect(tables.member(null, 'g', new Pid('a', 1, 10))?.meta).toBe('updated');
      expect(tables.member(null, 'g', a2i2)).toBeUndefined();
    });

    it('members() of two or more is the stored array (O(1)); writes land in order, in place for large groups', () => {
      tables.join(null, 'g', a1, 1, 1);
      tables.join(null, 'g', b1, 1, 1);
      expect(tables.members(null, 'g')).toBe(tables.members(null, 'g'));
      const pids = Array.from({ length: 100 }, (_, i) => new Pid('n', 1, 2 * i));
      for (const pid of pids) tables.join(null, 'big', pid, 0, 1);
      const stored = tables.members(null, 'big');
      tables.join(null, 'big', new Pid('n', 1, 51), 0, 1);
      tables.join(null, 'big', pids[7]!, 'changed', 2);
      tables.leave(null, 'big', pids[0]!);
      const after = tables.members(null, 'big');
      expect(after).toBe(stored); // past the exact-size threshold the array grows and shrinks in place
      expect(after.map((r) => r.pid.id)).toEqual([...pids.slice(1).map((p) => p.id), 51].sort((x, y) => x - y));
      expect(tables.member(null, 'big', pids[7]!)?.meta).toBe('changed');
    });

    it('membersOnNode and localMemberCount select one node’s contiguous run', () => {
      for (const pid of [a1, a2, b1, c1, new Pid('b', 1, 5)]) tables.join('eu', 'g', pid, null, 1);
      expect(tables.membersOnNode('eu', 'g', 'b').map((r) => r.pid.key)).toEqual([b1.key, '<b.1.5>']);
      expect(tables.localMemberCount('eu', 'g', 'a')).toBe(2);
      expect(tables.localMemberCount('eu', 'g', 'b')).toBe(2);
      expect(tables.localMemberCount('eu', 'g', 'bb')).toBe(0);
      expect(tables.localMemberCount('eu', 'g', '')).toBe(0);
      expect(tables.localMemberCount(null, 'g', 'a')).toBe(0);
      tables.join('eu', 'solo', c1, null, 1);
      expect(tables.localMemberCount('eu', 'solo', 'c')).toBe(1);
      expect(tables.membersOnNode('eu', 'solo', 'a')).toEqual([]);
      expect(tables.membersOnNode('eu', 'solo', 'c').map((r) => r.pid.key)).toEqual([c1.key]);
    });

    it('a pid both registered and joined at one key has two rows; members() lists only the membership', () => {
      tables.register(null, 'k', a1, 'reg', 1);
      tables.join(null, 'k', a1, 'pg', 2);
      expect(plainAll(tables.members(null, 'k'))).toEqual([plain(tables.member(null, 'k', a1))]);
      expect(tables.rowsOfPid(a1).map((r) => [r.kind, r.meta])).toEqual([
        ['registry', 'reg'],
        ['member', 'pg'],
      ]);
      expect(tables.registeredKeys(null)).toEqual(['k']);
      expect(tables.groups(null)).toEqual(['k']);
      tables.unregister(null, 'k');
      expect(tables.groups(null)).toEqual(['k']);
      expect(tables.registeredKeys(null)).toEqual([]);
    });
  });

  describe('prefix queries', () => {
    const keys = ['a', 'a/', 'a/b', 'a/b/c', 'a/c', 'ab', 'a0', 'b', 'é/1', 'é', '😀/x', '😀', 'x\uffff', 'x\uffffa', 'x\uffff\uffff', 'y', ''];

    function fill(): void {
      keys.forEach((key, i) => {
        tables.register(null, key, new Pid('n', 1, i), i, i);
        tables.join(null, key, new Pid('n', 1, i), i, i);
        tables.join(null, key, new Pid('m', 1, i), i, i);
      });
    }
    const expected = (prefix: string): string[] => keys.filter((k) => k.startsWith(prefix)).sort();

    it('select exactly the keys starting with the prefix, in key order', () => {
      fill();
      for (const prefix of ['a/', 'a/b', 'a/b/', 'a', 'ab', 'é', 'é/', '😀', '\ud83d', 'x\uffff', 'x\uffff\uffff', '', 'zz', 'a/b/c/']) {
        expect(tables.registeredKeys(null, prefix), prefix).toEqual(expected(prefix));
        expect(tables.groups(null, prefix), prefix).toEqual(expected(prefix));
        expect(
          tables.registryByPrefix(null, prefix).map((r) => r.key),
          prefix,
        ).toEqual(expected(prefix));
        expect(
          tables.membersByPrefix(null, prefix).map((r) => `${r.key}|${r.pid.node}`),
          prefix,
        ).toEqual(expected(prefix).flatMap((k) => [`${k}|m`, `${k}|n`]));
      }
      expect(tables.registeredKeys('eu', 'a')).toEqual([]);
      expect(tables.membersByPrefix('eu', '')).toEqual([]);
    });

    it('"a/" selects "a/" itself and its children but not "a" or "ab"', () => {
      fill();
      expect(tables.registeredKeys(null, 'a/')).toEqual(['a/', 'a/b', 'a/b/c', 'a/c']);
    });

    it('registeredKeys and groups list only keys of their own table', () => {
      tables.register(null, 'r/1', a1, null, 1);
      tables.join(null, 'r/2', a1, null, 1);
      expect(tables.registeredKeys(null, 'r/')).toEqual(['r/1']);
      expect(tables.groups(null, 'r/')).toEqual(['r/2']);
      expect(tables.registryByPrefix(null, 'r/').map((r) => r.key)).toEqual(['r/1']);
      expect(tables.membersByPrefix(null, 'r/').map((r) => r.key)).toEqual(['r/2']);
    });

    it('prefixUpperBound is the least string above every extension of the prefix', () => {
      expect(prefixUpperBound('a/')).toBe('a0');
      expect(prefixUpperBound('x\uffff')).toBe('y');
      expect(prefixUpperBound('\uffff\uffff')).toBeUndefined();
      expect(prefixUpperBound('')).toBeUndefined();
      fc.assert(
        fc.property(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary' }), (prefix, rest) => {
          const upper = prefixUpperBound(prefix);
          if (upper !== undefined) {
            expect(prefix + rest < upper).toBe(true);
            expect(upper > prefix).toBe(true);
          }
          // Any string in [prefix, upper) starts with prefix.
          if (upper !== undefined && rest >= prefix && rest < upper) expect(rest.startsWith(prefix)).toBe(true);
        }),
      );
    });
  });

  describe('by pid and by owner node', () => {
    function spread(): void {
      tables.register(null, 'k1', a1, 'r', 1);
      tables.register('eu', 'k1', a1, 'r', 1);
      tables.register('', 'z', a1, 'r', 1);
      tables.join(null, 'g', a1, 'm', 1);
      tables.join('eu', 'g', a1, 'm', 1);
      tables.join('eu', 'g', b1, 'm', 1);
      tables.register(null, 'k2', a2, 'r', 1);
      tables.join(null, 'g', a2, 'm', 1);
      tables.join(null, 'g', b1, 'm', 1);
      tables.register('eu', 'k2', b1, 'r', 1);
    }
    const ids = (rows: readonly Row[]): string[] => rows.map((r) => `${r.kind}:${String(r.cluster)}:${r.key}:${r.pid.key}`);

    it('rowsOfPid returns registry and memberships of every cluster in canonical order', () => {
      spread();
      expect(ids(tables.rowsOfPid(new Pid('a', 1, 1)))).toEqual([
        'member:null:g:<a.1.1>',
        'registry:null:k1:<a.1.1>',
        'registry::z:<a.1.1>',
        'member:eu:g:<a.1.1>',
        'registry:eu:k1:<a.1.1>',
      ]);
      expect(tables.rowsOfPid(c1)).toEqual([]);
    });

    it('removePids removes the pid’s rows in every cluster and nothing else', () => {
      spread();
      const [removed] = tables.removePids([a1]) as [Row[]];
      expect(ids(removed)).toEqual(ids(removed.slice().sort(canonical)));
      expect(removed).toHaveLength(5);
      expect(tables.rowsOfPid(a1)).toEqual([]);
      expect(tables.lookup(null, 'k1')).toBeUndefined();
      expect(tables.lookup('eu', 'k1')).toBeUndefined();
      expect(tables.clusters()).toEqual([null, 'eu']);
      expect(tables.members(null, 'g').map((r) => r.pid.key)).toEqual([a2.key, b1.key]);
      expect(tables.members('eu', 'g').map((r) => r.pid.key)).toEqual([b1.key]);
      expect(tables.rowsOfPid(a2)).toHaveLength(2);
      expect(tables.removePids([a1])).toEqual([[]]);
    });

    it('removePids takes many members of one group out together, per pid in the given order, of one cluster when asked', () => {
      const pids = Array.from({ length: 40 }, (_, i) => new Pid(i % 2 ? 'a' : 'b', 1, 100 + i));
      for (const pid of pids) {
        tables.join(null, 'big', pid, null, 1);
        tables.join('eu', 'big', pid, null, 1);
        tables.register(null, `k${pid.id}`, pid, null, 1);
      }
      const doomed = pids.filter((_, i) => i % 3 !== 0).reverse();
      const removed = tables.removePids(doomed, null);
      expect(removed.map((rows) => rows.map((r) => [r.cluster, r.key, r.pid.key]))).toEqual(doomed.map((pid) => [[null, 'big', pid.key], [null, `k${pid.id}`, pid.key]].sort()));
      const kept = pids.filter((_, i) => i % 3 === 0).sort((x, y) => x.compare(y));
      expect(tables.members(null, 'big').map((r) => r.pid.key)).toEqual(kept.map((p) => p.key));
      expect(tables.members('eu', 'big')).toHaveLength(40);
      expect(tables.checkConsistency()).toEqual([]);
    });

    it('purgeNode removes every row owned by the node in every cluster (any order)', () => {
      spread();
      const removed = tables.purgeNode('a');
      expect(ids(removed.slice().sort(canonical))).toEqual([
        'member:null:g:<a.1.1>',
        'member:null:g:<a.1.2>',
        'registry:null:k1:<a.1.1>',
        'registry:null:k2:<a.1.2>',
        'registry::z:<a.1.1>',
        'member:eu:g:<a.1.1>',
        'registry:eu:k1:<a.1.1>',
      ]);
      expect(tables.ownerNodes()).toEqual(['b']);
      expect(tables.clusters()).toEqual([null, 'eu']);
      expect(ids(tables.purgeNode('b').sort(canonical))).toEqual(['member:null:g:<b.1.1>', 'member:eu:g:<b.1.1>', 'registry:eu:k2:<b.1.1>']);
      expect(tables.clusters()).toEqual([]);
      expect(tables.purgeNode('b')).toEqual([]);
    });

    it('purgeNode of many members of one large group keeps the other nodes’ members in order', () => {
      const pids: Pid[] = [];
      for (let i = 0; i < 300; i++) pids.push(new Pid(['a', 'b', 'c'][i % 3]!, 1 + (i % 2), i));
      for (const pid of pids) tables.join(null, 'big', pid, null, 1);
      const removed = tables.purgeNode('b');
      expect(removed).toHaveLength(100);
      const rest = pids.filter((p) => p.node !== 'b').sort((x, y) => x.compare(y));
      expect(tables.members(null, 'big').map((r) => r.pid.key)).toEqual(rest.map((p) => p.key));
      expect(tables.memberCount(null, 'big')).toBe(200);
    });

    it('purgeClusterOwnedBy removes only that cluster’s rows of the node', () => {
      spread();
      expect(ids(tables.purgeClusterOwnedBy('eu', 'a').sort(canonical))).toEqual(['member:eu:g:<a.1.1>', 'registry:eu:k1:<a.1.1>']);
      expect(tables.lookup(null, 'k1')).toBeDefined();
      expect(tables.lookup('', 'z')).toBeDefined();
      expect(tables.members('eu', 'g').map((r) => r.pid.key)).toEqual([b1.key]);
      expect(tables.purgeClusterOwnedBy('nowhere', 'a')).toEqual([]);
      expect(ids(tables.purgeClusterOwnedBy(null, 'a').sort(canonical))).toEqual([
        'member:null:g:<a.1.1>',
        'member:null:g:<a.1.2>',
        'registry:null:k1:<a.1.1>',
        'registry:null:k2:<a.1.2>',
      ]);
      expect(ids(tables.rowsOfPid(a1))).toEqual(['registry::z:<a.1.1>']);
    });

    it('snapshotOwned lists the node’s rows of one cluster, registry and members apart, in key then Pid order', () => {
      spread();
      const snap = tables.snapshotOwned(null, 'a');
      expect(ids(snap.registry)).toEqual(['registry:null:k1:<a.1.1>', 'registry:null:k2:<a.1.2>']);
      expect(ids(snap.members)).toEqual(['member:null:g:<a.1.1>', 'member:null:g:<a.1.2>']);
      expect(tables.snapshotOwned('eu', 'c')).toEqual({ registry: [], members: [] });
      expect(tables.localRegistryCount('eu', 'a')).toBe(1);
      expect(tables.localRegistryCount('eu', 'b')).toBe(1);
      expect(tables.localRegistryCount(null, 'a')).toBe(2);
      // a snapshot is a copy: purging afterwards does not change it
      tables.purgeNode('a');
      expect(snap.registry).toHaveLength(2);
    });

    it('a pid with many rows (past the small-array limit) stays indexed as it grows and shrinks', () => {
      for (let i = 0; i < 40; i++) {
        tables.join(i % 2 ? 'eu' : null, `g${i}`, a1, i, i);
        expect(tables.checkConsistency()).toEqual([]);
      }
      tables.register(null, 'name', a1, null, 1);
      expect(tables.rowsOfPid(a1)).toHaveLength(41);
      for (let i = 0; i < 38; i++) {
        tables.leave(i % 2 ? 'eu' : null, `g${i}`, a1);
        expect(tables.checkConsistency()).toEqual([]);
      }
      expect(ids(tables.rowsOfPid(a1))).toEqual(['registry:null:name:<a.1.1>', 'member:eu:g39:<a.1.1>', 'member:null:g38:<a.1.1>'].sort(byCanonicalId));
      expect(tables.removePids([a1])[0]).toHaveLength(3);
    });

    it('rows of one pid share one Pid instance whatever instances the writes passed', () => {
      tables.register(null, 'k', a1, null, 1);
      tables.join(null, 'g', new Pid('a', 1, 1), null, 1);
      tables.join('eu', 'g', new Pid('a', 1, 1), null, 1);
      const rows = tables.rowsOfPid(new Pid('a', 1, 1));
      expect(rows).toHaveLength(3);
      expect(rows.every((r) => r.pid === a1)).toBe(true);
    });

    it('clear empties every table', () => {
      spread();
      tables.clear();
      expect(tables.clusters()).toEqual([]);
      expect(tables.ownerNodes()).toEqual([]);
      expect(tables.lookup(null, 'k1')).toBeUndefined();
      expect(tables.members(null, 'g')).toEqual([]);
      expect(tables.registeredKeys(null)).toEqual([]);
      spread();
      expect(tables.rowsOfPid(a1)).toHaveLength(5);
    });
  });
});

/** The canonical order, written independently of the implementation. */
type Sortable = Pick<Row, 'kind' | 'cluster' | 'key' | 'pid'>;
function canonical(x: Sortable, y: Sortable): number {
  const cl = (c: Cluster): string => (c === null ? '0' : `1${c}`);
  if (x.cluster !== y.cluster) return cl(x.cluster) < cl(y.cluster) ? -1 : 1;
  if (x.key !== y.key) return x.key < y.key ? -1 : 1;
  if (x.kind !== y.kind) return x.kind === 'registry' ? -1 : 1;
  return x.pid.compare(y.pid);
}

function byCanonicalId(x: string, y: string): number {
  const parse = (s: string): [string, string, string] => {
    const [kind, cluster, key] = s.split(':') as [string, string, string];
    return [cluster === 'null' ? '0' : `1${cluster}`, key, kind === 'registry' ? '0' : '1'];
  };
  const [p, q] = [parse(x), parse(y)];
  for (let i = 0; i < 3; i++) if (p[i] !== q[i]) return p[i]! < q[i]! ? -1 : 1;
  return 0;
}

describe('rows (what lookup and members hand out as entries)', () => {
  const pid = new Pid('a', 1, 7);
  for (const cluster of [null, 'eu'] as const) {
    it(`are frozen, with pid and meta as their only own fields, in cluster ${String(cluster)}`, () => {
      for (const row of [registryRow(cluster, 'k', pid, { n: 1 }, 42), memberRow(cluster, 'k', pid, { n: 1 }, 42)]) {
        expect(Object.keys(row)).toEqual(['pid', 'meta']);
        expect(row).toEqual({ pid, meta: { n: 1 } });
        expect(JSON.parse(JSON.stringify(row))).toEqual({ pid: pid.key, meta: { n: 1 } });
        expect([row.cluster, row.key, row.time, row.node]).toEqual([cluster, 'k', 42, 'a']);
        expect(Object.isFrozen(row)).toBe(true);
        expect(() => {
          (row as { meta: unknown }).meta = 'changed';
        }).toThrow(TypeError);
        expect(row.meta).toEqual({ n: 1 });
      }
    });
  }
});

describe('checkConsistency', () => {
  type Internals = {
    defaultTable: { registry: Map<string, Row>; groups: Map<string, unknown>; keys: { set(k: string, v: undefined): void } | undefined; memberCount: number };
    namedTables: Map<string, unknown>;
    byOwner: Map<string, { byId: { entries(): Array<[number, unknown]>; delete(id: number): boolean } }>;
  };
  function populated(): { tables: GroupTables; internals: Internals } {
    const tables = new GroupTables();
    tables.register(null, 'k', a1, null, 1);
    tables.join(null, 'g', a1, null, 1);
    tables.join(null, 'g', b1, null, 1);
    tables.join(null, 'g', c1, null, 1);
    tables.join('eu', 'h', b1, null, 1);
    expect(tables.checkConsistency()).toEqual([]);
    return { tables, internals: tables as unknown as Internals };
  }

  it('reports a row missing from the owner index', () => {
    const { tables, internals } = populated();
    const byId = internals.byOwner.get('c')!.byId;
    for (const [id] of byId.entries()) byId.delete(id);
    expect(tables.checkConsistency().join('\n')).toMatch(/empty owner map left for node "c"[\s\S]*owner index holds 4 rows, cluster tables 5/);
  });

  it('reports a row reachable from the owner index but not from its cluster table', () => {
    const { tables, internals } = populated();
    internals.defaultTable.registry.delete('k');
    expect(tables.checkConsistency().join('\n')).toMatch(/registry row \(null, "k", <a\.1\.1>\) is not in its cluster table/);
  });

  it('reports a key index out of step with the tables', () => {
    const { tables, internals } = populated();
    tables.groups(null); // builds the key index (it is built on the first listing)
    internals.defaultTable.keys!.set('ghost', undefined);
    expect(tables.checkConsistency().join('\n')).toMatch(/key index holds "ghost" with no rows/);
  });

  it('reports members out of Pid order, a wrong member count and an empty cluster table', () => {
    const { tables, internals } = populated();
    (internals.defaultTable.groups.get('g') as Row[]).reverse();
    internals.defaultTable.memberCount = 7;
    internals.namedTables.set('empty', (tables as unknown as { defaultTable: unknown }).defaultTable);
    const report = tables.checkConsistency().join('\n');
    expect(report).toMatch(/members of "g" not in strict Pid order/);
    expect(report).toMatch(/memberCount 7, actual 3/);
    expect(report).toMatch(/cluster table under "empty" is for null/);
  });
});

// ---- model-based property ------------------------------------------------------------------------

/** The naive reference: two arrays of plain rows. */
interface ModelRow {
  kind: 'registry' | 'member';
  cluster: Cluster;
  key: string;
  pid: Pid;
  meta: unknown;
  time: number;
}

type Op =
  | { op: 'register' | 'join'; cluster: Cluster; key: string; pid: Pid; meta: number; time: number }
  | { op: 'unregister'; cluster: Cluster; key: string; pid: Pid | undefined }
  | { op: 'leave'; cluster: Cluster; key: string; pid: Pid }
  | { op: 'removePids'; pids: Pid[]; cluster: Cluster | undefined }
  | { op: 'removeIds'; node: string; incarnation: number; ids: number[]; cluster: Cluster | undefined }
  | { op: 'purgeNode'; node: string }
  | { op: 'purgeClusterOwnedBy'; cluster: Cluster; node: string };

const CLUSTERS: Cluster[] = [null, '', 'c1'];
const KEYS = ['', 'a', 'a/', 'a/b', 'a/b/c', 'ab', 'b', 'é', '😀'];
const NODES = ['n1', 'n2', 'n3'];
const PREFIXES = ['', 'a', 'a/', 'a/b', 'b', 'é', '\ud83d', 'zz'];

const clusterArb = fc.constantFrom(...CLUSTERS);
const keyArb = fc.constantFrom(...KEYS);
const nodeArb = fc.constantFrom(...NODES);
const pidArb = fc.tuple(nodeArb, fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 4 })).map(([n, inc, id]) => new Pid(n, inc, id));

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      op: fc.constantFrom('register' as const, 'join' as const),
      cluster: clusterArb,
      key: keyArb,
      pid: pidArb,
      meta: fc.integer({ min: 0, max: 3 }),
      time: fc.integer({ min: 0, max: 1e13 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('unregister' as const), cluster: clusterArb, key: keyArb, pid: fc.option(pidArb, { nil: undefined }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('leave' as const), cluster: clusterArb, key: keyArb, pid: pidArb }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('removePids' as const), pids: fc.uniqueArray(pidArb, { selector: (p) => p.key, minLength: 1, maxLength: 4 }), cluster: fc.option(clusterArb, { nil: undefined }) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('removeIds' as const),
      node: nodeArb,
      incarnation: fc.integer({ min: 1, max: 2 }),
      ids: fc.uniqueArray(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 4 }),
      cluster: fc.option(clusterArb, { nil: undefined }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('purgeNode' as const), node: nodeArb }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('purgeClusterOwnedBy' as const), cluster: clusterArb, node: nodeArb }) },
);

function modelPlain(row: ModelRow | undefined): object | undefined {
  return row === undefined ? undefined : { kind: row.kind, cluster: row.cluster, key: row.key, pid: row.pid.key, meta: row.meta, time: row.time };
}

class Model {
  rows: ModelRow[] = [];

  private find(kind: ModelRow['kind'], cluster: Cluster, key: string, pid?: Pid): number {
    return this.rows.findIndex((r) => r.kind === kind && r.cluster === cluster && r.key === key && (pid === undefined || r.pid.equals(pid)));
  }

  private take(index: number): ModelRow | undefined {
    return index < 0 ? undefined : this.rows.splice(index, 1)[0];
  }

  private removeWhere(pred: (r: ModelRow) => boolean): ModelRow[] {
    const removed = this.rows.filter(pred).sort(canonical);
    this.rows = this.rows.filter((r) => !pred(r));
    return removed;
  }

  apply(op: Op): unknown {
    switch (op.op) {
      case 'register':
      case 'join': {
        const kind = op.op === 'register' ? 'registry' : 'member';
        const previous = this.take(this.find(kind, op.cluster, op.key, kind === 'member' ? op.pid : undefined));
        this.rows.push({ kind, cluster: op.cluster, key: op.key, pid: op.pid, meta: op.meta, time: op.time });
        return modelPlain(previous);
      }
      case 'unregister': {
        const index = this.find('registry', op.cluster, op.key);
        if (index >= 0 && op.pid !== undefined && !this.rows[index]!.pid.equals(op.pid)) return undefined;
        return modelPlain(this.take(index));
      }
      case 'leave':
        return modelPlain(this.take(this.find('member', op.cluster, op.key, op.pid)));
      case 'removePids':
        return op.pids.map((pid) => this.removeWhere((r) => r.pid.equals(pid) && (op.cluster === undefined || r.cluster === op.cluster)).map(modelPlain));
      case 'removeIds':
        return op.ids.map((id) => this.removeWhere((r) => r.pid.equals(new Pid(op.node, op.incarnation, id)) && (op.cluster === undefined || r.cluster === op.cluster)).map(modelPlain));
      case 'purgeNode':
        return this.removeWhere((r) => r.pid.node === op.node).map(modelPlain);
      case 'purgeClusterOwnedBy':
        return this.removeWhere((r) => r.pid.node === op.node && r.cluster === op.cluster).map(modelPlain);
    }
  }

  sorted(pred: (r: ModelRow) => boolean): (object | undefined)[] {
    return this.rows
      .filter(pred)
      .sort(canonical)
      .map(modelPlain);
  }
}

function applyReal(tables: GroupTables, op: Op): unknown {
  switch (op.op) {
    case 'register':
      return plain(tables.register(op.cluster, op.key, op.pid, op.meta, op.time));
    case 'join':
      return plain(tables.join(op.cluster, op.key, op.pid, op.meta, op.time));
    case 'unregister':
      return plain(tables.unregister(op.cluster, op.key, op.pid));
    case 'leave':
      return plain(tables.leave(op.cluster, op.key, op.pid));
    case 'removePids':
      return tables.removePids(op.pids, op.cluster).map(plainAll);
    case 'removeIds':
      return tables.removeIds(op.node, op.incarnation, op.ids, op.cluster).map(plainAll);
    case 'purgeNode':
      return plainAll(tables.purgeNode(op.node).sort(canonical));
    case 'purgeClusterOwnedBy':
      return plainAll(tables.purgeClusterOwnedBy(op.cluster, op.node).sort(canonical));
  }
}

/** Compare every read of the tables with the model. */
function expectSameState(tables: GroupTables, model: Model): void {
  expect(tables.checkConsistency()).toEqual([]);
  const isReg = (r: ModelRow): boolean => r.kind === 'registry';
  for (const cluster of CLUSTERS) {
    const inCluster = (r: ModelRow): boolean => r.cluster === cluster;
    expect(tables.registryCount(cluster)).toBe(model.rows.filter((r) => inCluster(r) && isReg(r)).length);
    expect(tables.memberCount(cluster)).toBe(model.rows.filter((r) => inCluster(r) && !isReg(r)).length);
    for (const key of KEYS) {
      const at = (r: ModelRow): boolean => inCluster(r) && r.key === key;
      expect(plain(tables.lookup(cluster, key))).toEqual(model.sorted((r) => at(r) && isReg(r))[0]);
      expect(plainAll(tables.members(cluster, key))).toEqual(model.sorted((r) => at(r) && !isReg(r)));
      expect(tables.memberCount(cluster, key)).toBe(model.rows.filter((r) => at(r) && !isReg(r)).length);
      for (const node of NODES) {
        expect(tables.localMemberCount(cluster, key, node)).toBe(model.rows.filter((r) => at(r) && !isReg(r) && r.pid.node === node).length);
      }
    }
    for (const prefix of PREFIXES) {
      const under = (r: ModelRow): boolean => inCluster(r) && r.key.startsWith(prefix);
      expect(plainAll(tables.registryByPrefix(cluster, prefix))).toEqual(model.sorted((r) => under(r) && isReg(r)));
      expect(plainAll(tables.membersByPrefix(cluster, prefix))).toEqual(model.sorted((r) => under(r) && !isReg(r)));
      const keysOf = (pred: (r: ModelRow) => boolean): string[] => [...new Set(model.rows.filter(pred).map((r) => r.key))].sort();
      expect(tables.registeredKeys(cluster, prefix)).toEqual(keysOf((r) => under(r) && isReg(r)));
      expect(tables.groups(cluster, prefix)).toEqual(keysOf((r) => under(r) && !isReg(r)));
    }
    for (const node of NODES) {
      const owned = (r: ModelRow): boolean => inCluster(r) && r.pid.node === node;
      const snap = tables.snapshotOwned(cluster, node);
      expect(plainAll(snap.registry)).toEqual(model.sorted((r) => owned(r) && isReg(r)));
      expect(plainAll(snap.members)).toEqual(model.sorted((r) => owned(r) && !isReg(r)));
      expect(tables.localRegistryCount(cluster, node)).toBe(model.rows.filter((r) => owned(r) && isReg(r)).length);
    }
  }
  const pids = new Map(model.rows.map((r) => [r.pid.key, r.pid]));
  for (const pid of pids.values()) expect(plainAll(tables.rowsOfPid(pid))).toEqual(model.sorted((r) => r.pid.equals(pid)));
  expect(tables.ownerNodes()).toEqual([...new Set(model.rows.map((r) => r.pid.node))].sort());
  expect(tables.clusters()).toEqual(CLUSTERS.filter((c) => model.rows.some((r) => r.cluster === c)));
}

describe('GroupTables against a naive model (fast-check)', () => {
  it('random operation sequences give the model’s results and leave every index consistent', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 80 }), (ops) => {
        const tables = new GroupTables();
        const model = new Model();
        for (const op of ops) {
          expect(applyReal(tables, op)).toEqual(model.apply(op));
          expectSameState(tables, model);
        }
      }),
      { numRuns: 80 },
    );
  });

  const poolPid = (ids: number): fc.Arbitrary<Pid> => fc.tuple(nodeArb, fc.integer({ min: 1, max: ids })).map(([n, id]) => new Pid(n, 1, id));
  /** `resets`: weight of removePids and purgeNode, against 30 for joins. */
  function churn(keys: string[], pid: fc.Arbitrary<Pid>, resets: number): fc.Arbitrary<Op[]> {
    const cluster = fc.constantFrom<Cluster>(null, 'c1');
    const key = fc.constantFrom(...keys);
    const op: fc.Arbitrary<Op> = fc.oneof(
      {
        weight: 30,
        arbitrary: fc.record({ op: fc.constant('join' as const), cluster, key, pid, meta: fc.integer({ min: 0, max: 3 }), time: fc.integer({ min: 0, max: 100 }) }),
      },
      { weight: 15, arbitrary: fc.record({ op: fc.constant('leave' as const), cluster, key, pid }) },
      { weight: 5, arbitrary: fc.record({ op: fc.constant('register' as const), cluster, key, pid, meta: fc.constant(0), time: fc.constant(0) }) },
      { weight: resets, arbitrary: fc.record({ op: fc.constant('removePids' as const), pids: fc.uniqueArray(pid, { selector: (p) => p.key, minLength: 1, maxLength: 8 }), cluster: fc.constant(undefined) }) },
      { weight: resets, arbitrary: fc.record({ op: fc.constant('purgeNode' as const), node: nodeArb }) },
    );
    return fc.array(op, { minLength: 50, maxLength: 300 });
  }
  function runChurn(ops: Op[]): void {
    const tables = new GroupTables();
    const model = new Model();
    ops.forEach((op) => {
      expect(applyReal(tables, op)).toEqual(model.apply(op));
      expect(tables.checkConsistency()).toEqual([]);
    });
    expectSameState(tables, model);
  }
  /** Start with 100 members in (null, 'a'), so member arrays pass the exact-copy threshold. */
  const crowded = (ops: Op[]): Op[] => [
    ...Array.from({ length: 100 }, (_, i): Op => ({ op: 'join', cluster: null, key: 'a', pid: new Pid(NODES[i % 3]!, 1, 1 + (i % 40)), meta: 0, time: 0 })),
    ...ops,
  ];

  it('large groups: many pids in a few keys (member arrays grow, shrink, and are filtered by purges)', () => {
    fc.assert(fc.property(churn(['a', 'a/b', 'b'], poolPid(40), 1).map(crowded), runChurn), { numRuns: 30 });
  });

  it('busy pids: two pids in many groups (pid rows pass the small-array limit and come back)', () => {
    const keys = Array.from({ length: 30 }, (_, i) => (i < 3 ? KEYS[i + 1]! : `g${i}`));
    const pid = fc.constantFrom(new Pid('n1', 1, 1), new Pid('n2', 1, 1));
    fc.assert(fc.property(churn(keys, pid, 1), runChurn), { numRuns: 60 });
  });
});
