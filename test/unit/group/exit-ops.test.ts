/**
 * Process deaths on the wire: the owner replicates them as EXIT ops (one per cluster, up to
 * 4,096 pids of one exit reason each) and the peers remove every row of those pids themselves.
 * Simulated nodes on the in-memory network; the ops are read off `sendRaw`.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ALL, Group, type GroupEvent, type Pid } from '../../../src/index.js';
import { GroupFrame, Op } from '../../../src/group/protocol.js';
import { idle } from '../node/sim-helpers.js';
import { recordOps } from '../../support/wire-tap.js';
import { keys, pgCluster, type PgCluster } from './pg-support.js';

let cluster: PgCluster | undefined;
afterEach(async () => {
  await cluster?.sim.teardown();
  cluster = undefined;
});

const removals = (events: readonly GroupEvent<unknown>[]): GroupEvent<unknown>[] => events.filter((e) => e.type === 'unregistered' || e.type === 'left');

describe('process deaths replicate as EXIT ops', () => {
  it('a process with rows in two clusters costs one EXIT op per cluster; peers remove every row, with its exit reason', async () => {
    cluster = await pgCluster(21, ['a', 'b', 'c']);
    const [a] = cluster.nodes;
    const [ga, gb, gc] = cluster.groups as [Group, Group, Group];
    for (const g of [ga, gb, gc]) g.connect('x');
    await cluster.settle();
    const inX: GroupEvent<unknown>[][] = [[], []];
    gb.monitor(ALL, (batch) => inX[0]!.push(...batch), { cluster: 'x' });
    gc.monitor(ALL, (batch) => inX[1]!.push(...batch), { cluster: 'x' });
    const p = idle(a!);
    ga.register('r1', { n: 1 }, { pid: p });
    ga.register('r2', { n: 2 }, { pid: p });
    ga.join('g1', { n: 3 }, { pid: p });
    ga.join('g2', { n: 4 }, { pid: p });
    ga.register('n1', {}, { pid: p, cluster: 'x' });
    ga.join('ng', {}, { pid: p, cluster: 'x' });
    await cluster.sim.until(() => gb.registryCount() === 2 && gc.memberCount('ng', { cluster: 'x' }) === 1, 'rows replicated');
    const ops = recordOps(a!);
    const before = cluster.events.map((e) => e.length);
    const beforeX = inX.map((e) => e.length);

    a!.exit(p, 'crashed');
    await cluster.sim.until(() => [gb, gc].every((g) => g.registryCount() === 0 && g.memberCount() === 0 && g.registryCount({ cluster: 'x' }) === 0), 'peers purge p');

    // Two peers × two clusters; no per-row UNREGISTER / LEAVE.
    // The pids travel as ids: they are the sending node's, of its current incarnation.
    expect(ops.map((op) => [op[1], op[3], op[4], op[5]])).toEqual([
      [null, Op.EXIT, [p.id], 'crashed'],
      [null, Op.EXIT, [p.id], 'crashed'],
      ['x', Op.EXIT, [p.id], 'crashed'],
      ['x', Op.EXIT, [p.id], 'crashed'],
    ]);
    for (const [i, g] of [gb, gc].entries()) {
      const seen = removals([...cluster.events[i + 1]!.slice(before[i + 1]), ...inX[i]!.slice(beforeX[i])]);
      expect(seen.map((e) => [e.type, e.cluster, e.key, e.reason, e.meta]).sort()).toEqual(
        [
          ['left', null, 'g1', 'crashed', { n: 3 }],
          ['left', null, 'g2', 'crashed', { n: 4 }],
          ['left', 'x', 'ng', 'crashed', {}],
          ['unregistered', null, 'r1', 'crashed', { n: 1 }],
          ['unregistered', null, 'r2', 'crashed', { n: 2 }],
          ['unregistered', 'x', 'n1', 'crashed', {}],
        ].sort(),
      );
      expect(g.checkConsistency()).toEqual([]);
    }
  });

  it('processes dying in one turn share EXIT ops: one run per exit reason, at most 4,096 pids each', async () => {
    cluster = await pgCluster(22, ['a', 'b']);
    const [a, b] = cluster.nodes;
    const [ga, gb] = cluster.groups as [Group, Group];
    const pids: Pid[] = [];
    for (let i = 0; i < 5_100; i++) {
      const pid = idle(a!);
      pids.push(pid);
      ga.register(`p/${i}`, { i }, { pid });
      ga.join(`g/${i % 50}`, { i }, { pid });
    }
    await cluster.sim.until(() => gb.registryCount() === 5_100 && gb.memberCount() === 5_100, 'rows replicated');
    const ops = recordOps(a!);
    let batches = 0;
    const seen: GroupEvent<unknown>[] = [];
    gb.monitor(ALL, (batch) => {
      batches++;
      seen.push(...batch);
    });

    pids.forEach((pid, i) => a!.exit(pid, i < 5_000 ? 'drained' : 'crashed'));
    await cluster.sim.until(() => gb.registryCount() === 0 && gb.memberCount() === 0, 'b purges them all');

    expect(ops.map((op) => [op[3], (op[4] as number[]).length, op[5]])).toEqual([
      [Op.EXIT, 4_096, 'drained'],
      [Op.EXIT, 904, 'drained'],
      [Op.EXIT, 100, 'crashed'],
    ]);
    expect(ops.flatMap((op) => op[4] as number[])).toEqual(pids.map((pid) => pid.id));
    expect(seen).toHaveLength(2 * 5_100);
    expect(seen.filter((e) => e.reason === 'crashed').map((e) => e.pid.key).sort()).toEqual(keys([...pids.slice(5_000), ...pids.slice(5_000)]).sort());
    // One event batch per frame read (the three ops fill one or two batch frames), not per process.
    expect(batches).toBeLessThanOrEqual(ops.length);
    expect(gb.checkConsistency()).toEqual([]);
    expect(b!.peers()).toEqual(['a']);
  });

  it('a registration set aside on a third node goes when its process dies', async () => {
    // a and b cannot see each other; c sees both, keeps a's later registration of "k" and sets
    // b's aside. b's process dies: c must forget it, or it would show a dead pid once a's goes.
    cluster = await pgCluster(23, ['a', 'b', 'c']);
    const { sim } = cluster;
    const [a, b] = cluster.nodes;
    const [ga, gb, gc] = cluster.groups as [Group, Group, Group];
    sim.network.cut('a', 'b');
    await sim.until(() => !a!.peers().includes('b') && !b!.peers().includes('a'), 'a and b lose each other', 10_000);
    const q = idle(b!);
    expect(gb.register('k', {}, { pid: q })).toBe('ok');
    await sim.run(50);
    const p = idle(a!);
    expect(ga.register('k', {}, { pid: p })).toBe('ok');
    await sim.until(() => gc.lookup('k')?.pid.equals(p) === true, 'c shows a’s later registration');

    b!.exit(q, 'gone');
    await sim.until(() => gb.lookup('k') === null, 'b cleans up q');
    await sim.run(50);
    expect(ga.unregister('k')).toBe('ok');
    await sim.until(() => gc.lookup('k') === null, 'c shows nobody: q is dead');
    sim.network.heal('a', 'b');
    await sim.until(() => a!.peers().includes('b') && b!.peers().includes('a'), 'a and b reconnect', 10_000);
    await sim.run(1_000);
    expect([ga, gb, gc].map((g) => g.lookup('k'))).toEqual([null, null, null]);
    for (const g of [ga, gb, gc]) expect(g.checkConsistency()).toEqual([]);
  });

  it('a malformed EXIT op is dropped and the link stays up', async () => {
    cluster = await pgCluster(24, ['a', 'b', 'c']);
    const [a, b] = cluster.nodes;
    const [ga, gb] = cluster.groups as [Group, Group];
    const q = idle(b!);
    const r = idle(b!);
    gb.register('q', {}, { pid: q });
    gb.register('r', {}, { pid: r });
    await cluster.sim.until(() => ga.registryCount() === 2, 'a holds b’s rows');
    const forged: unknown[] = [
      [q.id, q.id], // a duplicate would remove rows twice
      [q.id, -1],
      [q.id, 1.5],
      [q.id, 2 ** 53],
      [q.id, String(r.id)],
      [q], // a Pid, not an id
      q.id, // not a list
      [q.id, ...Array.from({ length: 4_096 }, () => idle(b!).id)], // more than an op may carry
    ];
    // Each with b's next seq: a dropped op leaves no gap, so nothing resyncs b's rows back in
    // (an op applied would move the seq on, and the next one would look like a gap).
    const stats = ga.stats().replication;
    forged.forEach((pids) => b!.sendRaw('a', GroupFrame.OP, b!.encodePayload(['app', null, 3, Op.EXIT, pids, 'forged'])));
    await cluster.sim.run(100);
    expect([ga.lookup('q')?.pid.key, ga.lookup('r')?.pid.key]).toEqual([q.key, r.key]);
    expect(ga.stats().replication.opsApplied - stats.opsApplied).toBe(0);
    expect(ga.stats().replication.resyncsRequested - stats.resyncsRequested).toBe(0);
    expect(ga.checkConsistency()).toEqual([]);
    expect(a!.peers()).toContain('b');

    // A real exit still replicates.
    b!.exit(r, 'done');
    await cluster.sim.until(() => ga.lookup('r') === null && ga.lookup('q')?.pid.equals(q) === true, 'a drops r, keeps q');
    expect(ga.checkConsistency()).toEqual([]);
  });
});
