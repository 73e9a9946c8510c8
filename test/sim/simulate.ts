/**
 * One simulation run (a schedule played, then checked) and the totals over many runs; shared by
 * the CLI (run.ts) and the vitest suite (sim.test.ts).
 */
import { checkOutcome, type CheckKind, type CheckReport } from './checks.js';
import { generateSchedule, type ResolverKind, type Schedule, type Variant } from './schedule.js';
import type { RunStats, WorldOutcome } from './outcome.js';
import { World } from './world.js';

export interface RunResult {
  readonly label: string;
  readonly outcome: WorldOutcome;
  readonly report: CheckReport;
  readonly wallMs: number;
}

/** `SIM_SEED=<n>` for a seeded run (what replays it), a description otherwise. */
export function seedLabel(seed: number): string {
  return `SIM_SEED=${seed}`;
}

export async function runSchedule(schedule: Schedule, label: string, options: { onTrace?: (line: string) => void } = {}): Promise<RunResult> {
  const started = performance.now();
  const outcome = await new World(schedule, options).run();
  const report = checkOutcome(outcome, label);
  return { label, outcome, report, wallMs: performance.now() - started };
}

export function runSeed(seed: number, options: { variant?: Variant; loss?: 'ops' | 'group'; resolver?: ResolverKind; onTrace?: (line: string) => void } = {}): Promise<RunResult> {
  return runSchedule(generateSchedule(seed, options.variant, options.loss, options.resolver), seedLabel(seed), options);
}

type Counted = Exclude<keyof RunStats, 'nodes' | 'virtualMs' | 'convergeMs'>;
const COUNTED: Counted[] = [
  'steps',
  'applied',
  'skipped',
  'cuts',
  'oneWayCuts',
  'asymmetricCuts',
  'partitions',
  'heals',
  'crashes',
  'restarts',
  'delays',
  'flaps',
  'groupRestarts',
  'losses',
  'conflicts',
  'conflictKills',
  'resyncs',
];

/** Totals over runs, for the summary the CLI and the CI test print. */
export class Totals {
  runs = 0;
  failedRuns: string[] = [];
  failures: string[] = [];
  readonly kinds: Partial<Record<CheckKind, number>> = {};
  readonly sums: Record<Counted, number> = Object.fromEntries(COUNTED.map((k) => [k, 0])) as Record<Counted, number>;
  invariantChecks = 0;
  eventsChecked = 0;
  subscribersChecked = 0;
  virtualMs = 0;
  wallMs = 0;
  maxConvergeMs = 0;
  nodeCounts = new Map<number, number>();

  add(result: RunResult): void {
    const { stats } = result.outcome;
    this.runs++;
    for (const k of COUNTED) this.sums[k] += stats[k];
    this.invariantChecks += result.report.invariantChecks;
    this.eventsChecked += result.report.eventsChecked;
    this.subscribersChecked += result.report.subscribersChecked;
    this.virtualMs += stats.virtualMs;
    this.wallMs += result.wallMs;
    this.maxConvergeMs = Math.max(this.maxConvergeMs, stats.convergeMs);
    this.nodeCounts.set(stats.nodes, (this.nodeCounts.get(stats.nodes) ?? 0) + 1);
    for (const [kind, n] of Object.entries(result.report.kinds)) this.kinds[kind as CheckKind] = (this.kinds[kind as CheckKind] ?? 0) + n;
    if (result.report.failures.length > 0) {
      this.failedRuns.push(result.label);
      this.failures.push(...result.report.failures);
    }
  }

  summary(): string {
    const s = this.sums;
    const nodes = [...this.nodeCounts].sort((a, b) => a[0] - b[0]).map(([n, c]) => `${n}:${c}`).join(' ');
    return [
      `runs: ${this.runs} (nodes per run → runs: ${nodes}), wall ${(this.wallMs / 1000).toFixed(1)} s, virtual ${(this.virtualMs / 1000).toFixed(0)} s`,
      `operations: ${s.steps} steps (${s.applied} applied, ${s.skipped} skipped: their node or process was gone)`,
      `faults: ${s.cuts} cuts, ${s.oneWayCuts} one-way cuts, ${s.asymmetricCuts} asymmetric (a third node saw both ends), ${s.partitions} partitions, ${s.heals} heals, ${s.crashes} crashes, ${s.restarts} restarts, ${s.delays} delays, ${s.flaps} dropped connections, ${s.losses} frame losses, ${s.groupRestarts} Group restarts`,
      `conflicts resolved: ${s.conflicts} decisions, ${s.conflictKills} losers killed; anti-entropy resyncs: ${s.resyncs}; slowest convergence ${this.maxConvergeMs} ms virtual`,
      `events checked: ${this.eventsChecked} (${this.subscribersChecked} subscribers replayed); invariant checks: ${this.invariantChecks}`,
      `failures: ${this.failedRuns.length === 0 ? 'none' : `${this.failedRuns.length} runs (${this.failedRuns.join(', ')})`}`,
    ].join('\n');
  }
}
