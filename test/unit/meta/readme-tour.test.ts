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

it('README tour: Group registry, membership, monitor and dispatch across two nodes', async () => {
  const { Group } = await import('../../../src/index.js');
  const a = await startNode({ name: 'a', cookie: 'secret', logger: silentLogger() });
  const b = await startNode({ name: 'b', cookie: 'secret', seeds: [a.seed], logger: silentLogger() });
  nodes.push(a, b);
  await waitFor(() => a.peers().includes('b'), { what: 'connected' });
  const ga = await Group.start(a, { name: 'chat', log: false });
  const gb = await Group.start(b, { name: 'chat', log: false });
  await waitFor(() => ga.nodes().includes('b') && gb.nodes().includes('a'), { what: 'group peers' });

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
