/**
 * A small harness for Node tests on the in-memory network: every node of a test shares one
 * SimNetwork, one VirtualClock and one seeded Random, so a test is a script that moves virtual
 * time forward until what it waits for has happened (and a failing run replays exactly).
 */
import { startNode, SimNetwork, VirtualClock, memory, seededRandom, type Node, type NodeOptions, type Pid } from '../../../src/index.js';
import { silentLogger } from '../../../src/internal.js';

/** Fast failure detection so node-down tests take little virtual (and real) time. */
export const HEARTBEAT = { intervalMs: 100, timeoutMs: 600 } as const;
/** How often the mesh judges its links (see Mesh.start): a node-down is noticed within timeoutMs + this. */
export const HEARTBEAT_TICK_MS = Math.min(HEARTBEAT.intervalMs, HEARTBEAT.timeoutMs / 4) / 2;
/** The one-way latency of every link. */
export const LATENCY_MS = { min: 1, max: 3 } as const;

/** How a promise ended, once virtual time has been moved until it did. */
export type Outcome<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: unknown };

export interface Sim {
  readonly clock: VirtualClock;
  readonly network: SimNetwork;
  /** Start a node on the network (silent logger, fast heartbeats, the shared clock and random). */
  start(name: string, options?: Partial<NodeOptions>): Promise<Node>;
  /** Start nodes that each know the first one, and wait until they form a full mesh. */
  cluster<const N extends readonly string[]>(...names: N): Promise<{ -readonly [K in keyof N]: Node }>;
  /** Move virtual time in small steps until `cond()` holds; throws after `maxMs` of virtual time. */
  until(cond: () => boolean, what: string, maxMs?: number): Promise<void>;
  /**
   * Move virtual time until `promise` settles; throws after `maxMs` of virtual time. Pass a
   * `track()`ed promise to let other steps run (and time move) while it is pending.
   */
  settle<T>(promise: Promise<T> | Tracked<T>, what: string, maxMs?: number): Promise<Outcome<T>>;
  /** Like `settle`, but returns the value or throws the rejection. */
  resolve<T>(promise: Promise<T> | Tracked<T>, what: string, maxMs?: number): Promise<T>;
  /** Move virtual time by `ms` (lets frames in flight arrive). */
  run(ms: number): Promise<void>;
  /**
   * The node's OS process dies: the network forgets it at once (peers see the connection drop
   * after the link latency). The dead Node object is then stopped without touching the network,
   * so its timers do not keep running as a zombie.
   */
  crash(node: Node): Promise<void>;
  teardown(): Promise<void>;
}

export function createSim(seed = 1): Sim {
  const clock = new VirtualClock();
  const random = seededRandom(seed);
  const network = new SimNetwork({ clock, random, latencyMs: LATENCY_MS });
  const nodes: Node[] = [];

  const until = async (cond: () => boolean, what: string, maxMs = 10_000): Promise<void> => {
    const deadline = clock.now() + maxMs;
    // Microtasks of the test's own last step (a spawn, a send) run before the first check.
    await clock.settle();
    while (!cond()) {
      if (clock.now() >= deadline) throw new Error(`virtual time ran out (${maxMs} ms) waiting for ${what}`);
      await clock.advance(1);
    }
  };

  const settle = async <T>(promise: Promise<T> | Tracked<T>, what: string, maxMs = 10_000): Promise<Outcome<T>> => {
    const tracked = promise instanceof Promise ? track(promise) : promise;
    await until(() => tracked.outcome !== undefined, what, maxMs);
    return tracked.outcome!;
  };

  const sim: Sim = {
    clock,
    network,
    async start(name, options = {}) {
      const node = await startNode({
        name,
        transport: memory(network),
        clock,
        random,
        heartbeat: HEARTBEAT,
        reconnect: { initialMs: 50, maxMs: 300 },
        logger: silentLogger(),
        ...options,
      });
      nodes.push(node);
      return node;
    },
    async cluster<const N extends readonly string[]>(...names: N) {
      const started: Node[] = [];
      for (const name of names) {
        started.push(await sim.start(name, started.length === 0 ? {} : { seeds: [started[0]!.name] }));
      }
      await until(() => started.every((n) => n.peers().length === names.length - 1), `full mesh of ${names.join(', ')}`);
      return started as { -readonly [K in keyof N]: Node };
    },
    until,
    settle,
    async resolve(promise, what, maxMs) {
      const outcome = await settle(promise, what, maxMs);
      if (!outcome.ok) throw outcome.error;
      return outcome.value;
    },
    async run(ms) {
      await clock.advance(ms);
    },
    async crash(node) {
      network.crash(node.name);
      // A dead OS process tells nobody anything: silence its events before stopping its timers.
      node.removeAllListeners();
      await node.stop();
    },
    async teardown() {
      await Promise.all(nodes.map((n) => n.stop()));
      await clock.advance(1000);
    },
  };
  return sim;
}

/** A promise whose outcome is recorded as soon as it settles (so a rejection is never unhandled). */
export interface Tracked<T> {
  readonly outcome: Outcome<T> | undefined;
}

export function track<T>(promise: Promise<T>): Tracked<T> {
  const tracked: { outcome: Outcome<T> | undefined } = { outcome: undefined };
  promise.then(
    (value) => {
      tracked.outcome = { ok: true, value };
    },
    (error: unknown) => {
      tracked.outcome = { ok: false, error };
    },
  );
  return tracked;
}

/** Expect `outcome` to be a rejection and return its error, for further assertions. */
export function rejection(outcome: Outcome<unknown>): Error & { code?: string; reason?: unknown } {
  if (outcome.ok) throw new Error(`expected a rejection, got the value ${JSON.stringify(outcome.value)}`);
  return outcome.error as Error & { code?: string; reason?: unknown };
}

/**
 * Monitors a node's process table holds on its local processes (including those peers hold
 * through it). Not public API: read through the private fields, for leak checks only.
 */
export function localMonitorCount(node: Node): number {
  return (node as unknown as { table: { monitors: Map<string, unknown> } }).table.monitors.size;
}

export interface Collector {
  readonly pid: Pid;
  readonly messages: unknown[];
}

/** Spawn a process on `node` that keeps every message it receives, in order. */
export function collector(node: Node, name?: string): Collector {
  const messages: unknown[] = [];
  const pid = node.spawn(async (ctx) => {
    for (;;) messages.push(await ctx.receive());
  });
  if (name !== undefined) node.register(name, pid);
  return { pid, messages };
}

/** A process that waits forever (until exited). */
export function idle(node: Node): Pid {
  return node.spawn(async (ctx) => {
    for (;;) await ctx.receive();
  });
}
