/**
 * D3P: mass process death (issue 5, §3: "10,000 processes dying at once on one node: peers purge
 * them with batched events, within the bench targets"). Not a bench-spec v1 workload; it is D3
 * with the node staying up and its processes dying instead: A holds `processes` processes, each
 * with one registration and one membership (`groups` groups); A exits them all in one
 * synchronous loop; the clock runs from the first exit until B and C have each had the removal
 * event of every row in their ALL monitor callback and hold none of them.
 *
 * Measured inside the nodes with the wall clock they share (performance.timeOrigin + now):
 * `total` is the later of B and C; `sender` is when A's own monitor had its events (its exits
 * and cleanup done, its EXIT ops written). The processes are spawned and filled again before
 * every run, untimed.
 */
import { GROUP_ROLES, awaitCounts, startGroupCluster, stopAll, type PurgeArgs, type WriteAllArgs } from '../support/group-cluster.js';
import { defineWorkload } from '../support/workload.js';

export default defineWorkload({
  id: 'D3P',
  title: 'three nodes: A\'s 10,000 processes (a name + a membership each) exit at once; until B and C have purged them',
  params: { processes: 10_000, groups: 100, timeoutMs: 60_000 },
  metrics: {
    total: { label: 'first exit → B and C purged + events delivered', unit: 'ms', better: 'lower' },
    sender: { label: 'first exit → A\'s own events delivered', unit: 'ms', better: 'lower' },
  },

  async start(params, context) {
    const cluster = await startGroupCluster(context.profileDir);
    const { a, b, c } = cluster;
    const rows = 2 * params.processes;
    return {
      async run() {
        await a.invoke(GROUP_ROLES, 'spawnIdle', { count: params.processes });
        await a.invoke(GROUP_ROLES, 'registerAll', { chunk: 1_000 } satisfies WriteAllArgs);
        await a.invoke(GROUP_ROLES, 'joinAll', { groups: params.groups, chunk: 1_000 } satisfies WriteAllArgs);
        await awaitCounts([a, b, c], params.processes, params.processes, params.timeoutMs);
        const arm: PurgeArgs = { peer: a.name, rows, timeoutMs: params.timeoutMs };
        await Promise.all([a, b, c].map((node) => node.invoke(GROUP_ROLES, 'armRemovals', arm)));
        const done = Promise.all([a.invoke<number>(GROUP_ROLES, 'awaitRemovals'), b.invoke<number>(GROUP_ROLES, 'awaitRemovals'), c.invoke<number>(GROUP_ROLES, 'awaitRemovals')]);
        const startedAt = await a.invoke<number>(GROUP_ROLES, 'exitAllAtOnce');
        const [senderAt, bAt, cAt] = await done;
        return { total: Math.max(bAt, cAt) - startedAt, sender: senderAt - startedAt };
      },
      stop: () => stopAll([a, b, c]),
    };
  },
});
