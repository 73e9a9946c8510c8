import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EncodeError, InvalidArgumentError, Pid, startNode, type Node, type NodeOptions } from '../../../src/index.js';
import { createSim, collector, idle, type Sim } from './sim-helpers.js';

/** The InvalidArgumentError `fn` throws (or rejects with), for checks on its message. */
async function invalidArgument(fn: () => unknown): Promise<InvalidArgumentError> {
  let caught: unknown;
  try {
    await fn();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(InvalidArgumentError);
  expect((caught as InvalidArgumentError).code).toBe('ERR_ROLLCALL_INVALID_ARGUMENT');
  return caught as InvalidArgumentError;
}

describe('startNode: bad options throw InvalidArgumentError saying what to pass', () => {
  it('without a name', async () => {
    const error = await invalidArgument(() => startNode({} as NodeOptions));
    expect(error.message).toMatch(/"name" is required/);
    await invalidArgument(() => startNode(undefined as unknown as NodeOptions));
  });

  it('with a name that is not a valid node name', async () => {
    const error = await invalidArgument(() => startNode({ name: 'has space', cookie: 'x' }));
    expect(error.message).toMatch(/name/);
  });

  it('TCP without a cookie', async () => {
    const error = await invalidArgument(() => startNode({ name: 'a' }));
    expect(error.message).toMatch(/"cookie" is required for TCP/);
  });

  it('heartbeat.timeoutMs not larger than intervalMs', async () => {
    for (const heartbeat of [
      { intervalMs: 500, timeoutMs: 500 },
      { intervalMs: 500, timeoutMs: 100 },
    ]) {
      const error = await invalidArgument(() => startNode({ name: 'a', cookie: 'x', heartbeat }));
      expect(error.message).toMatch(/heartbeat\.timeoutMs \(\d+\) must be larger than heartbeat\.intervalMs/);
    }
    const negative = await invalidArgument(() => startNode({ name: 'a', cookie: 'x', heartbeat: { intervalMs: -1 } }));
    expect(negative.message).toMatch(/heartbeat\.intervalMs must be a positive number/);
  });

  it('an unknown option, naming it and the known ones', async () => {
    const error = await invalidArgument(() => startNode({ name: 'a', cookie: 'x', heartbeatMs: 5 } as unknown as NodeOptions));
    expect(error.message).toMatch(/unknown option "heartbeatMs"/);
    expect(error.message).toMatch(/heartbeat/);
  });

  it('other numeric options out of range', async () => {
    expect((await invalidArgument(() => startNode({ name: 'a', cookie: 'x', callTimeoutMs: 0 }))).message).toMatch(/callTimeoutMs/);
    expect((await invalidArgument(() => startNode({ name: 'a', cookie: 'x', maxFrameBytes: 10 }))).message).toMatch(/maxFrameBytes/);
    expect((await invalidArgument(() => startNode({ name: 'a', cookie: 'x', listen: { port: 70_000 } }))).message).toMatch(/listen\.port/);
  });
});

describe('Node: bad arguments and values that cannot cross the wire', () => {
  let sim: Sim;
  let a: Node;
  let b: Node;
  beforeEach(async () => {
    sim = createSim(61);
    [a, b] = await sim.cluster('a', 'b');
  });
  afterEach(async () => {
    await sim.teardown();
  });

  it('spawn of something that is not a function', async () => {
    const error = await invalidArgument(() => a.spawn('not a function' as never));
    expect(error.message).toMatch(/async function/);
    await invalidArgument(() => a.spawn({} as never));
  });

  it('monitor of something that is not a Pid, or with a bad watcher', async () => {
    const error = await invalidArgument(() => a.monitor('<b.1.1>' as unknown as Pid, () => undefined));
    expect(error.message).toMatch(/pid must be a Pid/);
    await invalidArgument(() => a.monitor({ node: 'b', incarnation: 1, id: 1 } as unknown as Pid, () => undefined));
    const watcher = await invalidArgument(() => a.monitor(idle(a), 'me' as never));
    expect(watcher.message).toMatch(/watcher must be/);
  });

  it('exit of something that is not a Pid; a bad destination; a bad call timeout', async () => {
    await invalidArgument(() => a.exit('pid' as unknown as Pid, 'x'));
    const destination = await invalidArgument(() => a.send({ name: 'x' } as never, 'm'));
    expect(destination.message).toMatch(/a Pid, a local name, or \{name, node\}/);
    const timeout = await invalidArgument(() => a.call(idle(a), 'x', { timeoutMs: -5 }));
    expect(timeout.message).toMatch(/timeoutMs must be a positive number/);
  });

  it('sending a function (or a symbol) to a remote pid throws EncodeError at the call; nothing is sent', async () => {
    const target = collector(b);
    expect(() => a.send(target.pid, { callback: () => 1 })).toThrow(EncodeError);
    expect(() => a.send(target.pid, Symbol('s'))).toThrow(EncodeError);
    expect(() => a.send({ name: 'x', node: 'b' }, () => 1)).toThrow(EncodeError);
    expect(() => a.cast(target.pid, () => 1)).toThrow(EncodeError);
    a.send(target.pid, 'fine');
    await sim.until(() => target.messages.length === 1, 'the encodable message');
    await sim.run(20);
    expect(target.messages).toEqual(['fine']);
    expect(a.peers()).toEqual(['b']);
  });

  it('a local send is not encoded: a function reaches a local process as is', async () => {
    const target = collector(a);
    const fn = (): number => 7;
    a.send(target.pid, fn);
    await sim.until(() => target.messages.length === 1, 'local message');
    expect(target.messages[0]).toBe(fn);
  });
});
