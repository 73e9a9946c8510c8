/**
 * D1 register replication (bench-spec.md): node A registers 100,000 keys, one per local idle
 * process (spawned before the clock); the clock runs from the first `register` call until B and
 * C both see all 100,000.
 *
 * Three node processes over TCP on 127.0.0.1 (bench/support/group-cluster.ts), or over the NATS
 * server on 127.0.0.1:4222 with `--param transport=nats`. B and C count the
 * 'registered' events of an ALL monitor callback and report to the driver when they have N of
 * them and N rows (no polling); the driver's clock starts when it tells A to begin, so the
 * figure includes one IPC hop at each end (~0.1 ms against seconds). A's calls yield to the event
 * loop every `chunk` registrations so that replication goes out while A writes, as concurrent
 * callers would. After each run A's processes exit and the driver waits (untimed) until every
 * node's registry is empty again.
 */
import { measureReplication, startGroupCluster, stopAll, transportOptions } from '../support/group-cluster.js';
import { defineWorkload } from '../support/workload.js';

export default defineWorkload({
  id: 'D1',
  title: 'three nodes: A registers 100,000 keys, until B and C see them all',
  params: { keys: 100_000, chunk: 1_000, timeoutMs: 60_000, transport: 'tcp' },
  metrics: {
    converged: { label: 'converged registrations (B and C see all)', unit: 'regs/s', better: 'higher' },
    seconds: { label: 'time to converge', unit: 's', better: 'lower' },
    calls_done: { label: 'calls on A returned after', unit: 's', better: 'lower' },
  },

  async start(params, context) {
    const cluster = await startGroupCluster(context.profileDir, transportOptions(params.transport));
    return {
      run: () =>
        measureReplication(cluster, {
          type: 'registered',
          count: params.keys,
          write: 'registerAll',
          writeArgs: { chunk: params.chunk },
          timeoutMs: params.timeoutMs,
        }),
      stop: () => stopAll([cluster.a, cluster.b, cluster.c]),
    };
  },
});
