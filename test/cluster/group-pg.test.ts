/**
 * pg-style Group features on a real cluster: three node OS processes over TCP on 127.0.0.1.
 * Topics and join counts replicate, publish reaches the subscribers of a topic on every node and
 * returns them, and count-mode joins and leaves converge on every node.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type TestCluster, type TestNode } from '../support/cluster.js';
import { waitFor } from '../support/wait.js';

const NAMES = ['a', 'b', 'c'];
let cluster: TestCluster | undefined;

beforeAll(async () => {
  cluster = await startCluster(NAMES, { heartbeat: { intervalMs: 200, timeoutMs: 1000 } });
  for (const name of NAMES) {
    await cluster.node(name).rpc(async ({ node, api, state }) => {
      state['group'] = await api.Group.start(node, { name: 'pg', log: false, joins: 'count' });
      const inbox: unknown[] = [];
      state['inbox'] = inbox;
      // A subscriber process that keeps what it is sent.
      state['sub'] = node.spawn(async (ctx: { receive(): Promise<unknown> }) => {
        for (;;) inbox.push(await ctx.receive());
      });
    });
  }
  await cluster.waitForGroupPeers();
}, 60_000);

afterAll(async () => {
  await cluster?.stopAll();
});

/** `members('events')` on a node, as pid keys (one per join). */
function members(node: TestNode): Promise<string[]> {
  return node.rpc(({ state }) => (state['group'] as { members(k: string): Array<{ pid: { key: string } }> }).members('events').map((e) => e.pid.key));
}

function subPid(node: TestNode): Promise<string> {
  return node.rpc(({ state }) => (state['sub'] as { key: string }).key);
}

function join(node: TestNode, topics?: string[]): Promise<string> {
  return node.rpc(({ state }, topics: string[] | undefined) => {
    const group = state['group'] as { join(k: string, m: unknown, o: unknown): string };
    return group.join('events', { at: 'here' }, { pid: state['sub'], ...(topics === undefined ? {} : { topics }) });
  }, topics);
}

function publish(node: TestNode, message: string, topic?: string): Promise<string[]> {
  return node.rpc(({ state }, arg: { message: string; topic?: string }) => {
    const group = state['group'] as { publish(k: string, m: unknown, o: unknown): Array<{ key: string }> };
    return group.publish('events', arg.message, arg.topic === undefined ? {} : { topic: arg.topic }).map((p) => p.key);
  }, { message, topic });
}

function inbox(node: TestNode): Promise<unknown[]> {
  return node.rpc(({ state }) => state['inbox'] as unknown[]);
}

describe('Group topics, publish and join counts (OS processes over TCP)', () => {
  it('replicates topics and counts, publishes to the right pids on every node, and converges on count-mode leaves', async () => {
    const [a, b, c] = NAMES.map((n) => cluster!.node(n)) as [TestNode, TestNode, TestNode];
    const [pa, pb, pc] = await Promise.all([a, b, c].map(subPid));
    expect(await join(a, ['login'])).toBe('ok');
    expect(await join(b, ['logout'])).toBe('ok');
    expect(await join(b, ['audit'])).toBe('ok'); // a second join: counted, topics merged
    expect(await join(c)).toBe('ok'); // every message
    const expected = [pa, pb, pb, pc].sort();
    for (const node of [a, b, c]) {
      await waitFor(async () => JSON.stringify((await members(node)).sort()) === JSON.stringify(expected), { what: `${node.name} lists every join` });
    }
    const info = await a.rpc(({ state }, pid: string) => {
      const group = state['group'] as { memberInfo(k: string, o: unknown): { topics: string[] | null; joins: number } | null; members(k: string): Array<{ pid: { key: string } }> };
      const entry = group.members('events').find((e) => e.pid.key === pid)!;
      const row = group.memberInfo('events', { pid: entry.pid })!;
      return { topics: row.topics, joins: row.joins };
    }, pb);
    expect(info).toEqual({ topics: ['audit', 'logout'], joins: 2 });

    // Publishes from three nodes: each returns exactly the subscribers of its topic.
    expect((await publish(a, 'm-logout', 'logout')).sort()).toEqual([pb, pc].sort());
    expect((await publish(b, 'm-login', 'login')).sort()).toEqual([pa, pc].sort());
    expect((await publish(c, 'm-all')).sort()).toEqual([pa, pb, pc].sort());
    const received = { a: ['m-login', 'm-all'], b: ['m-logout', 'm-all'], c: ['m-logout', 'm-login', 'm-all'] };
    for (const node of [a, b, c]) {
      const want = received[node.name as keyof typeof received].sort();
      // Each message once, however often its member joined (b joined twice).
      await waitFor(async () => JSON.stringify(((await inbox(node)) as string[]).slice().sort()) === JSON.stringify(want), { what: `${node.name}'s subscriber receives its messages` });
    }

    // Count mode: b's process leaves once (still a member), then again (gone), everywhere.
    const leave = (): Promise<string> => b.rpc(({ state }) => (state['group'] as { leave(k: string, o: unknown): string }).leave('events', { pid: state['sub'] }));
    expect(await leave()).toBe('ok');
    for (const node of [a, b, c]) {
      await waitFor(async () => JSON.stringify((await members(node)).sort()) === JSON.stringify([pa, pb, pc].sort()), { what: `${node.name} sees one join of b left` });
    }
    expect(await leave()).toBe('ok');
    expect(await leave()).toBe('not_in_group');
    for (const node of [a, b, c]) {
      await waitFor(async () => JSON.stringify((await members(node)).sort()) === JSON.stringify([pa, pc].sort()), { what: `${node.name} sees b gone` });
    }
    expect((await publish(a, 'm-logout-2', 'logout')).sort()).toEqual([pc]);
  }, 30_000);
});
