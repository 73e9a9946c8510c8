import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NoProcError, NodeDownError, type DownInfo, type Node, type NodeDownEvent, type NodeUpEvent } from '../../../src/index.js';
import { collector, createSim, idle, rejection, type Sim } from './sim-helpers.js';

describe('Node: incarnations (a node restarted under the same name)', () => {
  let sim: Sim;
  let a: Node;
  let b: Node;
  beforeEach(async () => {
    sim = createSim(41);
    [a, b] = await sim.cluster('a', 'b');
  });
  afterEach(async () => {
    await sim.teardown();
  });

  it('a restarted node has a new incarnation; a sees the old one go and the new one come', async () => {
    const ups: NodeUpEvent[] = [];
    const downs: NodeDownEvent[] = [];
    a.on('nodeup', (e) => ups.push(e));
    a.on('nodedown', (e) => downs.push(e));
    const oldIncarnation = b.incarnation;
    await sim.crash(b);
    await sim.run(5); // the restart does not happen in the same instant
    const b2 = await sim.start('b');
    expect(b2.incarnation).not.toBe(oldIncarnation);
    expect(b2.incarnation).toBeGreaterThan(oldIncarnation);
    // a redials b on its own (reconnect with backoff).
    await sim.until(() => a.peerInfo().some((p) => p.name === 'b' && p.incarnation === b2.incarnation), 'a connected to the new b');
    expect(downs).toEqual([expect.objectContaining({ node: 'b', incarnation: oldIncarnation })]);
    expect(ups).toEqual([expect.objectContaining({ node: 'b', incarnation: b2.incarnation })]);
  });

  it('pids of the old incarnation: not alive, sends dropped, monitors fire, calls reject with NoProcError', async () => {
    const old = collector(b);
    const oldName = collector(b, 'inbox');
    expect(a.isAlive(old.pid)).toBe(true);
    await sim.crash(b);
    await sim.run(5);
    const b2 = await sim.start('b');
    // While b is away: not alive, monitors fire 'noconnection', calls fail with NodeDownError.
    await sim.until(() => !a.peers().includes('b'), 'a sees b down');
    expect(a.isAlive(old.pid)).toBe(false);
    const whileDown: DownInfo[] = [];
    a.monitor(old.pid, (down) => whileDown.push(down));
    const callWhileDown = rejection(await sim.settle(a.call(old.pid, 'hi'), 'call while down', 0));
    expect(callWhileDown).toBeInstanceOf(NodeDownError);
    await sim.clock.settle();
    expect(whileDown.map((d) => d.reason)).toEqual(['noconnection']);

    await sim.until(() => a.peers().includes('b'), 'a connected to the new b');
    // The new b reuses pid ids from 1: the first process it spawns has the old pid's id.
    const fresh = collector(b2, 'inbox');
    expect(fresh.pid.id).toBe(old.pid.id);
    expect(fresh.pid.equals(old.pid)).toBe(false);
    expect(a.isAlive(old.pid)).toBe(false);
    expect(a.isAlive(fresh.pid)).toBe(true);

    a.send(old.pid, 'to the old incarnation');
    a.cast(old.pid, 'cast to the old incarnation');
    a.exit(old.pid, 'exit to the old incarnation');
    a.send({ name: 'inbox', node: 'b' }, 'to the name on the new b');
    await sim.until(() => fresh.messages.length === 1, 'the named message');
    await sim.run(20);
    expect(fresh.messages).toEqual(['to the name on the new b']);
    expect(b2.isAlive(fresh.pid)).toBe(true);
    expect(old.messages).toEqual([]);
    expect(oldName.messages).toEqual([]);

    const downs: DownInfo[] = [];
    a.monitor(old.pid, (down) => downs.push(down));
    await sim.until(() => downs.length === 1, 'monitor of an old pid');
    expect(downs[0]!.reason).toBe('noproc');

    const error = rejection(await sim.settle(a.call(old.pid, 'hi'), 'call to an old pid'));
    expect(error).toBeInstanceOf(NoProcError);
    expect(error.message).toMatch(/earlier incarnation/);
  });

  it('a monitor held across the restart fires once, with noconnection', async () => {
    const target = idle(b);
    const downs: DownInfo[] = [];
    a.monitor(target, (down) => downs.push(down));
    await sim.run(10);
    await sim.crash(b);
    await sim.run(5);
    await sim.start('b');
    await sim.until(() => a.peers().includes('b'), 'reconnected');
    await sim.run(100);
    expect(downs.map((d) => d.reason)).toEqual(['noconnection']);
  });

  it('a restart behind a partition: one nodedown for the old incarnation, then the new one; the monitor fires once', async () => {
    // b restarts while a still holds the old link; the reset of the old connection is held by
    // the partition and arrives after the heal.
    const downs: NodeDownEvent[] = [];
    a.on('nodedown', (e) => downs.push(e));
    const target = idle(b);
    const monitorDowns: DownInfo[] = [];
    a.monitor(target, (down) => monitorDowns.push(down));
    await sim.run(10);
    const oldIncarnation = b.incarnation;
    sim.network.cut('a', 'b');
    await sim.crash(b);
    await sim.run(1);
    const b2 = await sim.start('b', { seeds: ['a'] });
    sim.network.heal('a', 'b');
    await sim.until(() => a.peerInfo().some((p) => p.name === 'b' && p.incarnation === b2.incarnation), 'a connected to the new b');
    expect(downs).toHaveLength(1);
    expect(downs[0]).toMatchObject({ node: 'b', incarnation: oldIncarnation });
    expect(downs[0]!.reason).toBe('connection_closed');
    expect(monitorDowns.map((d) => d.reason)).toEqual(['noconnection']);
  });
});
