/**
 * L1 lookup (bench-spec.md): 100,000 keys registered, one process each; one caller does
 * 1,000,000 `group.lookup(key)` of random existing keys. Metric: lookups/s.
 *
 * Runs in one forked bench node process (support/group-bench.ts). The caller is the role itself:
 * lookup is a synchronous local read and needs no process. Two ways of holding the keys, both
 * measured every run, the random picks drawn before the clock:
 * - `lookups`: the caller holds its own 100,000 key strings (built by the caller, not the table's
 *   string objects) and looks up random ones, as the Erlang anchors pick from a prebuilt key list.
 *   V8 caches a string's hash in the string, so from a key's second lookup on no hashing is done.
 * - `lookups_fresh`: every lookup gets a string of its own (1,000,000 new strings), as a key
 *   parsed from each request would be: each pays V8's first hashing of a string (~70-250 ns:
 *   a runtime call, and a cache miss on a scattered string).
 * Every lookup must find its key, or the run fails.
 */
import { defineWorkload, type RoleContext, type Roles } from '../support/workload.js';
import { currentGroup, freshGroup, randomKeys, secondsSince, spawnIdle, startSingleNode, userKey, userMeta } from '../support/group-bench.js';

const ROLES = import.meta.url;

interface L1Args {
  readonly keys: number;
  readonly lookups: number;
}

interface L1RunArgs extends L1Args {
  readonly fresh: boolean;
}

/** The caller's own key strings (the `lookups` metric). */
let heldKeys: string[] = [];

export default defineWorkload({
  id: 'L1',
  title: 'lookup: random lookups of registered keys, one caller (single node)',
  params: { keys: 100_000, lookups: 1_000_000 },
  metrics: {
    lookups: { label: 'lookups, one caller, caller-held key strings', unit: 'lookups/s', better: 'higher' },
    lookups_fresh: { label: 'lookups, one caller, a new key string per lookup', unit: 'lookups/s', better: 'higher' },
  },

  async start(params, context) {
    const node = await startSingleNode('bench-l1', context);
    try {
      await node.invoke(ROLES, 'setup', params satisfies L1Args);
      return {
        async run() {
          const held = await node.invoke<number>(ROLES, 'lookups', { ...params, fresh: false } satisfies L1RunArgs);
          const fresh = await node.invoke<number>(ROLES, 'lookups', { ...params, fresh: true } satisfies L1RunArgs);
          return { lookups: params.lookups / held, lookups_fresh: params.lookups / fresh };
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
    heldKeys = Array.from({ length: keys }, (_, i) => userKey(i));
    for (let i = 0; i < keys; i++) {
      if (group.register(userKey(i), userMeta(i), { pid: pids[i]! }) !== 'ok') throw new Error(`L1 setup: register ${userKey(i)} failed`);
    }
  },

  /** The timed loop; returns its seconds. */
  lookups({ state }: RoleContext, { lookups, fresh }: L1RunArgs): number {
    const group = currentGroup(state);
    const wanted = randomKeys(lookups, heldKeys, fresh, userKey);
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
