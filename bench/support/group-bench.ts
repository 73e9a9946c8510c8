/**
 * Shared pieces of the single-node Group workloads (L1-L5, M1 of bench-spec.md).
 *
 * Each of those workloads runs ONE forked bench node process (bench-node.ts), on TCP 127.0.0.1
 * like every bench node, with the default logger at level 'silent' (the IPC config must survive
 * JSON, so `silentLogger()` itself cannot be passed; 'silent' is the same no-op on every path).
 * A process of its own rather than the runner's: each workload gets a clean heap and GC state,
 * and M1 can measure heap growth without the runner's (or another workload's) garbage.
 *
 * The driver side starts that process (`startSingleNode`); the rest runs inside it, called from
 * a workload's roles.
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import { Group, type Node, type NodeOptions, type Pid } from '../../src/internal.js';
import { BenchNodeProcess } from './node-process.js';
import type { WorkloadContext } from './workload.js';

// ---- driver side ---------------------------------------------------------------------------

/**
 * Heap limit of the single-node processes. The scaling curves run these workloads at up to
 * 1,000,000 entries, and M1 then holds 2,000,000 idle processes (~2.7 KB each): more than Node's
 * default limit (~4 GiB here). A limit only caps growth and reserves nothing.
 */
const SINGLE_NODE_HEAP_MB = 12_288;

/** Fork the workload's node process. */
export function startSingleNode(name: string, context: WorkloadContext, nodeOptions: Partial<NodeOptions> = {}): Promise<BenchNodeProcess> {
  return BenchNodeProcess.start({
    name,
    profileDir: context.profileDir,
    options: { logLevel: 'silent', ...nodeOptions },
    execArgv: [`--max-old-space-size=${SINGLE_NODE_HEAP_MB}`],
  });
}

// ---- inside the node process ---------------------------------------------------------------

/** The Group name every workload uses. */
export const GROUP_NAME = 'bench';

/** The spec's key and meta shapes: "user/123", {name: "u123", n: 123}. */
export const userKey = (i: number): string => `user/${i}`;
export const userMeta = (i: number): { name: string; n: number } => ({ name: `u${i}`, n: i });
export const groupKey = (g: number): string => `group/${g}`;

/**
 * `count` random keys among `keyOf(0..held.length-1)`, drawn before a timed loop: the caller's own
 * `held` strings (V8 has cached their hash after first use), or, with `fresh`, a new string per
 * pick (each pays V8's first hashing of a string), as the L1/L4 metrics compare.
 */
export function randomKeys(count: number, held: readonly string[], fresh: boolean, keyOf: (i: number) => string): string[] {
  const picked = new Array<string>(count);
  for (let i = 0; i < count; i++) {
    const n = Math.floor(Math.random() * held.length);
    picked[i] = fresh ? keyOf(n) : held[n]!;
  }
  return picked;
}

/**
 * Start the Group of the node process, replacing (stopping) the one in `state` if any.
 * BENCH_TRACING=1 starts it with `tracing: true` (the cost of the OpenTelemetry API, with or
 * without an SDK registered: docs/operations.md "Tracing").
 */
export async function freshGroup(node: Node, state: Map<string, unknown>): Promise<Group> {
  const old = state.get('group') as Group | undefined;
  if (old !== undefined) await old.stop();
  state.delete('group');
  const group = await Group.start(node, { name: GROUP_NAME, log: false, tracing: process.env['BENCH_TRACING'] === '1' });
  state.set('group', group);
  return group;
}

/** The current Group (started by `freshGroup`). */
export function currentGroup(state: Map<string, unknown>): Group {
  const group = state.get('group') as Group | undefined;
  if (group === undefined) throw new Error('no Group started in this node process (call freshGroup first)');
  return group;
}

/** Spawn `count` processes that only wait for messages (and ignore them). */
export function spawnIdle(node: Node, count: number): Pid[] {
  const pids = new Array<Pid>(count);
  for (let i = 0; i < count; i++) {
    pids[i] = node.spawn(async (ctx) => {
      for (;;) await ctx.receive();
    });
  }
  return pids;
}

let gcFunction: (() => void) | undefined;

/**
 * Full GC, twice, with a turn of the event loop between (so finalizers and weak callbacks run).
 * Bench nodes are not started with --expose-gc, so the flag is set at run time and `gc` taken
 * from a fresh context, which exposes it from then on.
 */
export async function collectGarbage(): Promise<void> {
  if (gcFunction === undefined) {
    v8.setFlagsFromString('--expose-gc');
    gcFunction = vm.runInNewContext('gc') as () => void;
  }
  gcFunction();
  await new Promise((resolve) => setImmediate(resolve));
  gcFunction();
}

/**
 * Resolves once `tick()` was called `target` times; rejects on `fail(error)` or after
 * `timeoutMs` (saying how far it got), so a lost message fails the run instead of hanging it.
 */
export class Countdown {
  readonly done: Promise<void>;
  private remaining: number;
  private resolve!: () => void;
  private reject!: (error: Error) => void;
  private readonly timer: NodeJS.Timeout;

  constructor(target: number, timeoutMs: number, what: string) {
    this.remaining = target;
    this.done = new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.timer = setTimeout(() => this.fail(new Error(`${what}: ${target - this.remaining} of ${target} done after ${timeoutMs} ms`)), timeoutMs);
    if (target === 0) this.finish();
  }

  tick(): void {
    if (--this.remaining === 0) this.finish();
  }

  fail(error: Error): void {
    clearTimeout(this.timer);
    this.reject(error);
  }

  private finish(): void {
    clearTimeout(this.timer);
    this.resolve();
  }
}

/** Seconds elapsed since `started` (a performance.now() value). */
export const secondsSince = (started: number): number => (performance.now() - started) / 1000;
