/** A node that knows only a DNS name (as in a Kubernetes headless service) joins the mesh. */
import { afterEach, expect, it } from 'vitest';
import { dns, startNode, type DnsResolver, type Node } from '../../../src/index.js';
import { silentLogger } from '../../../src/internal.js';
import { waitFor } from '../../support/wait.js';

const nodes: Node[] = [];
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()));
});

it('three nodes: A records of a service name lead a new node to every member, including itself harmlessly', async () => {
  const a = await startNode({ name: 'a', cookie: 'k', logger: silentLogger() });
  const b = await startNode({ name: 'b', cookie: 'k', logger: silentLogger(), listen: { port: 0 } });
  nodes.push(a, b);
  // Every pod listens on its own port here (one host), so the stub answers SRV records.
  const members = [a, b];
  const lookups: string[] = [];
  const resolver: DnsResolver = {
    resolve4: async () => [],
    resolve6: async () => [],
    resolveSrv: async (name) => {
      lookups.push(name);
      return members.map((n) => ({ name: '127.0.0.1', port: Number(n.address.split(':')[1]), priority: 0, weight: 0 }));
    },
  };
  const c = await startNode({
    name: 'c',
    cookie: 'k',
    logger: silentLogger(),
    discovery: [dns({ name: 'rollcall.default.svc.cluster.local', type: 'SRV', resolver, refreshMs: 200 })],
  });
  nodes.push(c);
  members.push(c); // its own address in the answer must be ignored
  await waitFor(() => c.peers().length === 2 && a.peers().includes('c') && b.peers().includes('c'), { what: 'c joined via DNS' });
  expect(c.peers().sort()).toEqual(['a', 'b']);
  expect(lookups[0]).toBe('rollcall.default.svc.cluster.local');
});
