import { startNode } from '../../../src/index.js';
import { silentLogger } from '../../../src/internal.js';
import { realTimeEnv, transportConformance } from '../../conformance/transport.js';

// Real sockets on 127.0.0.1 with real time; partitions by fault injection in the mesh.
transportConformance('tcp', async () => {
  const heartbeat = { intervalMs: 100, timeoutMs: 600 };
  return realTimeEnv(
    heartbeat,
    (name, options) => startNode({ name, cookie: 'conformance', heartbeat, reconnect: { initialMs: 50, maxMs: 300 }, logger: silentLogger(), ...options }),
    (node) => node.seed,
  );
});
