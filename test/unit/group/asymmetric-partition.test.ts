/**
 * Registrations seen by a third node during an asymmetric partition (a and b cannot see each
 * other, c sees both). c holds one row per key, so it keeps the newer registration; the older one
 * is still registered on its owner, which has not heard of the newer one yet. When the newer one
 * goes away, c must still end up with the older one, as its owner and every other node do.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Group, type Pid } from '../../../src/internal.js';
import { createSim, idle, HEARTBEAT, type Sim } from '../node/sim-helpers.js';

let sim: Sim | undefined;
afterEach(async () => {
  await sim?.teardown();
  sim = undefined;
});

async function threeNodes(seed: number) {
  sim = createSim(seed);
  const [a, b, c] = await sim.cluster('a', 'b', 'c');
  const [ga, gb, gc] = await Promise.all([a, b, c].map((n) => Group.start(n, { name: 'app', log: false })));
  await sim.run(100);
  return { s: sim, a, b, c, ga: ga!, gb: gb!, gc: gc! };
}

const owner = (g: Group, key: string): string | undefined => g.lookup(key)?.pid.key;

/**
 * a and b lose each other while c sees both; b registers "k" (q), then a does (p, later): c shows
 * p and has heard of q. Returns both pids.
 */
async function contendAcrossTheCut(t: Awaited<ReturnType<typeof threeNodes>>): Promise<{ p: Pid; q: Pid }> {
  const { s, a, b, ga, gb, gc } = t;
  s.network.cut('a', 'b');
  await s.until(() => !a.peers().includes('b') && !b.peers().includes('a'), 'a and b lose each other', HEARTBEAT.timeoutMs * 4);
  const q = idle(b);
  expect(gb.register('k', { by: 'b' }, { pid: q })).toBe('ok');
  await s.run(50);
  const p = idle(a);
  expect(ga.register('k', { by: 'a' }, { pid: p })).toBe('ok');
  await s.until(() => owner(gc, 'k') === p.key, 'c keeps the newer registration (a)');
  return { p, q };
}

describe('asymmetric partition: a third node that saw both registrations of a key', () => {
  it('ends with the surviving registration when the one it kept is unregistered', async () => {
    const t = await threeNodes(3);
    const { s, a, b, ga, gb, gc } = t;
    const { p, q } = await contendAcrossTheCut(t);
    expect(ga.unregister('k')).toBe('ok');
    s.network.heal('a', 'b');
    await s.until(() => a.peers().includes('b') && b.peers().includes('a'), 'a and b reconnect', 10_000);
    await s.run(HEARTBEAT.timeoutMs);
    expect([owner(ga, 'k'), owner(gb, 'k'), owner(gc, 'k')]).toEqual([q.key, q.key, q.key]);
    for (const g of [ga, gb, gc]) expect(g.checkConsistency()).toEqual([]);
  });

  it('ends with the surviving registration when the process it kept dies', async () => {
    const t = await threeNodes(4);
    const { s, a, b, ga, gb, gc } = t;
    const { p, q } = await contendAcrossTheCut(t);
    a.exit(p, 'gone');
    await s.until(() => owner(ga, 'k') === undefined, 'a cleans up its dead process');
    s.network.heal('a', 'b');
    await s.until(() => a.peers().includes('b') && b.peers().includes('a'), 'a and b reconnect', 10_000);
    await s.run(HEARTBEAT.timeoutMs);
    expect([owner(ga, 'k'), owner(gb, 'k'), owner(gc, 'k')]).toEqual([q.key, q.key, q.key]);
  });

  it('ends with the surviving registration when the node of the one it kept goes down', async () => {
    const t = await threeNodes(5);
    const { s, a, gb, gc } = t;
    const { p, q } = await contendAcrossTheCut(t);
    await s.crash(a);
    await s.until(() => !gc.nodes().includes('a'), 'c sees a down', HEARTBEAT.timeoutMs * 4);
    await s.run(HEARTBEAT.timeoutMs);
    expect([owner(gb, 'k'), owner(gc, 'k')]).toEqual([q.key, q.key]);
  });
});
