/**
 * syn-style read-modify-write (updateMeta for a registration, updateMember for a membership):
 * atomic on the owning node, replicated like any update; 'not_owner' on another node (a function
 * cannot be shipped), 'not_found' when absent; a throwing fn changes nothing and its error
 * propagates. Then strict mode (only a process itself writes its entries) and per-node reads and
 * counts (localGroups, localMembers, registryCount/memberCount/groupCount with {node}).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidArgumentError, type Pid } from '../../../src/index.js';
import { idle } from '../node/sim-helpers.js';
import { actor, pgCluster, type PgCluster } from './pg-support.js';

let cluster: PgCluster | undefined;
afterEach(async () => {
  await cluster?.sim.teardown();
  cluster = undefined;
});

describe('updateMeta', () => {
  it('replaces the meta with fn(oldMeta) on the owner and replicates it, with an update event everywhere', async () => {
    cluster = await pgCluster(31, ['a', 'b', 'c']);
    const [a] = cluster.nodes;
    const [ga, gb, gc] = cluster.groups;
    const p = idle(a!);
    ga!.register('svc', { hits: 1 }, { pid: p });
    await cluster.settle();
    expect(ga!.updateMeta('svc', (meta) => ({ hits: (meta as { hits: number }).hits + 1 }))).toBe('ok');
    expect(ga!.updateMeta('svc', (meta) => ({ hits: (meta as { hits: number }).hits + 1 }))).toBe('ok');
    await cluster.settle();
    for (const g of [ga!, gb!, gc!]) expect(g.lookup('svc')).toEqual({ pid: p, meta: { hits: 3 } });
    for (const events of cluster.events) {
      expect(events.map((e) => [e.type, e.meta, e.previousMeta])).toEqual([
        ['registered', { hits: 1 }, null],
        ['registered', { hits: 2 }, { hits: 1 }],
        ['registered', { hits: 3 }, { hits: 2 }],
      ]);
    }
  });

  it("'not_owner' on another node, 'not_found' when absent; fn is not called then", async () => {
    cluster = await pgCluster(32, ['a', 'b']);
    const [a] = cluster.nodes;
    const [ga, gb] = cluster.groups;
    ga!.register('svc', { v: 1 }, { pid: idle(a!) });
    await cluster.settle();
    let calls = 0;
    const fn = (meta: unknown): unknown => {
      calls++;
      return meta;
    };
    expect(gb!.updateMeta('svc', fn)).toBe('not_owner');
    expect(ga!.updateMeta('nothing', fn)).toBe('not_found');
    expect(calls).toBe(0);
  });

  it('a throwing fn changes nothing anywhere and its error propagates; an unchanged meta sends nothing', async () => {
    cluster = await pgCluster(33, ['a', 'b']);
    const [a] = cluster.nodes;
    const [ga, gb] = cluster.groups;
    const p = idle(a!);
    ga!.register('svc', { v: 1 }, { pid: p });
    await cluster.settle();
    const boom = new Error('boom');
    expect(() =>
      ga!.updateMeta('svc', () => {
        throw boom;
      }),
    ).toThrow(boom);
    expect(ga!.updateMeta('svc', (meta) => ({ ...(meta as object) }))).toBe('ok');
    await cluster.settle();
    expect(gb!.lookup('svc')?.meta).toEqual({ v: 1 });
    for (const events of cluster.events) expect(events.length).toBe(1);
  });

  it('misuse: fn not a function, a promise returned, fn writing the entry itself', async () => {
    cluster = await pgCluster(34, ['a']);
    const [a] = cluster.nodes;
    const [ga] = cluster.groups;
    ga!.register('svc', { v: 1 }, { pid: idle(a!) });
    expect(() => ga!.updateMeta('svc', 'v2' as unknown as () => unknown)).toThrow(/fn must be a function/);
    expect(() => ga!.updateMeta('svc', async () => ({ v: 2 }))).toThrow(/returned a promise/);
    expect(() =>
      ga!.updateMeta('svc', (meta) => {
        ga!.unregister('svc');
        return meta;
      }),
    ).toThrow(/fn changed the registration itself/);
    expect(() => ga!.updateMeta('', (m) => m)).toThrow(InvalidArgumentError);
    expect(ga!.lookup('svc')).toBeNull();
  });
});

describe('updateMember', () => {
  it('replaces a membership meta, keeping topics and join count, on every node', async () => {
    cluster = await pgCluster(35, ['a', 'b', 'c'], { joins: 'count' });
    const [a] = cluster.nodes;
    const [ga, gb, gc] = cluster.groups;
    const x = actor(a!);
    ga!.join('room', { n: 1 }, { pid: x.pid, topics: ['t'] });
    ga!.join('room', { n: 1 }, { pid: x.pid });
    // Default pid: the calling process.
    expect(await cluster.sim.resolve(x.call(() => ga!.updateMember('room', () => ({ n: 5 }))), 'update from inside')).toBe('ok');
    await cluster.settle();
    for (const g of [ga!, gb!, gc!]) expect(g.memberInfo('room', { pid: x.pid })).toEqual({ pid: x.pid, meta: { n: 5 }, topics: ['t'], joins: 2 });
    for (const events of cluster.events) expect(events.map((e) => [e.type, e.previousMeta])).toEqual([['joined', null], ['joined', { n: 1 }]]);
  });

  it("'not_owner' for another node's member, 'not_found' for a non-member; a throwing fn changes nothing", async () => {
    cluster = await pgCluster(36, ['a', 'b']);
    const [a, b] = cluster.nodes;
    const [ga, gb] = cluster.groups;
    const p = idle(a!);
    ga!.join('room', { n: 1 }, { pid: p });
    await cluster.settle();
    expect(gb!.updateMember('room', (m) => m, { pid: p })).toBe('not_owner');
    expect(gb!.updateMember('room', (m) => m, { pid: idle(b!) })).toBe('not_found');
    expect(() => ga!.updateMember('room', (m) => m)).toThrow(/pass \{pid\}/);
    expect(() =>
      ga!.updateMember('room', () => {
        throw new RangeError('no');
      }, { pid: p }),
    ).toThrow(RangeError);
    await cluster.settle();
    expect(gb!.memberInfo('room', { pid: p })?.meta).toEqual({ n: 1 });
  });
});

describe('strict mode', () => {
  it('lets a process write its own entries and refuses every write for another process or from outside any process', async () => {
    cluster = await pgCluster(37, ['a', 'b'], { strict: true });
    const [a] = cluster.nodes;
    const [ga, gb] = cluster.groups;
    const x = actor(a!);
    const y = actor(a!);
    const run = <T>(who: typeof x, fn: () => T): Promise<T> => cluster!.sim.resolve(who.call(fn), 'a call inside a process');
    expect(await run(x, () => ga!.register('x', { v: 1 }))).toBe('ok');
    expect(await run(x, () => ga!.join('room', {}, { pid: x.pid, topics: ['t'] }))).toBe('ok');
    expect(await run(x, () => ga!.updateMeta('x', () => ({ v: 2 })))).toBe('ok');
    expect(await run(x, () => ga!.updateMember('room', () => ({ n: 1 })))).toBe('ok');
    await cluster.settle();
    expect(gb!.lookup('x')?.meta).toEqual({ v: 2 });
    expect(gb!.memberInfo('room', { pid: x.pid })?.meta).toEqual({ n: 1 });

    // Another process, even on the same node, may not touch x's entries or act for x.
    await expect(run(y, () => ga!.join('room', {}, { pid: x.pid }))).rejects.toThrow(/is strict: .* may write only its own entries/);
    await expect(run(y, () => ga!.leave('room', { pid: x.pid }))).rejects.toThrow(InvalidArgumentError);
    await expect(run(y, () => ga!.unregister('x'))).rejects.toThrow(InvalidArgumentError);
    await expect(run(y, () => ga!.updateMeta('x', () => ({})))).rejects.toThrow(InvalidArgumentError);
    await expect(run(y, () => ga!.updateMember('room', () => ({}), { pid: x.pid }))).rejects.toThrow(InvalidArgumentError);
    // From outside any process, even naming the pid.
    expect(() => ga!.register('z', {}, { pid: x.pid })).toThrow(/call it from inside the process/);
    expect(() => ga!.join('room2', {}, { pid: x.pid })).toThrow(InvalidArgumentError);
    expect(() => ga!.unregister('x')).toThrow(InvalidArgumentError);
    expect(ga!.lookup('x')?.meta).toEqual({ v: 2 });
    expect(ga!.memberCount('room')).toBe(1);

    expect(await run(x, () => ga!.leave('room'))).toBe('ok');
    expect(await run(x, () => ga!.unregister('x'))).toBe('ok');
    await cluster.settle();
    expect(gb!.registryCount()).toBe(0);
    expect(gb!.memberCount()).toBe(0);
  });

  it('is off by default: any local caller may act for a local pid', async () => {
    cluster = await pgCluster(38, ['a']);
    const [a] = cluster.nodes;
    const [ga] = cluster.groups;
    const x = actor(a!);
    const y = actor(a!);
    expect(ga!.join('room', {}, { pid: x.pid })).toBe('ok');
    expect(await cluster.sim.resolve(y.call(() => ga!.register('x', {}, { pid: x.pid })), 'y registers x')).toBe('ok');
    expect(await cluster.sim.resolve(y.call(() => ga!.leave('room', { pid: x.pid })), 'y makes x leave')).toBe('ok');
    expect(ga!.lookup('x')?.pid.key).toBe(x.pid.key);
  });
});

describe('per-node reads and counts', () => {
  it('localGroups, localMembers and counts by node agree with what each node owns', async () => {
    cluster = await pgCluster(39, ['a', 'b', 'c']);
    const [a, b] = cluster.nodes;
    const [ga, gb, gc] = cluster.groups;
    const pa: Pid[] = [idle(a!), idle(a!)];
    const pb: Pid = idle(b!);
    ga!.register('svc/a', {}, { pid: pa[0] });
    ga!.register('svc/a2', {}, { pid: pa[1] });
    gb!.register('svc/b', {}, { pid: pb });
    ga!.join('rooms/1', {}, { pid: pa[0] });
    ga!.join('rooms/2', {}, { pid: pa[0] });
    ga!.join('rooms/2', {}, { pid: pa[1] });
    gb!.join('rooms/2', {}, { pid: pb });
    gb!.join('other', {}, { pid: pb });
    await cluster.settle();

    expect(ga!.localGroups()).toEqual(['rooms/1', 'rooms/2']);
    expect(gb!.localGroups()).toEqual(['other', 'rooms/2']);
    expect(gb!.localGroups({ prefix: 'rooms/' })).toEqual(['rooms/2']);
    expect(gc!.localGroups()).toEqual([]);
    expect(gc!.groups()).toEqual(['other', 'rooms/1', 'rooms/2']);
    expect(gb!.localMembers('rooms/2').map((e) => e.pid.key)).toEqual([pb.key]);
    expect(ga!.localMembers('rooms/2', { limit: 1 }).length).toBe(1);
    expect(gc!.localMembers('rooms/2')).toEqual([]);

    // Every node counts the same from its replica.
    for (const g of [ga!, gb!, gc!]) {
      expect(g.registryCount()).toBe(3);
      expect(g.registryCount({ node: 'a' })).toBe(2);
      expect(g.registryCount({ node: 'b' })).toBe(1);
      expect(g.registryCount({ node: 'c' })).toBe(0);
      expect(g.memberCount()).toBe(5);
      expect(g.memberCount(undefined, { node: 'a' })).toBe(3);
      expect(g.memberCount('rooms/2', { node: 'a' })).toBe(2);
      expect(g.memberCount('rooms/2', { node: 'b' })).toBe(1);
      expect(g.groupCount()).toBe(3);
      expect(g.groupCount({ node: 'a' })).toBe(2);
      expect(g.groupCount({ node: 'b' })).toBe(2);
      expect(g.groupCount({ node: 'c' })).toBe(0);
    }
    expect(ga!.localRegistryCount()).toBe(2);
    expect(ga!.localMemberCount('rooms/2')).toBe(2);
    expect(() => ga!.registryCount({ node: '' })).toThrow(/node must be a node name/);
    expect(() => ga!.groupCount({ node: 3 as unknown as string })).toThrow(InvalidArgumentError);
    expect(() => ga!.localMembers('rooms/2', { limit: -1 })).toThrow(/limit must be a number >= 0/);
    expect(() => ga!.localGroups({ prefix: 1 as unknown as string })).toThrow(InvalidArgumentError);
  });
});
