/**
 * Explicit groups on real OS processes over TCP: a created group outlives its creator (SIGKILL),
 * and deleteGroup on one node makes the members owned by another node leave ('group_deleted').
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startCluster, type TestCluster } from '../support/cluster.js';
import { waitFor } from '../support/wait.js';

let cluster: TestCluster | undefined;

beforeAll(async () => {
  cluster = await startCluster(['a', 'b', 'c'], { heartbeat: { intervalMs: 200, timeoutMs: 1000 }, reconnect: { initialMs: 50, maxMs: 300 } });
  for (const n of cluster.nodes) {
    await n.rpc(async ({ node, api, state }) => {
      const group = await api.Group.start(node, { name: 'decl', log: false, antiEntropyMs: 500 });
      state.group = group;
      state.left = [] as string[];
      group.monitor('room', (events: Array<{ type: string; pid: { key: string }; reason: unknown }>) => {
        for (const e of events) if (e.type === 'left') (state.left as string[]).push(`${e.pid.key}|${String(e.reason)}`);
      });
    });
  }
  await cluster.waitForGroupPeers();
}, 60_000);

afterAll(async () => {
  await cluster?.stopAll();
});

type G = { hasGroup(k: string): boolean; groups(): string[]; nodes(): string[]; memberCount(k: string): number };

it('a group created on a stays listed on b and c after a is killed', async () => {
  const [a, b, c] = ['a', 'b', 'c'].map((name) => cluster!.node(name));
  expect(await a!.rpc(({ state }) => (state.group as { createGroup(k: string): string }).createGroup('lobby'))).toBe('ok');
  for (const n of [b!, c!]) {
    await waitFor(() => n.rpc(({ state }) => (state.group as G).hasGroup('lobby')), { timeoutMs: 5000, what: `${n.name} has lobby` });
  }
  await a!.kill();
  for (const n of [b!, c!]) {
    await waitFor(() => n.rpc(({ state }) => !(state.group as G).nodes().includes('a')), { timeoutMs: 5000, what: `${n.name} sees a go` });
    expect(await n.rpc(({ state }) => (state.group as G).groups())).toEqual(['lobby']);
  }
}, 30_000);

it('deleteGroup on b removes the members owned by c, with reason group_deleted', async () => {
  const b = cluster!.node('b');
  const c = cluster!.node('c');
  const pids = await c.rpc(({ node, state }) => {
    const spawnIdle = () =>
      node.spawn(async (ctx: { receive(): Promise<unknown> }) => {
        for (;;) await ctx.receive();
      });
    const out = [spawnIdle(), spawnIdle()];
    for (const pid of out) (state.group as { join(k: string, m: unknown, o: unknown): string }).join('room', {}, { pid });
    state.roomPids = out;
    return out.map((p: { key: string }) => p.key);
  });
  await waitFor(() => b.rpc(({ state }) => (state.group as G).memberCount('room') === 2), { timeoutMs: 5000, what: 'b sees both members' });
  expect(await b.rpc(({ state }) => (state.group as { deleteGroup(k: string): string }).deleteGroup('room'))).toBe('ok');
  const expected = pids.map((p) => `${p}|group_deleted`).sort();
  for (const n of [b, c]) {
    await waitFor(() => n.rpc(({ state }) => (state.left as string[]).length === 2), { timeoutMs: 5000, what: `${n.name}: two leave events` });
    expect((await n.rpc(({ state }) => state.left as string[])).sort()).toEqual(expected);
    expect(await n.rpc(({ state }) => (state.group as G).hasGroup('room'))).toBe(false);
  }
  // The members left; their processes were not killed.
  expect(await c.rpc(({ node, state }) => (state.roomPids as unknown[]).every((p) => node.isAlive(p)))).toBe(true);
}, 30_000);
