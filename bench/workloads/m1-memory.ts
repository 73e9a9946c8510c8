/**
 * M1 memory (bench-spec.md): heap growth per registration and per membership, after GC.
 *
 * Every run forks a fresh bench node process (support/group-bench.ts), so no earlier run's
 * garbage or heap slack is in the figures, and in it, with a full GC before each reading of
 * `process.memoryUsage().heapUsed`:
 *   1. starts the Group, then spawns 2 x 100,000 idle processes           → baseline
 *   2. the first 100,000 each register "user/i" with {name: "ui", n: i}   → bytes/registration
 *   3. the other 100,000 join 1,000 groups x 100 with the same meta       → bytes/membership
 * The processes' own cost is in the baseline (and reported as bytes/process). Registrations and
 * memberships go to different processes so that each figure includes the Group's one monitor per
 * process, as the Erlang anchors' origin-node figures include theirs. Keys and meta are built in
 * the write loops, so they count as part of the entry (as they do in ETS). One caller (seq).
 */
import { defineWorkload, type RoleContext, type Roles } from '../support/workload.js';
import { collectGarbage, freshGroup, groupKey, spawnIdle, startSingleNode, userKey, userMeta } from '../support/group-bench.js';

const ROLES = import.meta.url;

interface M1Args {
  readonly entries: number;
  readonly perGroup: number;
}

interface M1Result {
  readonly perProcess: number;
  readonly perRegistration: number;
  readonly perMembership: number;
}

export default defineWorkload({
  id: 'M1',
  title: 'memory: heap growth per registration and per membership, after GC (single node)',
  params: { entries: 100_000, perGroup: 100 },
  metrics: {
    registration: { label: 'heap per registration (with meta)', unit: 'bytes', better: 'lower' },
    membership: { label: 'heap per membership (with meta)', unit: 'bytes', better: 'lower' },
    process: { label: 'heap per idle process (baseline)', unit: 'bytes', better: 'lower' },
  },

  // Nothing shared between runs: each run measures in a node process of its own.
  async start(params, context) {
    return {
      async run() {
        const node = await startSingleNode('bench-m1', context);
        try {
          const result = await node.invoke<M1Result>(ROLES, 'measure', params satisfies M1Args);
          return { registration: result.perRegistration, membership: result.perMembership, process: result.perProcess };
        } finally {
          await node.stop();
        }
      },
      async stop() {},
    };
  },
});

async function heapAfterGc(): Promise<number> {
  await collectGarbage();
  return process.memoryUsage().heapUsed;
}

export const roles = {
  async measure({ node, state }: RoleContext, { entries, perGroup }: M1Args): Promise<M1Result> {
    const group = await freshGroup(node, state);
    const empty = await heapAfterGc();
    const pids = spawnIdle(node, 2 * entries);
    const spawned = await heapAfterGc();
    for (let i = 0; i < entries; i++) {
      if (group.register(userKey(i), userMeta(i), { pid: pids[i]! }) !== 'ok') throw new Error(`M1: register ${userKey(i)} failed`);
    }
    const registered = await heapAfterGc();
    for (let i = 0; i < entries; i++) group.join(groupKey(Math.floor(i / perGroup)), userMeta(i), { pid: pids[entries + i]! });
    const joined = await heapAfterGc();
    if (group.localRegistryCount() !== entries || group.memberCount() !== entries) {
      throw new Error(`M1: ${group.localRegistryCount()} registrations and ${group.memberCount()} memberships, expected ${entries} of each`);
    }
    return {
      perProcess: (spawned - empty) / (2 * entries),
      perRegistration: (registered - spawned) / entries,
      perMembership: (joined - registered) / entries,
    };
  },
} satisfies Roles;
