/**
 * wire: replication bytes per operation, node A → one peer, in the shapes of D1 (A registers
 * `ops` keys "user/N" with {name, n}) and D2 (A makes `ops` joins, `groups` groups).
 *
 * The three-node cluster of D1/D2 (bench/support/group-cluster.ts), with every node counting what
 * it sends (bench/support/wire-counter.ts): the bytes A writes to its sockets (frames, batch frames,
 * heartbeats; not TCP/IP headers) from before its writes until B and C hold every row, divided by
 * its two peers and by `ops`; and the Group's encoded payload per op to each peer, before framing
 * and batching. A's processes exit (and their removals replicate) only after the second count.
 * Checks: B and C converge (as in D1/D2), and A passed at least `ops` frames to each peer.
 */
import { GROUP_ROLES, measureReplication, startGroupCluster, stopAll, type GroupCluster, type WriteAllArgs } from '../support/group-cluster.js';
import { median } from '../support/stats.js';
import { sentBetween, type WireCounts } from '../support/wire-counter.js';
import { defineWorkload } from '../support/workload.js';

export default defineWorkload({
  id: 'wire',
  title: 'replication bytes A → one peer per registration and per join (D1 / D2 shapes, three nodes)',
  params: { ops: 100_000, groups: 1_000, chunk: 1_000, timeoutMs: 60_000 },
  metrics: {
    reg_wire: { label: 'registration: bytes written to the socket, per peer', unit: 'B/op', better: 'lower' },
    reg_payload: { label: 'registration: Group payload per peer (before framing)', unit: 'B/op', better: 'lower' },
    join_wire: { label: 'join: bytes written to the socket, per peer', unit: 'B/op', better: 'lower' },
    join_payload: { label: 'join: Group payload per peer (before framing)', unit: 'B/op', better: 'lower' },
  },

  async start(params, context) {
    const cluster = await startGroupCluster(context.profileDir, { countBytes: true });
    return {
      async run() {
        const reg = await bytesPerOp(cluster, 'registered', 'registerAll', { chunk: params.chunk }, params);
        const join = await bytesPerOp(cluster, 'joined', 'joinAll', { groups: params.groups, chunk: params.chunk }, params);
        return { reg_wire: reg.wire, reg_payload: reg.payload, join_wire: join.wire, join_payload: join.payload };
      },
      stop: () => stopAll([cluster.a, cluster.b, cluster.c]),
    };
  },
});

async function bytesPerOp(
  cluster: GroupCluster,
  type: 'registered' | 'joined',
  write: 'registerAll' | 'joinAll',
  writeArgs: WriteAllArgs,
  { ops, timeoutMs }: { ops: number; timeoutMs: number },
): Promise<{ wire: number; payload: number }> {
  const { a } = cluster;
  const peers = await a.invoke<string[]>(GROUP_ROLES, 'groupPeers');
  const before = await a.invoke<WireCounts>(undefined, 'wireBytes');
  let after: WireCounts | undefined;
  await measureReplication(cluster, {
    type,
    count: ops,
    write,
    writeArgs,
    timeoutMs,
    afterConverged: async () => {
      after = await a.invoke<WireCounts>(undefined, 'wireBytes');
    },
  });
  const sent = sentBetween(before, after!, peers);
  sent.frames.forEach((frames, i) => {
    if (frames < ops) throw new Error(`wire: A passed ${frames} frames to ${peers[i]} for ${ops} ${type} ops`);
  });
  return { wire: sent.wireBytesPerPeer / ops, payload: median(sent.payloadBytes) / ops };
}
