/**
 * The whole Group distributed scenario set (test/conformance/group-scenarios.ts) on three node OS
 * processes that talk over NATS (the server on 127.0.0.1:4222, under a cluster name of their
 * own), as test/cluster/group-distributed.test.ts runs it over TCP: one cluster shared by every
 * scenario, operations by rpc, and after each scenario its Groups and processes stopped, killed
 * nodes restarted and partitions healed (test/support/group-cluster-env.ts). Partitions are fault
 * injection in the mesh (node.block), as over TCP; the NATS server stays up
 * (test/cluster/nats-server-restart.test.ts takes it down). Skipped with a message when no NATS
 * server answers on 127.0.0.1:4222, failed under CI=true.
 */
import { afterAll, beforeAll, describe } from 'vitest';
import { groupScenarios } from '../conformance/group-scenarios.js';
import { startCluster, type TestCluster } from '../support/cluster.js';
import { clusterScenarioEnv } from '../support/group-cluster-env.js';
import { natsAvailable, NATS_URL } from '../support/nats.js';

const NAMES = ['a', 'b', 'c'];
// A node killed with SIGKILL is noticed by heartbeat timeout over NATS (no socket to see close).
const heartbeat = { intervalMs: 200, timeoutMs: 1000 };
const reconnect = { initialMs: 50, maxMs: 300 };

const available = await natsAvailable('Group distributed scenarios over NATS');

describe.skipIf(!available)('nats', () => {
  let cluster: TestCluster | undefined;
  const scenarios = clusterScenarioEnv(NAMES, () => cluster!);

  beforeAll(async () => {
    cluster = await startCluster(NAMES, { heartbeat, reconnect, nats: { servers: NATS_URL, cluster: `group-scenarios-${process.pid}` } });
    await scenarios.installAgents();
  }, 60_000);

  afterAll(async () => {
    await cluster?.stopAll();
  });

  groupScenarios('OS processes over NATS', {
    setup: async () => scenarios.env,
    teardown: () => scenarios.reset(),
    timeoutMs: 60_000,
  });
});
