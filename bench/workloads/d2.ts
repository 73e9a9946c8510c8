/**
 * D2 join replication (bench-spec.md): node A makes 100,000 joins, 1,000 groups x 100 members,
 * one join per local idle process (spawned before the clock); the clock runs from the first
 * `join` call until B and C both see all 100,000 memberships.
 *
 * Measured as D1 (see d1.ts): B and C count the 'joined' events of an ALL monitor callback and
 * report when they have N of them and N memberships; A yields to the event loop every `chunk`
 * joins; after each run A's processes exit and the driver waits (untimed) for empty tables.
 */
import { GROUP_ROLES, awaitCounts, startGroupCluster, stopAll, type ExpectArgs, type SpawnArgs, type WriteAllArgs } from '../support/group-cluster.js';
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
    const { a, b, c } = await startGroupCluster(context.profileDir);
    return {
      async run() {
        await a.invoke(GROUP_ROLES, 'spawnIdle', { count: params.joins } satisfies SpawnArgs);
        const expect: ExpectArgs = { type: 'joined', count: params.joins, timeoutMs: params.timeoutMs };
        await Promise.all([b.invoke(GROUP_ROLES, 'expectRows', expect), c.invoke(GROUP_ROLES, 'expectRows', expect)]);
        const started = performance.now();
        const [callsDone] = await Promise.all([
          a.invoke<number>(GROUP_ROLES, 'joinAll', { groups: params.groups, chunk: params.chunk } satisfies WriteAllArgs),
          b.invoke(GROUP_ROLES, 'awaitExpected'),
          c.invoke(GROUP_ROLES, 'awaitExpected'),
        ]);
        const seconds = (performance.now() - started) / 1000;
        await a.invoke(GROUP_ROLES, 'killSpawned');
        await awaitCounts([a, b, c], 0, 0, params.timeoutMs);
        return { converged: params.joins / seconds, seconds, calls_done: callsDone };
      },
      stop: () => stopAll([a, b, c]),
    };
  },
});
