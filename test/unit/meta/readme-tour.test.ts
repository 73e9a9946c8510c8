/** The README's one-minute tour, run as written (ephemeral port instead of 4370). */
import { afterEach, expect, it } from 'vitest';
import { startNode, Server, CallRequest, type Node } from '../../../src/index.js';
import { silentLogger } from '../../../src/internal.js';
import { waitFor } from '../../support/wait.js';

const nodes: Node[] = [];
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()));
});

it('README tour: two nodes, a Server called by name across nodes, a plain process, a monitor', async () => {
  const a = await startNode({ name: 'a', cookie: 'secret', listen: { port: 0 }, logger: silentLogger() });
  const b = await startNode({ name: 'b', cookie: 'secret', seeds: [a.seed], logger: silentLogger() });
  nodes.push(a, b);
  await waitFor(() => a.peers().includes('b') && b.peers().includes('a'), { what: 'connected' });

  class Counter extends Server<number> {
    private n = 0;
    override init(start: number) {
      this.n = start;
    }
    override handleCall(request: unknown) {
      return request === 'next' ? ++this.n : this.n;
    }
  }
  a.register('counter', a.spawn(Counter, 41));
  expect(await b.call({ name: 'counter', node: 'a' }, 'next')).toBe(42);

  const echo = b.spawn(async (ctx) => {
    for (;;) {
      const msg = await ctx.receive();
      if (msg instanceof CallRequest) msg.reply(msg.request);
    }
  });
  expect(await a.call(echo, 'hello')).toBe('hello');

  const reasons: unknown[] = [];
  a.monitor(echo, ({ reason }) => reasons.push(reason));
  a.exit(echo, 'done');
  await waitFor(() => reasons.length > 0, { what: 'monitor' });
  expect(reasons).toEqual(['done']);
});

/** Two connected nodes a and b, each running the Group 'chat' of the tour. */
async function chatOnTwoNodes() {
  const { Group } = await import('../../../src/index.js');
  const a = await startNode({ name: 'a', cookie: 'secret', logger: silentLogger() });
  const b = await startNode({ name: 'b', cookie: 'secret', seeds: [a.seed], logger: silentLogger() });
  nodes.push(a, b);
  await waitFor(() => a.peers().includes('b'), { what: 'connected' });
  const ga = await Group.start(a, { name: 'chat', log: false });
  const gb = await Group.start(b, { name: 'chat', log: false });
  await waitFor(() => ga.nodes().includes('b') && gb.nodes().includes('a'), { what: 'group peers' });
  return { a, b, ga, gb };
}

it('README tour: Group registry, membership, monitor and dispatch across two nodes', async () => {
  const { a, ga, gb } = await chatOnTwoNodes();

  const got: unknown[] = [];
  const alice = a.spawn(async (ctx) => {
    for (;;) got.push(await ctx.receive());
  });
  const seen: string[] = [];
  gb.monitor('user/', (events) => seen.push(...events.map((e) => `${e.type} ${e.key}`)));
  expect(ga.register('user/alice', { name: 'Alice' }, { pid: alice })).toBe('ok');
  expect(ga.join('room/42', {}, { pid: alice })).toBe('ok');
  await waitFor(() => gb.lookup('user/alice') !== null && gb.members('room/42').length === 1, { what: 'replicated' });
  expect(gb.lookup('user/alice')).toEqual({ pid: alice, meta: { name: 'Alice' } });
  expect(seen).toEqual(['registered user/alice']);
  gb.dispatch('room/42', 'hello');
  await waitFor(() => got.length === 1, { what: 'dispatched' });
  expect(got).toEqual(['hello']);
});

it('README tour: topics and publish, registerLocked, a tenant, roles, a dashboard and metrics', async () => {
  const { Roles, startDashboard, createMetrics } = await import('../../../src/index.js');
  const { a, b, ga, gb } = await chatOnTwoNodes();
  const alice = a.spawn(async (ctx) => {
    for (;;) await ctx.receive();
  });

  ga.join('events', {}, { pid: alice, topics: ['user.login'] });
  await waitFor(() => gb.members('events').length === 1, { what: 'replicated' });
  expect(gb.publish('events', { user: 'bob' }, { topic: 'user.login' })).toEqual([alice]);
  expect(gb.publish('events', {}, { topic: 'user.logout' })).toEqual([]);

  const bob = b.spawn(async (ctx) => {
    for (;;) await ctx.receive();
  });
  expect(await gb.registerLocked('leader', {}, { pid: bob })).toBe('ok');
  expect(await ga.registerLocked('leader', {}, { pid: alice })).toBe('taken');

  const acme = ga.tenant('acme');
  expect(acme.register('svc', {}, { pid: alice })).toBe('ok');
  expect(ga.tenant('other').lookup('svc')).toBeNull();

  const roles = await Roles.start(a, { roles: ['web', 'api'] });
  expect(roles.getNodes('web')).toEqual(['a']);

  const dashboard = await startDashboard(a, { port: 0 });
  const metrics = createMetrics({ node: a, groups: [ga] });
  try {
    const res = await fetch(new URL('/api/cluster', dashboard.url), { headers: { Authorization: `Bearer ${dashboard.token}` } });
    expect(((await res.json()) as { nodes: Array<{ name: string }> }).nodes.map((n) => n.name)).toEqual(['a', 'b']);
    expect(await metrics.metricsText()).toContain('rollcall_group_operations_total');
  } finally {
    await dashboard.close();
    metrics.removeGroup(ga);
    await roles.stop();
  }
});
