/**
 * The built-in conflict strategies on a partition heal: the same key registered on each side, the
 * sides meet, and every node must agree on the outcome, with the right kills and notifications
 * (never a double kill or a double keep).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Group, type ConflictStrategy, type Node, type Pid } from '../../../src/internal.js';
import { randomScore } from '../../../src/group/conflict-strategies.js';
import { createSim, collector, HEARTBEAT, type Collector, type Sim } from '../node/sim-helpers.js';

let sim: Sim | undefined;
afterEach(async () => {
  await sim?.teardown();
  sim = undefined;
});

async function partitioned(names: string[], strategy: ConflictStrategy, seed: number): Promise<{ s: Sim; nodes: Node[]; groups: Group[] }> {
  sim = createSim(seed);
  const s = sim;
  const nodes = await s.cluster(...names);
  const groups = await Promise.all(nodes.map((n) => Group.start(n, { name: 'app', log: false, conflictStrategy: strategy })));
  await s.until(() => groups.every((g) => g.nodes().length === names.length - 1), 'Group peers meet');
  for (let i = 0; i < names.length; i++) for (let j = i + 1; j < names.length; j++) s.network.cut(names[i]!, names[j]!);
  await s.until(() => groups.every((g) => g.nodes().length === 0), 'everyone alone', HEARTBEAT.timeoutMs * 4);
  return { s, nodes, groups };
}

async function healAll(s: Sim, groups: Group[]): Promise<void> {
  s.network.healAll();
  await s.until(() => groups.every((g) => g.nodes().length === groups.length - 1), 'everyone meets again', 10_000);
  await s.run(HEARTBEAT.timeoutMs);
}

/** Each node registers `keys` for its own collector process, `gapMs` of virtual time apart (node order). */
async function registerEverywhere(s: Sim, nodes: Node[], groups: Group[], keys: string[], gapMs = 10): Promise<Collector[]> {
  const procs: Collector[] = [];
  for (let i = 0; i < nodes.length; i++) {
    const c = collector(nodes[i]!);
    procs.push(c);
    for (const key of keys) expect(groups[i]!.register(key, { by: nodes[i]!.name }, { pid: c.pid })).toBe('ok');
    await s.run(gapMs);
  }
  return procs;
}

const shown = (groups: Group[], key: string): Array<string | undefined> => groups.map((g) => g.whereis(key)?.key);
const alive = (nodes: Node[], procs: Collector[]): boolean[] => procs.map((p, i) => nodes[i]!.isAlive(p.pid));

describe('conflictStrategy on a partition heal', () => {
  it('keepNewest (default): the later registration keeps the key, the earlier process is killed', async () => {
    const { s, nodes, groups } = await partitioned(['a', 'b'], 'keepNewest', 11);
    const procs = await registerEverywhere(s, nodes, groups, ['k']);
    await healAll(s, groups);
    expect(shown(groups, 'k')).toEqual([procs[1]!.pid.key, procs[1]!.pid.key]);
    expect(alive(nodes, procs)).toEqual([false, true]);
  });

  it('keepOldest: the earlier registration keeps the key, the later process is killed', async () => {
    const { s, nodes, groups } = await partitioned(['a', 'b'], 'keepOldest', 12);
    const procs = await registerEverywhere(s, nodes, groups, ['k']);
    await healAll(s, groups);
    expect(shown(groups, 'k')).toEqual([procs[0]!.pid.key, procs[0]!.pid.key]);
    expect(alive(nodes, procs)).toEqual([true, false]);
  });

  it('keepOldest with three registrations (three sides): the oldest survives everywhere, the two others die', async () => {
    const { s, nodes, groups } = await partitioned(['a', 'b', 'c'], 'keepOldest', 13);
    const procs = await registerEverywhere(s, nodes, groups, ['k']);
    await healAll(s, groups);
    expect(shown(groups, 'k')).toEqual(groups.map(() => procs[0]!.pid.key));
    expect(alive(nodes, procs)).toEqual([true, false, false]);
    for (const g of groups) expect(g.checkConsistency()).toEqual([]);
  });

  // SIM_SEED=857409133 --strategy keepOldest (a kill cycle). A meta update stamped the registration
  // with the current time, which under keepOldest made it younger: it lost to a rival it had
  // already beaten. Over a short cut (frames held, nobody goes down) b judged the first copy of
  // a's entry and killed its own process, a judged its updated copy and killed its own: no survivor.
  it('keepOldest: a meta update keeps the registration its age (no double kill over a short cut)', async () => {
    sim = createSim(18);
    const s = sim;
    const nodes = await s.cluster('a', 'b');
    const groups = await Promise.all(nodes.map((n) => Group.start(n, { name: 'app', log: false, conflictStrategy: 'keepOldest' })));
    await s.until(() => groups.every((g) => g.nodes().length === 1), 'Group peers meet');
    const [a, b] = nodes as [Node, Node];
    const [ga, gb] = groups as [Group, Group];
    s.network.cut('a', 'b');
    const procs = [collector(a), collector(b)];
    expect(ga.register('k', { v: 1 }, { pid: procs[0]!.pid })).toBe('ok');
    await s.run(10);
    expect(gb.register('k', { v: 1 }, { pid: procs[1]!.pid })).toBe('ok');
    await s.run(10);
    expect(ga.updateMeta('k', () => ({ v: 2 }))).toBe('ok');
    // Well within the heartbeat timeout: both links held their frames, and nobody went down.
    s.network.heal('a', 'b');
    await s.until(() => !a.isAlive(procs[0]!.pid) || !b.isAlive(procs[1]!.pid), 'the conflict decided');
    await s.run(HEARTBEAT.timeoutMs);
    expect(groups.map((g) => g.nodes().length)).toEqual([1, 1]);
    expect(alive(nodes, procs)).toEqual([true, false]);
    expect(shown(groups, 'k')).toEqual([procs[0]!.pid.key, procs[0]!.pid.key]);
    expect(groups.map((g) => g.lookup('k')?.meta)).toEqual([{ v: 2 }, { v: 2 }]);
  });

  it('keepOldest: the first registration keeps the key even if updated after the later one was made', async () => {
    const { s, nodes, groups } = await partitioned(['a', 'b'], 'keepOldest', 19);
    const procs = await registerEverywhere(s, nodes, groups, ['k']);
    expect(groups[0]!.updateMeta('k', () => ({ by: 'a', updated: true }))).toBe('ok');
    await healAll(s, groups);
    expect(alive(nodes, procs)).toEqual([true, false]);
    expect(shown(groups, 'k')).toEqual([procs[0]!.pid.key, procs[0]!.pid.key]);
  });

  // A conflict's winner was re-stamped 1 ms earlier than both entries, so a registration that won
  // two conflicts on its side of a partition became "older" than one made before it on the other.
  it('keepOldest: the first registration keeps the key against one that won conflicts meanwhile', async () => {
    const { s, nodes, groups } = await partitioned(['a', 'b', 'c', 'd'], 'keepOldest', 20);
    const procs = nodes.map((n) => collector(n));
    expect(groups[0]!.register('k', {}, { pid: procs[0]!.pid })).toBe('ok');
    await s.run(1);
    // In one instant: pid order decides among them (d's is the highest), each a win for d.
    for (let i = 1; i < 4; i++) expect(groups[i]!.register('k', {}, { pid: procs[i]!.pid })).toBe('ok');
    for (const [x, y] of [['b', 'c'], ['b', 'd'], ['c', 'd']] as const) s.network.heal(x, y);
    await s.until(() => !nodes[1]!.isAlive(procs[1]!.pid) && !nodes[2]!.isAlive(procs[2]!.pid), 'b and c lose to d');
    await healAll(s, groups);
    expect(alive(nodes, procs)).toEqual([true, false, false, false]);
    expect(shown(groups, 'k')).toEqual(groups.map(() => procs[0]!.pid.key));
    for (const g of groups) expect(g.checkConsistency()).toEqual([]);
  });

  it('notifyBoth: both are unregistered everywhere and told, nobody is killed', async () => {
    const { s, nodes, groups } = await partitioned(['a', 'b', 'c'], 'notifyBoth', 14);
    const procs = await registerEverywhere(s, nodes.slice(0, 2), groups.slice(0, 2), ['k']);
    await healAll(s, groups);
    await s.until(() => groups.every((g) => g.whereis('k') === undefined), 'nobody holds k');
    expect(alive(nodes, procs)).toEqual([true, true]);
    expect(procs[0]!.messages).toEqual([{ type: 'rollcall_name_conflict', group: 'app', cluster: null, key: 'k', other: procs[1]!.pid }]);
    expect(procs[1]!.messages).toEqual([{ type: 'rollcall_name_conflict', group: 'app', cluster: null, key: 'k', other: procs[0]!.pid }]);
    await s.run(HEARTBEAT.timeoutMs);
    expect(shown(groups, 'k')).toEqual([undefined, undefined, undefined]);
  });

  it('keepRandom: per key the pid with the higher hash score wins on every node, the other is killed; both sides win some keys', async () => {
    const { s, nodes, groups } = await partitioned(['a', 'b'], 'keepRandom', 15);
    // One process per key and side, so a kill for one key does not decide the others.
    const keys = Array.from({ length: 16 }, (_, i) => `svc/${i}`);
    const owners: Array<[Collector, Collector]> = [];
    for (const key of keys) {
      const pair = [collector(nodes[0]!), collector(nodes[1]!)] as [Collector, Collector];
      expect(groups[0]!.register(key, {}, { pid: pair[0].pid })).toBe('ok');
      expect(groups[1]!.register(key, {}, { pid: pair[1].pid })).toBe('ok');
      owners.push(pair);
    }
    await healAll(s, groups);
    const wins = [0, 0];
    keys.forEach((key, i) => {
      const [p, q] = owners[i]!;
      const expected: Pid = randomScore(key, p.pid) > randomScore(key, q.pid) ? p.pid : q.pid;
      expect(shown(groups, key), key).toEqual([expected.key, expected.key]);
      const winnerSide = expected.equals(p.pid) ? 0 : 1;
      wins[winnerSide]!++;
      expect([nodes[0]!.isAlive(p.pid), nodes[1]!.isAlive(q.pid)], key).toEqual(winnerSide === 0 ? [true, false] : [false, true]);
    });
    expect(wins[0]).toBeGreaterThan(0);
    expect(wins[1]).toBeGreaterThan(0);
  });

  it('keepRandom with three registrations: exactly one survivor, shown everywhere', async () => {
    const { s, nodes, groups } = await partitioned(['a', 'b', 'c'], 'keepRandom', 16);
    const procs = await registerEverywhere(s, nodes, groups, ['k']);
    await healAll(s, groups);
    const living = alive(nodes, procs);
    expect(living.filter(Boolean)).toHaveLength(1);
    const survivor = procs[living.indexOf(true)]!.pid;
    expect(shown(groups, 'k')).toEqual(groups.map(() => survivor.key));
    const best = procs.reduce((x, y) => (randomScore('k', y.pid) > randomScore('k', x.pid) ? y : x));
    expect(survivor.equals(best.pid)).toBe(true);
  });

  it('refuses a strategy together with a custom resolver, and unknown strategies', async () => {
    sim = createSim(17);
    const [a] = await sim.cluster('a');
    await expect(Group.start(a!, { name: 'x', conflictStrategy: 'keepOldest', resolveRegistryConflict: (c) => c.local.pid })).rejects.toThrow(/either conflictStrategy or resolveRegistryConflict/);
    await expect(Group.start(a!, { name: 'x', conflictStrategy: 'keepAll' as ConflictStrategy })).rejects.toMatchObject({ code: 'ERR_ROLLCALL_INVALID_ARGUMENT' });
  });
});
