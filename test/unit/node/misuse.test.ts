/**
 * Node API misuse: every public method given the wrong types, empty names, pids of other nodes
 * where a local one is required, and malformed seeds gets an InvalidArgumentError (a Promise
 * rejects with it), and nothing changes: the processes, names, peers and monitors are as before.
 * (startNode options, spawn/monitor/exit/send basics and unencodable values: arguments.test.ts.)
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Pid, Ref, type Node } from '../../../src/index.js';
import { collector, createSim, idle, localMonitorCount, type Sim } from './sim-helpers.js';

let sim: Sim;
let a: Node;
let b: Node;
beforeEach(async () => {
  sim = createSim(501);
  [a, b] = await sim.cluster('a', 'b');
});
afterEach(async () => {
  await sim.teardown();
});

/** What a misuse must leave as it was. */
function stateOf(node: Node): unknown {
  return { processes: node.processCount(), peers: node.peers(), monitors: localMonitorCount(node), inbox: node.whereis('inbox')?.key };
}

/** The call throws (or, returning a promise, rejects) an error with `code`; returns its message. */
async function refusal(code: string, fn: () => unknown): Promise<string> {
  let caught: unknown;
  try {
    const value = fn();
    if (value instanceof Promise) {
      const outcome = await sim.settle(value, 'the misuse', 1000);
      if (outcome.ok) throw new Error(`resolved with ${String(outcome.value)}`);
      caught = outcome.error;
    }
  } catch (error) {
    caught = error;
  }
  expect(caught, 'an error').toBeInstanceOf(Error);
  expect((caught as { code?: string }).code, String(caught)).toBe(code);
  return (caught as Error).message;
}

const INVALID = 'ERR_ROLLCALL_INVALID_ARGUMENT';
const NOT_PIDS: unknown[] = [undefined, null, 'a', '<a.1.1>', 7, {}, { node: 'a', incarnation: 1, id: 1 }];

describe('Node: wrong types, empty names, other nodes\' pids', () => {
  it('isAlive, demonitor, exit and monitor take a Pid / Ref only', async () => {
    const inbox = collector(a, 'inbox');
    void inbox;
    const before = stateOf(a);
    for (const bad of NOT_PIDS) {
      expect(await refusal(INVALID, () => a.isAlive(bad as Pid))).toMatch(/pid must be a Pid/);
      expect(await refusal(INVALID, () => a.exit(bad as Pid, 'x'))).toMatch(/pid must be a Pid/);
      expect(await refusal(INVALID, () => a.monitor(bad as Pid, () => undefined))).toMatch(/pid must be a Pid/);
      expect(await refusal(INVALID, () => a.demonitor(bad as Ref))).toMatch(/ref must be the Ref/);
    }
    expect(stateOf(a)).toEqual(before);
  });

  it('register, unregister and whereis: names are non-empty strings, and register takes a live local pid', async () => {
    collector(a, 'inbox');
    const remote = idle(b);
    const dead = idle(a);
    a.exit(dead, 'gone');
    await sim.run(5);
    const before = stateOf(a);
    for (const name of ['', 7, null, undefined, {}]) {
      expect(await refusal(INVALID, () => a.register(name as string, idle(a)))).toMatch(/name must be a non-empty string/);
    }
    expect(await refusal(INVALID, () => a.register('x', remote))).toMatch(/is not a live process of node a/);
    expect(await refusal(INVALID, () => a.register('x', dead))).toMatch(/is not a live process of node a/);
    expect(await refusal(INVALID, () => a.register('x', 'pid' as unknown as Pid))).toMatch(/not a live process/);
    for (const name of [7, null, undefined, {}]) {
      expect(await refusal(INVALID, () => a.unregister(name as string))).toMatch(/name must be a string/);
      expect(await refusal(INVALID, () => a.whereis(name as string))).toMatch(/name must be a string/);
    }
    // The idle processes spawned as arguments above are the only change.
    expect({ ...(stateOf(a) as object), processes: 0 }).toEqual({ ...(before as object), processes: 0 });
    expect(a.whereis('x')).toBeUndefined();
    expect(a.whereis('inbox')).toBeDefined();
  });

  it('send, cast and call to a malformed destination; call with bad options rejects (never throws)', async () => {
    const inbox = collector(a, 'inbox');
    const before = stateOf(a);
    for (const bad of [undefined, null, 7, { name: 'inbox' }, { node: 'b' }, { name: 'x', node: 5 }]) {
      expect(await refusal(INVALID, () => a.send(bad as never, 'm'))).toMatch(/destination must be/);
      expect(await refusal(INVALID, () => a.cast(bad as never, 'm'))).toMatch(/destination must be/);
      // call returns a promise: a bad argument is a rejection like any other failure.
      let threw = false;
      let promise: Promise<unknown> | undefined;
      try {
        promise = a.call(bad as never, 'm');
      } catch {
        threw = true;
      }
      expect(threw).toBe(false);
      expect(await refusal(INVALID, () => promise)).toMatch(/destination must be/);
    }
    for (const options of [null, 'fast', { timeoutMs: 0 }, { timeoutMs: '5' }, { timeoutMs: Number.NaN }]) {
      expect(await refusal(INVALID, () => a.call(inbox.pid, 'm', options as never))).toMatch(/options must be an object|timeoutMs must be a positive number/);
    }
    await sim.run(20);
    expect(inbox.messages).toEqual([]);
    expect(stateOf(a)).toEqual(before);
  });

  it('connect takes a seed ("name@host:port", "host:port" or a memory-network name); disconnect a node name', async () => {
    const before = stateOf(a);
    for (const seed of ['', '@', 'b@', '@b', 7, null, undefined, 'has space', 'localhost']) {
      expect(await refusal(INVALID, () => a.connect(seed as string))).toMatch(/invalid seed/);
    }
    for (const node of [7, null, undefined, {}]) {
      expect(await refusal(INVALID, () => a.disconnect(node as string))).toMatch(/node must be a node name/);
    }
    await sim.run(100);
    expect(stateOf(a)).toEqual(before);
    // The valid forms still work.
    a.disconnect('b');
    await sim.until(() => a.peers().length === 0 || a.peers().includes('b'), 'disconnected or back');
    a.connect('b@b');
    await sim.until(() => a.peers().includes('b'), 'reconnected');
  });

  it("pids of another node or an earlier incarnation are never treated as local ones", async () => {
    const inbox = collector(a, 'inbox');
    const impostor = new Pid('a', a.incarnation - 1, inbox.pid.id); // same id, earlier incarnation of a
    const other = new Pid('c', 1, inbox.pid.id); // a node that does not exist
    a.send(impostor, 'to the old incarnation');
    a.send(other, 'to nowhere');
    a.exit(impostor, 'kill');
    expect(a.isAlive(impostor)).toBe(false);
    expect(a.isAlive(other)).toBe(false);
    const downs: unknown[] = [];
    a.monitor(other, (down) => downs.push(down.reason));
    a.monitor(impostor, (down) => downs.push(down.reason));
    expect(await refusal('ERR_ROLLCALL_NODE_DOWN', () => a.call(other, 'x'))).toMatch(/not connected/);
    expect(await refusal('ERR_ROLLCALL_NOPROC', () => a.call(impostor, 'x'))).toMatch(/no such process/);
    await sim.run(20);
    expect(inbox.messages).toEqual([]);
    expect(a.isAlive(inbox.pid)).toBe(true);
    expect(downs.sort()).toEqual(['noconnection', 'noproc']);
  });
});
