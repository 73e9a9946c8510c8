/**
 * D5 cross-node dispatch (bench-spec.md): one group of 3,000 members, 1,000 member processes on
 * each of A, B and C (joined once, before the runs); a process-less sender on A makes 1,000
 * `group.dispatch` calls of a small message = 3,000,000 deliveries (A's members locally, B's and
 * C's through one frame per node per dispatch). Every member counts what it receives; each node
 * reports once its members have received 1,000,000 and checks that each got exactly 1,000. The
 * clock runs in the driver from telling A to start until all three nodes have reported.
 *
 * The sender yields to the event loop every `chunk` dispatches and waits while more than
 * `highWaterBytes` are queued to a peer (as the transport workload's sender does), so the link's
 * bounded queue is never the limit.
 *
 * `--param transport=nats` runs the three nodes over the NATS server on 127.0.0.1:4222.
 */
import { GROUP_ROLES, awaitCounts, startGroupCluster, stopAll, transportOptions, type DeliveriesArgs, type DispatchArgs, type MembersArgs } from '../support/group-cluster.js';
import { defineWorkload } from '../support/workload.js';

const KEY = 'group/d5';

export default defineWorkload({
  id: 'D5',
  title: 'three nodes: 1,000 dispatches from A to a group of 3,000 members (1,000 per node) = 3,000,000 deliveries',
  params: { membersPerNode: 1_000, dispatches: 1_000, chunk: 10, highWaterBytes: 4 * 1024 * 1024, timeoutMs: 60_000, implicitSelf: true, transport: 'tcp' },
  metrics: {
    deliveries: { label: 'deliveries (every member got every message)', unit: 'deliveries/s', better: 'higher' },
    seconds: { label: 'time to deliver all', unit: 's', better: 'lower' },
  },

  async start(params, context) {
    // implicitSelf=false: the node option that runs processes without AsyncLocalStorage.
    const { a, b, c } = await startGroupCluster(context.profileDir, { nodeOptions: { implicitSelf: params.implicitSelf }, ...transportOptions(params.transport) });
    const nodes = [a, b, c];
    try {
      await Promise.all(nodes.map((node) => node.invoke(GROUP_ROLES, 'startMembers', { count: params.membersPerNode, key: KEY } satisfies MembersArgs)));
      await awaitCounts(nodes, 0, 3 * params.membersPerNode, params.timeoutMs);
    } catch (error) {
      await stopAll(nodes);
      throw error;
    }
    return {
      async run() {
        const expect: DeliveriesArgs = { perMember: params.dispatches, timeoutMs: params.timeoutMs };
        await Promise.all(nodes.map((node) => node.invoke(GROUP_ROLES, 'expectDeliveries', expect)));
        const dispatch: DispatchArgs = { key: KEY, count: params.dispatches, chunk: params.chunk, highWaterBytes: params.highWaterBytes };
        const started = performance.now();
        await Promise.all([a.invoke(GROUP_ROLES, 'dispatchMany', dispatch), ...nodes.map((node) => node.invoke(GROUP_ROLES, 'awaitDeliveries'))]);
        const seconds = (performance.now() - started) / 1000;
        return { deliveries: (3 * params.membersPerNode * params.dispatches) / seconds, seconds };
      },
      stop: () => stopAll(nodes),
    };
  },
});
