/**
 * The distributed Group scenarios (test/conformance/group-scenarios.ts) on the simulated network:
 * three nodes in this process, virtual time, one seeded run per scenario. Every scenario runs here
 * (and on real processes in test/cluster/group-distributed.test.ts).
 */
import { describe, expect, it } from 'vitest';
import * as api from '../../../src/internal.js';
import type { Node } from '../../../src/index.js';
import { groupAgent, type AgentRequest } from '../../conformance/group-agent.js';
import { groupScenarios, type GroupScenarioEnv } from '../../conformance/group-scenarios.js';
import { createSim, type Sim } from '../node/sim-helpers.js';
import { capturingLogger, eventsNamed, type LogRecord } from '../../support/log-capture.js';

const NAMES = ['a', 'b', 'c'] as const;
/** Virtual time moved per poll of a wait. */
const POLL_MS = 5;

class MemoryEnv implements GroupScenarioEnv {
  readonly kind = 'memory';
  readonly names = NAMES;
  private readonly nodes = new Map<string, Node>();
  private readonly states = new Map<string, Record<string, unknown>>();
  private readonly dead = new Set<string>();

  private constructor(readonly sim: Sim) {}

  static async create(seed: number): Promise<MemoryEnv> {
    const env = new MemoryEnv(createSim(seed));
    const nodes = await env.sim.cluster(...NAMES);
    nodes.forEach((node, i) => {
      env.nodes.set(NAMES[i]!, node);
      env.states.set(NAMES[i]!, { groupLog: false });
    });
    for (const name of NAMES) await env.run(name, { op: 'install-router' });
    return env;
  }

  async agent<T>(name: string, request: AgentRequest): Promise<T> {
    if (this.dead.has(name)) throw new Error(`node ${name} is not running`);
    const value = await this.run(name, request);
    // The same copy the IPC of the cluster runner makes: no live object escapes a node.
    return structuredClone(value) as T;
  }

  async kill(name: string): Promise<void> {
    this.dead.add(name);
    await this.sim.crash(this.node(name));
    // A dead process's timers die with it (the Groups' anti-entropy timers here).
    await this.run(name, { op: 'cleanup' });
  }

  async restart(name: string): Promise<void> {
    if (!this.dead.has(name)) await this.kill(name);
    const seeds = NAMES.filter((n) => n !== name && !this.dead.has(n)).slice(0, 1);
    const node = await this.sim.start(name, { seeds });
    this.nodes.set(name, node);
    this.states.set(name, { groupLog: false });
    this.dead.delete(name);
    await this.run(name, { op: 'install-router' });
    const live = NAMES.filter((n) => !this.dead.has(n));
    await this.sim.until(() => live.every((n) => this.node(n).peers().length === live.length - 1), `${name} meshed again`);
  }

  async cut(a: string, b: string): Promise<void> {
    this.sim.network.cut(a, b);
  }

  async heal(a: string, b: string): Promise<void> {
    this.sim.network.heal(a, b);
  }

  async until(cond: () => Promise<boolean>, what: () => string, maxMs = 10_000): Promise<void> {
    const { clock } = this.sim;
    const deadline = clock.now() + maxMs;
    await clock.settle();
    while (!(await cond())) {
      if (clock.now() >= deadline) throw new Error(`virtual time ran out (${maxMs} ms) waiting for ${what()}`);
      await clock.advance(POLL_MS);
    }
  }

  async teardown(): Promise<void> {
    for (const name of NAMES) if (!this.dead.has(name)) await this.run(name, { op: 'cleanup' });
    await this.sim.teardown();
  }

  private node(name: string): Node {
    const node = this.nodes.get(name);
    if (node === undefined) throw new Error(`no node ${name}`);
    return node;
  }

  private run(name: string, request: AgentRequest): Promise<unknown> {
    return groupAgent({ node: this.node(name), api, state: this.states.get(name)!, emit: () => undefined }, request);
  }
}

/**
 * A stable seed per scenario, so a failure replays exactly. GROUP_SCENARIO_SALT varies every seed
 * for a soak run: `for i in $(seq 50); do GROUP_SCENARIO_SALT=$i npx vitest run <this file>; done`.
 */
function seedOf(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}

groupScenarios('memory network, virtual time', {
  setup: (id) => MemoryEnv.create(seedOf(id + (process.env['GROUP_SCENARIO_SALT'] ?? ''))),
  teardown: (env) => (env as MemoryEnv).teardown(),
  timeoutMs: 30_000,
});

describe('a node that runs no Group (regression: its links used to flap)', () => {
  // A Group's HELLO goes to every connected node. A node that runs no Group has no handler for the
  // group frame types; its link used to treat them as bad frames and drop the connection, and the
  // next HELLO (on nodeup) dropped it again. Frames of the upper layers' types (0x30 and up) that
  // nobody handles are now dropped, counted and logged at debug, at most one line per 10 s.
  it('keeps a stable link to a node that starts one; the frames it cannot handle are logged at debug, throttled', async () => {
    const sim = createSim(11);
    try {
      const logs: LogRecord[] = [];
      const a = await sim.start('a');
      const b = await sim.start('b', { seeds: ['a'], logger: capturingLogger(logs) });
      await sim.until(() => a.peers().length === 1 && b.peers().length === 1, 'a and b connected');
      const downs: string[] = [];
      b.on('nodedown', (e) => downs.push(e.reason));
      const group = await api.Group.start(a, { name: 'app', log: false, antiEntropyMs: 500 });
      // Reconnects re-send the HELLO: the link must survive those too.
      for (let i = 0; i < 3; i++) {
        a.disconnect('b');
        await sim.until(() => a.peers().length === 1 && b.peers().length === 1, 'a and b connected again');
      }
      await sim.run(25_000);
      expect(downs.filter((reason) => reason !== 'connection_closed')).toEqual([]);
      expect(downs).toHaveLength(3); // the three disconnects above, nothing else
      expect(b.peers()).toEqual(['a']);
      const lines = eventsNamed(logs, 'unhandled_frames');
      expect(lines.length).toBeGreaterThan(0);
      expect(lines.every((r) => r.level === 'debug' && String(r['type']).startsWith('0x3'))).toBe(true);
      // Throttled: four HELLOs within a moment make one line; ~25 s of virtual time at most three.
      expect(lines.length).toBeLessThanOrEqual(4);
      const dropped = lines.reduce((sum, r) => sum + (r['count'] as number), 0);
      expect(dropped).toBeGreaterThanOrEqual(4);
      await group.stop();
    } finally {
      await sim.teardown();
    }
  });
});
