import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  CallExitError,
  CallRequest,
  EncodeError,
  NodeDownError,
  NoProcError,
  NotRunningError,
  Pid,
  Server,
  TimeoutError,
  noReply,
  type Node,
} from '../../../src/index.js';
import { HEARTBEAT, HEARTBEAT_TICK_MS, createSim, idle, localMonitorCount, rejection, track, type Sim } from './sim-helpers.js';

/** Answers ['add', x, y] with x + y, 'from' with the caller's pid, 'crash' by throwing, 'later' never. */
class Calculator extends Server<void> {
  override handleCall(request: unknown, from: Pid | undefined): unknown {
    if (Array.isArray(request) && request[0] === 'add') return (request[1] as number) + (request[2] as number);
    if (request === 'from') return from ?? 'none';
    if (request === 'crash') throw new Error('calculator exploded');
    if (request === 'function') return () => 1;
    if (request === 'huge') return Buffer.alloc(64 * 1024, 1);
    if (request === 'slow') return new Promise((resolve) => this.clock.setTimeout(() => resolve('done'), 100));
    if (request === 'later') return noReply;
    return 'unknown';
  }
}

/** A plain function process answering every CallRequest with the request doubled. */
function doubler(node: Node): Pid {
  return node.spawn(async (ctx) => {
    for (;;) {
      const message = await ctx.receive();
      if (message instanceof CallRequest) message.reply((message.request as number) * 2);
    }
  });
}

describe('Node: call', () => {
  let sim: Sim;
  let a: Node;
  let b: Node;
  beforeEach(async () => {
    sim = createSim(21);
    [a, b] = await sim.cluster('a', 'b');
  });
  afterEach(async () => {
    await sim.teardown();
  });

  it('calls a local Server and gets the handleCall return value', async () => {
    const calc = a.spawn(Calculator, undefined);
    a.register('calc', calc);
    expect(await sim.resolve(a.call(calc, ['add', 2, 3]), 'local call')).toBe(5);
    expect(await sim.resolve(a.call('calc', ['add', 4, 5]), 'local call by name')).toBe(9);
    expect(await sim.resolve(a.call({ name: 'calc', node: 'a' }, 'slow'), 'async handleCall')).toBe('done');
  });

  it('calls a remote Server by pid and by {name, node}', async () => {
    const calc = b.spawn(Calculator, undefined);
    b.register('calc', calc);
    const started = sim.clock.now();
    expect(await sim.resolve(a.call(calc, ['add', 20, 22]), 'remote call')).toBe(42);
    // One round trip on the simulated network, not a timeout.
    expect(sim.clock.now() - started).toBeLessThan(20);
    expect(await sim.resolve(a.call({ name: 'calc', node: 'b' }, ['add', 1, 1]), 'remote call by name')).toBe(2);
    expect(await sim.resolve(a.call(calc, 'slow'), 'remote async handleCall')).toBe('done');
  });

  it('a remote plain function process answers a CallRequest with msg.reply()', async () => {
    const pid = doubler(b);
    expect(await sim.resolve(a.call(pid, 21), 'call to a function process')).toBe(42);
  });

  it('calls carry `from` = the calling process (local and remote), undefined outside any process', async () => {
    const remote = b.spawn(Calculator, undefined);
    const local = a.spawn(Calculator, undefined);
    const results: unknown[] = [];
    const caller = a.spawn(async () => {
      results.push(await a.call(remote, 'from'), await a.call(local, 'from'));
    });
    await sim.until(() => results.length === 2, 'both calls answered');
    expect(results.every((from) => from instanceof Pid && from.equals(caller))).toBe(true);
    expect(await sim.resolve(a.call(remote, 'from'), 'call from outside')).toBe('none');
  });

  it('a call that is never answered rejects with TimeoutError after timeoutMs', async () => {
    const calc = b.spawn(Calculator, undefined);
    const started = sim.clock.now();
    const error = rejection(await sim.settle(a.call(calc, 'later', { timeoutMs: 250 }), 'timeout'));
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error.code).toBe('ERR_ROLLCALL_TIMEOUT');
    expect(error.message).toMatch(/timed out after 250 ms/);
    expect(sim.clock.now() - started).toBeGreaterThanOrEqual(250);
    expect(sim.clock.now() - started).toBeLessThan(260);
    // The server is still fine.
    expect(await sim.resolve(a.call(calc, ['add', 1, 2]), 'call after timeout')).toBe(3);
  });

  it('the default call timeout is the callTimeoutMs node option', async () => {
    const c = await sim.start('c', { seeds: ['a'], callTimeoutMs: 400 });
    await sim.until(() => c.peers().includes('a'), 'c connected');
    const silent = idle(a);
    const started = sim.clock.now();
    const error = rejection(await sim.settle(c.call(silent, 'anyone?'), 'default timeout'));
    expect(error).toBeInstanceOf(TimeoutError);
    expect(sim.clock.now() - started).toBeGreaterThanOrEqual(400);
    expect(sim.clock.now() - started).toBeLessThan(410);
  });

  it('noproc: a dead remote pid, an unknown remote name, a dead local pid, an unknown local name', async () => {
    const dead = b.spawn(() => undefined);
    const deadLocal = a.spawn(() => undefined);
    await sim.until(() => !b.isAlive(dead) && !a.isAlive(deadLocal), 'processes ended');
    for (const [target, what] of [
      [dead, 'dead remote pid'],
      [{ name: 'nobody', node: 'b' }, 'unknown remote name'],
      [deadLocal, 'dead local pid'],
      ['nobody', 'unknown local name'],
    ] as const) {
      const started = sim.clock.now();
      const error = rejection(await sim.settle(a.call(target, 'hi', { timeoutMs: 5000 }), what));
      expect(error, what).toBeInstanceOf(NoProcError);
      expect(error.code).toBe('ERR_ROLLCALL_NOPROC');
      expect(sim.clock.now() - started, what).toBeLessThan(20);
    }
  });

  it('a target node that is not connected rejects with NodeDownError at once', async () => {
    const outcome = await sim.settle(a.call(new Pid('nowhere', 1, 1), 'hi'), 'call to unknown node', 0);
    const error = rejection(outcome);
    expect(error).toBeInstanceOf(NodeDownError);
    expect(error.code).toBe('ERR_ROLLCALL_NODE_DOWN');
    expect(error.message).toMatch(/nowhere is not connected/);
    const byName = rejection(await sim.settle(a.call({ name: 'x', node: 'nowhere' }, 'hi'), 'by name', 0));
    expect(byName).toBeInstanceOf(NodeDownError);
  });

  it('the target node crashing during the call rejects with NodeDownError, not a timeout', async () => {
    const silent = idle(b);
    const call = track(a.call(silent, 'hi', { timeoutMs: 60_000 }));
    await sim.run(10);
    const crashedAt = sim.clock.now();
    await sim.crash(b);
    const error = rejection(await sim.settle(call, 'call during crash'));
    expect(error).toBeInstanceOf(NodeDownError);
    expect(error.message).toMatch(/b went down/);
    expect(sim.clock.now() - crashedAt).toBeLessThanOrEqual(HEARTBEAT.timeoutMs + HEARTBEAT_TICK_MS);
  });

  it('a partition during the call rejects with NodeDownError within the heartbeat timeout', async () => {
    const silent = idle(b);
    const call = track(a.call(silent, 'hi', { timeoutMs: 60_000 }));
    await sim.run(10);
    const cutAt = sim.clock.now();
    sim.network.cut('a', 'b');
    const error = rejection(await sim.settle(call, 'call during partition'));
    expect(error).toBeInstanceOf(NodeDownError);
    expect(error.message).toMatch(/heartbeat_timeout/);
    const elapsed = sim.clock.now() - cutAt;
    expect(elapsed).toBeGreaterThanOrEqual(HEARTBEAT.timeoutMs - HEARTBEAT.intervalMs);
    expect(elapsed).toBeLessThanOrEqual(HEARTBEAT.timeoutMs + 2 * HEARTBEAT_TICK_MS);
  });

  it('the target exiting during the call rejects with CallExitError carrying the reason', async () => {
    const remote = idle(b);
    const local = idle(a);
    const remoteCall = track(a.call(remote, 'hi'));
    const localCall = track(a.call(local, 'hi'));
    await sim.run(10);
    a.exit(remote, { why: 'remote-stop' });
    a.exit(local, 'local-stop');
    const remoteError = rejection(await sim.settle(remoteCall, 'remote call'));
    const localError = rejection(await sim.settle(localCall, 'local call'));
    expect(remoteError).toBeInstanceOf(CallExitError);
    expect(remoteError.code).toBe('ERR_ROLLCALL_CALL_EXIT');
    expect(remoteError.reason).toEqual({ why: 'remote-stop' });
    expect(localError).toBeInstanceOf(CallExitError);
    expect(localError.reason).toBe('local-stop');
  });

  it('handleCall throwing crashes the server: the caller gets CallExitError with the error as reason', async () => {
    const remote = b.spawn(Calculator, undefined);
    const local = a.spawn(Calculator, undefined);
    for (const [pid, what] of [
      [remote, 'remote'],
      [local, 'local'],
    ] as const) {
      const error = rejection(await sim.settle(a.call(pid, 'crash'), `${what} crash`));
      expect(error, what).toBeInstanceOf(CallExitError);
      expect(error.reason, what).toBeInstanceOf(Error);
      expect((error.reason as Error).message, what).toBe('calculator exploded');
    }
    await sim.until(() => !a.isAlive(local) && !b.isAlive(remote), 'servers dead');
  });

  it('a remote reply that cannot be encoded rejects the call with an error instead of hanging', async () => {
    const calc = b.spawn(Calculator, undefined);
    const started = sim.clock.now();
    const error = rejection(await sim.settle(a.call(calc, 'function', { timeoutMs: 5000 }), 'unencodable reply'));
    expect(error).not.toBeInstanceOf(TimeoutError);
    expect(error.message).toMatch(/could not be encoded/);
    expect(error.code).toBe('ERR_ROLLCALL_ENCODE');
    expect(sim.clock.now() - started).toBeLessThan(20);
    // The link and the server survive.
    expect(await sim.resolve(a.call(calc, ['add', 1, 1]), 'next call')).toBe(2);
  });

  it('a remote reply larger than maxFrameBytes rejects the call and keeps the link up', async () => {
    const small = { maxFrameBytes: 16 * 1024 };
    const c = await sim.start('c', { seeds: ['a'], ...small });
    const d = await sim.start('d', { seeds: ['a'], ...small });
    await sim.until(() => c.peers().includes('d'), 'c and d connected');
    const calc = d.spawn(Calculator, undefined);
    const downs: string[] = [];
    c.on('nodedown', (e) => downs.push(e.node));
    const error = rejection(await sim.settle(c.call(calc, 'huge', { timeoutMs: 5000 }), 'huge reply'));
    expect(error).not.toBeInstanceOf(TimeoutError);
    expect(error.message).toMatch(/maxFrameBytes/);
    expect(downs).toEqual([]);
    expect(await sim.resolve(c.call(calc, ['add', 2, 2]), 'next call')).toBe(4);
  });

  it('a request that cannot be encoded rejects with EncodeError, and nothing is sent', async () => {
    const calc = b.spawn(Calculator, undefined);
    const error = rejection(await sim.settle(a.call(calc, { fn: () => 1 }), 'unencodable request', 0));
    expect(error).toBeInstanceOf(EncodeError);
    expect(await sim.resolve(a.call(calc, ['add', 3, 3]), 'next call')).toBe(6);
  });

  it('a finished remote call leaves no monitor behind on the target node', async () => {
    const calc = b.spawn(Calculator, undefined);
    const before = localMonitorCount(b);
    for (let i = 0; i < 5; i++) await sim.resolve(a.call(calc, ['add', i, i]), `call ${i}`);
    await sim.settle(a.call(calc, 'crash'), 'crashing call');
    expect(localMonitorCount(b)).toBe(before);
    expect(localMonitorCount(a)).toBe(0);
  });

  it('node.stop() rejects the calls it has in flight (local and remote) with NotRunningError', async () => {
    const remote = idle(b);
    const local = idle(a);
    const remoteCall = track(a.call(remote, 'hi', { timeoutMs: 60_000 }));
    const localCall = track(a.call(local, 'hi', { timeoutMs: 60_000 }));
    await sim.run(5);
    await a.stop();
    expect(rejection(await sim.settle(remoteCall, 'remote call', 0))).toBeInstanceOf(NotRunningError);
    expect(rejection(await sim.settle(localCall, 'local call', 0))).toBeInstanceOf(NotRunningError);
    const after = rejection(await sim.settle(a.call(remote, 'hi'), 'call after stop', 0));
    expect(after).toBeInstanceOf(NotRunningError);
  });
});
