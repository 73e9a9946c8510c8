import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Pid, type DownInfo, type DownMessage, type Node } from '../../../src/index.js';
import { HEARTBEAT, HEARTBEAT_TICK_MS, collector, createSim, idle, localMonitorCount, type Sim } from './sim-helpers.js';

/** Watch `pid` from `node` and collect what the monitor delivers. */
function watch(node: Node, pid: Pid): DownInfo[] {
  const downs: DownInfo[] = [];
  node.monitor(pid, (down) => downs.push(down));
  return downs;
}

describe('Node: exit and monitor of remote processes', () => {
  let sim: Sim;
  let a: Node;
  let b: Node;
  beforeEach(async () => {
    sim = createSim(31);
    [a, b] = await sim.cluster('a', 'b');
  });
  afterEach(async () => {
    await sim.teardown();
  });

  it('a remote process that returns: the monitor sees "normal", with its ref and pid', async () => {
    const target = b.spawn(async (ctx) => {
      await ctx.receive();
    });
    const downs: DownInfo[] = [];
    const ref = a.monitor(target, (down) => downs.push(down));
    await sim.run(10); // the MONITOR frame is on b before the process ends
    a.send(target, 'finish');
    await sim.until(() => downs.length === 1, 'DOWN');
    expect(downs[0]!.reason).toBe('normal');
    expect(downs[0]!.ref.equals(ref)).toBe(true);
    expect(downs[0]!.pid.equals(target)).toBe(true);
    expect(b.isAlive(target)).toBe(false);
  });

  it('a remote process that throws: the reason is an Error whose message crossed the wire', async () => {
    const target = b.spawn(async (ctx) => {
      await ctx.receive();
      throw new TypeError('bad input on b');
    });
    const downs = watch(a, target);
    await sim.run(10);
    a.send(target, 'go');
    await sim.until(() => downs.length === 1, 'DOWN');
    const reason = downs[0]!.reason as Error;
    expect(reason).toBeInstanceOf(TypeError);
    expect(reason.message).toBe('bad input on b');
  });

  it('exit(remotePid, reason) kills it with that reason; the monitor sees it', async () => {
    const target = idle(b);
    const onB: DownInfo[] = [];
    b.monitor(target, (down) => onB.push(down));
    const onA = watch(a, target);
    await sim.run(10);
    a.exit(target, { code: 'maintenance', attempt: 2 });
    await sim.until(() => onA.length === 1 && onB.length === 1, 'both monitors');
    expect(b.isAlive(target)).toBe(false);
    expect(onA[0]!.reason).toEqual({ code: 'maintenance', attempt: 2 });
    expect(onB[0]!.reason).toEqual({ code: 'maintenance', attempt: 2 });
  });

  it('exit with a reason that cannot be encoded still kills, and the reason arrives as its description', async () => {
    const target = idle(b);
    const downs = watch(a, target);
    await sim.run(10);
    a.exit(target, { not: 'encodable', fn: () => 1 });
    await sim.until(() => downs.length === 1, 'DOWN');
    expect(typeof downs[0]!.reason).toBe('string');
    expect(downs[0]!.reason).toMatch(/encodable/);
  });

  it("monitor of a dead remote pid fires 'noproc' (after a round trip)", async () => {
    const target = b.spawn(() => undefined);
    await sim.until(() => !b.isAlive(target), 'target ended');
    const downs = watch(a, target);
    await sim.until(() => downs.length === 1, 'noproc');
    expect(downs[0]!.reason).toBe('noproc');
    const unknown = watch(a, new Pid('b', b.incarnation, 424_242));
    await sim.until(() => unknown.length === 1, 'noproc for an unknown id');
    expect(unknown[0]!.reason).toBe('noproc');
  });

  it("monitor of a pid on a node that is not connected fires 'noconnection' at once (no time passes)", async () => {
    const downs = watch(a, new Pid('ghost', 7, 1));
    expect(downs).toEqual([]); // asynchronous, as every monitor notification
    const before = sim.clock.now();
    await sim.clock.settle();
    expect(sim.clock.now()).toBe(before);
    expect(downs.map((d) => d.reason)).toEqual(['noconnection']);
  });

  it("b crashing: 'noconnection' for every monitored pid on it, within the heartbeat timeout", async () => {
    const targets = [idle(b), idle(b), idle(b)];
    const downs: DownInfo[] = [];
    for (const pid of targets) a.monitor(pid, (down) => downs.push(down));
    const unrelated = idle(a);
    const local = watch(a, unrelated);
    await sim.run(10);
    const crashedAt = sim.clock.now();
    await sim.crash(b);
    await sim.until(() => downs.length === 3, 'three noconnection');
    expect(sim.clock.now() - crashedAt).toBeLessThanOrEqual(HEARTBEAT.timeoutMs + HEARTBEAT_TICK_MS);
    expect(downs.map((d) => d.reason)).toEqual(['noconnection', 'noconnection', 'noconnection']);
    expect(downs.map((d) => d.pid.key).sort()).toEqual(targets.map((p) => p.key).sort());
    await sim.run(HEARTBEAT.timeoutMs);
    expect(downs).toHaveLength(3); // exactly once each
    expect(local).toEqual([]);
  });

  it("a partition (network.cut): 'noconnection' for every monitored pid, within the heartbeat timeout", async () => {
    const targets = [idle(b), idle(b)];
    const downs: DownInfo[] = [];
    for (const pid of targets) a.monitor(pid, (down) => downs.push(down));
    await sim.run(10);
    const cutAt = sim.clock.now();
    sim.network.cut('a', 'b');
    await sim.until(() => downs.length === 2, 'two noconnection', 5000);
    const elapsed = sim.clock.now() - cutAt;
    expect(elapsed).toBeGreaterThanOrEqual(HEARTBEAT.timeoutMs - HEARTBEAT.intervalMs);
    expect(elapsed).toBeLessThanOrEqual(HEARTBEAT.timeoutMs + 2 * HEARTBEAT_TICK_MS);
    expect(downs.map((d) => d.reason)).toEqual(['noconnection', 'noconnection']);
    // b cleaned up the monitors a held on its processes when it saw a go down.
    await sim.until(() => b.peers().length === 0, 'b sees a down');
    expect(localMonitorCount(b)).toBe(0);
    // After the heal the processes are still alive, and a fresh monitor works again.
    sim.network.heal('a', 'b');
    await sim.until(() => a.peers().includes('b'), 'reconnected', 10_000);
    expect(b.isAlive(targets[0]!)).toBe(true);
    const again = watch(a, targets[0]!);
    await sim.run(10);
    a.exit(targets[0]!, 'after heal');
    await sim.until(() => again.length === 1, 'DOWN after heal');
    expect(again[0]!.reason).toBe('after heal');
  });

  it('demonitor stops delivery and is true once, then false', async () => {
    const target = idle(b);
    const downs: DownInfo[] = [];
    const ref = a.monitor(target, (down) => downs.push(down));
    const other = watch(a, target);
    await sim.run(10);
    expect(localMonitorCount(b)).toBe(2);
    expect(a.demonitor(ref)).toBe(true);
    expect(a.demonitor(ref)).toBe(false);
    await sim.until(() => localMonitorCount(b) === 1, 'b drops the monitor');
    a.exit(target, 'bye');
    await sim.until(() => other.length === 1, 'the other monitor fires');
    await sim.run(20);
    expect(downs).toEqual([]);
  });

  it('a watcher given as a Pid receives {type: "DOWN", ref, pid, reason}', async () => {
    const target = idle(b);
    const inbox = collector(a);
    const ref = a.monitor(target, inbox.pid);
    await sim.run(10);
    a.exit(target, 'done');
    await sim.until(() => inbox.messages.length === 1, 'DOWN message');
    const down = inbox.messages[0] as DownMessage;
    expect(down.type).toBe('DOWN');
    expect(down.ref.equals(ref)).toBe(true);
    expect(down.pid.equals(target)).toBe(true);
    expect(down.reason).toBe('done');
  });

  it('a remote watcher Pid: a monitor set up on b for a watcher on a delivers DOWN to a', async () => {
    const target = idle(b);
    const inbox = collector(a);
    const ref = b.monitor(target, inbox.pid);
    b.exit(target, 'local exit');
    await sim.until(() => inbox.messages.length === 1, 'DOWN across the wire');
    expect(inbox.messages[0]).toMatchObject({ type: 'DOWN', reason: 'local exit' });
    expect((inbox.messages[0] as DownMessage).ref.equals(ref)).toBe(true);
  });

  it('when the watcher process dies, its remote monitors are removed on the target node too', async () => {
    const targets = [idle(b), idle(b)];
    const watcher = a.spawn(async (ctx) => {
      for (const pid of targets) a.monitor(pid, ctx.self);
      await ctx.receive(); // until told to stop
    });
    const survivor = watch(a, targets[0]!);
    await sim.until(() => localMonitorCount(b) === 3, 'monitors on b');
    a.send(watcher, 'stop');
    await sim.until(() => localMonitorCount(b) === 1, 'the watcher monitors removed on b');
    b.exit(targets[0]!, 'x');
    await sim.until(() => survivor.length === 1, 'the callback monitor still fires');
    expect(localMonitorCount(b)).toBe(0);
  });

  it('a monitor whose watcher Pid is already dead is not kept on the target node', async () => {
    const target = idle(b);
    const watcher = a.spawn(() => undefined);
    await sim.until(() => !a.isAlive(watcher), 'watcher ended');
    a.monitor(target, watcher);
    await sim.run(20);
    expect(localMonitorCount(b)).toBe(0);
  });
});

describe('Node: exit reasons too large for a frame', () => {
  let sim: Sim;
  afterEach(async () => {
    await sim.teardown();
  });

  it('a remote process dying with a reason over maxFrameBytes still fires the monitor, with a short description', async () => {
    sim = createSim(32);
    const small = { maxFrameBytes: 16 * 1024 };
    const a = await sim.start('a', small);
    const b = await sim.start('b', { ...small, seeds: ['a'] });
    await sim.until(() => a.peers().includes('b'), 'connected');
    const target = b.spawn(async (ctx) => {
      await ctx.receive();
      throw new Error(`too long: ${'x'.repeat(40_000)}`);
    });
    const downs = watch(a, target);
    const called = a.call(target, 'anything', { timeoutMs: 5000 }).catch((error: unknown) => error);
    await sim.run(10);
    a.send(target, 'die');
    await sim.until(() => downs.length === 1, 'DOWN with a huge reason', 5000);
    expect(typeof downs[0]!.reason).toBe('string');
    expect(downs[0]!.reason).toMatch(/^Error: too long: x+/);
    expect((downs[0]!.reason as string).length).toBeLessThan(1000);
    expect(a.peers()).toEqual(['b']);
    // The call in flight hears of the exit too (not a timeout).
    const error = await sim.resolve(called, 'call ends');
    expect(error).toMatchObject({ code: 'ERR_ROLLCALL_CALL_EXIT' });
  });
});
