/**
 * group.stats(): every counter moves by exactly what a known sequence of operations implies, on a
 * 2-3 node in-memory cluster (virtual clock, so nothing else happens between the steps).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ALL, Group, type GroupEvent, type GroupStats } from '../../../src/internal.js';
import { createSim, idle, HEARTBEAT, type Sim } from '../node/sim-helpers.js';

let sim: Sim | undefined;
afterEach(async () => {
  await sim?.teardown();
  sim = undefined;
});

async function cluster(...names: string[]) {
  sim = createSim(7);
  const nodes = await sim.cluster(...names);
  const groups = await Promise.all(nodes.map((n) => Group.start(n, { name: 'app', log: false })));
  await sim.until(() => groups.every((g) => g.nodes().length === names.length - 1), 'group handshakes');
  await sim.run(50);
  return { s: sim, nodes, groups };
}

/** The numeric leaves of a stats object, by path, so that two readings can be subtracted. */
function flatten(value: unknown, path = '', out: Record<string, number> = {}): Record<string, number> {
  if (typeof value === 'number') out[path] = value;
  else if (typeof value === 'object' && value !== null) for (const [k, v] of Object.entries(value)) flatten(v, path === '' ? k : `${path}.${k}`, out);
  return out;
}

/** after - before for every counter that changed. */
function delta(before: GroupStats, after: GroupStats): Record<string, number> {
  const a = flatten(before);
  const b = flatten(after);
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(b)) if (v !== (a[k] ?? 0)) out[k] = v - (a[k] ?? 0);
  return out;
}

describe('group.stats() counters', () => {
  it('count each local write, refusal and the replicated ops the peer applies', async () => {
    const { s, nodes, groups } = await cluster('a', 'b');
    const [a, b] = nodes as [typeof nodes[0], typeof nodes[0]];
    const [ga, gb] = groups as [Group, Group];
    const p = idle(a);
    const q = idle(a);
    const r = idle(b);
    expect(gb.register('kb', {}, { pid: r })).toBe('ok');
    await s.until(() => ga.lookup('kb') !== null, 'kb replicated');
    const a0 = ga.stats();
    const b0 = gb.stats();

    expect(ga.register('k', { v: 1 }, { pid: p })).toBe('ok');
    expect(ga.register('k', { v: 1 }, { pid: p })).toBe('ok'); // same meta: a no-op, not replicated
    expect(ga.register('k', { v: 2 }, { pid: p })).toBe('ok');
    expect(ga.register('k', {}, { pid: q })).toBe('taken');
    expect(ga.join('g', {}, { pid: p })).toBe('ok');
    expect(ga.join('g', { x: 1 }, { pid: p })).toBe('ok');
    expect(ga.leave('g', { pid: p })).toBe('ok');
    expect(ga.leave('g', { pid: p })).toBe('not_in_group');
    expect(ga.unregister('k')).toBe('ok');
    expect(ga.unregister('k')).toBe('not_found');
    expect(ga.unregister('kb')).toBe('not_owner');
    await s.run(50);

    const da = delta(a0, ga.stats());
    expect(da).toMatchObject({
      'ops.register': 1,
      'ops.registryUpdate': 1,
      'ops.join': 1,
      'ops.memberUpdate': 1,
      'ops.leave': 1,
      'ops.unregister': 1,
      'refusals.register:taken': 1,
      'refusals.leave:not_in_group': 1,
      'refusals.unregister:not_found': 1,
      'refusals.unregister:not_owner': 1,
      'replication.framesOut.op': 6,
      'replication.opsSent': 6,
    });
    expect(da['replication.bytesOut']).toBeGreaterThan(6 * 10);
    expect(da['replication.opsApplied']).toBeUndefined();

    const db = delta(b0, gb.stats());
    expect(db['replication.framesIn.op']).toBe(6);
    expect(db['replication.opsReceived']).toBe(6);
    expect(db['replication.opsApplied']).toBe(6);
    expect(db['ops.register']).toBeUndefined();
    // Lag: the first fresh write (register or join) is sampled, then one in 16; the simulated
    // network's latency is 1-3 ms of the shared virtual clock.
    const lag = gb.stats().replication.lag;
    expect(lag.samples).toBe(b0.replication.lag.samples + 1);
    expect(lag.lastMs).toBeGreaterThanOrEqual(1);
    expect(lag.lastMs).toBeLessThanOrEqual(10);
  });

  it('report table sizes per cluster, the same on every node', async () => {
    const { s, nodes, groups } = await cluster('a', 'b');
    const [a, b] = nodes as [typeof nodes[0], typeof nodes[0]];
    const [ga, gb] = groups as [Group, Group];
    ga.connect('blue');
    gb.connect('blue');
    const p = idle(a);
    const r = idle(b);
    ga.register('x', {}, { pid: p });
    gb.register('y', {}, { pid: r });
    ga.join('g', {}, { pid: p });
    gb.join('g', {}, { pid: r });
    ga.join('h', {}, { pid: p, cluster: 'blue' });
    await s.until(() => gb.memberCount('h', { cluster: 'blue' }) === 1 && ga.memberCount('g') === 2, 'replicated');
    for (const g of [ga, gb]) {
      const stats = g.stats();
      expect(stats.clusters).toEqual([
        { cluster: null, entries: 2, members: 2 },
        { cluster: 'blue', entries: 0, members: 1 },
      ]);
      expect([stats.entries, stats.members]).toEqual([2, 3]);
    }
  });

  it('count events delivered per subscriber', async () => {
    const { s, nodes, groups } = await cluster('a', 'b');
    const [a] = nodes as [typeof nodes[0]];
    const [ga, gb] = groups as [Group, Group];
    const seen: GroupEvent<unknown>[] = [];
    gb.monitor(ALL, (events) => seen.push(...events));
    gb.monitor('g', (events) => seen.push(...events));
    const p = idle(a);
    ga.register('k', {}, { pid: p });
    ga.join('g', {}, { pid: p });
    await s.until(() => seen.length === 3, 'events on b');
    await s.run(20);
    // ALL sees both, "g" sees the join: three deliveries.
    expect(gb.stats().eventsDelivered).toBe(3);
    expect(ga.stats().eventsDelivered).toBe(0);
  });

  it('count purges: rows of exited processes on their node, rows of a lost node on its peers', async () => {
    const { s, nodes, groups } = await cluster('a', 'b', 'c');
    const [a, b, c] = nodes as [typeof nodes[0], typeof nodes[0], typeof nodes[0]];
    const [ga, gb] = groups as [Group, Group, Group];
    const gc = groups[2]!;
    const p = idle(a);
    ga.register('p', {}, { pid: p });
    ga.join('g', {}, { pid: p });
    const r = idle(c);
    gc.register('r', {}, { pid: r });
    gc.join('g', {}, { pid: r });
    gc.join('h', {}, { pid: r });
    await s.until(() => gb.memberCount('g') === 2 && gb.memberCount('h') === 1, 'replicated');
    const a0 = ga.stats();
    const b0 = gb.stats();

    a.exit(p, 'gone');
    await s.until(() => gb.lookup('p') === null && gb.memberCount('g') === 1, 'exit replicated');
    expect(delta(a0, ga.stats())['purges.exits']).toBe(2);
    // b applies one EXIT op for both rows: not a purge.
    expect(delta(b0, gb.stats())['purges.exits']).toBeUndefined();
    expect(delta(b0, gb.stats())['replication.opsApplied']).toBe(1);

    await s.crash(c);
    await s.until(() => !gb.nodes().includes('c'), 'b sees c down', HEARTBEAT.timeoutMs * 4);
    expect(delta(b0, gb.stats())['purges.nodeDown']).toBe(3);
    expect(b.peers()).toEqual(['a']);
  });

  it('count dispatches, their recipients and frames', async () => {
    const { s, nodes, groups } = await cluster('a', 'b');
    const [a, b] = nodes as [typeof nodes[0], typeof nodes[0]];
    const [ga, gb] = groups as [Group, Group];
    ga.join('g', {}, { pid: idle(a) });
    gb.join('g', {}, { pid: idle(b) });
    gb.join('g', {}, { pid: idle(b) });
    await s.until(() => ga.memberCount('g') === 3, 'members replicated');
    const a0 = ga.stats();
    const b0 = gb.stats();
    ga.dispatch('g', 'hello');
    ga.dispatchLocal('g', 'local');
    await s.run(20);
    expect(delta(a0, ga.stats())).toMatchObject({ 'ops.dispatch': 1, 'ops.dispatchLocal': 1, recipients: 3, 'replication.framesOut.dispatch': 1 });
    expect(delta(b0, gb.stats())['replication.framesIn.dispatch']).toBe(1);
  });

  it('count a resync: the gap seen by the receiver, the snapshot served by the owner', async () => {
    const { s, nodes, groups } = await cluster('a', 'b');
    const [a] = nodes as [typeof nodes[0]];
    const [ga, gb] = groups as [Group, Group];
    const a0 = ga.stats();
    const b0 = gb.stats();
    a.block('b', { in: false, out: true });
    ga.register('lost', {}, { pid: idle(a) });
    await s.run(10);
    a.unblock('b');
    ga.register('next', {}, { pid: idle(a) });
    await s.until(() => gb.lookup('lost') !== null, 'the lost op repaired by a resync');
    await s.run(20);
    const da = delta(a0, ga.stats());
    const db = delta(b0, gb.stats());
    expect(db['replication.resyncsRequested']).toBe(1);
    expect(da['replication.resyncsServed']).toBe(1);
    expect(da['replication.batchesSent']).toBe(1);
    expect(db['replication.batchesReceived']).toBe(1);
    expect(db['replication.rowsReceived']).toBe(2);
    expect(da['replication.rowsSent']).toBe(2);
  });

  it('count a registry conflict once on each owner', async () => {
    const { s, nodes, groups } = await cluster('a', 'b');
    const [a, b] = nodes as [typeof nodes[0], typeof nodes[0]];
    const [ga, gb] = groups as [Group, Group];
    s.network.cut('a', 'b');
    await s.until(() => a.peers().length === 0 && b.peers().length === 0, 'partition', HEARTBEAT.timeoutMs * 4);
    ga.register('k', {}, { pid: idle(a) });
    await s.run(5);
    gb.register('k', {}, { pid: idle(b) });
    s.network.heal('a', 'b');
    await s.until(() => ga.nodes().length === 1 && gb.nodes().length === 1, 'healed', 10_000);
    await s.until(() => ga.lookup('k')?.pid.node === 'b' && gb.lookup('k')?.pid.node === 'b', 'b keeps k (registered later)');
    await s.run(100);
    expect([ga.stats().conflictsResolved, gb.stats().conflictsResolved]).toEqual([1, 1]);
  });
});
