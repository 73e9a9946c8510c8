import { describe, expect, it } from 'vitest';
import { TimeoutError, type Node } from '../../../src/index.js';
import { createSim } from './sim-helpers.js';

/**
 * A scripted scenario on three nodes: chatter between named inboxes at random intervals, a
 * partition and its heal, a crash and a restart. Returns everything observable, each entry
 * stamped with the virtual time it happened at.
 */
async function scenario(seed: number): Promise<string[]> {
  const sim = createSim(seed);
  const log: string[] = [];
  const record = (entry: string): void => {
    log.push(`${sim.clock.now().toFixed(3)} ${entry}`);
  };

  const boot = async (name: string, seeds: string[]): Promise<Node> => {
    const node = await sim.start(name, { seeds });
    record(`${name} started incarnation=${node.incarnation}`);
    node.on('nodeup', (e) => record(`${name} nodeup ${e.node} ${e.incarnation}`));
    node.on('nodedown', (e) => record(`${name} nodedown ${e.node} ${e.incarnation} ${e.reason}`));
    const inbox = node.spawn(async (ctx) => {
      for (;;) {
        const message = (await ctx.receive()) as { from: string; i: number; r: number };
        record(`${name} got ${message.from}#${message.i} r=${message.r}`);
      }
    });
    node.register('inbox', inbox);
    // A chatty process: at random intervals, one message to every connected peer's inbox.
    node.spawn(async (ctx) => {
      for (let i = 0; ; i++) {
        try {
          await ctx.receive({ timeoutMs: 20 + node.random.int(40) });
        } catch (error) {
          if (!(error instanceof TimeoutError)) throw error;
        }
        for (const peer of node.peers()) node.send({ name: 'inbox', node: peer }, { from: name, i, r: node.random.int(1000) });
      }
    });
    return node;
  };

  const a = await boot('a', []);
  const b = await boot('b', ['a']);
  const c = await boot('c', ['b']);
  await sim.until(() => a.peers().length === 2 && c.peers().length === 2, 'full mesh');
  await sim.run(300);
  record('cut a-c');
  sim.network.cut('a', 'c');
  await sim.run(1000);
  record('heal a-c');
  sim.network.heal('a', 'c');
  await sim.run(1000);
  record('crash b');
  await sim.crash(b);
  await sim.run(100);
  await boot('b', ['a']);
  await sim.run(1000);
  await sim.teardown();
  return log;
}

describe('Node on the simulated network: determinism', () => {
  it('the same seed and script give the same events at the same virtual times', async () => {
    const first = await scenario(1234);
    const second = await scenario(1234);
    expect(second).toEqual(first);
    // The run is not trivial: it saw the partition, the crash, the restart and plenty of traffic.
    expect(first.some((e) => / a nodedown c \d+ heartbeat_timeout$/.test(e))).toBe(true);
    expect(first.some((e) => / a nodedown b \d+ connection_closed$/.test(e))).toBe(true);
    expect(first.filter((e) => / b started /.test(e))).toHaveLength(2);
    expect(first.filter((e) => / got /.test(e)).length).toBeGreaterThan(200);
  });

  it('another seed gives another run', async () => {
    const [one, other] = [await scenario(1), await scenario(2)];
    expect(other).not.toEqual(one);
  });
});
