import { describe } from 'vitest';
import type { Node, NodeOptions } from '../../../src/index.js';
import { waitFor } from '../../support/wait.js';
import { natsAvailable, NATS_URL, startNatsNode } from '../../support/nats.js';
import { transportConformance } from '../../conformance/transport.js';

const available = await natsAvailable('transport conformance over NATS');
let run = 0;

// Every node its own NATS client of the server on 127.0.0.1:4222, real time; a cluster name per
// test so that tests (and parallel runs) never see each other's nodes. Nodes find each other
// through the cluster's announce subject (and the seeds the suite passes, which are node names).
// Partitions are fault injection in the mesh, as for tcp: NATS itself stays up.
describe.skipIf(!available)('nats', () => {
  transportConformance('nats', async () => {
    const nodes: Node[] = [];
    const heartbeat = { intervalMs: 100, timeoutMs: 600 };
    const cluster = `conformance-${process.pid}-${++run}`;
    return {
      heartbeat,
      async startNode(name: string, options: Partial<NodeOptions> = {}) {
        const node = await startNatsNode(name, { servers: NATS_URL, cluster }, { cookie: 'conformance', heartbeat, reconnect: { initialMs: 50, maxMs: 300 }, ...options });
        nodes.push(node);
        return node;
      },
      seedOf: (node) => node.name,
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
});
