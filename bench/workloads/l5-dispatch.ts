/**
 * L5 local dispatch (bench-spec.md): one group of 1,000 members, 1,000 `group.dispatch(key, msg)`
 * of a small message ({seq: d}) = 1,000,000 deliveries; the clock stops when every member has
 * received all of them. Metric: deliveries/s.
 *
 * Runs in one forked bench node process (support/group-bench.ts). The dispatcher is the role
 * itself, in one synchronous loop (dispatch needs no calling process), as the Erlang anchor's
 * sender loop did; members count into a shared counter and the run ends when it reaches
 * members x dispatches. Afterwards each member must have received exactly `dispatches`.
 */
import { defineWorkload, type RoleContext, type Roles } from '../support/workload.js';
import { Countdown, collectGarbage, currentGroup, freshGroup, groupKey, secondsSince, startSingleNode, userMeta } from '../support/group-bench.js';

const ROLES = import.meta.url;
const KEY = groupKey(0);

interface L5Args {
  readonly members: number;
  readonly dispatches: number;
  readonly timeoutMs: number;
}

const argsOf = ({ members, dispatches, timeoutMs }: L5Args): L5Args => ({ members, dispatches, timeoutMs });

export default defineWorkload({
  id: 'L5',
  title: 'local dispatch: 1,000 dispatches to a group of 1,000 members (single node)',
  params: { members: 1_000, dispatches: 1_000, timeoutMs: 120_000, implicitSelf: true },
  metrics: {
    deliveries: { label: 'deliveries', unit: 'deliveries/s', better: 'higher' },
    seconds: { label: 'until every member got all', unit: 's', better: 'lower' },
  },

  async start(params, context) {
    // implicitSelf=false: the node option that runs processes without AsyncLocalStorage.
    const node = await startSingleNode('bench-l5', context, { implicitSelf: params.implicitSelf });
    try {
      await node.invoke(ROLES, 'setup', argsOf(params));
      return {
        async run() {
          const seconds = await node.invoke<number>(ROLES, 'dispatch', argsOf(params));
          return { deliveries: (params.members * params.dispatches) / seconds, seconds };
        },
        stop: () => node.stop(),
      };
    } catch (error) {
      await node.kill();
      throw error;
    }
  },
});

interface Tally {
  latch: Countdown | undefined;
  received: Int32Array;
}

const tally: Tally = { latch: undefined, received: new Int32Array(0) };

export const roles = {
  async setup({ node, state }: RoleContext, { members }: L5Args): Promise<void> {
    const group = await freshGroup(node, state);
    tally.received = new Int32Array(members);
    for (let i = 0; i < members; i++) {
      const pid = node.spawn(async (ctx) => {
        for (;;) {
          await ctx.receive();
          tally.received[i]!++;
          tally.latch!.tick();
        }
      });
      group.join(KEY, userMeta(i), { pid });
    }
  },

  /** The timed dispatches; returns the seconds until every delivery was received. */
  async dispatch({ state }: RoleContext, { members, dispatches, timeoutMs }: L5Args): Promise<number> {
    const group = currentGroup(state);
    if (group.memberCount(KEY) !== members) throw new Error(`L5: the group has ${group.memberCount(KEY)} members, expected ${members}`);
    tally.received.fill(0);
    await collectGarbage();
    const latch = new Countdown(members * dispatches, timeoutMs, 'L5 deliveries');
    tally.latch = latch;
    const started = performance.now();
    for (let d = 0; d < dispatches; d++) group.dispatch(KEY, { seq: d });
    await latch.done;
    const seconds = secondsSince(started);
    const short = tally.received.findIndex((count) => count !== dispatches);
    if (short !== -1) throw new Error(`L5: member ${short} received ${tally.received[short]} messages, expected ${dispatches}`);
    return seconds;
  },
} satisfies Roles;
