/**
 * What a simulation run does, as plain data: the cluster's shape (SimConfig) and a list of steps.
 * A seed generates one (generateSchedule); fast-check generates and shrinks them
 * (scheduleArbitrary). Steps name nodes, processes, keys and clusters by small indexes that the
 * world resolves modulo what exists when the step runs, so every list of steps is runnable and a
 * shrunk list (steps removed) is still a valid schedule.
 */
import fc from 'fast-check';
import { seededRandom, type Random } from '../../src/index.js';
import type { ConflictStrategy } from '../../src/internal.js';

/** Named clusters a node may connect to; index 0 in a step means the default cluster. */
export const NAMED_CLUSTERS = ['red', 'blue'] as const;
/** A small registry key space, so both sides of a partition pick the same keys. */
export const REG_KEYS = ['user/1', 'user/2', 'svc/a', 'user/3', 'svc/b'] as const;
export const GROUP_KEYS = ['room/1', 'room/2', 'user/1', 'room/3'] as const;
/** Monitor patterns; '*' stands for ALL. */
export const PATTERNS = ['*', 'user/', 'svc/a', 'room/'] as const;
export const EXIT_REASONS = ['killed', 'normal', 'shutdown'] as const;

/**
 * default: the library's resolver (later time wins, loser killed). The custom ones kill nobody and
 * decide from the pids alone, so both sides of any conflict agree whatever the timestamps.
 */
export type ResolverKind = 'default' | 'lowest-pid' | 'none-for-svc' | Exclude<ConflictStrategy, 'keepNewest'>;

/** Resolvers that kill the loser (the built-in strategies but notifyBoth); the others kill nobody. */
export const KILLING_RESOLVERS: readonly ResolverKind[] = ['default', 'keepOldest', 'keepRandom'];
/** The built-in strategies besides the default, for `--strategy` (never drawn by a seed: seeds keep their schedules). */
export const STRATEGY_RESOLVERS = ['keepOldest', 'notifyBoth', 'keepRandom'] as const;

/**
 * Deliberately broken harness variants (negative controls): the checker must catch each one.
 * local-wins: every node keeps its own registration; mutual-kill: each side kills its own entry;
 * drop-event-batch: subscribers lose every third batch; ignore-nodedown: Groups never hear of a
 * node going down.
 */
export type Variant = 'correct' | 'local-wins' | 'mutual-kill' | 'drop-event-batch' | 'ignore-nodedown';

export interface SubscriberSpec {
  /** Node index; the subscription is made again on every Group started on that node. */
  readonly node: number;
  /** 0 = default cluster, i = NAMED_CLUSTERS[i - 1]. */
  readonly cluster: number;
  /** Index into PATTERNS. */
  readonly pattern: number;
}

export interface SimConfig {
  readonly nodeCount: number;
  readonly resolver: ResolverKind;
  readonly antiEntropyMs: number;
  readonly subscribers: readonly SubscriberSpec[];
  /** Per node: restart it at quiescence if it is down then (else it stays down). */
  readonly restartAtEnd: readonly boolean[];
  /** Per node: how far its wall clock is ahead (ms; negative: behind). Conflicts compare wall times. */
  readonly skewMs?: readonly number[];
}

export type Step =
  | { readonly op: 'spawn'; readonly node: number }
  | { readonly op: 'kill'; readonly node: number; readonly proc: number; readonly reason: number }
  /** fresh=false re-registers the process's current meta (a no-op) when it already holds the key. */
  | { readonly op: 'register'; readonly node: number; readonly proc: number; readonly key: number; readonly cluster: number; readonly fresh: boolean }
  | { readonly op: 'unregister'; readonly node: number; readonly key: number; readonly cluster: number }
  | { readonly op: 'join'; readonly node: number; readonly proc: number; readonly key: number; readonly cluster: number; readonly fresh: boolean }
  | { readonly op: 'leave'; readonly node: number; readonly proc: number; readonly key: number; readonly cluster: number }
  /** cluster: index into NAMED_CLUSTERS. */
  | { readonly op: 'connect'; readonly node: number; readonly cluster: number }
  | { readonly op: 'disconnect'; readonly node: number; readonly cluster: number }
  | { readonly op: 'cut'; readonly a: number; readonly b: number; readonly oneWay: boolean }
  /** Cut (both ways) every link between the nodes whose bit is set in `mask` and the others. */
  | { readonly op: 'partition'; readonly mask: number }
  | { readonly op: 'heal'; readonly a: number; readonly b: number }
  | { readonly op: 'healAll' }
  | { readonly op: 'crash'; readonly node: number }
  | { readonly op: 'restart'; readonly node: number }
  /** Latency of the a–b link up to `ms` (0: back to the default). */
  | { readonly op: 'delay'; readonly a: number; readonly b: number; readonly ms: number }
  /** Every node whose bit is set in `mask` registers `key` at the same instant (a multi-way conflict). */
  | { readonly op: 'contend'; readonly mask: number; readonly proc: number; readonly key: number; readonly cluster: number }
  /** Stop the node's Group and start a new one (peers purge its entries; its processes live on). */
  | { readonly op: 'bounce'; readonly node: number }
  /** `a` drops its connection to `b` (both see the other go down; they reconnect). */
  | { readonly op: 'flap'; readonly a: number; readonly b: number }
  /** Replication ops from `a` to `b` are lost for `ms` while the link stays up (anti-entropy must repair). */
  | { readonly op: 'lose'; readonly a: number; readonly b: number; readonly ms: number }
  | { readonly op: 'advance'; readonly ms: number };

export interface Schedule {
  /** Seeds the network's latency jitter and the nodes' randomness (and, for seeded runs, the steps). */
  readonly seed: number;
  readonly config: SimConfig;
  readonly steps: readonly Step[];
  readonly variant?: Variant;
  /**
   * What a 'lose' step loses: 'ops' (default) the replication ops, which anti-entropy repairs;
   * 'group' every Group frame (hello, snapshots, cluster connect...), which it does not claim to.
   */
  readonly loss?: 'ops' | 'group';
}

export const MIN_NODES = 3;
export const MAX_NODES = 9;

/** Small indexes more often: conflicts need both sides to pick the same key. */
function biased(random: Random, n: number): number {
  return Math.floor(random.next() ** 2 * n);
}

function pick<T>(random: Random, weighted: ReadonlyArray<readonly [number, T]>): T {
  const total = weighted.reduce((sum, [w]) => sum + w, 0);
  let r = random.next() * total;
  for (const [w, value] of weighted) {
    if ((r -= w) < 0) return value;
  }
  return weighted[weighted.length - 1]![1];
}

function advanceMs(random: Random): number {
  return pick(random, [
    [6, () => 1 + random.int(20)],
    [3, () => 50 + random.int(300)],
    [2, () => 400 + random.int(900)],
    [1, () => 1500 + random.int(2500)],
  ])();
}

function configFrom(random: Random): SimConfig {
  const nodeCount = MIN_NODES + random.int(MAX_NODES - MIN_NODES + 1);
  const subscribers: SubscriberSpec[] = [];
  for (let node = 0; node < nodeCount; node++) {
    const count = pick(random, [
      [2, 0],
      [2, 1],
      [1, 2],
    ]);
    for (let i = 0; i < count; i++) subscribers.push({ node, cluster: random.next() < 0.7 ? 0 : 1 + random.int(NAMED_CLUSTERS.length), pattern: random.int(PATTERNS.length) });
  }
  return {
    nodeCount,
    resolver: pick(random, [
      [7, 'default' as const],
      [2, 'lowest-pid' as const],
      [1, 'none-for-svc' as const],
    ]),
    antiEntropyMs: random.next() < 0.5 ? 1000 : 3000,
    subscribers,
    restartAtEnd: Array.from({ length: nodeCount }, () => random.next() < 0.6),
    skewMs: Array.from({ length: nodeCount }, () => (random.next() < 0.6 ? 0 : random.int(6001) - 3000)),
  };
}

function stepFrom(random: Random, n: number): Step {
  const node = random.int(n);
  const other = (node + 1 + random.int(n - 1)) % n;
  const cluster = (): number => (random.next() < 0.6 ? 0 : 1 + random.int(NAMED_CLUSTERS.length));
  return pick<() => Step>(random, [
    [6, () => ({ op: 'spawn', node })],
    [5, () => ({ op: 'kill', node, proc: random.int(8), reason: random.int(EXIT_REASONS.length) })],
    [22, () => ({ op: 'register', node, proc: random.int(8), key: biased(random, REG_KEYS.length), cluster: cluster(), fresh: random.next() < 0.85 })],
    [6, () => ({ op: 'unregister', node, key: biased(random, REG_KEYS.length), cluster: cluster() })],
    [12, () => ({ op: 'join', node, proc: random.int(8), key: biased(random, GROUP_KEYS.length), cluster: cluster(), fresh: random.next() < 0.7 })],
    [5, () => ({ op: 'leave', node, proc: random.int(8), key: biased(random, GROUP_KEYS.length), cluster: cluster() })],
    [5, () => ({ op: 'connect', node, cluster: random.int(NAMED_CLUSTERS.length) })],
    [2, () => ({ op: 'disconnect', node, cluster: random.int(NAMED_CLUSTERS.length) })],
    [4, () => ({ op: 'cut', a: node, b: other, oneWay: false })],
    [3, () => ({ op: 'cut', a: node, b: other, oneWay: true })],
    [2, () => ({ op: 'partition', mask: 1 + random.int(2 ** n - 2) })],
    [4, () => ({ op: 'heal', a: node, b: other })],
    [1.5, () => ({ op: 'healAll' })],
    [2, () => ({ op: 'crash', node })],
    [3, () => ({ op: 'restart', node })],
    [2, () => ({ op: 'delay', a: node, b: other, ms: random.next() < 0.3 ? 0 : pick(random, [[3, 20 + random.int(100)], [1, 300 + random.int(700)]]) })],
    [3, () => ({ op: 'contend', mask: 1 + random.int(2 ** n - 1), proc: random.int(8), key: biased(random, REG_KEYS.length), cluster: cluster() })],
    [1, () => ({ op: 'bounce', node })],
    [2, () => ({ op: 'flap', a: node, b: other })],
    [2, () => ({ op: 'lose', a: node, b: other, ms: 1 + random.int(random.next() < 0.8 ? 50 : 1000) })],
    [15, () => ({ op: 'advance', ms: advanceMs(random) })],
  ])();
}

/** The schedule of a seed: the same seed always gives the same schedule. */
export function generateSchedule(seed: number, variant: Variant = 'correct', loss: 'ops' | 'group' = 'ops', resolver?: ResolverKind): Schedule {
  // Its own stream: the network's jitter (seeded from the same seed) must not shift the steps.
  const random = seededRandom(seed ^ 0x5eed5eed);
  const drawn = configFrom(random);
  // A forced resolver replaces the drawn one after the draw, so the steps stay the seed's own.
  const config = resolver === undefined ? drawn : { ...drawn, resolver };
  const count = 20 + random.int(61);
  const steps: Step[] = [];
  for (let i = 0; i < count; i++) steps.push(stepFrom(random, config.nodeCount));
  return { seed, config, steps, variant, loss };
}

// ---- fast-check -------------------------------------------------------------------------------

const nodeArb = fc.nat({ max: MAX_NODES - 1 });
const clusterArb = fc.nat({ max: NAMED_CLUSTERS.length });

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ op: fc.constant('spawn' as const), node: nodeArb }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('kill' as const), node: nodeArb, proc: fc.nat({ max: 7 }), reason: fc.nat({ max: EXIT_REASONS.length - 1 }) }) },
  {
    weight: 8,
    arbitrary: fc.record({ op: fc.constant('register' as const), node: nodeArb, proc: fc.nat({ max: 7 }), key: fc.nat({ max: REG_KEYS.length - 1 }), cluster: clusterArb, fresh: fc.boolean() }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('unregister' as const), node: nodeArb, key: fc.nat({ max: REG_KEYS.length - 1 }), cluster: clusterArb }) },
  {
    weight: 4,
    arbitrary: fc.record({ op: fc.constant('join' as const), node: nodeArb, proc: fc.nat({ max: 7 }), key: fc.nat({ max: GROUP_KEYS.length - 1 }), cluster: clusterArb, fresh: fc.boolean() }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('leave' as const), node: nodeArb, proc: fc.nat({ max: 7 }), key: fc.nat({ max: GROUP_KEYS.length - 1 }), cluster: clusterArb }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('connect' as const), node: nodeArb, cluster: fc.nat({ max: NAMED_CLUSTERS.length - 1 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('disconnect' as const), node: nodeArb, cluster: fc.nat({ max: NAMED_CLUSTERS.length - 1 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('cut' as const), a: nodeArb, b: nodeArb, oneWay: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('partition' as const), mask: fc.integer({ min: 1, max: 2 ** MAX_NODES - 2 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('heal' as const), a: nodeArb, b: nodeArb }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('healAll' as const) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('crash' as const), node: nodeArb }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('restart' as const), node: nodeArb }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('delay' as const), a: nodeArb, b: nodeArb, ms: fc.integer({ min: 0, max: 1000 }) }) },
  {
    weight: 2,
    arbitrary: fc.record({ op: fc.constant('contend' as const), mask: fc.integer({ min: 1, max: 2 ** MAX_NODES - 1 }), proc: fc.nat({ max: 7 }), key: fc.nat({ max: REG_KEYS.length - 1 }), cluster: clusterArb }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('bounce' as const), node: nodeArb }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('flap' as const), a: nodeArb, b: nodeArb }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('lose' as const), a: nodeArb, b: nodeArb, ms: fc.integer({ min: 1, max: 1000 }) }) },
  { weight: 5, arbitrary: fc.record({ op: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 3000 }) }) },
);

/** Schedules for fast-check: shrinking removes steps and makes numbers smaller. */
export function scheduleArbitrary(options: { maxNodes?: number; maxSteps?: number; variant?: Variant; resolvers?: ResolverKind[] } = {}): fc.Arbitrary<Schedule> {
  const maxNodes = options.maxNodes ?? 5;
  const configArb = fc.integer({ min: MIN_NODES, max: maxNodes }).chain((nodeCount) =>
    fc.record({
      nodeCount: fc.constant(nodeCount),
      resolver: fc.constantFrom<ResolverKind>(...(options.resolvers ?? ['default', 'lowest-pid', 'none-for-svc'])),
      antiEntropyMs: fc.constantFrom(1000, 3000),
      subscribers: fc.array(fc.record({ node: fc.nat({ max: nodeCount - 1 }), cluster: clusterArb, pattern: fc.nat({ max: PATTERNS.length - 1 }) }), { maxLength: 4 }),
      restartAtEnd: fc.array(fc.boolean(), { minLength: nodeCount, maxLength: nodeCount }),
      skewMs: fc.array(fc.oneof(fc.constant(0), fc.integer({ min: -3000, max: 3000 })), { minLength: nodeCount, maxLength: nodeCount }),
    }),
  );
  return fc.record({
    seed: fc.nat(),
    config: configArb,
    steps: fc.array(stepArb, { maxLength: options.maxSteps ?? 40, size: 'medium' }),
    variant: fc.constant(options.variant ?? 'correct'),
  });
}

/** One line per step, for --verbose and failure reports. */
export function describeStep(step: Step): string {
  const { op, ...rest } = step;
  const fields = Object.entries(rest).map(([k, v]) => `${k}=${String(v)}`);
  return [op, ...fields].join(' ');
}
