import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

/**
 * Plain counters read by `node.stats()`, `group.stats()` and the Prometheus collector
 * (metrics.ts). Hot paths only add to numbers here: no prom-client, no labels, no allocation.
 * Anything costlier (timing a dispatch) is off until a reader asks for it (`detailed`).
 */

/** Event-loop delay percentiles in milliseconds. */
export interface EventLoopDelayStats {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

const NS_PER_MS = 1e6;
/** A window shorter than this is not reported on its own: too few samples to mean anything. */
const MIN_WINDOW_MS = 10_000;
const ZERO_DELAY: EventLoopDelayStats = { p50: 0, p99: 0, max: 0 };

/**
 * The event-loop delay of this process (perf_hooks.monitorEventLoopDelay, 20 ms resolution),
 * over windows of at least 10 s: a reading returns the last completed window, so a spike shows
 * for one window and then goes, instead of staying in a lifetime maximum. Windows roll when read
 * (no timer): with nobody reading, a window lasts until the next read.
 */
export class EventLoopDelayMonitor {
  private histogram: IntervalHistogram | undefined;
  private windowStart = 0;
  private last: EventLoopDelayStats | undefined;

  start(): void {
    if (this.histogram !== undefined) return;
    this.histogram = monitorEventLoopDelay({ resolution: 20 });
    this.histogram.enable();
    this.windowStart = performance.now();
  }

  stop(): void {
    this.histogram?.disable();
    this.histogram = undefined;
  }

  read(): EventLoopDelayStats {
    const histogram = this.histogram;
    if (histogram === undefined) return this.last ?? ZERO_DELAY;
    const now = performance.now();
    if (this.last === undefined || now - this.windowStart >= MIN_WINDOW_MS) {
      // Before the first window completes, the one under way is all there is.
      const current = histogram.count === 0 ? ZERO_DELAY : percentiles(histogram);
      if (now - this.windowStart < MIN_WINDOW_MS) return current;
      this.last = current;
      histogram.reset();
      this.windowStart = now;
    }
    return this.last;
  }
}

function percentiles(histogram: IntervalHistogram): EventLoopDelayStats {
  return {
    p50: histogram.percentile(50) / NS_PER_MS,
    p99: histogram.percentile(99) / NS_PER_MS,
    max: histogram.max / NS_PER_MS,
  };
}

/** One peer of a node as `node.stats()` reports it. Counters are per link: they restart at 0 on reconnect. */
export interface PeerStats {
  readonly node: string;
  readonly incarnation: number;
  readonly address: string;
  readonly state: 'up';
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly framesIn: number;
  readonly framesOut: number;
  /** Bytes queued to the peer and not yet accepted by the connection. */
  readonly queueBytes: number;
  /** Milliseconds since anything (data or heartbeat) arrived from the peer. */
  readonly heartbeatAgeMs: number;
  /** Milliseconds since this link came up. */
  readonly connectedSinceMs: number;
  /** The peer's event-loop delay p99 (ms) as it last reported it in a heartbeat, or null before the first report. */
  readonly eventLoopDelayP99Ms: number | null;
}

export interface NodeStats {
  readonly name: string;
  readonly incarnation: number;
  readonly uptimeMs: number;
  readonly eventLoopDelay: EventLoopDelayStats;
  readonly peers: PeerStats[];
  /** Live local processes. */
  readonly processes: number;
  /** Totals over every link this node has had (closed ones included), unlike the per-peer counters. */
  readonly links: { readonly bytesIn: number; readonly bytesOut: number; readonly framesIn: number; readonly framesOut: number };
}

/** Cumulative counts of observations per bucket (Prometheus histogram semantics: `le` bounds). */
export class Buckets {
  /** counts[i]: observations <= bounds[i] and > bounds[i-1]; the last one: above every bound. */
  readonly counts: number[];
  sum = 0;
  count = 0;

  constructor(readonly bounds: readonly number[]) {
    this.counts = new Array<number>(bounds.length + 1).fill(0);
  }

  observe(value: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }

  /** Cumulative counts per upper bound, +Inf last (what a Prometheus histogram exposes). */
  cumulative(): Array<{ le: number; count: number }> {
    const out: Array<{ le: number; count: number }> = [];
    let total = 0;
    for (let i = 0; i <= this.bounds.length; i++) {
      total += this.counts[i]!;
      out.push({ le: i < this.bounds.length ? this.bounds[i]! : Infinity, count: total });
    }
    return out;
  }
}

/** Recipients per dispatch/publish. */
export const FANOUT_BUCKETS = [0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000];
/** Seconds per dispatch/publish call (the sender's side: encode and queue, not delivery). */
export const PUBLISH_SECONDS_BUCKETS = [1e-6, 5e-6, 1e-5, 5e-5, 1e-4, 5e-4, 1e-3, 5e-3, 1e-2, 5e-2, 0.1];
/** Replication lag in seconds. */
export const LAG_SECONDS_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Group frame types are 0x30-0x3f: counters indexed by the low nibble. */
export const GROUP_FRAME_NAMES = ['hello', 'hello_ack', 'state', 'op', 'connect', 'connect_ack', 'disconnect', 'dispatch', 'digest', 'resync', 'bye'] as const;

/** One applied replicated op in this many has its lag measured (a clock read per op would cost the apply path). */
export const LAG_SAMPLE_EVERY = 16;

/**
 * The counters of one Group instance. Fields are public numbers so that the increments in
 * group.ts and replicator.ts are one-liners (`stats.joins++`).
 */
export class GroupCounters {
  // Local writes that changed the tables (and were replicated); no-ops (same meta) are not counted.
  registers = 0;
  /** A register of a key the process already holds, with new meta. */
  registryUpdates = 0;
  unregisters = 0;
  joins = 0;
  /** A join of a group the process is already in, with new meta. */
  memberUpdates = 0;
  leaves = 0;
  dispatches = 0;
  localDispatches = 0;
  publishes = 0;
  /** Recipients of every dispatch and publish. */
  recipients = 0;
  /** Answers that refused an operation, by "op:reason" (register:taken, leave:not_in_group...). */
  readonly refusals = new Map<string, number>();

  // Replication.
  /** Group frames queued to peers, by type (low nibble of the frame type, see GROUP_FRAME_NAMES). */
  readonly framesOut = new Array<number>(16).fill(0);
  readonly framesIn = new Array<number>(16).fill(0);
  /** Payload bytes of the group frames queued to peers (framing excluded; link totals are in node.stats()). */
  bytesOut = 0;
  /** Replicated ops that passed the checks and were applied to the tables. */
  opsApplied = 0;
  /** Rows received in snapshots (STATE frames). */
  rowsReceived = 0;
  rowsSent = 0;
  conflictsResolved = 0;
  /** Resyncs asked of peers (sequence gap or a digest that differs), and served to them. */
  resyncsRequested = 0;
  resyncsServed = 0;
  /** Rows removed because their node went down or stopped its Group. */
  purgedNodeDown = 0;
  /** Rows removed because their (local) process exited. */
  purgedExits = 0;
  /** Rows removed because their node left a named cluster (or this one did). */
  purgedClusterDisconnect = 0;
  /** Events handed to subscribers (one per event per subscriber). */
  eventsDelivered = 0;

  /** Replication lag of sampled ops, seconds (see `sampleLag`). */
  readonly lag = new Buckets(LAG_SECONDS_BUCKETS);
  /** The last lag sample in ms, or null before the first. */
  lastLagMs: number | null = null;
  private lagCountdown = 1;

  /** Fan-out and duration of dispatches and publishes: filled only while `detailed` is on (metrics attached). */
  readonly fanout = new Buckets(FANOUT_BUCKETS);
  readonly publishSeconds = new Buckets(PUBLISH_SECONDS_BUCKETS);
  /** Set by createMetrics: dispatches are timed (two clock reads each) and their fan-out kept per bucket. */
  detailed = false;

  refused(op: string, reason: string): void {
    const key = `${op}:${reason}`;
    this.refusals.set(key, (this.refusals.get(key) ?? 0) + 1);
  }

  /**
   * Whether the caller should measure the lag of the op it is applying now: one in
   * LAG_SAMPLE_EVERY, starting with the first, so that a quiet cluster gets a sample too.
   */
  sampleLag(): boolean {
    if (--this.lagCountdown > 0) return false;
    this.lagCountdown = LAG_SAMPLE_EVERY;
    return true;
  }

  /**
   * Replication lag of one op: the receiver's wall clock at apply minus the writer's wall clock
   * when it made the write (the op's time). Includes the clock skew between the two nodes;
   * negative values (a writer's clock ahead) count as 0.
   */
  recordLag(ms: number): void {
    const lag = ms > 0 ? ms : 0;
    this.lastLagMs = lag;
    this.lag.observe(lag / 1000);
  }

  /**
   * One dispatch or publish delivered to `fanout` recipients (`seconds`: how long the call took,
   * when it was timed). publish wires in as dispatch does: `counters.publishes++` and
   * `counters.recordPublish(recipients.length, detailed ? seconds : undefined)`, reading the
   * clock only when `detailed` is on.
   */
  recordPublish(fanout: number, seconds: number | undefined): void {
    this.recipients += fanout;
    if (!this.detailed) return;
    this.fanout.observe(fanout);
    if (seconds !== undefined) this.publishSeconds.observe(seconds);
  }
}

/** What `group.stats()` returns: a copy of the counters plus the current table sizes. */
export interface GroupStats {
  readonly group: string;
  readonly node: string;
  /** Registered keys and memberships per cluster this node sees (cluster null: the default one). */
  readonly clusters: Array<{ readonly cluster: string | null; readonly entries: number; readonly members: number }>;
  readonly entries: number;
  readonly members: number;
  readonly ops: {
    readonly register: number;
    readonly registryUpdate: number;
    readonly unregister: number;
    readonly join: number;
    readonly memberUpdate: number;
    readonly leave: number;
    readonly dispatch: number;
    readonly dispatchLocal: number;
    readonly publish: number;
  };
  /** Refused operations by "op:reason", e.g. {"register:taken": 2}. */
  readonly refusals: Record<string, number>;
  readonly recipients: number;
  readonly eventsDelivered: number;
  readonly replication: {
    readonly framesOut: Record<string, number>;
    readonly framesIn: Record<string, number>;
    readonly bytesOut: number;
    readonly opsSent: number;
    readonly opsReceived: number;
    readonly opsApplied: number;
    /** Snapshot chunks (STATE frames): the batches a handshake, a connect or a resync sends. */
    readonly batchesSent: number;
    readonly batchesReceived: number;
    readonly rowsSent: number;
    readonly rowsReceived: number;
    readonly resyncsRequested: number;
    readonly resyncsServed: number;
    readonly lag: { readonly lastMs: number | null; readonly samples: number; readonly meanMs: number | null };
  };
  readonly conflictsResolved: number;
  readonly purges: { readonly nodeDown: number; readonly exits: number; readonly clusterDisconnect: number };
}

const OP = 3;
const STATE = 2;

/** A plain-object copy of the counters (the tables' sizes are added by the Group). */
export function groupStatsOf(counters: GroupCounters, base: Pick<GroupStats, 'group' | 'node' | 'clusters' | 'entries' | 'members'>): GroupStats {
  const c = counters;
  return {
    ...base,
    ops: {
      register: c.registers,
      registryUpdate: c.registryUpdates,
      unregister: c.unregisters,
      join: c.joins,
      memberUpdate: c.memberUpdates,
      leave: c.leaves,
      dispatch: c.dispatches,
      dispatchLocal: c.localDispatches,
      publish: c.publishes,
    },
    refusals: Object.fromEntries(c.refusals),
    recipients: c.recipients,
    eventsDelivered: c.eventsDelivered,
    replication: {
      framesOut: byFrameName(c.framesOut),
      framesIn: byFrameName(c.framesIn),
      bytesOut: c.bytesOut,
      opsSent: c.framesOut[OP]!,
      opsReceived: c.framesIn[OP]!,
      opsApplied: c.opsApplied,
      batchesSent: c.framesOut[STATE]!,
      batchesReceived: c.framesIn[STATE]!,
      rowsSent: c.rowsSent,
      rowsReceived: c.rowsReceived,
      resyncsRequested: c.resyncsRequested,
      resyncsServed: c.resyncsServed,
      lag: { lastMs: c.lastLagMs, samples: c.lag.count, meanMs: c.lag.count === 0 ? null : (c.lag.sum / c.lag.count) * 1000 },
    },
    conflictsResolved: c.conflictsResolved,
    purges: { nodeDown: c.purgedNodeDown, exits: c.purgedExits, clusterDisconnect: c.purgedClusterDisconnect },
  };
}

function byFrameName(counts: readonly number[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (let i = 0; i < GROUP_FRAME_NAMES.length; i++) out[GROUP_FRAME_NAMES[i]!] = counts[i]!;
  return out;
}

/**
 * What the metrics and tracing modules need of a node and of a Group. Structural, so that this
 * layer (below node/ and group/) imports neither: a Node and a Group are both.
 */
export interface NodeStatsSource {
  readonly name: string;
  stats(): NodeStats;
}

export interface GroupStatsSource {
  readonly name: string;
  readonly node: { readonly name: string };
  readonly counters: GroupCounters;
  stats(): GroupStats;
}
