/** What a simulation run returns for the checker (checks.ts) and the summaries (simulate.ts). */
import type { Group, GroupEvent, Pattern, Pid } from '../../src/index.js';
import type { ClusterName, ModelRow, Registration } from './model.js';
import type { Schedule, SubscriberSpec } from './schedule.js';
import type { NodeView } from './views.js';

/** An event as a subscriber saw it, in plain data. */
export interface EventRecord {
  readonly type: GroupEvent['type'];
  readonly cluster: ClusterName;
  readonly key: string;
  readonly pid: string;
  readonly serial: number | null;
  readonly reason: string;
}

export interface SubscriberRecord {
  readonly spec: SubscriberSpec;
  readonly node: string;
  /** The Group instance it subscribed to (a node may stop its Group and start another). */
  readonly group: Group;
  readonly cluster: ClusterName;
  readonly pattern: Pattern;
  readonly batches: EventRecord[][];
}

export interface ProcRecord {
  readonly pid: Pid;
  readonly node: string;
  alive: boolean;
  reason: unknown;
  diedAt: number;
}

/** One conflict decision, from a node's `group_conflict` log record. */
export interface Decision {
  readonly node: string;
  readonly cluster: ClusterName;
  readonly key: string;
  readonly local: string;
  readonly remote: string;
  readonly winner: string | null;
  readonly at: number;
}

export interface RunStats {
  nodes: number;
  steps: number;
  applied: number;
  skipped: number;
  cuts: number;
  oneWayCuts: number;
  asymmetricCuts: number;
  partitions: number;
  heals: number;
  crashes: number;
  restarts: number;
  delays: number;
  flaps: number;
  groupRestarts: number;
  losses: number;
  conflicts: number;
  conflictKills: number;
  resyncs: number;
  virtualMs: number;
  convergeMs: number;
}

export interface WorldOutcome {
  readonly schedule: Schedule;
  readonly trace: string[];
  readonly digest: string;
  readonly views: NodeView[];
  readonly agreed: boolean;
  readonly procs: ReadonlyMap<string, ProcRecord>;
  readonly model: { readonly registry: ModelRow[]; readonly members: ModelRow[] };
  readonly decisions: Decision[];
  /** Meta serial → the write that carried it. */
  readonly registrations: ReadonlyMap<number, Registration>;
  readonly subscribers: SubscriberRecord[];
  /** Error-level log records and exceptions the API threw unexpectedly. */
  readonly errors: string[];
  readonly stats: RunStats;
}

export function emptyStats(nodes: number, steps: number): RunStats {
  return {
    nodes,
    steps,
    applied: 0,
    skipped: 0,
    cuts: 0,
    oneWayCuts: 0,
    asymmetricCuts: 0,
    partitions: 0,
    heals: 0,
    crashes: 0,
    restarts: 0,
    delays: 0,
    flaps: 0,
    groupRestarts: 0,
    losses: 0,
    conflicts: 0,
    conflictKills: 0,
    resyncs: 0,
    virtualMs: 0,
    convergeMs: 0,
  };
}
