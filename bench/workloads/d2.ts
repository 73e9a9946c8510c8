/**
 * D2 join replication (bench-spec.md): node A makes 100,000 joins, 1,000 groups x 100 members,
 * one join per local idle process (spawned before the clock); the clock runs from the first
 * `join` call until B and C both see all 100,000 memberships.
 *
 * Measured as D1 (see d1.ts): B and C count the 'joined' events of an ALL monitor callback and
 * report when they have N of them and N memberships; A yields to the event loop every `chunk`
 * joins; after each run A's processes exit and the driver waits (untimed) for empty tables.
 */
import { measureReplication, startGroupCluster, stopAll } from '../support/group-cluster.js';
import { defineWorkload } from '../support/workload.js';

export default defineWorkload({
  id: 'D2',
  title: 'three nodes: A makes 100,000 joins (1,000 groups x 100), until B and C see them all',
  params: { joins: 100_000, groups: 1_000, chunk: 1_000, timeoutMs: 60_000 },
  metrics: {
    converged: { label: 'converged joins (B and C see all)', unit: 'joins/s', better: 'higher' },
    seconds: { label: 'time to converge', unit: 's', better: 'lower' },
    calls_done: { label: 'calls on A returned after', unit: 's', better: 'lower' },
  },

  async start(params, context) {
    const cluster = await startGroupCluster(context.profileDir);
    return {
      run: () =>
        measureReplication(cluster, {
          type: 'joined',
          count: params.joins,
          write: 'joinAll',
          writeArgs: { groups: params.groups, chunk: params.chunk },
          timeoutMs: params.timeoutMs,
        }),
      stop: () => stopAll([cluster.a, cluster.b, cluster.c]),
    };
  },
});
