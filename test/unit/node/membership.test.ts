import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NotRunningError, type DownInfo, type NodeDownEvent, type NodeUpEvent } from '../../../src/index.js';
import { HEARTBEAT, HEARTBEAT_TICK_MS, createSim, idle, type Sim } from './sim-helpers.js';

describe('Node: membership events and stop', () => {
  let sim: Sim;
  beforeEach(() => {
    sim = createSim(51);
  });
  afterEach(async () => {
    await sim.teardown();
  });

  it('nodeup carries {node, incarnation, address} on both sides', async () => {
    const a = await sim.start('a');
    const upsOnA: NodeUpEvent[] = [];
    a.on('nodeup', (e) => upsOnA.push(e));
    const b = await sim.start('b', { seeds: ['a'] });
    const upsOnB: NodeUpEvent[] = [];
    b.on('nodeup', (e) => upsOnB.push(e));
    await sim.until(() => upsOnA.length === 1 && upsOnB.length === 1, 'nodeup on both');
    expect(upsOnA).toEqual([{ node: 'b', incarnation: b.incarnation, address: 'b' }]);
    expect(upsOnB).toEqual([{ node: 'a', incarnation: a.incarnation, address: 'a' }]);
    expect(a.peerInfo()).toEqual([{ name: 'b', incarnation: b.incarnation, address: 'b' }]);
  });

  it("a graceful stop is seen as nodedown 'left' with the stopped node's incarnation, and it is not redialled", async () => {
    const [a, b] = await sim.cluster('a', 'b');
    const downs: NodeDownEvent[] = [];
    const ups: NodeUpEvent[] = [];
    a.on('nodedown', (e) => downs.push(e));
    a.on('nodeup', (e) => ups.push(e));
    await b.stop();
    expect(b.running).toBe(false);
    await sim.until(() => downs.length === 1, 'nodedown');
    expect(downs[0]).toMatchObject({ node: 'b', incarnation: b.incarnation, reason: 'left' });
    await sim.run(2000);
    expect(ups).toEqual([]);
    expect(a.peers()).toEqual([]);
  });

  it("a crash is seen as 'connection_closed', a partition as 'heartbeat_timeout', within the heartbeat timeout", async () => {
    const [a, b, c] = await sim.cluster('a', 'b', 'c');
    const downs: Array<NodeDownEvent & { at: number }> = [];
    a.on('nodedown', (e) => downs.push({ ...e, at: sim.clock.now() }));
    const start = sim.clock.now();
    await sim.crash(b);
    sim.network.cut('a', 'c');
    await sim.until(() => downs.length === 2, 'two nodedowns', 5000);
    const byNode = Object.fromEntries(downs.map((d) => [d.node, d]));
    expect(byNode['b']).toMatchObject({ incarnation: b.incarnation, reason: 'connection_closed' });
    expect(byNode['c']).toMatchObject({ incarnation: c.incarnation, reason: 'heartbeat_timeout' });
    for (const d of downs) expect(d.at - start).toBeLessThanOrEqual(HEARTBEAT.timeoutMs + 2 * HEARTBEAT_TICK_MS);
  });

  it("node.stop() exits every local process with 'shutdown', refuses new work, and is idempotent", async () => {
    const [a, b] = await sim.cluster('a', 'b');
    const pids = [idle(a), idle(a), a.spawn(async () => new Promise(() => undefined))];
    const localDowns: DownInfo[] = [];
    for (const pid of pids) a.monitor(pid, (down) => localDowns.push(down));
    const remoteDowns: DownInfo[] = [];
    b.monitor(pids[0]!, (down) => remoteDowns.push(down));
    await sim.run(10);
    expect(a.processCount()).toBe(3);
    await a.stop();
    expect(a.processCount()).toBe(0);
    expect(pids.every((pid) => !a.isAlive(pid))).toBe(true);
    await sim.clock.settle();
    expect(localDowns.map((d) => d.reason)).toEqual(['shutdown', 'shutdown', 'shutdown']);
    // The peer's monitor hears the real reason: the DOWN frames go out before LEAVE.
    await sim.until(() => remoteDowns.length === 1, 'remote monitor');
    expect(remoteDowns[0]!.reason).toBe('shutdown');
    expect(() => a.spawn(() => undefined)).toThrow(NotRunningError);
    await expect(a.call(pids[0]!, 'x')).rejects.toBeInstanceOf(NotRunningError);
    await a.stop(); // second stop: nothing happens
    expect(a.running).toBe(false);
  });

  it('disconnect(node) drops the link; the nodes reconnect by themselves', async () => {
    const [a, b] = await sim.cluster('a', 'b');
    const downs: NodeDownEvent[] = [];
    a.on('nodedown', (e) => downs.push(e));
    a.disconnect('b');
    expect(a.peers()).toEqual([]);
    expect(downs).toEqual([expect.objectContaining({ node: 'b', reason: 'connection_closed' })]);
    await sim.until(() => a.peers().includes('b') && b.peers().includes('a'), 'reconnected');
  });

  it('three nodes: a node that knows only one seed ends up connected to all (gossip)', async () => {
    const a = await sim.start('a');
    const b = await sim.start('b', { seeds: ['a'] });
    await sim.until(() => a.peers().includes('b'), 'a-b');
    // c only knows b; d only knows c.
    const c = await sim.start('c', { seeds: ['b'] });
    const d = await sim.start('d', { seeds: ['c'] });
    const all = [a, b, c, d];
    await sim.until(() => all.every((n) => n.peers().length === 3), 'full mesh of four', 5000);
    for (const n of all) expect(n.peers().sort()).toEqual(all.filter((m) => m !== n).map((m) => m.name).sort());
  });

  it('gossip also heals a mesh whose direct link was lost while the node was away', async () => {
    const [, b, c] = await sim.cluster('a', 'b', 'c');
    // c forgets b entirely (b left and came back as a new node that only knows a).
    await b.stop();
    await sim.until(() => !c.peers().includes('b'), 'c sees b leave');
    const b2 = await sim.start('b', { seeds: ['a'] });
    await sim.until(() => c.peers().includes('b') && b2.peers().includes('c'), 'c and the new b connected via gossip', 15_000);
  });
});
