/**
 * The distributed Group scenarios (test/conformance/group-scenarios.ts) on a real cluster: three
 * node OS processes over TCP on 127.0.0.1, operations by rpc. One cluster is shared by every
 * scenario, as the reference shares its peers: after each scenario the Groups and processes it
 * made are stopped, killed nodes are restarted and partitions healed (test/support/group-cluster-env.ts).
 */
import { afterAll, beforeAll } from 'vitest';
import { groupScenarios } from '../conformance/group-scenarios.js';
import { startCluster, type TestCluster } from '../support/cluster.js';
import { clusterScenarioEnv } from '../support/group-cluster-env.js';

const NAMES = ['a', 'b', 'c'];
const heartbeat = { intervalMs: 200, timeoutMs: 1000 };
const reconnect = { initialMs: 50, maxMs: 300 };

let cluster: TestCluster | undefined;
const scenarios = clusterScenarioEnv(NAMES, () => cluster!);

beforeAll(async () => {
  cluster = await startCluster(NAMES, { heartbeat, reconnect });
  await scenarios.installAgents();
}, 60_000);

afterAll(async () => {
  await cluster?.stopAll();
});

groupScenarios('OS processes over TCP', {
  setup: async () => scenarios.env,
  teardown: () => scenarios.reset(),
  timeoutMs: 60_000,
});
