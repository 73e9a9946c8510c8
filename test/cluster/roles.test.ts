/**
 * Roles on three OS processes over TCP: propagation across overlapping scopes, isolation, a
 * SIGKILLed node's roles removed everywhere (with events), and its restart seen with its roles.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type RpcContext, type TestCluster, type TestNode } from '../support/cluster.js';
import { waitFor } from '../support/wait.js';

const heartbeat = { intervalMs: 200, timeoutMs: 1000 };
const reconnect = { initialMs: 50, maxMs: 300 };

let cluster: TestCluster;

/** Start Roles on a node with these options; every role event is pushed to the test as 'roles'. */
async function startRoles(node: TestNode, options: Record<string, unknown>): Promise<void> {
  await node.rpc(async ({ node, api, state, emit }: RpcContext, opts: Record<string, unknown>) => {
    const push = (e: unknown): void => emit('roles', e);
    state['roles'] = await api.Roles.start(node, { ...opts, on: { roleAdded: push, roleRemoved: push, nodeAdded: push, nodeRemoved: push } });
  }, options);
}

/** What a node reads: per scope, node → roles. */
function view(node: TestNode, scopes: string[]): Promise<Record<string, Record<string, unknown[]>>> {
  return node.rpc(({ state }: RpcContext, list: string[]) => {
    const r = state['roles'] as { allNodes(s: string): string[]; getRoles(n: string, s: string): unknown[] };
    return Object.fromEntries(list.map((s) => [s, Object.fromEntries(r.allNodes(s).map((n) => [n, r.getRoles(n, s)]))]));
  }, scopes);
}

beforeAll(async () => {
  cluster = await startCluster(['a', 'b', 'c'], { heartbeat, reconnect });
}, 30_000);

afterAll(async () => {
  await cluster?.stopAll();
});

describe('Roles (OS processes over TCP)', () => {
  it('roles propagate in overlapping scopes, scopes stay isolated, a killed node\'s roles go and come back with it', async () => {
    const [a, b, c] = ['a', 'b', 'c'].map((n) => cluster.node(n));
    await startRoles(a!, { roles: { default: ['web', { shard: 1 }], analytics: ['ingest'] } });
    await startRoles(b!, { roles: { default: ['web'], billing: ['ledger'] } });
    await startRoles(c!, { scopes: ['default', 'analytics', 'billing'] });
    const expected = {
      default: { a: ['web', { shard: 1 }], b: ['web'], c: [] },
      analytics: { a: ['ingest'], c: [] },
      billing: { b: ['ledger'], c: [] },
    };
    await waitFor(async () => JSON.stringify(await view(c!, ['default', 'analytics', 'billing'])) === JSON.stringify(expected), { what: 'c sees every scope', timeoutMs: 10_000 });
    // a is not in billing, b not in analytics: their views of the shared scope agree, the others are refused.
    await waitFor(async () => JSON.stringify(await view(a!, ['default', 'analytics'])) === JSON.stringify({ default: expected.default, analytics: expected.analytics }), { what: 'a converged' });
    await waitFor(async () => JSON.stringify(await view(b!, ['default', 'billing'])) === JSON.stringify({ default: expected.default, billing: expected.billing }), { what: 'b converged' });
    const refused = await a!.rpc(({ state }: RpcContext) => {
      try {
        (state['roles'] as { getNodes(r: unknown, s: string): string[] }).getNodes('ledger', 'billing');
        return 'read';
      } catch (error) {
        return (error as { code: string }).code;
      }
    });
    expect(refused).toBe('ERR_ROLLCALL_INVALID_ARGUMENT');
    expect(a!.events.filter((e) => e.event === 'roles' && e.data['scope'] === 'billing')).toEqual([]);
    expect(b!.events.filter((e) => e.event === 'roles' && e.data['scope'] === 'analytics')).toEqual([]);

    // A runtime change on c.
    await c!.rpc(({ state }: RpcContext) => (state['roles'] as { addRoles(r: unknown[], s?: string): void }).addRoles(['gateway', ['zone', 'eu']]));
    await waitFor(async () => (await a!.rpc(({ state }: RpcContext) => (state['roles'] as { getNodes(r: unknown): string[] }).getNodes(['zone', 'eu']))).join() === 'c', { what: 'c\'s roles on a' });

    // SIGKILL b: a and c see b's roles go, with roleRemoved then nodeRemoved, in both of b's scopes.
    const since = performance.now();
    await b!.kill();
    await c!.waitForEvent('roles', (e) => e['type'] === 'nodeRemoved' && e['node'] === 'b' && e['scope'] === 'billing', { since, timeoutMs: 10_000 });
    const removed = await a!.waitForEvent('roles', (e) => e['type'] === 'nodeRemoved' && e['node'] === 'b' && e['scope'] === 'default', { since, timeoutMs: 10_000 });
    expect(removed.data['roles']).toEqual(['web']);
    expect(removed.data['reason']).toBe('nodedown');
    expect(a!.events.some((e) => e.at >= since && e.data['type'] === 'roleRemoved' && e.data['node'] === 'b')).toBe(true);
    expect(await view(c!, ['default', 'billing'])).toEqual({ default: { a: ['web', { shard: 1 }], c: ['gateway', ['zone', 'eu']] }, billing: { c: [] } });

    // b comes back (a new OS process) with other roles: nodeAdded carries them.
    const back = performance.now();
    await cluster.restart('b');
    await startRoles(cluster.node('b'), { roles: ['reborn'] });
    const added = await a!.waitForEvent('roles', (e) => e['type'] === 'nodeAdded' && e['node'] === 'b', { since: back, timeoutMs: 10_000 });
    expect(added.data['roles']).toEqual(['reborn']);
    await waitFor(async () => JSON.stringify((await view(cluster.node('b'), ['default'])).default) === JSON.stringify({ a: ['web', { shard: 1 }], b: ['reborn'], c: ['gateway', ['zone', 'eu']] }), { what: 'the new b caught up' });
    for (const n of [a!, c!, cluster.node('b')]) {
      expect(await n.rpc(({ state }: RpcContext) => (state['roles'] as { checkConsistency(): string[] }).checkConsistency())).toEqual([]);
    }
  }, 40_000);
});
