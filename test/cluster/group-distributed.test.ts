/**
 * The distributed Group scenarios (test/conformance/group-scenarios.ts) on a real cluster: three
 * node OS processes over TCP on 127.0.0.1, operations by rpc. One cluster is shared by every
 * scenario, as the reference shares its peers: after each scenario the Groups and processes it
 * made are stopped, killed nodes are restarted and partitions healed.
 */
import { afterAll, beforeAll } from 'vitest';
import { groupAgent, type AgentRequest } from '../conformance/group-agent.js';
import { groupScenarios, type GroupScenarioEnv } from '../conformance/group-scenarios.js';
import { startCluster, type RpcContext, type TestCluster } from '../support/cluster.js';

const NAMES = ['a', 'b', 'c'] as const;
const heartbeat = { intervalMs: 200, timeoutMs: 1000 };
const reconnect = { initialMs: 50, maxMs: 300 };
const POLL_MS = 20;

let cluster: TestCluster | undefined;

/** Send the agent's source to a node process once; later requests call it by name. */
async function installAgent(name: string): Promise<void> {
  await cluster!.node(name).rpc(({ state }, source: string) => {
    state['agent'] = new Function(`return (${source});`)();
  }, groupAgent.toString());
  await agentOn(name, { op: 'install-router' });
}

function agentOn<T>(name: string, request: AgentRequest): Promise<T> {
  return cluster!.node(name).rpc((ctx: RpcContext, req: AgentRequest) => (ctx.state['agent'] as (c: RpcContext, r: AgentRequest) => Promise<T>)(ctx, req), request);
}

const env: GroupScenarioEnv = {
  kind: 'cluster',
  names: NAMES,
  agent: agentOn,
  async kill(name) {
    await cluster!.node(name).kill();
  },
  async restart(name) {
    await cluster!.restart(name);
    await installAgent(name);
    await cluster!.waitForMesh();
  },
  async cut(a, b) {
    await cluster!.cut(a, b, { closeNow: true });
  },
  async heal(a, b) {
    await cluster!.heal(a, b);
  },
  async until(cond, what, maxMs = 10_000) {
    const deadline = performance.now() + maxMs;
    while (!(await cond())) {
      if (performance.now() > deadline) throw new Error(`timed out after ${maxMs} ms waiting for ${what()}`);
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  },
};

/** Put the shared cluster back as a scenario expects it: every node up, meshed, nothing running. */
async function reset(): Promise<void> {
  const c = cluster!;
  for (const node of c.nodes) if (!node.alive) await env.restart(node.name);
  for (const node of c.nodes) await node.rpc(({ node: n }) => n.unblock());
  for (const x of c.nodes) for (const y of c.nodes) if (x.name < y.name) await c.heal(x.name, y.name);
  await c.waitForMesh();
  for (const node of c.nodes) await agentOn(node.name, { op: 'cleanup' });
}

beforeAll(async () => {
  cluster = await startCluster([...NAMES], { heartbeat, reconnect });
  for (const name of NAMES) await installAgent(name);
}, 60_000);

afterAll(async () => {
  await cluster?.stopAll();
});

groupScenarios('OS processes over TCP', {
  setup: async () => env,
  teardown: reset,
  timeoutMs: 60_000,
});
