/**
 * D4 partition heal (bench-spec.md): A and B are cut apart by fault injection on both sides
 * (`node.block(peer, {closeNow: true})`; C stays connected to both); while apart each registers
 * 10,000 keys, 1,000 of them the same names ("user/9000".."user/9999"). The clock runs from the
 * heal (`node.unblock(peer)` + `node.connect(seed)` on both) until A and B agree: the driver polls
 * both every `pollMs` for a digest (key count + an order-independent hash of every key → pid)
 * and stops at the first poll where both hold all 19,000 keys with equal digests (every key has
 * exactly one owner and both name the same one). The digest polled is kept up to date by each
 * node from its Group's events (`trackDigest`, armed before the clock), so a poll costs nothing;
 * after the clock it is checked against the digest computed from the tables. The resolution count is checked: each conflict
 * removes the loser's registration on its own node with reason 'resolve_conflict', counted by a
 * monitor callback on A and B; it must equal the shared keys. After the clock C is checked to
 * agree too; then every process exits and the tables empty (untimed).
 */
import { GROUP_ROLES, awaitCounts, startGroupCluster, stopAll, type Digest, type SpawnArgs, type WriteAllArgs } from '../support/group-cluster.js';
import type { BenchNodeProcess } from '../support/node-process.js';
import { defineWorkload } from '../support/workload.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export default defineWorkload({
  id: 'D4',
  title: 'three nodes: A and B partitioned register 10,000 keys each (1,000 shared); heal until they agree',
  params: { keysPerSide: 10_000, shared: 1_000, pollMs: 2, timeoutMs: 30_000 },
  metrics: {
    seconds: { label: 'heal → A and B agree', unit: 's', better: 'lower' },
    conflicts: { label: 'conflicts resolved (must equal shared)', unit: 'conflicts', better: 'higher' },
  },

  async start(params, context) {
    const { a, b, c } = await startGroupCluster(context.profileDir);
    const total = 2 * params.keysPerSide - params.shared;

    const digests = (nodes: readonly BenchNodeProcess[], role: 'digest' | 'liveDigest' = 'digest'): Promise<Digest[]> =>
      Promise.all(nodes.map((node) => node.invoke<Digest>(GROUP_ROLES, role)));
    const agree = (ds: readonly Digest[]): boolean => ds.every((d) => d.count === total && d.hash === ds[0]!.hash);
    const awaitAgreement = async (nodes: readonly BenchNodeProcess[], what: string, role: 'digest' | 'liveDigest' = 'digest'): Promise<void> => {
      const deadline = performance.now() + params.timeoutMs;
      for (;;) {
        const ds = await digests(nodes, role);
        if (agree(ds)) return;
        if (performance.now() > deadline) throw new Error(`D4: ${what} do not agree after ${params.timeoutMs} ms: ${JSON.stringify(ds)}`);
        await sleep(params.pollMs);
      }
    };

    return {
      async run() {
        await Promise.all([a.invoke(GROUP_ROLES, 'block', { peer: b.name }), b.invoke(GROUP_ROLES, 'block', { peer: a.name })]);
        await Promise.all([
          a.invoke(GROUP_ROLES, 'waitGroupPeerGone', { peer: b.name, timeoutMs: params.timeoutMs }),
          b.invoke(GROUP_ROLES, 'waitGroupPeerGone', { peer: a.name, timeoutMs: params.timeoutMs }),
        ]);
        const spawn: SpawnArgs = { count: params.keysPerSide };
        await Promise.all([a.invoke(GROUP_ROLES, 'spawnIdle', spawn), b.invoke(GROUP_ROLES, 'spawnIdle', spawn)]);
        // A first, then B: B's registrations are the later ones, so B wins every conflict.
        await a.invoke(GROUP_ROLES, 'registerAll', { from: 0, chunk: 1_000 } satisfies WriteAllArgs);
        await b.invoke(GROUP_ROLES, 'registerAll', { from: params.keysPerSide - params.shared, chunk: 1_000 } satisfies WriteAllArgs);
        await awaitCounts([c], total, 0, params.timeoutMs);
        await Promise.all([a.invoke(GROUP_ROLES, 'countConflicts'), b.invoke(GROUP_ROLES, 'countConflicts')]);
        await Promise.all([a.invoke(GROUP_ROLES, 'trackDigest'), b.invoke(GROUP_ROLES, 'trackDigest')]);

        const started = performance.now();
        await Promise.all([
          a.invoke(GROUP_ROLES, 'heal', { peer: b.name, seed: b.seed }),
          b.invoke(GROUP_ROLES, 'heal', { peer: a.name, seed: a.seed }),
        ]);
        await awaitAgreement([a, b], 'A and B', 'liveDigest');
        const seconds = (performance.now() - started) / 1000;
        const [live, full] = await Promise.all([digests([a, b], 'liveDigest'), digests([a, b])]);
        if (JSON.stringify(live) !== JSON.stringify(full)) throw new Error(`D4: the event-kept digests ${JSON.stringify(live)} differ from the tables' ${JSON.stringify(full)}`);

        const lost = await Promise.all([a.invoke<number>(GROUP_ROLES, 'conflictsLost'), b.invoke<number>(GROUP_ROLES, 'conflictsLost')]);
        const conflicts = lost[0] + lost[1];
        if (conflicts !== params.shared) throw new Error(`D4: ${conflicts} conflicts resolved (A lost ${lost[0]}, B lost ${lost[1]}), want ${params.shared}`);
        await awaitAgreement([a, b, c], 'A, B and C');

        await Promise.all([a.invoke(GROUP_ROLES, 'killSpawned'), b.invoke(GROUP_ROLES, 'killSpawned')]);
        await awaitCounts([a, b, c], 0, 0, params.timeoutMs);
        return { seconds, conflicts };
      },
      stop: () => stopAll([a, b, c]),
    };
  },
});
