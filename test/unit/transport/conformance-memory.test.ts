import { startNode, SimNetwork, VirtualClock, memory, seededRandom, type Node, type NodeOptions } from '../../../src/index.js';
import { silentLogger } from '../../../src/internal.js';
import { transportConformance } from '../../conformance/transport.js';

// All nodes in this process on the simulated network, driven by a virtual clock and a seed.
transportConformance('memory', async () => {
  const clock = new VirtualClock();
  const random = seededRandom(42);
  const network = new SimNetwork({ clock, random, latencyMs: { min: 1, max: 3 } });
  const nodes: Node[] = [];
  const heartbeat = { intervalMs: 100, timeoutMs: 600 };
  return {
    heartbeat,
    async startNode(name: string, options: Partial<NodeOptions> = {}) {
      const node = await startNode({
        name,
        transport: memory(network),
        clock,
        random,
        heartbeat,
        reconnect: { initialMs: 50, maxMs: 300 },
        logger: silentLogger(),
        ...options,
      });
      nodes.push(node);
      return node;
    },
    seedOf: (node) => node.name,
    async cut(a, b, options = {}) {
      network.cut(a.name, b.name, options);
    },
    async heal(a, b) {
      network.heal(a.name, b.name);
    },
    async until(cond, what, maxMs = 10_000) {
      const deadline = clock.now() + maxMs;
      while (!cond()) {
        if (clock.now() > deadline) throw new Error(`virtual time ran out (${maxMs} ms) waiting for ${what}`);
        await clock.advance(5);
      }
    },
    async teardown() {
      await Promise.all(nodes.map((n) => n.stop()));
      await clock.advance(1000);
    },
  };
});
