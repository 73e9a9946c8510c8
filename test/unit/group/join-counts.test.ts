/**
 * Join counting (`joins: 'count'`, pg/pg2): a process may join a group N times and leaves it after
 * N leaves; members() lists it once per join. The owner replicates the count state-based (each
 * join or leave sends the row with its new count; the last leave removes it), so every node lists
 * the same. Events: 'joined' on the first join, 'left' on the last leave, none for a count change.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Group, type Pid } from '../../../src/index.js';
import { HEARTBEAT, idle } from '../node/sim-helpers.js';
import { actor, keys, memberKeys, pgCluster, type PgCluster } from './pg-support.js';

let cluster: PgCluster | undefined;
afterEach(async () => {
  await cluster?.sim.teardown();
  cluster = undefined;
});

const joins = (g: Group, key: string, pid: Pid): number => g.memberInfo(key, { pid })?.joins ?? 0;

describe("Group joins: 'count'", () => {
  it('lists a process once per join on every node, and removes it after as many leaves', async () => {
    cluster = await pgCluster(21, ['a', 'b', 'c'], { joins: 'count' });
    const [a, b] = cluster.nodes;
    const [ga, gb, gc] = cluster.groups;
    const p = idle(a!);
    const q = idle(b!);
    for (let i = 0; i < 3; i++) expect(ga!.join('room', { n: 1 }, { pid: p })).toBe('ok');
    gb!.join('room', {}, { pid: q });
    await cluster.settle();
    const expected = [p.key, p.key, p.key, q.key];
    for (const g of [ga!, gb!, gc!]) {
      expect(memberKeys(g, 'room')).toEqual(expected);
      expect(g.memberCount('room')).toBe(4);
      expect(g.memberCount()).toBe(4);
      expect(joins(g, 'room', p)).toBe(3);
    }
    expect(ga!.leave('room', { pid: p })).toBe('ok');
    expect(ga!.leave('room', { pid: p })).toBe('ok');
    await cluster.settle();
    for (const g of [ga!, gb!, gc!]) {
      expect(memberKeys(g, 'room')).toEqual([p.key, q.key]);
      expect(joins(g, 'room', p)).toBe(1);
      expect(g.checkConsistency()).toEqual([]);
    }
    expect(ga!.leave('room', { pid: p })).toBe('ok');
    expect(ga!.leave('room', { pid: p })).toBe('not_in_group');
    await cluster.settle();
    for (const g of [ga!, gb!, gc!]) {
      expect(memberKeys(g, 'room')).toEqual([q.key]);
      expect(g.memberInfo('room', { pid: p })).toBeNull();
    }
  });

  it("events: 'joined' on the first join, nothing for count changes, 'left' on the last leave (every node)", async () => {
    cluster = await pgCluster(22, ['a', 'b'], { joins: 'count' });
    const [a] = cluster.nodes;
    const [ga] = cluster.groups;
    const p = idle(a!);
    ga!.join('room', { n: 1 }, { pid: p });
    ga!.join('room', { n: 1 }, { pid: p });
    ga!.leave('room', { pid: p });
    await cluster.settle();
    for (const events of cluster.events) expect(events.map((e) => e.type)).toEqual(['joined']);
    // A join with new meta is an update (previousMeta set) besides counting.
    ga!.join('room', { n: 2 }, { pid: p });
    ga!.leave('room', { pid: p });
    ga!.leave('room', { pid: p });
    await cluster.settle();
    for (const events of cluster.events) {
      expect(events.map((e) => [e.type, e.previousMeta, e.reason])).toEqual([
        ['joined', null, null],
        ['joined', { n: 1 }, null],
        ['left', null, 'leave'],
      ]);
    }
  });

  it('a dead process loses every join at once, everywhere', async () => {
    cluster = await pgCluster(23, ['a', 'b', 'c'], { joins: 'count' });
    const [a] = cluster.nodes;
    const [ga, gb, gc] = cluster.groups;
    const p = idle(a!);
    for (let i = 0; i < 4; i++) ga!.join('room', {}, { pid: p });
    await cluster.settle();
    expect(gc!.memberCount('room')).toBe(4);
    a!.exit(p, 'crashed');
    await cluster.sim.until(() => [ga!, gb!, gc!].every((g) => g.memberCount('room') === 0), 'the dead member is gone everywhere');
    for (const events of cluster.events.slice(1)) expect(events.map((e) => [e.type, e.reason])).toEqual([['joined', null], ['left', 'crashed']]);
  });

  it("a node's death purges its members' joins on the others", async () => {
    cluster = await pgCluster(24, ['a', 'b', 'c'], { joins: 'count' });
    const [a, b] = cluster.nodes;
    const [ga, gb, gc] = cluster.groups;
    const p = idle(a!);
    const q = idle(b!);
    ga!.join('room', {}, { pid: p });
    ga!.join('room', {}, { pid: p });
    gb!.join('room', {}, { pid: q });
    gb!.join('room', {}, { pid: q });
    gb!.join('room', {}, { pid: q });
    await cluster.settle();
    expect(gc!.memberCount('room')).toBe(5);
    await cluster.sim.crash(b!);
    await cluster.sim.until(() => !gc!.nodes().includes('b') && !ga!.nodes().includes('b'), 'b is seen down', HEARTBEAT.timeoutMs * 4);
    for (const g of [ga!, gc!]) {
      expect(memberKeys(g, 'room')).toEqual([p.key, p.key]);
      expect(g.checkConsistency()).toEqual([]);
    }
  });

  it('a node that starts later receives the counts in the snapshot', async () => {
    cluster = await pgCluster(25, ['a', 'b'], { joins: 'count' });
    const [a] = cluster.nodes;
    const [ga] = cluster.groups;
    const p = idle(a!);
    for (let i = 0; i < 3; i++) ga!.join('room', { n: i }, { pid: p, topics: [`t${i}`] });
    const d = await cluster.sim.start('d', { seeds: ['a'] });
    await cluster.sim.until(() => d.peers().length === 2, 'd meshed');
    const gd = await Group.start(d, { name: 'app', log: false, joins: 'count' });
    await cluster.sim.until(() => gd.memberCount('room') === 3, 'd lists three joins');
    expect(gd.memberInfo('room', { pid: p })).toEqual({ pid: p, meta: { n: 2 }, topics: ['t0', 't1', 't2'], joins: 3 });
    // A leave is then replicated as the row with its new count.
    ga!.leave('room', { pid: p });
    await cluster.sim.until(() => gd.memberCount('room') === 2, 'd sees the leave');
    expect(gd.checkConsistency()).toEqual([]);
  });

  it('listing options: limit counts joins, prefixes and localMembers repeat per join, publish sends once', async () => {
    cluster = await pgCluster(26, ['a', 'b'], { joins: 'count' });
    const [a] = cluster.nodes;
    const [ga, gb] = cluster.groups;
    const x = actor(a!);
    const y = idle(a!);
    ga!.join('rooms/1', {}, { pid: x.pid });
    ga!.join('rooms/1', {}, { pid: x.pid });
    ga!.join('rooms/2', {}, { pid: y });
    await cluster.settle();
    expect(keys(gb!.members('rooms/1', { limit: 1 }).map((e) => e.pid))).toEqual([x.pid.key]);
    expect(keys(gb!.members('rooms/').map((e) => e.pid))).toEqual([x.pid.key, x.pid.key, y.key]);
    expect(gb!.members('rooms/1', { extractMeta: () => 'm' }).map((e) => e.meta)).toEqual(['m', 'm']);
    expect(keys(ga!.localMembers('rooms/1').map((e) => e.pid))).toEqual([x.pid.key, x.pid.key]);
    expect(ga!.localMemberCount('rooms/1')).toBe(2);
    expect(keys(gb!.publish('rooms/1', 'hi'))).toEqual([x.pid.key]);
    await cluster.settle();
    expect(x.inbox).toEqual(['hi']);
  });

  it("'update' (the default) keeps one membership per process: one leave removes it", async () => {
    cluster = await pgCluster(27, ['a', 'b']);
    const [a] = cluster.nodes;
    const [ga, gb] = cluster.groups;
    const p = idle(a!);
    ga!.join('room', {}, { pid: p });
    ga!.join('room', {}, { pid: p });
    await cluster.settle();
    expect(memberKeys(gb!, 'room')).toEqual([p.key]);
    expect(joins(gb!, 'room', p)).toBe(1);
    expect(ga!.leave('room', { pid: p })).toBe('ok');
    await cluster.settle();
    expect(gb!.memberCount('room')).toBe(0);
  });

  it('refuses an unknown joins mode', async () => {
    cluster = await pgCluster(28, ['a']);
    const [a] = cluster.nodes;
    await expect(Group.start(a!, { name: 'other', joins: 'twice' as 'count' })).rejects.toThrow(/joins must be 'update' or 'count'/);
  });
});
