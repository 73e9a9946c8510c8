import { describe } from 'vitest';
import { natsAvailable, NATS_URL, startNatsNode } from '../../support/nats.js';
import { realTimeEnv, transportConformance } from '../../conformance/transport.js';

const available = await natsAvailable('transport conformance over NATS');
let run = 0;

// Every node its own NATS client of the server on 127.0.0.1:4222, real time; a cluster name per
// test so that tests (and parallel runs) never see each other's nodes. Nodes find each other
// through the cluster's announce subject (and the seeds the suite passes, which are node names).
// Partitions are fault injection in the mesh, as for tcp: NATS itself stays up.
describe.skipIf(!available)('nats', () => {
  transportConformance('nats', async () => {
    const heartbeat = { intervalMs: 100, timeoutMs: 600 };
    const cluster = `conformance-${process.pid}-${++run}`;
    return realTimeEnv(
      heartbeat,
      (name, options) => startNatsNode(name, { servers: NATS_URL, cluster }, { cookie: 'conformance', heartbeat, reconnect: { initialMs: 50, maxMs: 300 }, ...options }),
      (node) => node.name,
    );
  });
});
