/**
 * The benchmark runner: `npm run bench -- [workload ...] [options]` (run `--help` for the usage).
 *
 * Workloads are the modules of bench/workloads/ (see bench/support/workload.ts for the contract);
 * their ids follow /work/shared/bench-spec.md (L1..L5, M1, D1..D5, S1) plus `transport`. Each
 * selected workload is started once, run once to warm up (JIT, connections, caches; discarded),
 * then run `--runs` times; the table reports the median, min and max of each metric.
 *
 * `--curves` runs workloads at several sizes (bench/support/curves.ts), and `--chart` draws those
 * results as an SVG (bench/support/chart.ts), from this run or from an earlier `--json` file.
 */
import { readdir, readFile, writeFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { compact, renderChart } from './support/chart.js';
import { CURVES, panels, pointKey, selectCurves, type CurveSpec, type ResultEntry } from './support/curves.js';
import { formatNumber, median } from './support/stats.js';
import type { ParamValue, Params, RunResult, Workload } from './support/workload.js';

const WORKLOADS_DIR = new URL('./workloads/', import.meta.url);
/** Display order: bench-spec.md's order; anything else after, by id. */
const SPEC_ORDER = ['transport', 'L1', 'L2', 'L3', 'L4', 'L5', 'M1', 'D1', 'D2', 'D3', 'D3P', 'D4', 'D5', 'S1'];

const USAGE = `Usage: npm run bench -- [workload ...] [options]
       node --import tsx bench/run.ts [workload ...] [options]

Runs benchmark workloads (bench/workloads/*.ts): each is started once, run once to warm up
(not those that start fresh processes every run, e.g. S1), then run --runs times; prints the
median, min and max of every metric.

Workloads (ids are case-insensitive; default: all, unless --curves is given):
%WORKLOADS%

Scaling curves (--curves; each point is a workload run at one size, keyed curve-<id>-<size>):
%CURVES%

Options:
  --only <ids>        comma-separated workload ids (the same as listing them as arguments)
  --runs <n>          measured runs per workload, after the warm-up run (default 3)
  --json <file>       also write the results as JSON:
                      {"<workload>/<metric>": {metric, unit, better, median, min, max, runs, values, params}}
                      (curve points as "curve-<id>-<size>/<metric>", e.g. "curve-L1-1M/lookups")
  --param <k>=<v>     override a workload parameter (repeatable); "<workload>.<k>=<v>" for one
                      workload only, e.g. --param smallMessages=100000; applies to curve points
                      too, except to the size a curve varies
  --profile <dir>     node processes write V8 CPU profiles into <dir>/<node>/, one per thread;
                      the main thread's is CPU.<date>.<time>.<pid>.0.<n>.cpuprofile
  --curves <ids>      run the scaling curves: "all" or comma-separated curve ids (above); runs
                      only the curves unless workloads are named too
  --points <n,...>    sizes for every selected curve instead of its own (e.g. 1000,10000 to try)
  --curve-runs <n>    measured runs per curve point, after its warm-up run (default 1)
  --chart <file.svg>  write an SVG chart of the curve results (one panel per curve, log x axis)
  --from <file.json>  with --chart: draw the chart from a JSON file written by --json, run nothing
  --list              list the workloads with their parameters and metrics
  -h, --help          show this text

Examples:
  npm run bench -- transport
  npm run bench -- --only transport,L1 --runs 5 --json bench-results.json
  npm run bench -- transport --runs 1 --param smallMessages=200000 --profile /tmp/prof
  npm run bench -- S1 --runs 1 --param S1.perNode=10000
  npm run bench -- --curves all --json curves.json --chart curves.svg
  npm run bench -- --curves L1,D3 --points 1000,10000 --chart /tmp/try.svg
  npm run bench -- --chart curves.svg --from curves.json`;

interface Row {
  readonly key: string;
  readonly label: string;
  readonly unit: string;
  readonly better: 'higher' | 'lower';
  readonly values: number[];
  readonly params: Params;
}

/** One thing to run: a workload with resolved params, its results keyed `<key>/<metric>`. */
interface Job {
  readonly key: string;
  readonly workload: Workload;
  readonly params: Params;
  readonly runs: number;
  /** Printed after the title: a curve point's size (titles name the default sizes). */
  readonly note?: string;
}

class UsageError extends Error {}

async function main(argv: string[]): Promise<number> {
  const { values: options, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      only: { type: 'string', multiple: true },
      runs: { type: 'string' },
      json: { type: 'string' },
      param: { type: 'string', multiple: true },
      profile: { type: 'string' },
      curves: { type: 'string', multiple: true },
      points: { type: 'string' },
      'curve-runs': { type: 'string' },
      chart: { type: 'string' },
      from: { type: 'string' },
      list: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const workloads = await loadWorkloads();
  if (options.help === true) {
    console.log(
      USAGE.replace('%WORKLOADS%', workloads.map((w) => `  ${w.id.padEnd(18)}${w.title}`).join('\n')).replace(
        '%CURVES%',
        CURVES.map((c) => `  ${c.id.padEnd(18)}${c.workload} at ${c.x} = ${c.points.map(compact).join(', ')}`).join('\n'),
      ),
    );
    return 0;
  }
  if (options.from !== undefined) {
    if (options.chart === undefined) throw new UsageError('--from only draws a chart: give --chart <file.svg> too');
    const results = JSON.parse(await readFile(options.from, 'utf8')) as Record<string, ResultEntry>;
    await writeChart(options.chart, results, `data from ${options.from}`);
    return 0;
  }
  if (options.list === true) {
    for (const w of workloads) {
      console.log(`${w.id}: ${w.title}`);
      console.log(`  params:  ${describeParams(w.params)}`);
      console.log(`  metrics: ${Object.entries(w.metrics).map(([id, m]) => `${id} (${m.unit})`).join(', ')}`);
    }
    return 0;
  }

  const runs = wholeNumber('--runs', options.runs, 3);
  const curveRuns = wholeNumber('--curve-runs', options['curve-runs'], 1);
  const curves = options.curves === undefined ? [] : usage(() => selectCurves(splitList(options.curves!)));
  const workloadIds = splitList([...positionals, ...(options.only ?? [])]);
  const selected = workloadIds.length === 0 && curves.length > 0 ? [] : select(workloads, workloadIds);
  const points = options.points === undefined ? undefined : parsePoints(options.points);
  const curveWorkloads = curves.map((curve) => findWorkload(workloads, curve.workload));
  const params = applyOverrides([...new Set([...selected, ...curveWorkloads])], options.param ?? []);
  const jobs: Job[] = [
    ...selected.map((workload) => ({ key: workload.id, workload, params: params.get(workload)!, runs })),
    ...curves.flatMap((curve, i) => curveJobs(curve, curveWorkloads[i]!, params.get(curveWorkloads[i]!)!, points, curveRuns)),
  ];
  const profileDir = options.profile;
  if (profileDir !== undefined) await mkdir(profileDir, { recursive: true });

  const cpus = os.cpus();
  console.log(`rollcall bench · node ${process.version} · ${os.platform()} ${os.arch()} · ${cpus.length} × ${cpus[0]?.model ?? 'cpu'} · ${Math.round(os.totalmem() / 2 ** 30)} GiB`);
  const noWarmUp = selected.filter((w) => w.warmUp === false).map((w) => w.id);
  if (selected.length > 0) console.log(`${runs} measured run(s) per workload after 1 warm-up run${noWarmUp.length > 0 ? ` (none for ${noWarmUp.join(', ')})` : ''}`);
  if (curves.length > 0) console.log(`${curveRuns} measured run(s) per curve point after 1 warm-up run`);
  console.log('');

  const rows: Row[] = [];
  const failed: string[] = [];
  for (const { key, workload, params: jobParams, runs: jobRuns, note } of jobs) {
    console.log(`${key}: ${workload.title}${note === undefined ? '' : ` — ${note}`}`);
    console.log(`  params: ${describeParams(jobParams)}`);
    try {
      const results = await runWorkload(workload, jobParams, jobRuns, profileDir);
      for (const [id, spec] of Object.entries(workload.metrics)) {
        const values = results.map((result) => result[id]).filter((value): value is number => value !== undefined);
        if (values.length === 0) continue;
        rows.push({ key: `${key}/${id}`, label: spec.label, unit: spec.unit, better: spec.better, values, params: jobParams });
      }
    } catch (error) {
      failed.push(key);
      console.log(`  FAILED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    }
    console.log('');
  }

  if (rows.length > 0) console.log(table(rows));
  if (profileDir !== undefined) console.log(`\nCPU profiles in ${profileDir} (open in Chrome DevTools → Performance, or speedscope)`);
  if (options.json !== undefined) {
    await writeFile(options.json, JSON.stringify(toJson(rows), null, 2) + '\n');
    console.log(`\nwrote ${options.json}`);
  }
  if (options.chart !== undefined) await writeChart(options.chart, toJson(rows), `${curveRuns} measured run(s) per point`);
  if (failed.length > 0) {
    console.log(`\nfailed: ${failed.join(', ')}`);
    return 1;
  }
  return 0;
}

async function runWorkload(workload: Workload, params: Params, runs: number, profileDir: string | undefined): Promise<RunResult[]> {
  const log = (message: string): void => console.log(`  ${message}`);
  const instance = await workload.start(params, { profileDir, log });
  try {
    const runOnce = async (label: string): Promise<RunResult> => {
      const started = performance.now();
      const result = validate(workload, await instance.run());
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      log(`${label.padEnd(8)} ${summarize(workload, result)}  (${seconds} s)`);
      return result;
    };
    if (workload.warmUp !== false) await runOnce('warm-up');
    const results: RunResult[] = [];
    for (let i = 1; i <= runs; i++) results.push(await runOnce(`run ${i}`));
    return results;
  } finally {
    await instance.stop();
  }
}

async function loadWorkloads(): Promise<Workload[]> {
  const files = (await readdir(WORKLOADS_DIR)).filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts')).sort();
  const workloads: Workload[] = [];
  const seen = new Map<string, string>();
  for (const file of files) {
    const loaded = (await import(new URL(file, WORKLOADS_DIR).href)) as { default?: Workload };
    const workload = loaded.default;
    if (
      workload === undefined ||
      typeof workload.id !== 'string' ||
      typeof workload.start !== 'function' ||
      typeof workload.params !== 'object' ||
      typeof workload.metrics !== 'object'
    ) {
      throw new Error(`bench/workloads/${file} must default-export a Workload (see bench/support/workload.ts)`);
    }
    const id = workload.id.toLowerCase();
    if (seen.has(id)) throw new Error(`workload id "${workload.id}" is used by both ${seen.get(id)} and ${file}`);
    seen.set(id, file);
    workloads.push(workload);
  }
  const rank = (w: Workload): number => {
    const index = SPEC_ORDER.findIndex((id) => id.toLowerCase() === w.id.toLowerCase());
    return index === -1 ? SPEC_ORDER.length : index;
  };
  return workloads.sort((a, b) => rank(a) - rank(b) || a.id.localeCompare(b.id));
}

/** The jobs of one curve: its workload at every point, with the size (and its scaled params) over the overrides. */
function curveJobs(curve: CurveSpec, workload: Workload, overridden: Params, points: readonly number[] | undefined, runs: number): Job[] {
  if (!Object.hasOwn(workload.params, curve.x)) throw new Error(`curve ${curve.id}: workload ${workload.id} has no param "${curve.x}"`);
  return (points ?? curve.points).map((x) => ({
    key: pointKey(curve, x),
    workload,
    params: { ...overridden, ...curve.paramsAt?.(x), [curve.x]: x },
    runs,
    note: `this point: ${curve.x}=${x}`,
  }));
}

async function writeChart(file: string, results: Record<string, ResultEntry>, source: string): Promise<void> {
  const found = panels(results);
  if (found.length === 0) throw new UsageError(`--chart: no curve results to draw (keys "curve-<id>-<size>/<metric>"; run with --curves)`);
  const cpus = os.cpus();
  const subtitle = `${new Date().toISOString().slice(0, 10)} · node ${process.version} · ${cpus.length} × ${cpus[0]?.model ?? 'cpu'} · ${source}; dots: median, whiskers: min–max`;
  await writeFile(file, renderChart(found, { title: 'Rollcall scaling curves', subtitle }));
  console.log(`\nwrote ${file} (${found.length} panel(s))`);
}

function wholeNumber(option: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new UsageError(`${option} takes a whole number >= 1, got ${text}`);
  return value;
}

function parsePoints(text: string): number[] {
  const points = splitList([text]).map((item) => Number(item.replaceAll('_', '')));
  if (points.length === 0 || points.some((x) => !Number.isInteger(x) || x < 1)) throw new UsageError(`--points takes whole numbers >= 1, comma-separated, got "${text}"`);
  return points;
}

function splitList(lists: readonly string[]): string[] {
  return lists.flatMap((list) => list.split(',')).map((id) => id.trim()).filter((id) => id !== '');
}

/** Run `pick`, turning its errors into usage errors (bad ids on the command line). */
function usage<T>(pick: () => T): T {
  try {
    return pick();
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

function findWorkload(workloads: Workload[], id: string): Workload {
  const found = workloads.find((w) => w.id.toLowerCase() === id.toLowerCase());
  if (found === undefined) throw new Error(`no workload "${id}" in bench/workloads/`);
  return found;
}

function select(workloads: Workload[], ids: string[]): Workload[] {
  if (ids.length === 0) return workloads;
  const wanted = new Set(ids.map((id) => id.trim().toLowerCase()).filter((id) => id !== ''));
  for (const id of wanted) {
    if (!workloads.some((w) => w.id.toLowerCase() === id)) {
      throw new UsageError(`unknown workload "${id}"; known: ${workloads.map((w) => w.id).join(', ')}`);
    }
  }
  return workloads.filter((w) => wanted.has(w.id.toLowerCase()));
}

/** Resolve each selected workload's params: defaults, then `--param` overrides in order. */
function applyOverrides(selected: Workload[], overrides: string[]): Map<Workload, Params> {
  const resolved = new Map<Workload, Record<string, ParamValue>>(selected.map((w) => [w, { ...w.params }]));
  for (const override of overrides) {
    const eq = override.indexOf('=');
    if (eq <= 0) throw new UsageError(`--param takes name=value, got "${override}"`);
    const name = override.slice(0, eq);
    const text = override.slice(eq + 1);
    const dot = name.indexOf('.');
    const scope = dot === -1 ? undefined : name.slice(0, dot).toLowerCase();
    const key = dot === -1 ? name : name.slice(dot + 1);
    let applied = false;
    for (const [workload, params] of resolved) {
      if (scope !== undefined && workload.id.toLowerCase() !== scope) continue;
      if (!Object.hasOwn(params, key)) continue;
      params[key] = coerce(text, params[key]!, `${workload.id}.${key}`);
      applied = true;
    }
    if (!applied) {
      const known = selected.map((w) => `${w.id}: ${Object.keys(w.params).join(', ')}`).join('; ');
      throw new UsageError(`--param ${name}: no selected workload has that parameter (${known})`);
    }
  }
  return resolved;
}

function coerce(text: string, current: ParamValue, what: string): ParamValue {
  if (typeof current === 'number') {
    const value = Number(text.replaceAll('_', ''));
    if (text.trim() === '' || !Number.isFinite(value)) throw new UsageError(`--param ${what} takes a number, got "${text}"`);
    return value;
  }
  if (typeof current === 'boolean') {
    if (text !== 'true' && text !== 'false') throw new UsageError(`--param ${what} takes true or false, got "${text}"`);
    return text === 'true';
  }
  return text;
}

function validate(workload: Workload, result: RunResult): RunResult {
  for (const [id, value] of Object.entries(result)) {
    if (!Object.hasOwn(workload.metrics, id)) throw new Error(`${workload.id} returned an undeclared metric "${id}"`);
    if (typeof value !== 'number' || !Number.isFinite(value)) throw new Error(`${workload.id}/${id} is not a finite number: ${String(value)}`);
  }
  return result;
}

function summarize(workload: Workload, result: RunResult): string {
  return Object.entries(result)
    .map(([id, value]) => `${id} ${formatNumber(value)} ${workload.metrics[id]!.unit}`)
    .join(' · ');
}

function describeParams(params: Params): string {
  return Object.entries(params).map(([k, v]) => `${k}=${String(v)}`).join(' ');
}

function table(rows: Row[]): string {
  const header = ['metric', 'what', 'median', 'min', 'max', 'unit', 'runs'];
  const body = rows.map((row) => [
    row.key,
    row.label,
    formatNumber(median(row.values)),
    formatNumber(Math.min(...row.values)),
    formatNumber(Math.max(...row.values)),
    row.unit,
    String(row.values.length),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((cells) => cells[i]!.length)));
  const numeric = new Set([2, 3, 4, 6]);
  const line = (cells: string[]): string => cells.map((cell, i) => (numeric.has(i) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

function toJson(rows: Row[]): Record<string, ResultEntry & Record<string, unknown>> {
  const out: Record<string, ResultEntry & Record<string, unknown>> = {};
  for (const row of rows) {
    out[row.key] = {
      metric: row.label,
      unit: row.unit,
      better: row.better,
      median: median(row.values),
      min: Math.min(...row.values),
      max: Math.max(...row.values),
      runs: row.values.length,
      values: row.values,
      params: row.params,
    };
  }
  return out;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') === true) {
      console.error(`${(error as Error).message}\n(npm run bench -- --help for the usage)`);
      process.exitCode = 2;
    } else {
      console.error(error);
      process.exitCode = 1;
    }
  },
);
