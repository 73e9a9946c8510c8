/**
 * startRegisteredServer: start a Server, register it (with the cluster-wide lock) and join it to
 * groups in one step; any failure undoes every step. registeredServers lists what it started.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Group, NameTakenError, Server, type Pid } from '../../../src/internal.js';
import { createSim, idle, track, type Sim } from '../node/sim-helpers.js';

let sim: Sim | undefined;
afterEach(async () => {
  await sim?.teardown();
  sim = undefined;
});

/** Every instance's pid, so a test can check that a rolled-back server is really stopped. */
const started: Pid[] = [];
class Calc extends Server<number> {
  private base = 0;
  override init(base: number): void {
    if (base < 0) throw new Error('negative base');
    this.base = base;
    started.push(this.self);
  }
  override handleCall(request: unknown): unknown {
    return this.base + (request as number);
  }
}

async function setup(names: string[] = ['a', 'b']): Promise<{ s: Sim; groups: Group[] }> {
  started.length = 0;
  sim = createSim(31);
  const nodes = await sim.cluster(...names);
  const groups = await Promise.all(nodes.map((n) => Group.start(n, { name: 'app', log: false })));
  await sim.until(() => groups.every((g) => g.nodes().length === names.length - 1), 'Group peers meet');
  return { s: sim, groups };
}

describe('startRegisteredServer', () => {
  it('starts, registers and joins in one step; the server answers calls through its name; listed until it exits', async () => {
    const { s, groups } = await setup();
    const [ga, gb] = groups;
    const pid = await s.resolve(ga!.startRegisteredServer('calc', Calc, 10, { meta: { kind: 'tool' }, groups: ['tools', { key: 'math', meta: { w: 1 } }] }), 'start');
    expect(ga!.lookup('calc')).toEqual({ pid, meta: { kind: 'tool' } });
    expect(ga!.members('math')).toEqual([{ pid, meta: { w: 1 } }]);
    await s.until(() => gb!.whereis('calc')?.equals(pid) === true && gb!.members('tools').length === 1, 'b sees it');
    expect(await s.resolve(gb!.node.call(gb!.whereis('calc')!, 5), 'call')).toBe(15);
    expect(ga!.registeredServers()).toEqual([{ pid, key: 'calc', cluster: null, groups: ['tools', 'math'] }]);
    expect(gb!.registeredServers()).toEqual([]);
    ga!.node.exit(pid, 'shutdown');
    await s.until(() => ga!.registeredServers().length === 0 && gb!.whereis('calc') === undefined, 'gone everywhere');
    expect(gb!.members('tools')).toEqual([]);
  });

  it('a key taken elsewhere rejects with NameTakenError and leaves no server running', async () => {
    const { s, groups } = await setup();
    const [ga, gb] = groups;
    const holder = idle(gb!.node);
    gb!.register('calc', {}, { pid: holder });
    await s.until(() => ga!.whereis('calc') !== undefined, 'a sees the key taken');
    const outcome = await s.settle(ga!.startRegisteredServer('calc', Calc, 1, { groups: ['tools'] }), 'start');
    expect(outcome.ok).toBe(false);
    expect((outcome as { error: unknown }).error).toBeInstanceOf(NameTakenError);
    expect(started).toEqual([]); // failed before starting anything
    expect(ga!.members('tools')).toEqual([]);
  });

  it('two nodes racing for one key: one server wins, the loser is rolled back (stopped, not registered, not joined)', async () => {
    const { s, groups } = await setup(['a', 'b', 'c']);
    const races = groups.map((g, i) => track(g.startRegisteredServer('calc', Calc, i, { groups: ['tools'] })));
    await s.until(() => races.every((r) => r.outcome !== undefined), 'every start settled');
    const winners = races.filter((r) => r.outcome!.ok);
    expect(winners).toHaveLength(1);
    for (const r of races.filter((x) => !x.outcome!.ok)) expect((r.outcome as { error: unknown }).error).toBeInstanceOf(NameTakenError);
    const pid = (winners[0]!.outcome as { value: Pid }).value;
    await s.run(50);
    for (const g of groups) {
      expect(g.whereis('calc')?.key).toBe(pid.key);
      expect(g.members('tools').map((m) => m.pid.key)).toEqual([pid.key]);
    }
    const aliveServers = started.filter((p) => groups.some((g) => g.node.name === p.node && g.node.isAlive(p)));
    expect(aliveServers.map((p) => p.key)).toEqual([pid.key]);
    expect(groups.flatMap((g) => g.registeredServers()).map((x) => x.pid.key)).toEqual([pid.key]);
  });

  it('a join that fails after registering undoes everything: groups left, key unregistered, server stopped', async () => {
    const { s, groups } = await setup();
    const [ga, gb] = groups;
    const outcome = await s.settle(ga!.startRegisteredServer('calc', Calc, 1, { groups: ['tools', { key: 'bad', meta: { f: () => 1 } }] }), 'start');
    expect(outcome.ok).toBe(false);
    expect((outcome as { error: { code?: string } }).error.code).toBe('ERR_ROLLCALL_ENCODE');
    expect(started).toHaveLength(1);
    expect(ga!.node.isAlive(started[0]!)).toBe(false);
    expect(ga!.whereis('calc')).toBeUndefined();
    expect(ga!.members('tools')).toEqual([]);
    await s.run(50);
    expect(gb!.whereis('calc')).toBeUndefined();
    expect(gb!.members('tools')).toEqual([]);
    expect(ga!.registeredServers()).toEqual([]);
  });

  it('a server whose init fails rejects and leaves nothing registered', async () => {
    const { s, groups } = await setup();
    const outcome = await s.settle(groups[0]!.startRegisteredServer('calc', Calc, -1, { groups: ['tools'] }), 'start');
    expect(outcome.ok).toBe(false);
    await s.run(50);
    expect(groups.map((g) => g.whereis('calc'))).toEqual([undefined, undefined]);
    expect(groups[0]!.members('tools')).toEqual([]);
  });
});

describe('registered() and whereis()', () => {
  it('list every registered key cluster-wide (by prefix) and give the pid alone', async () => {
    const { s, groups } = await setup();
    const [ga, gb] = groups;
    const p = idle(ga!.node);
    const q = idle(gb!.node);
    ga!.register('user/1', {}, { pid: p });
    gb!.register('user/2', {}, { pid: q });
    gb!.register('svc/x', {}, { pid: q });
    await s.until(() => ga!.registered().length === 3, 'a sees all three');
    expect(ga!.registered({ prefix: 'user/' }).sort()).toEqual(['user/1', 'user/2']);
    expect(ga!.whereis('user/2')?.equals(q)).toBe(true);
    expect(ga!.whereis('nope')).toBeUndefined();
  });
});
