/**
 * The simulation CLI: `npm run sim` (node --import tsx test/sim/run.ts).
 *
 *   SIM_SEED=1234 npm run sim               replay one seed exactly (--verbose prints its schedule and trace)
 *   npm run sim -- --runs 500 [--from 17]   run seeds from..from+runs-1 (default start: random, printed)
 *   npm run sim -- --schedule s.json        replay a schedule (e.g. a fast-check counterexample)
 *   --variant local-wins|mutual-kill|drop-event-batch|ignore-nodedown   a broken variant (negative control)
 *   --loss group                            'lose' steps drop every Group frame, not only replication ops
 *   --strategy keepOldest|notifyBoth|keepRandom   every seed uses this built-in conflict strategy
 *
 * Exits 1 when any run fails an invariant; every failure line starts with its seed.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { STRATEGY_RESOLVERS, describeStep, generateSchedule, type ResolverKind, type Schedule, type Variant } from './schedule.js';
import { Totals, runSchedule, runSeed, type RunResult } from './simulate.js';

const VARIANTS: Variant[] = ['correct', 'local-wins', 'mutual-kill', 'drop-event-batch', 'ignore-nodedown'];

function usage(message: string): never {
  console.error(`${message}\nusage: [SIM_SEED=n] node --import tsx test/sim/run.ts [--runs N] [--from S] [--schedule file.json] [--variant name] [--loss ops|group] [--strategy name] [--verbose]`);
  process.exit(2);
}

function integer(text: string | undefined, what: string): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0) usage(`${what} must be a non-negative integer, got "${text}"`);
  return n;
}

function printSchedule(schedule: Schedule): void {
  const { config } = schedule;
  console.log(`seed ${schedule.seed}: ${config.nodeCount} nodes, resolver ${config.resolver}, anti-entropy ${config.antiEntropyMs} ms, variant ${schedule.variant ?? 'correct'}, loss ${schedule.loss ?? 'ops'}`);
  console.log(`subscribers: ${JSON.stringify(config.subscribers)}; restart at end: ${JSON.stringify(config.restartAtEnd)}; clock skew: ${JSON.stringify(config.skewMs ?? [])}`);
  schedule.steps.forEach((step, i) => console.log(`  ${String(i).padStart(3)} ${describeStep(step)}`));
}

function printResult(result: RunResult): void {
  for (const failure of result.report.failures) console.log(failure);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string' },
      from: { type: 'string' },
      schedule: { type: 'string' },
      variant: { type: 'string' },
      loss: { type: 'string' },
      strategy: { type: 'string' },
      verbose: { type: 'boolean', default: false },
    },
  });
  const variant = (values.variant ?? 'correct') as Variant;
  if (!VARIANTS.includes(variant)) usage(`unknown variant "${values.variant}" (known: ${VARIANTS.join(', ')})`);
  const loss = (values.loss ?? 'ops') as 'ops' | 'group';
  if (loss !== 'ops' && loss !== 'group') usage(`--loss is ops or group, got "${values.loss}"`);
  const resolver = values.strategy as ResolverKind | undefined;
  if (resolver !== undefined && !(STRATEGY_RESOLVERS as readonly string[]).includes(resolver)) usage(`unknown --strategy "${resolver}" (known: ${STRATEGY_RESOLVERS.join(', ')})`);
  const verbose = values.verbose === true;
  const onTrace = verbose ? (line: string) => console.log(`    ${line}`) : undefined;
  const totals = new Totals();

  if (values.schedule !== undefined) {
    const schedule = JSON.parse(readFileSync(values.schedule, 'utf8')) as Schedule;
    if (verbose) printSchedule(schedule);
    const result = await runSchedule(schedule, `schedule ${values.schedule} (network seed ${schedule.seed})`, { onTrace });
    totals.add(result);
    printResult(result);
  } else if (process.env['SIM_SEED'] !== undefined && values.runs === undefined) {
    const seed = integer(process.env['SIM_SEED'], 'SIM_SEED')!;
    const schedule = generateSchedule(seed, variant, loss, resolver);
    if (verbose) printSchedule(schedule);
    const result = await runSeed(seed, { variant, loss, resolver, onTrace });
    totals.add(result);
    printResult(result);
    console.log(`digest ${result.outcome.digest}`);
  } else {
    const runs = integer(values.runs, '--runs') ?? 100;
    const from = integer(values.from, '--from') ?? Math.floor(Math.random() * 1_000_000_000);
    console.log(`seeds ${from}..${from + runs - 1} (replay one with SIM_SEED=<seed>), variant ${variant}`);
    for (let seed = from; seed < from + runs; seed++) {
      if (verbose) printSchedule(generateSchedule(seed, variant, loss, resolver));
      const result = await runSeed(seed, { variant, loss, resolver, onTrace });
      totals.add(result);
      printResult(result);
    }
  }
  console.log(totals.summary());
  process.exitCode = totals.failedRuns.length === 0 ? 0 : 1;
}

await main();
