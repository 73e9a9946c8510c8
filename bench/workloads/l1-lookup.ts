/**
 * L1 lookup (bench-spec.md): 100,000 keys registered, one process each; one caller does
 * 1,000,000 `group.lookup(key)` of random existing keys. Metric: lookups/s.
 *
 * Runs in one forked bench node process (support/group-bench.ts). The keys to look up are drawn
 * again before every run, outside the timed loop, as new strings (as a caller holding its own
 * key would, not the table's own string objects). The caller is the role itself: lookup is a
 * synchronous local read and needs no process. Every lookup must find its key, or the run fails.
 */
import { defineWorkload, type RoleContext, type Roles } from '../support/workload.js';
import { currentGroup, freshGroup, secondsSince, spawnIdle, startSingleNode, userKey, userMeta } from '../support/group-bench.js';

const ROLES = import.meta.url;

interface L1Args {
  readonly keys: number;
  readonly lookups: number;
}

export default defineWorkload({
  id: 'L1',
  title: 'lookup: random lookups of registered keys, one caller (single node)',
  params: { keys: 100_000, lookups: 1_000_000 },
  metrics: {
    lookups: { label: 'lookups, one caller', unit: 'lookups/s', better: 'higher' },
  },

  async start(params, context) {
    const node = await startSingleNode('bench-l1', context);
    try {
      await node.invoke(ROLES, 'setup', params satisfies L1Args);
      return {
        async run() {
          const seconds = await node.invoke<number>(ROLES, 'lookups', params satisfies L1Args);
          return { lookups: params.lookups / seconds };
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
  async setup({ node, state }: RoleContext, { keys }: L1Args): Promise<void> {
    const group = await freshGroup(node, state);
    const pids = spawnIdle(node, keys);
    for (let i = 0; i < keys; i++) {
      if (group.register(userKey(i), userMeta(i), { pid: pids[i]! }) !== 'ok') throw new Error(`L1 setup: register ${userKey(i)} failed`);
    }
  },

  /** The timed loop; returns its seconds. */
  lookups({ state }: RoleContext, { keys, lookups }: L1Args): number {
    const group = currentGroup(state);
    const wanted = new Array<string>(lookups);
    for (let i = 0; i < lookups; i++) wanted[i] = `user/${Math.floor(Math.random() * keys)}`;
    let found = 0;
    const started = performance.now();
    for (let i = 0; i < lookups; i++) {
      if (group.lookup(wanted[i]!) !== null) found++;
    }
    const seconds = secondsSince(started);
    if (found !== lookups) throw new Error(`L1: ${lookups - found} of ${lookups} lookups found nothing`);
    return seconds;
  },
} satisfies Roles;
