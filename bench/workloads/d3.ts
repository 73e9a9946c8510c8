/**
 * D3 nodedown purge (bench-spec.md): A holds 100,000 registrations + 100,000 memberships (one
 * of each per local process); B has an ALL monitor. A is SIGKILLed; the clock runs in the driver
 * from the kill until B has purged every entry of A and its monitor callback has got the event
 * of each (B reports at once over IPC; C purges at the same time, as in the anchors).
 *
 * Detection and purge are reported apart, as in anchor-figures.md: B records the instant of its
 * nodedown event (a listener registered before the Group's, so before the purge) and reports the
 * purge (tables empty, seen at the first removal event: the Group empties its tables before it
 * emits) and the last event as times after it. Detection = total - events.
 * With SIGKILL on loopback the OS closes A's sockets at once, so detection is the read of that
 * close, not the heartbeat timeout (that case is D3b).
 *
 * A new A (same name, new incarnation) is started and filled before every run, untimed.
 */
import { GROUP_ROLES, awaitCounts, failAndPurge, startGroupCluster, stopAll, type WriteAllArgs } from '../support/group-cluster.js';
import type { BenchNodeProcess } from '../support/node-process.js';
import { defineWorkload } from '../support/workload.js';

export default defineWorkload({
  id: 'D3',
  title: 'three nodes: A (100,000 registrations + 100,000 memberships) is SIGKILLed; until B has purged and got the events',
  params: { entries: 100_000, groups: 1_000, timeoutMs: 60_000 },
  metrics: {
    total: { label: 'kill → B purged + events delivered', unit: 's', better: 'lower' },
    detect: { label: 'detection: kill → nodedown on B', unit: 'ms', better: 'lower' },
    purge: { label: 'purge: nodedown → tables purged on B', unit: 'ms', better: 'lower' },
    events: { label: 'nodedown → last monitor event on B', unit: 'ms', better: 'lower' },
  },

  async start(params, context) {
    const cluster: { a: BenchNodeProcess | undefined; b: BenchNodeProcess; c: BenchNodeProcess } = await startGroupCluster(context.profileDir);
    const fill = async (a: BenchNodeProcess): Promise<void> => {
      await a.invoke(GROUP_ROLES, 'spawnIdle', { count: params.entries });
      await a.invoke(GROUP_ROLES, 'registerAll', { chunk: 1_000 } satisfies WriteAllArgs);
      await a.invoke(GROUP_ROLES, 'joinAll', { groups: params.groups, chunk: 1_000 } satisfies WriteAllArgs);
      await awaitCounts([cluster.b, cluster.c], params.entries, params.entries, params.timeoutMs);
    };
    return {
      async run() {
        const { seconds, report } = await failAndPurge(cluster, { profileDir: context.profileDir, rows: 2 * params.entries, timeoutMs: params.timeoutMs, signal: 'SIGKILL' }, fill);
        return { total: seconds, detect: seconds * 1000 - report.eventsMs, purge: report.purgedMs, events: report.eventsMs };
      },
      stop: () => stopAll([cluster.a, cluster.b, cluster.c]),
    };
  },
});
