/**
 * Scaling curves (`npm run bench -- --curves all`): existing workloads run at several sizes, each
 * size a "point" whose results are keyed `curve-<curve>-<size>/<metric>` in the table and the
 * JSON (e.g. `curve-L1-1M/lookups`), with the size in the row's params. `panels` turns such
 * results (from this run or from a JSON file written earlier) into the panels of chart.ts.
 */
import type { ChartPanel, ChartPoint } from './chart.js';
import { compact } from './chart.js';
import type { ParamValue } from './workload.js';

export interface CurveSpec {
  /** Names the curve in `--curves` and in the keys; matched case-insensitively. */
  readonly id: string;
  /** The workload run at every point. */
  readonly workload: string;
  /** The workload param that is the size. */
  readonly x: string;
  readonly points: readonly number[];
  /** Other params at a point, e.g. timeouts that grow with the size. */
  readonly paramsAt?: (x: number) => Record<string, ParamValue>;
  readonly chart: {
    readonly title: string;
    readonly xLabel: string;
    readonly yLabel: string;
    /** The metrics drawn, each as one line; `scale` converts the metric's unit to the y axis'. */
    readonly series: ReadonlyArray<{ readonly metric: string; readonly name: string; readonly scale?: number }>;
  };
}

/** A timeout that grows with the size: 60 s at 100,000 rows, proportionally more above. */
const scaledTimeout = (rows: number): Record<string, ParamValue> => ({ timeoutMs: Math.max(60_000, Math.ceil(rows * 0.6)) });

export const CURVES: readonly CurveSpec[] = [
  {
    id: 'L1',
    workload: 'L1',
    x: 'keys',
    points: [10_000, 100_000, 1_000_000],
    chart: {
      title: 'L1 lookup, one caller (single node)',
      xLabel: 'registered keys',
      yLabel: 'lookups/s',
      series: [
        { metric: 'lookups', name: 'caller-held key strings' },
        { metric: 'lookups_fresh', name: 'a new key string per lookup' },
      ],
    },
  },
  {
    id: 'M1',
    workload: 'M1',
    x: 'entries',
    points: [10_000, 100_000, 1_000_000],
    chart: {
      title: 'M1 heap per entry after GC (single node)',
      xLabel: 'registrations (and as many memberships)',
      yLabel: 'bytes per entry',
      series: [
        { metric: 'registration', name: 'per registration' },
        { metric: 'membership', name: 'per membership' },
      ],
    },
  },
  {
    id: 'D1',
    workload: 'D1',
    x: 'keys',
    points: [10_000, 100_000, 1_000_000],
    paramsAt: scaledTimeout,
    chart: { title: 'D1 register replication (3 nodes)', xLabel: 'keys registered on A', yLabel: 'converged registrations/s', series: [{ metric: 'converged', name: 'B and C see all' }] },
  },
  {
    id: 'D3',
    workload: 'D3',
    x: 'entries',
    points: [10_000, 50_000, 100_000, 200_000],
    paramsAt: (x) => scaledTimeout(2 * x),
    chart: {
      title: 'D3 nodedown purge, SIGKILL (3 nodes)',
      xLabel: "entries of the dead node (registrations; as many memberships)",
      yLabel: 'seconds',
      series: [
        { metric: 'total', name: 'kill → purged + all events on B' },
        { metric: 'purge', name: 'nodedown → tables purged', scale: 1 / 1000 },
      ],
    },
  },
  {
    id: 'wire',
    workload: 'wire',
    x: 'ops',
    points: [10_000, 100_000],
    paramsAt: scaledTimeout,
    chart: {
      title: 'Replication bytes, A → one peer (3 nodes)',
      xLabel: 'operations on A',
      yLabel: 'bytes per operation',
      series: [
        { metric: 'reg_wire', name: 'registration, on the wire' },
        { metric: 'reg_payload', name: 'registration, payload' },
        { metric: 'join_wire', name: 'join, on the wire' },
        { metric: 'join_payload', name: 'join, payload' },
      ],
    },
  },
];

/** The curves named by `--curves` ("all" or ids, comma-separated); throws on an unknown id. */
export function selectCurves(ids: readonly string[]): CurveSpec[] {
  const wanted = new Set(ids.map((id) => id.trim().toLowerCase()).filter((id) => id !== ''));
  if (wanted.has('all')) return [...CURVES];
  for (const id of wanted) {
    if (!CURVES.some((curve) => curve.id.toLowerCase() === id)) throw new Error(`unknown curve "${id}"; known: all, ${CURVES.map((c) => c.id).join(', ')}`);
  }
  return CURVES.filter((curve) => wanted.has(curve.id.toLowerCase()));
}

/** The key prefix of a point: "curve-L1-10k". */
export function pointKey(curve: CurveSpec, x: number): string {
  return `curve-${curve.id}-${compact(x)}`;
}

/** One result of the JSON output (see bench/run.ts). */
export interface ResultEntry {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly params: Readonly<Record<string, ParamValue>>;
}

/** A panel per curve with at least one point among `results` (series without points are left out) (keyed `<workload or point>/<metric>`). */
export function panels(results: Readonly<Record<string, ResultEntry>>): ChartPanel[] {
  const out: ChartPanel[] = [];
  for (const curve of CURVES) {
    const prefix = `curve-${curve.id}-`;
    const series = curve.chart.series.map(({ metric, name, scale = 1 }) => {
      const points: ChartPoint[] = [];
      for (const [key, entry] of Object.entries(results)) {
        if (!key.startsWith(prefix) || !key.endsWith(`/${metric}`)) continue;
        const x = entry.params[curve.x];
        if (typeof x !== 'number') continue;
        points.push({ x, median: entry.median * scale, min: entry.min * scale, max: entry.max * scale });
      }
      return { name, points: points.sort((a, b) => a.x - b.x) };
    }).filter((s) => s.points.length > 0);
    if (series.length > 0) out.push({ title: curve.chart.title, xLabel: curve.chart.xLabel, yLabel: curve.chart.yLabel, series });
  }
  return out;
}
