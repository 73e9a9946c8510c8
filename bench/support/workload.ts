/**
 * What a benchmark workload is. Each module in bench/workloads/ default-exports one `Workload`;
 * the runner (bench/run.ts) finds them by reading that folder, so adding a workload touches no
 * other file.
 *
 * Lifecycle, driven by the runner:
 *   const instance = await workload.start(params, context);  // processes, data: not timed
 *   await instance.run();                                     // warm-up, discarded (unless warmUp: false)
 *   for (N runs) results.push(await instance.run());          // each returns one value per metric
 *   await instance.stop();                                     // always, also after a failure
 */
import type { Node } from '../../src/internal.js';

/** A knob of a workload. Defaults live in `Workload.params`; `--param name=value` overrides. */
export type ParamValue = number | string | boolean;
export type Params = Readonly<Record<string, ParamValue>>;

export interface MetricSpec {
  /** Human label for the table, e.g. "small messages (100 B)". */
  readonly label: string;
  /** e.g. "msg/s", "MB/s", "µs", "s", "bytes". */
  readonly unit: string;
  /** Which direction is an improvement (for readers and for comparing two JSON files). */
  readonly better: 'higher' | 'lower';
}

/** One run's values, by metric id. A metric left out was not measured in this configuration. */
export type RunResult = Record<string, number>;

export interface WorkloadContext {
  /** When set, node processes write V8 CPU profiles (.cpuprofile) into this folder. */
  readonly profileDir: string | undefined;
  /** Progress notes (printed indented under the workload). */
  log(message: string): void;
}

export interface WorkloadInstance {
  run(): Promise<RunResult>;
  stop(): Promise<void>;
}

export interface Workload<P extends Params = Params> {
  /** The id from bench-spec.md ("L1", "D3") or a name ("transport"); matched case-insensitively. */
  readonly id: string;
  readonly title: string;
  /** Defaults of every knob, also written to the JSON output (with overrides applied). */
  readonly params: P;
  /** Metric ids (stable: they key the JSON output as `<workload>/<metric>`) and how to show them. */
  readonly metrics: Readonly<Record<string, MetricSpec>>;
  /**
   * false: the runner skips the warm-up run. For workloads whose every run starts fresh node
   * processes and is long enough to warm the JIT itself (S1), where a warm-up run would only
   * cost minutes. Default true.
   */
  readonly warmUp?: boolean;
  start(params: P, context: WorkloadContext): Promise<WorkloadInstance>;
}

/** Identity function that checks a workload's shape and infers its params type. */
export function defineWorkload<P extends Params>(workload: Workload<P>): Workload<P> {
  return workload;
}

/**
 * What a node process passes to a role function (bench-node.ts runs them on the driver's
 * request). `state` lives as long as the process, so one role can leave work for a later one.
 */
export interface RoleContext {
  readonly node: Node;
  readonly state: Map<string, unknown>;
}

/**
 * Code a workload runs inside a node process. Arguments and results cross IPC with structured
 * clone: send pids as `pid.key` strings and `Pid.parse` them on the other side.
 */
export type Role = (context: RoleContext, args: never) => unknown;
export type Roles = Readonly<Record<string, Role>>;
