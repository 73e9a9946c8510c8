/**
 * L4 members (bench-spec.md): with L3's data (1,000 groups x 100 members, one idle process per
 * membership, joined in start, untimed), one caller makes 100,000 `group.members(key)` calls on
 * random groups. Metric: calls/s.
 *
 * Runs in one forked bench node process (support/group-bench.ts). The group keys are drawn again
 * before every run, outside the timed loop, as new strings. Every call must return the group's
 * 100 members, or the run fails.
 */
import { defineWorkload, type RoleContext, type Roles } from '../support/workload.js';
import { currentGroup, freshGroup, groupKey, secondsSince, spawnIdle, startSingleNode, userMeta } from '../support/group-bench.js';

const ROLES = import.meta.url;

interface L4Args {
  readonly groups: number;
  readonly perGroup: number;
  readonly calls: number;
}

export default defineWorkload({
  id: 'L4',
  title: 'members: random members() calls on 1,000 groups x 100 members, one caller (single node)',
  params: { groups: 1_000, perGroup: 100, calls: 100_000 },
  metrics: {
    calls: { label: 'members() calls, one caller', unit: 'calls/s', better: 'higher' },
  },

  async start(params, context) {
    const node = await startSingleNode('bench-l4', context);
    try {
      await node.invoke(ROLES, 'setup', params satisfies L4Args);
      return {
        async run() {
          const seconds = await node.invoke<number>(ROLES, 'members', params satisfies L4Args);
          return { calls: params.calls / seconds };
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
    for (let g = 0; g < groups; g++) {
      const key = groupKey(g);
      for (let m = 0; m < perGroup; m++) {
        const i = g * perGroup + m;
        group.join(key, userMeta(i), { pid: pids[i]! });
      }
    }
  },

  /** The timed loop; returns its seconds. */
  members({ state }: RoleContext, { groups, perGroup, calls }: L4Args): number {
    const group = currentGroup(state);
    const wanted = new Array<string>(calls);
    for (let i = 0; i < calls; i++) wanted[i] = `group/${Math.floor(Math.random() * groups)}`;
    let total = 0;
    const started = performance.now();
    for (let i = 0; i < calls; i++) total += group.members(wanted[i]!).length;
    const seconds = secondsSince(started);
    if (total !== calls * perGroup) throw new Error(`L4: ${calls} calls returned ${total} members in all, expected ${calls * perGroup}`);
    return seconds;
  },
} satisfies Roles;
