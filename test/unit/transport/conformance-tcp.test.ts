import { startNode, type Node, type NodeOptions } from '../../../src/index.js';
import { silentLogger } from '../../../src/internal.js';
import { waitFor } from '../../support/wait.js';
import { transportConformance } from '../../conformance/transport.js';

// Real sockets on 127.0.0.1 with real time; partitions by fault injection in the mesh.
transportConformance('tcp', async () => {
  const nodes: Node[] = [];
  const heartbeat = { intervalMs: 100, timeoutMs: 600 };
  return {
    heartbeat,
    async startNode(name: string, options: Partial<NodeOptions> = {}) {
      const node = await startNode({
        name,
        cookie: 'conformance',
        heartbeat,
        reconnect: { initialMs: 50, maxMs: 300 },
        logger: silentLogger(),
        ...options,
      });
      nodes.push(node);
      return node;
    },
    seedOf: (node) => node.seed,
    async cut(a, b, options = {}) {
      a.block(b.name, { in: options.oneWay !== true, out: true });
      b.block(a.name, { in: true, out: options.oneWay !== true });
    },
    async heal(a, b) {
      a.unblock(b.name);
      b.unblock(a.name);
    },
    async until(cond, what, maxMs = 10_000) {
      await waitFor(cond, { timeoutMs: maxMs, intervalMs: 5, what });
    },
    async teardown() {
      await Promise.all(nodes.map((n) => n.stop()));
    },
  };
});
