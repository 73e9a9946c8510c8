/**
 * L4 members (bench-spec.md): with L3's data (1,000 groups x 100 members, one idle process per
 * membership, joined in start, untimed), one caller makes 100,000 `group.members(key)` calls on
 * random groups. Metric: calls/s.
 *
 * Runs in one forked bench node process (support/group-bench.ts). As in L1, two ways of holding
 * the keys, both measured every run, picks drawn before the clock: `calls` with the caller's own
 * 1,000 group key strings, `calls_fresh` with a new string per call (each pays V8's first hashing
 * of a string). Every call must return the group's 100 members, or the run fails.
 */
import { defineWorkload, type RoleContext, type Roles } from '../support/workload.js';
import { currentGroup, freshGroup, groupKey, randomKeys, secondsSince, spawnIdle, startSingleNode, userMeta } from '../support/group-bench.js';

const ROLES = import.meta.url;

interface L4Args {
  readonly groups: number;
  readonly perGroup: number;
  readonly calls: number;
}

interface L4RunArgs extends L4Args {
  readonly fresh: boolean;
}

/** The caller's own group key strings (the `calls` metric). */
let heldKeys: string[] = [];

export default defineWorkload({
  id: 'L4',
  title: 'members: random members() calls on 1,000 groups x 100 members, one caller (single node)',
  params: { groups: 1_000, perGroup: 100, calls: 100_000 },
  metrics: {
    calls: { label: 'members() calls, one caller, caller-held key strings', unit: 'calls/s', better: 'higher' },
    calls_fresh: { label: 'members() calls, one caller, a new key string per call', unit: 'calls/s', better: 'higher' },
  },

  async start(params, context) {
    const node = await startSingleNode('bench-l4', context);
    try {
      await node.invoke(ROLES, 'setup', params satisfies L4Args);
      return {
        async run() {
          const held = await node.invoke<number>(ROLES, 'members', { ...params, fresh: false } satisfies L4RunArgs);
          const fresh = await node.invoke<number>(ROLES, 'members', { ...params, fresh: true } satisfies L4RunArgs);
          return { calls: params.calls / held, calls_fresh: params.calls / fresh };
        },
        stop: () => node.stop(),
      };
    } catch (error) {
      await node.kill();
      throw error;
    }
  },
});

export const roles = {
  async setup({ node, state }: RoleContext, { groups, perGroup }: L4Args): Promise<void> {
    const group = await freshGroup(node, state);
    const pids = spawnIdle(node, groups * perGroup);
    heldKeys = Array.from({ length: groups }, (_, g) => groupKey(g));
    for (let g = 0; g < groups; g++) {
      const key = groupKey(g);
      for (let m = 0; m < perGroup; m++) {
        const i = g * perGroup + m;
        group.join(key, userMeta(i), { pid: pids[i]! });
      }
    }
  },

  /** The timed loop; returns its seconds. */
  members({ state }: RoleContext, { perGroup, calls, fresh }: L4RunArgs): number {
    const group = currentGroup(state);
    const wanted = randomKeys(calls, heldKeys, fresh, groupKey);
    let total = 0;
    const started = performance.now();
    for (let i = 0; i < calls; i++) total += group.members(wanted[i]!).length;
    const seconds = secondsSince(started);
    if (total !== calls * perGroup) throw new Error(`L4: ${calls} calls returned ${total} members in all, expected ${calls * perGroup}`);
    return seconds;
  },
} satisfies Roles;
