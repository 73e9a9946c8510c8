/**
 * registerLocked: the cluster-wide lock taken in node-name order at every Group peer of the
 * cluster (src/group/locks.ts). Racers on several nodes, many keys at once, a lock holder that
 * dies, a timeout, a stopped Group, and a partition (where the sides cannot lock each other out
 * and conflict resolution decides at heal).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Group, TimeoutError, type Node, type Pid } from '../../../src/internal.js';
import { createSim, idle, rejection, track, HEARTBEAT, type Sim } from '../node/sim-helpers.js';

let sim: Sim | undefined;
afterEach(async () => {
  await sim?.teardown();
  sim = undefined;
});

async function cluster(names: string[], seed = 1): Promise<{ s: Sim; nodes: Node[]; groups: Group[] }> {
  sim = createSim(seed);
  const nodes = await sim.cluster(...names);
  const groups = await Promise.all(nodes.map((n) => Group.start(n, { name: 'app', log: false })));
  await sim.until(() => groups.every((g) => g.nodes().length === names.length - 1), 'Group peers meet');
  return { s: sim, nodes, groups };
}

/** Locks granted and acquisitions in progress on a Group (private: read for leak checks only). */
function lockCounts(group: Group): { acquiring: number; locks: number } {
  return (group as unknown as { locks: { size(): { acquiring: number; locks: number } } }).locks.size();
}

const holders = (groups: Group[], key: string): Array<string | undefined> => groups.map((g) => g.whereis(key)?.key);

describe('registerLocked', () => {
  it('three nodes (two racers each) race for one key: exactly one ok, the others taken, nobody killed, all agree', async () => {
    const { s, nodes, groups } = await cluster(['a', 'b', 'c']);
    const racers: Array<{ pid: Pid; node: Node; result: ReturnType<typeof track<'ok' | 'taken'>> }> = [];
    for (let round = 0; round < 2; round++) {
      nodes.forEach((node, i) => {
        const pid = idle(node);
        racers.push({ pid, node, result: track(groups[i]!.registerLocked('k', { by: pid.key }, { pid })) });
      });
    }
    await s.until(() => racers.every((r) => r.result.outcome !== undefined), 'every racer answered');
    const results = racers.map((r) => (r.result.outcome!.ok ? r.result.outcome!.value : 'error'));
    expect(results.filter((r) => r === 'ok')).toHaveLength(1);
    expect(results.filter((r) => r === 'taken')).toHaveLength(5);
    const winner = racers[results.indexOf('ok')]!.pid;
    await s.until(() => holders(groups, 'k').every((h) => h === winner.key), 'every node shows the winner');
    for (const r of racers) expect(r.node.isAlive(r.pid)).toBe(true);
    await s.run(HEARTBEAT.timeoutMs);
    expect(holders(groups, 'k')).toEqual([winner.key, winner.key, winner.key]);
    for (const g of groups) {
      expect(lockCounts(g)).toEqual({ acquiring: 0, locks: 0 });
      expect(g.checkConsistency()).toEqual([]);
    }
  });

  it('many keys at once from four nodes: one winner per key, every node agrees, no lock left behind', async () => {
    const { s, nodes, groups } = await cluster(['a', 'b', 'c', 'd'], 2);
    const keys = Array.from({ length: 40 }, (_, i) => `user/${i}`);
    const results: Array<{ key: string; pid: Pid; node: Node; result: ReturnType<typeof track<'ok' | 'taken'>> }> = [];
    for (const key of keys) {
      nodes.forEach((node, i) => {
        const pid = idle(node);
        results.push({ key, pid, node, result: track(groups[i]!.registerLocked(key, {}, { pid })) });
      });
    }
    await s.until(() => results.every((r) => r.result.outcome !== undefined), 'every racer answered', 30_000);
    for (const key of keys) {
      const mine = results.filter((r) => r.key === key);
      const ok = mine.filter((r) => r.result.outcome!.ok && r.result.outcome!.value === 'ok');
      expect(ok, key).toHaveLength(1);
      expect(mine.filter((r) => r.result.outcome!.ok && r.result.outcome!.value === 'taken')).toHaveLength(3);
    }
    await s.run(200);
    for (const key of keys) {
      const winner = results.find((r) => r.key === key && r.result.outcome!.ok && r.result.outcome!.value === 'ok')!.pid;
      expect(holders(groups, key)).toEqual(groups.map(() => winner.key));
    }
    expect(results.every((r) => r.node.isAlive(r.pid))).toBe(true);
    for (const g of groups) expect(lockCounts(g)).toEqual({ acquiring: 0, locks: 0 });
  });

  it('a node that dies holding locks releases them: the racer queued behind it then wins', async () => {
    const { s, nodes, groups } = await cluster(['a', 'b', 'c'], 3);
    const [a, b] = nodes;
    const [ga, gb, gc] = groups;
    // b takes a's lock and its own quickly, then waits long at c.
    s.network.setLatency('b', 'c', { min: 150, max: 150 });
    const q = idle(b!);
    const byB = track(gb!.registerLocked('k', {}, { pid: q }));
    await s.until(() => lockCounts(ga!).locks === 1 && lockCounts(gb!).locks === 1, 'b holds the locks at a and b');
    const p = idle(a!);
    const byA = track(ga!.registerLocked('k', {}, { pid: p, timeoutMs: 5000 }));
    await s.run(5);
    expect(byA.outcome).toBeUndefined(); // queued at a behind b
    await s.crash(b!);
    await s.until(() => byA.outcome !== undefined, 'a gets an answer once b is down');
    expect(byA.outcome).toEqual({ ok: true, value: 'ok' });
    expect(byB.outcome === undefined || !byB.outcome.ok).toBe(true);
    await s.until(() => gc!.whereis('k')?.equals(p) === true, 'c shows a\'s registration');
    await s.run(HEARTBEAT.timeoutMs * 2);
    for (const g of [ga!, gc!]) expect(lockCounts(g)).toEqual({ acquiring: 0, locks: 0 });
  });

  it('times out with TimeoutError, releasing every lock it took; the key is then free', async () => {
    const { s, nodes, groups } = await cluster(['a', 'b', 'c'], 4);
    const [a] = nodes;
    const [ga, gb, gc] = groups;
    s.network.setLatency('a', 'c', { min: 100, max: 100 });
    const p = idle(a!);
    const slow = track(ga!.registerLocked('k', {}, { pid: p, timeoutMs: 50 }));
    await s.until(() => slow.outcome !== undefined, 'the registration gives up');
    const error = rejection(slow.outcome!);
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error.code).toBe('ERR_ROLLCALL_TIMEOUT');
    expect(ga!.whereis('k')).toBeUndefined();
    // The LOCK still reaches c after the timeout; the UNLOCK that follows it on the link frees it.
    await s.run(400);
    for (const g of [ga!, gb!, gc!]) expect(lockCounts(g)).toEqual({ acquiring: 0, locks: 0 });
    s.network.setLatency('a', 'c', { min: 1, max: 3 });
    const q = idle(nodes[1]!);
    expect(await s.resolve(gb!.registerLocked('k', {}, { pid: q }), 'b registers')).toBe('ok');
  });

  it('a Group that stops mid-acquisition rejects its caller; peers release its locks on its BYE', async () => {
    const { s, nodes, groups } = await cluster(['a', 'b', 'c'], 5);
    const [ga, gb, gc] = groups;
    s.network.setLatency('b', 'c', { min: 100, max: 100 });
    const q = idle(nodes[1]!);
    const byB = track(gb!.registerLocked('k', {}, { pid: q }));
    await s.until(() => lockCounts(ga!).locks === 1, 'b holds the lock at a');
    await gb!.stop();
    await s.until(() => byB.outcome !== undefined, 'the caller hears');
    expect(rejection(byB.outcome!).code).toBe('ERR_ROLLCALL_NOT_RUNNING');
    await s.until(() => lockCounts(ga!).locks === 0 && lockCounts(gc!).locks === 0, 'a and c release b\'s locks', 2000);
    const p = idle(nodes[0]!);
    expect(await s.resolve(ga!.registerLocked('k', {}, { pid: p }), 'a registers')).toBe('ok');
  });

  it('a key this node already sees taken answers taken at once, without any lock', async () => {
    const { s, nodes, groups } = await cluster(['a', 'b'], 6);
    const [ga, gb] = groups;
    const q = idle(nodes[1]!);
    expect(gb!.register('k', {}, { pid: q })).toBe('ok');
    await s.until(() => ga!.whereis('k') !== undefined, 'a sees it');
    const p = idle(nodes[0]!);
    const result = ga!.registerLocked('k', {}, { pid: p });
    expect(lockCounts(ga!).acquiring).toBe(0);
    expect(await result).toBe('taken');
    // The same process again with new meta: an update, under the lock.
    expect(await s.resolve(gb!.registerLocked('k', { v: 2 }, { pid: q }), 'update')).toBe('ok');
    await s.until(() => (ga!.lookup('k')?.meta as { v?: number }).v === 2, 'a sees the update');
  });

  it('rejects bad arguments with InvalidArgumentError', async () => {
    const { nodes, groups } = await cluster(['a'], 7);
    const p = idle(nodes[0]!);
    const g = groups[0]!;
    await expect(g.registerLocked('k/', {}, { pid: p })).rejects.toMatchObject({ code: 'ERR_ROLLCALL_INVALID_ARGUMENT' });
    await expect(g.registerLocked('k', {}, { pid: p, timeoutMs: 0 })).rejects.toThrow(/timeoutMs/);
    await expect(g.registerLocked('k', {}, { pid: p, cluster: 'nope' })).rejects.toThrow(/connect/);
    await expect(g.registerLocked('k', { f: () => 1 }, { pid: p })).rejects.toMatchObject({ code: 'ERR_ROLLCALL_ENCODE' });
    expect(await g.registerLocked('k', {}, { pid: p })).toBe('ok');
  });

  it('across a partition both sides can win; the heal falls back to conflict resolution (one survivor)', async () => {
    const { s, nodes, groups } = await cluster(['a', 'b'], 8);
    const [a, b] = nodes;
    const [ga, gb] = groups;
    s.network.cut('a', 'b');
    await s.until(() => ga!.nodes().length === 0 && gb!.nodes().length === 0, 'the sides lose each other', HEARTBEAT.timeoutMs * 4);
    const p = idle(a!);
    const q = idle(b!);
    expect(await s.resolve(ga!.registerLocked('k', {}, { pid: p }), 'a alone')).toBe('ok');
    await s.run(10);
    expect(await s.resolve(gb!.registerLocked('k', {}, { pid: q }), 'b alone')).toBe('ok');
    s.network.heal('a', 'b');
    await s.until(() => ga!.nodes().length === 1 && gb!.nodes().length === 1, 'the sides meet again', 10_000);
    // keepNewest: q (registered later) keeps the key; p is killed by its own node.
    await s.until(() => ga!.whereis('k')?.equals(q) === true && gb!.whereis('k')?.equals(q) === true, 'both show q');
    await s.until(() => !a!.isAlive(p), 'p is killed');
    expect(b!.isAlive(q)).toBe(true);
  });
});
