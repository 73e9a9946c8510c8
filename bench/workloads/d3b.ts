/**
 * D3b hung node (anchor-figures.md, "Hung node (SIGSTOP)"): A holds 1,000 memberships and is
 * SIGSTOPped: its sockets stay open, so only the heartbeat notices. Default heartbeat settings
 * (interval 500 ms, timeout 2,500 ms; none passed). The clock runs from the SIGSTOP until B has
 * declared A down, purged its entries and got the events; detection (SIGSTOP → nodedown on B) is
 * reported too. The Erlang anchor's counterpart is net_ticktime (default 60 s: 74.8 s measured).
 * A is then SIGKILLed, and a new A is started and filled before the next run, untimed.
 */
import { GROUP_ROLES, awaitCounts, failAndPurge, startGroupCluster, stopAll, type WriteAllArgs } from '../support/group-cluster.js';
import type { BenchNodeProcess } from '../support/node-process.js';
import { defineWorkload } from '../support/workload.js';

export default defineWorkload({
  id: 'D3b',
  title: 'three nodes: A (1,000 memberships) hangs (SIGSTOP); until B declares it down and purges',
  params: { members: 1_000, groups: 10, timeoutMs: 30_000 },
  metrics: {
    detect: { label: 'detection: SIGSTOP → nodedown on B', unit: 's', better: 'lower' },
    total: { label: 'SIGSTOP → B purged + events delivered', unit: 's', better: 'lower' },
  },

  async start(params, context) {
    const cluster: { a: BenchNodeProcess | undefined; b: BenchNodeProcess; c: BenchNodeProcess } = await startGroupCluster(context.profileDir);
    const fill = async (a: BenchNodeProcess): Promise<void> => {
      await a.invoke(GROUP_ROLES, 'spawnIdle', { count: params.members });
      await a.invoke(GROUP_ROLES, 'joinAll', { groups: params.groups, chunk: 1_000 } satisfies WriteAllArgs);
      await awaitCounts([cluster.b, cluster.c], 0, params.members, params.timeoutMs);
    };
    return {
      async run() {
        const { seconds, report } = await failAndPurge(cluster, { profileDir: context.profileDir, rows: params.members, timeoutMs: params.timeoutMs, signal: 'SIGSTOP' }, fill);
        return { detect: seconds - report.eventsMs / 1000, total: seconds };
      },
      stop: () => stopAll([cluster.a, cluster.b, cluster.c]),
    };
  },
});
