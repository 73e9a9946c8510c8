/**
 * Group over the simulated network (three nodes, virtual time): replication of registry and
 * memberships, events, process death, node down, partition heal with a conflict, named clusters,
 * dispatch. The full scenario suites of the reference come with the Group issue.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Group, ALL, type Node } from '../../../src/index.js';
import type { GroupEvent } from '../../../src/group/events.js';
import { createSim, idle, type Sim } from '../node/sim-helpers.js';

describe('Group on three simulated nodes', () => {
  let sim: Sim;
  let a: Node;
  let b: Node;
  let c: Node;
  let ga: Group;
  let gb: Group;
  let gc: Group;

  beforeEach(async () => {
    sim = createSim(7);
    [a, b, c] = await sim.cluster('a', 'b', 'c');
    ga = await Group.start(a, { name: 'app', log: false });
    gb = await Group.start(b, { name: 'app', log: false });
    gc = await Group.start(c, { name: 'app', log: false });
    await sim.until(() => [ga, gb, gc].every((g) => g.nodes().length === 2), 'group peers');
  });
  afterEach(async () => {
    await sim.teardown();
  });

  const consistent = (): void => {
    for (const g of [ga, gb, gc]) expect(g.checkConsistency()).toEqual([]);
  };

  it('a registration and memberships replicate to every node, with events on each', async () => {
    const seen: GroupEvent<unknown>[] = [];
    gc.monitor(ALL, (events) => seen.push(...events));
    const p = idle(a);
    const q = idle(b);
    expect(ga.register('user/1', { n: 1 }, { pid: p })).toBe('ok');
    expect(ga.join('room/42', { role: 'x' }, { pid: p })).toBe('ok');
    expect(gb.join('room/42', {}, { pid: q })).toBe('ok');
    await sim.until(() => gc.lookup('user/1') !== null && gc.members('room/42').length === 2, 'replicated');
    expect(gb.lookup('user/1')).toEqual({ pid: p, meta: { n: 1 } });
    expect(gc.members('room/42').map((m) => m.pid.key).sort()).toEqual([p.key, q.key].sort());
    expect(gc.members('room/').length).toBe(2);
    expect(seen.map((e) => `${e.type} ${e.key}`).sort()).toEqual(['joined room/42', 'joined room/42', 'registered user/1']);
    expect(gb.register('user/1', {}, { pid: q })).toBe('taken');
    consistent();
  });

  it('10,000 processes dying at once: the peers remove them in a few event batches, each event with its reason', async () => {
    const count = 10_000;
    const pids = Array.from({ length: count }, () => idle(a));
    pids.forEach((pid, i) => ga.register(`mass/${i}`, { i }, { pid }));
    await sim.until(() => gb.registryCount() === count && gc.registryCount() === count, 'replicated');
    const batches: number[] = [];
    const reasons = new Set<unknown>();
    gb.monitor('mass/', (events) => {
      batches.push(events.length);
      for (const event of events) reasons.add(event.reason);
    });
    for (const pid of pids) a.exit(pid, 'mass_exit');
    await sim.until(() => gb.registryCount() === 0 && gc.registryCount() === 0 && ga.registryCount() === 0, 'all removed');
    expect(batches.reduce((sum, n) => sum + n, 0)).toBe(count);
    // One batch per turn in which removal ops arrived (batch frames of up to 256 KiB each), not
    // one per process.
    expect(batches.length).toBeLessThanOrEqual(count / 500);
    expect([...reasons]).toEqual(['mass_exit']);
    consistent();
  });

  it('a process death removes its entries everywhere with its exit reason', async () => {
    const p = idle(a);
    ga.register('user/2', {}, { pid: p });
    ga.join('room/1', {}, { pid: p });
    await sim.until(() => gc.lookup('user/2') !== null && gc.members('room/1').length === 1, 'replicated');
    const reasons: unknown[] = [];
    gc.monitor(ALL, (events) => reasons.push(...events.map((e) => `${e.type}:${String(e.reason)}`)));
    a.exit(p, 'bye');
    await sim.until(() => gc.lookup('user/2') === null && gc.members('room/1').length === 0, 'purged');
    expect(reasons.sort()).toEqual(['left:bye', 'unregistered:bye']);
    consistent();
  });

  it('node down purges its entries in one batch with reason nodedown', async () => {
    const p = idle(a);
    for (let i = 0; i < 50; i++) ga.register(`k/${i}`, {}, { pid: p });
    await sim.until(() => gc.registryCount() === 50, 'replicated');
    const batches: GroupEvent<unknown>[][] = [];
    gc.monitor('k/', (events) => batches.push([...events]));
    await sim.crash(a);
    await sim.until(() => gc.registryCount() === 0, 'purged');
    expect(batches.length).toBe(1);
    expect(batches[0]!.length).toBe(50);
    expect(batches[0]!.every((e) => e.reason === 'nodedown')).toBe(true);
    consistent();
  });

  it('a partition heal resolves a registration conflict: the later one wins, the loser is killed, both agree', async () => {
    sim.network.cut('a', 'b');
    sim.network.cut('a', 'c');
    await sim.until(() => ga.nodes().length === 0 && gb.nodes().length === 1, 'partitioned', 10_000);
    const pa = idle(a);
    const pb = idle(b);
    const downs: unknown[] = [];
    a.monitor(pa, (d) => downs.push(d.reason));
    expect(ga.register('unique', { side: 'a' }, { pid: pa })).toBe('ok');
    await sim.run(5);
    expect(gb.register('unique', { side: 'b' }, { pid: pb })).toBe('ok');
    sim.network.healAll();
    await sim.until(() => ga.nodes().length === 2 && gb.nodes().length === 2, 'healed', 20_000);
    await sim.until(() => [ga, gb, gc].every((g) => g.lookup('unique')?.pid.equals(pb) === true), 'converged on the later registration', 20_000);
    expect(a.isAlive(pa)).toBe(false);
    expect(b.isAlive(pb)).toBe(true);
    expect(downs).toEqual([{ reason: 'group_registry_conflict', key: 'unique', meta: { side: 'b' } }]);
    consistent();
  });

  it('named clusters: only connected nodes see its entries; writes need a connect; disconnect purges', async () => {
    const p = idle(a);
    expect(() => ga.register('x', {}, { pid: p, cluster: 'chat' })).toThrow(/connect/);
    ga.connect('chat');
    gb.connect('chat');
    await sim.until(() => ga.nodes('chat').length === 2 && gb.nodes('chat').length === 2, 'cluster formed');
    ga.register('x', { in: 'chat' }, { pid: p, cluster: 'chat' });
    await sim.until(() => gb.lookup('x', { cluster: 'chat' }) !== null, 'replicated in chat');
    await sim.run(50);
    expect(gc.lookup('x', { cluster: 'chat' })).toBeNull();
    expect(gb.lookup('x')).toBeNull(); // not in the default cluster
    ga.disconnect('chat');
    await sim.until(() => gb.lookup('x', { cluster: 'chat' }) === null, 'purged on disconnect');
    expect(gb.nodes('chat')).toEqual(['b']);
    consistent();
  });

  it('dispatch reaches every member on every node, one frame per remote node', async () => {
    const inbox: unknown[] = [];
    const make = (node: Node) =>
      node.spawn(async (ctx) => {
        for (;;) inbox.push(`${node.name}:${String(await ctx.receive())}`);
      });
    const members = [make(a), make(b), make(b), make(c)];
    ga.join('room', {}, { pid: members[0] });
    gb.join('room', {}, { pid: members[1] });
    gb.join('room', {}, { pid: members[2] });
    gc.join('room', {}, { pid: members[3] });
    await sim.until(() => ga.members('room').length === 4, 'members replicated');
    ga.dispatch('room', 'hi');
    await sim.until(() => inbox.length === 4, 'delivered');
    expect(inbox.sort()).toEqual(['a:hi', 'b:hi', 'b:hi', 'c:hi']);
  });
});

describe('Group argument checks', () => {
  it('refuses a second instance of one name, remote subscribers, monitor after stop, and the empty cluster name', async () => {
    const sim = createSim(3);
    try {
      const [a, b] = await sim.cluster('a', 'b');
      const g = await Group.start(a, { name: 'x', log: false });
      await expect(Group.start(a, { name: 'x' })).rejects.toThrow(/already running.*stop it first/);
      expect(() => g.monitor(ALL, idle(b))).toThrow(/subscribe on that node's Group/);
      expect(() => g.lookup('k', { cluster: '' })).toThrow(/non-empty string/);
      await g.stop();
      expect(() => g.monitor(ALL, () => undefined)).toThrow(/has stopped/);
    } finally {
      await sim.teardown();
    }
  });
});

describe('Group instances', () => {
  it('two nodes: Groups of different names on one node are isolated; each replicates only with its own name', async () => {
    const sim = createSim(5);
    try {
      const [a, b] = await sim.cluster('a', 'b');
      const chatA = await Group.start(a, { name: 'chat', log: false });
      const jobsA = await Group.start(a, { name: 'jobs', log: false });
      const chatB = await Group.start(b, { name: 'chat', log: false });
      await sim.until(() => chatA.nodes().includes('b') && chatB.nodes().includes('a'), 'chat peers');
      const p = idle(a);
      expect(chatA.register('k', { in: 'chat' }, { pid: p })).toBe('ok');
      expect(jobsA.register('k', { in: 'jobs' }, { pid: p })).toBe('ok'); // same key, other instance
      await sim.until(() => chatB.lookup('k') !== null, 'chat replicated');
      expect(chatB.lookup('k')?.meta).toEqual({ in: 'chat' });
      expect(jobsA.nodes()).toEqual([]); // b runs no "jobs" Group
      const jobsB = await Group.start(b, { name: 'jobs', log: false });
      await sim.until(() => jobsB.lookup('k') !== null, 'jobs replicated once b starts it');
      expect(jobsB.lookup('k')?.meta).toEqual({ in: 'jobs' });
      a.exit(p, 'done');
      await sim.until(() => chatB.lookup('k') === null && jobsB.lookup('k') === null, 'both purged');
      for (const g of [chatA, jobsA, chatB, jobsB]) expect(g.checkConsistency()).toEqual([]);
    } finally {
      await sim.teardown();
    }
  });
});
