import { Counter, Gauge, Registry, type Metric } from 'prom-client';
import { InvalidArgumentError } from '../errors.js';
import { GROUP_FRAME_NAMES, type Buckets, type GroupStats, type GroupStatsSource, type NodeStats, type NodeStatsSource } from './stats.js';

/** A Group, as far as metrics go (observability sits below group/: it does not import it). */
type Group = GroupStatsSource;

export interface MetricsOptions {
  /** The node whose stats are exposed. */
  node: NodeStatsSource;
  /** Group instances to expose (more with `addGroup`). */
  groups?: Group[];
  /** Where the metrics are registered; default: a new Registry. One createMetrics per registry. */
  registry?: Registry;
  /** Prefix of every metric name. Default 'rollcall_'. */
  prefix?: string;
}

export interface Metrics {
  readonly registry: Registry;
  /** The Prometheus text exposition of the registry (what `/metrics` serves). */
  metricsText(): Promise<string>;
  /** The Content-Type header to serve `metricsText()` with. */
  readonly contentType: string;
  /** Expose one more Group (its dispatches are timed from now on, for the latency histogram). */
  addGroup(group: Group): void;
  /** Stop exposing a Group (and timing its dispatches). */
  removeGroup(group: Group): void;
}

/**
 * Prometheus metrics of a node and its Groups, read from `node.stats()` and `group.stats()` when
 * scraped: nothing is updated on the hot paths (see observability/stats.ts). The metric list is in
 * docs/operations.md ("Metrics").
 */
export function createMetrics(options: MetricsOptions): Metrics {
  if (typeof options !== 'object' || options === null || typeof options.node?.stats !== 'function') {
    throw new InvalidArgumentError('createMetrics({node, groups?, registry?, prefix?}): node must be a running Node');
  }
  const { node } = options;
  const prefix = options.prefix ?? 'rollcall_';
  if (typeof prefix !== 'string' || !/^[a-zA-Z_:]?[a-zA-Z0-9_:]*$/.test(prefix)) {
    throw new InvalidArgumentError(`createMetrics: prefix must be a valid start of a Prometheus metric name (letters, digits, _ and :), got ${String(prefix)}`);
  }
  if (options.registry !== undefined && !(options.registry instanceof Registry)) {
    throw new InvalidArgumentError('createMetrics: registry must be a prom-client Registry');
  }
  if (options.groups !== undefined && !Array.isArray(options.groups)) throw new InvalidArgumentError('createMetrics: groups must be an array of Group instances');
  const registry = options.registry ?? new Registry();
  const groups = new Set<Group>();

  const addGroup = (group: Group): void => {
    if (typeof group?.stats !== 'function') throw new InvalidArgumentError('createMetrics: every group must be a Group instance');
    groups.add(group);
    group.counters.detailed = true;
  };
  for (const group of options.groups ?? []) addGroup(group);

  // Every collect() of one scrape runs in the same synchronous turn (Registry.metrics() starts all
  // of them before awaiting any): read the stats once per scrape, not once per metric.
  let snapshot: { node: NodeStats; groups: Array<{ group: Group; stats: GroupStats }> } | undefined;
  const read = (): NonNullable<typeof snapshot> => {
    if (snapshot === undefined) {
      snapshot = { node: node.stats(), groups: [...groups].map((group) => ({ group, stats: group.stats() })) };
      queueMicrotask(() => (snapshot = undefined));
    }
    return snapshot;
  };

  const gauge = (name: string, help: string, labelNames: string[], fill: (set: (labels: Record<string, string>, value: number) => void, s: ReturnType<typeof read>) => void): void => {
    new Gauge({
      name: prefix + name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        fill((labels, value) => this.set(labels, value), read());
      },
    });
  };
  const counter = (name: string, help: string, labelNames: string[], fill: (set: (labels: Record<string, string>, value: number) => void, s: ReturnType<typeof read>) => void): void => {
    new Counter({
      name: prefix + name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        fill((labels, value) => this.inc(labels, value), read());
      },
    });
  };
  const perGroup = (s: ReturnType<typeof read>, fn: (labels: { group: string }, stats: GroupStats) => void): void => {
    for (const { stats } of s.groups) fn({ group: stats.group }, stats);
  };

  // ---- node ----
  gauge('node_uptime_seconds', 'Seconds since the node started.', [], (set, s) => set({}, s.node.uptimeMs / 1000));
  gauge('node_processes', 'Live local processes.', [], (set, s) => set({}, s.node.processes));
  gauge('node_peers', 'Connected peer nodes.', [], (set, s) => set({}, s.node.peers.length));
  gauge('event_loop_delay_seconds', 'Event-loop delay of this process over the last completed window (>= 10 s), by statistic (p50, p99, max).', ['stat'], (set, s) => {
    const d = s.node.eventLoopDelay;
    set({ stat: 'p50' }, d.p50 / 1000);
    set({ stat: 'p99' }, d.p99 / 1000);
    set({ stat: 'max' }, d.max / 1000);
  });
  counter('node_link_bytes_total', 'Bytes read from / written to every link of this node, closed links included.', ['direction'], (set, s) => {
    set({ direction: 'in' }, s.node.links.bytesIn);
    set({ direction: 'out' }, s.node.links.bytesOut);
  });
  counter('link_bytes_total', 'Bytes read from / written to the current link to a peer (restarts at 0 on reconnect).', ['peer', 'direction'], (set, s) => {
    for (const p of s.node.peers) {
      set({ peer: p.node, direction: 'in' }, p.bytesIn);
      set({ peer: p.node, direction: 'out' }, p.bytesOut);
    }
  });
  counter('link_frames_total', 'Frames received from / queued to the current link to a peer (a batch frame counts once).', ['peer', 'direction'], (set, s) => {
    for (const p of s.node.peers) {
      set({ peer: p.node, direction: 'in' }, p.framesIn);
      set({ peer: p.node, direction: 'out' }, p.framesOut);
    }
  });
  gauge('link_queue_bytes', 'Bytes queued to a peer and not yet accepted by the connection.', ['peer'], (set, s) => {
    for (const p of s.node.peers) set({ peer: p.node }, p.queueBytes);
  });
  gauge('peer_heartbeat_age_seconds', 'Seconds since anything arrived from a peer.', ['peer'], (set, s) => {
    for (const p of s.node.peers) set({ peer: p.node }, p.heartbeatAgeMs / 1000);
  });
  gauge('peer_connected_seconds', 'Seconds since the link to a peer came up.', ['peer'], (set, s) => {
    for (const p of s.node.peers) set({ peer: p.node }, p.connectedSinceMs / 1000);
  });
  gauge('peer_event_loop_delay_p99_seconds', "A peer's event-loop delay p99, as it last reported it in a heartbeat.", ['peer'], (set, s) => {
    for (const p of s.node.peers) if (p.eventLoopDelayP99Ms !== null) set({ peer: p.node }, p.eventLoopDelayP99Ms / 1000);
  });

  // ---- groups ----
  gauge('group_entries', 'Registered keys (cluster "" is the default cluster).', ['group', 'cluster'], (set, s) =>
    perGroup(s, (l, g) => {
      for (const c of g.clusters) set({ ...l, cluster: c.cluster ?? '' }, c.entries);
    }),
  );
  gauge('group_members', 'Process group memberships (cluster "" is the default cluster).', ['group', 'cluster'], (set, s) =>
    perGroup(s, (l, g) => {
      for (const c of g.clusters) set({ ...l, cluster: c.cluster ?? '' }, c.members);
    }),
  );
  counter('group_operations_total', 'Local operations by type (writes that changed the tables, dispatches, publishes).', ['group', 'op'], (set, s) =>
    perGroup(s, (l, g) => {
      for (const [op, value] of Object.entries(OPERATION_LABELS)) set({ ...l, op }, g.ops[value]);
    }),
  );
  counter('group_joins_total', 'Local joins (new memberships).', ['group'], (set, s) => perGroup(s, (l, g) => set(l, g.ops.join)));
  counter('group_leaves_total', 'Local leaves.', ['group'], (set, s) => perGroup(s, (l, g) => set(l, g.ops.leave)));
  counter('group_publishes_total', 'Messages sent to a group: dispatch and publish calls.', ['group'], (set, s) => perGroup(s, (l, g) => set(l, g.ops.dispatch + g.ops.publish)));
  counter('group_errors_total', 'Refused operations by op and reason (register taken, leave not_in_group, ...).', ['group', 'op', 'error'], (set, s) =>
    perGroup(s, (l, g) => {
      for (const [key, value] of Object.entries(g.refusals)) {
        const [op, error] = key.split(':') as [string, string];
        set({ ...l, op, error }, value);
      }
    }),
  );
  counter('group_events_delivered_total', 'Lifecycle events handed to subscribers (one per event per subscriber).', ['group'], (set, s) => perGroup(s, (l, g) => set(l, g.eventsDelivered)));
  counter('group_replication_frames_total', 'Group frames by direction and type (op, state, digest, resync, dispatch...).', ['group', 'direction', 'type'], (set, s) =>
    perGroup(s, (l, g) => {
      for (const type of GROUP_FRAME_NAMES) {
        set({ ...l, direction: 'in', type }, g.replication.framesIn[type]!);
        set({ ...l, direction: 'out', type }, g.replication.framesOut[type]!);
      }
    }),
  );
  counter('group_replication_batches_total', 'Snapshot chunks (STATE frames) sent and received: handshakes, connects, resyncs.', ['group', 'direction'], (set, s) =>
    perGroup(s, (l, g) => {
      set({ ...l, direction: 'in' }, g.replication.batchesReceived);
      set({ ...l, direction: 'out' }, g.replication.batchesSent);
    }),
  );
  counter('group_replication_rows_total', 'Rows sent and received in snapshots.', ['group', 'direction'], (set, s) =>
    perGroup(s, (l, g) => {
      set({ ...l, direction: 'in' }, g.replication.rowsReceived);
      set({ ...l, direction: 'out' }, g.replication.rowsSent);
    }),
  );
  counter('group_replication_bytes_sent_total', 'Payload bytes of the group frames queued to peers.', ['group'], (set, s) => perGroup(s, (l, g) => set(l, g.replication.bytesOut)));
  counter('group_replication_ops_applied_total', 'Replicated ops from peers applied to the tables.', ['group'], (set, s) => perGroup(s, (l, g) => set(l, g.replication.opsApplied)));
  counter('group_resyncs_total', 'Resyncs requested of peers and served to them.', ['group', 'direction'], (set, s) =>
    perGroup(s, (l, g) => {
      set({ ...l, direction: 'requested' }, g.replication.resyncsRequested);
      set({ ...l, direction: 'served' }, g.replication.resyncsServed);
    }),
  );
  counter('group_conflicts_resolved_total', 'Registry conflicts this node resolved (each is resolved on both owners).', ['group'], (set, s) => perGroup(s, (l, g) => set(l, g.conflictsResolved)));
  counter('group_purged_rows_total', 'Rows removed by a purge: node_down (its node went down or stopped its Group), exit (local process exited), cluster_disconnect.', ['group', 'reason'], (set, s) =>
    perGroup(s, (l, g) => {
      set({ ...l, reason: 'node_down' }, g.purges.nodeDown);
      set({ ...l, reason: 'exit' }, g.purges.exits);
      set({ ...l, reason: 'cluster_disconnect' }, g.purges.clusterDisconnect);
    }),
  );
  histogram(registry, prefix + 'group_replication_lag_seconds', 'Replication lag of sampled ops: apply time here minus write time on the owner (wall clocks, skew included).', () => read().groups.map(({ group }) => [group.name, group.counters.lag]));
  histogram(registry, prefix + 'group_publish_duration_seconds', 'Seconds per dispatch/publish call on the sender (encode and queue).', () => read().groups.map(({ group }) => [group.name, group.counters.publishSeconds]));
  histogram(registry, prefix + 'group_fanout_size', 'Recipients per dispatch/publish.', () => read().groups.map(({ group }) => [group.name, group.counters.fanout]));

  return {
    registry,
    metricsText: () => registry.metrics(),
    get contentType() {
      return registry.contentType;
    },
    addGroup,
    removeGroup(group: Group) {
      if (groups.delete(group)) group.counters.detailed = false;
    },
  };
}

const OPERATION_LABELS = {
  register: 'register',
  registry_update: 'registryUpdate',
  unregister: 'unregister',
  join: 'join',
  member_update: 'memberUpdate',
  leave: 'leave',
  dispatch: 'dispatch',
  dispatch_local: 'dispatchLocal',
  publish: 'publish',
} as const satisfies Record<string, keyof GroupStats['ops']>;

/**
 * A histogram whose buckets are kept by the stats (plain counters): prom-client's Histogram can
 * only be fed observation by observation, so this metric formats the counts itself, as a
 * Histogram's get() does.
 */
function histogram(registry: Registry, name: string, help: string, source: () => Array<[string, Buckets]>): void {
  const metric = {
    name,
    help,
    type: 'histogram',
    aggregator: 'sum',
    get() {
      const values: Array<{ labels: Record<string, string | number>; value: number; metricName: string }> = [];
      for (const [group, buckets] of source()) {
        for (const { le, count } of buckets.cumulative()) {
          values.push({ labels: { group, le: le === Infinity ? '+Inf' : le }, value: count, metricName: `${name}_bucket` });
        }
        values.push({ labels: { group }, value: buckets.sum, metricName: `${name}_sum` });
        values.push({ labels: { group }, value: buckets.count, metricName: `${name}_count` });
      }
      return Promise.resolve({ name, help, type: 'histogram', values, aggregator: 'sum' });
    },
    reset() {
      // the counts belong to the stats
    },
  };
  registry.registerMetric(metric as unknown as Metric);
}
