/**
 * registerLocked on real OS processes: three nodes race for the same 200 keys at once (one
 * racer per node per key, all started in the same turn on every node). Exactly one wins each key,
 * nobody is killed, and every node ends with the same registry.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startCluster, type TestCluster } from '../support/cluster.js';
import { waitFor } from '../support/wait.js';

const heartbeat = { intervalMs: 200, timeoutMs: 2000 };
const KEYS = 200;

let cluster: TestCluster | undefined;
afterEach(async () => {
  await cluster?.stopAll();
  cluster = undefined;
});

interface RaceResult {
  node: string;
  results: Array<[key: string, result: string, pid: string]>;
}

describe('registerLocked (OS processes)', () => {
  it(`three nodes race for ${KEYS} keys concurrently: one winner per key, no process killed, all nodes agree`, { timeout: 60_000 }, async () => {
    cluster = await startCluster(['a', 'b', 'c'], { heartbeat });
    for (const n of cluster.nodes) {
      await n.rpc(async ({ node, api, state }) => {
        state['group'] = await api.Group.start(node, { name: 'locked', log: false });
      });
    }
    await cluster.waitForGroupPeers();
    // Each node spawns its racers first, then waits for the test's go, so all three start together.
    for (const n of cluster.nodes) {
      await n.rpc(({ node, state }, keys: number) => {
        state['pids'] = Array.from({ length: keys }, () => node.spawn(async (ctx: { receive(): Promise<unknown> }) => void (await ctx.receive())));
      }, KEYS);
    }
    // All start at one wall-clock instant (one machine, one clock), each in its own random key
    // order, yielding every few keys: the nodes' LOCK frames interleave at every granter.
    const startAt = Date.now() + 300;
    const races = await Promise.all(
      cluster.nodes.map((n) =>
        n.rpc<RaceResult, { keys: number; startAt: number }>(async ({ node, state }, arg) => {
          const group = state['group'] as any;
          const pids = state['pids'] as any[];
          const order = pids.map((_, i) => i).sort(() => Math.random() - 0.5);
          await new Promise((resolve) => setTimeout(resolve, Math.max(0, arg.startAt - Date.now())));
          const pending: Array<Promise<[string, string, string]>> = [];
          for (const [n, i] of order.entries()) {
            pending.push(group.registerLocked(`svc/${i}`, { node: node.name }, { pid: pids[i], timeoutMs: 20_000 }).then((r: string) => [`svc/${i}`, r, pids[i].key]));
            if (n % 5 === 4) await new Promise((resolve) => setImmediate(resolve));
          }
          return { node: node.name, results: await Promise.all(pending) };
        }, { keys: KEYS, startAt }),
      ),
    );
    const winners = new Map<string, string>();
    for (let i = 0; i < KEYS; i++) {
      const key = `svc/${i}`;
      const outcomes = races.map((r) => r.results.find((x) => x[0] === key)!);
      const ok = outcomes.filter((o) => o[1] === 'ok');
      expect(ok, key).toHaveLength(1);
      expect(outcomes.filter((o) => o[1] === 'taken'), key).toHaveLength(2);
      winners.set(key, ok[0]![2]);
    }
    // Every side won some keys: the races were real races, not one node always first.
    const byNode = new Map<string, number>();
    for (const pid of winners.values()) byNode.set(pid.slice(1, 2), (byNode.get(pid.slice(1, 2)) ?? 0) + 1);
    expect(byNode.size).toBeGreaterThan(1);
    // All nodes converge on exactly the winners, and every racer is still alive.
    const expected = [...winners].sort(([x], [y]) => (x < y ? -1 : 1));
    await waitFor(
      async () => {
        const views = await Promise.all(
          cluster!.nodes.map((n) =>
            n.rpc(({ state }) => {
              const group = state['group'] as any;
              return (group.registered() as string[]).sort().map((k) => [k, group.whereis(k).key]);
            }),
          ),
        );
        return views.every((v) => JSON.stringify(v) === JSON.stringify(expected));
      },
      { timeoutMs: 10_000, what: 'every node shows exactly the winners' },
    );
    for (const n of cluster.nodes) {
      const dead = await n.rpc(({ node, state }) => (state['pids'] as any[]).filter((p) => !node.isAlive(p)).length);
      expect(dead, `${n.name}: racers killed`).toBe(0);
      const conflicts = n.logs.filter((l) => l['event'] === 'group_conflict').length;
      expect(conflicts, `${n.name}: conflicts resolved`).toBe(0);
    }
  });
});
