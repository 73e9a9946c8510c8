/**
 * The environment of the Group distributed scenarios (test/conformance/group-scenarios.ts) on a
 * real cluster of node OS processes (cluster.ts), whatever its transport: operations by rpc
 * through the scenario agent, kill / restart by signal, partitions by fault injection in the mesh
 * (node.block), and the reset that puts the shared cluster back after each scenario. Used by
 * test/cluster/group-distributed.test.ts (TCP) and test/cluster/nats-group-distributed.test.ts.
 */
import { groupAgent, type AgentRequest } from '../conformance/group-agent.js';
import type { GroupScenarioEnv } from '../conformance/group-scenarios.js';
import type { RpcContext, TestCluster } from './cluster.js';

const POLL_MS = 20;

export interface ClusterScenarioEnv {
  readonly env: GroupScenarioEnv;
  /** Send the agent to every node (once, after the cluster started). */
  installAgents(): Promise<void>;
  /** After each scenario: every node up, unblocked, meshed, its Groups and processes cleaned up. */
  reset(): Promise<void>;
}

export function clusterScenarioEnv(names: readonly string[], cluster: () => TestCluster): ClusterScenarioEnv {
  function agentOn<T>(name: string, request: AgentRequest): Promise<T> {
    return cluster()
      .node(name)
      .rpc((ctx: RpcContext, req: AgentRequest) => (ctx.state['agent'] as (c: RpcContext, r: AgentRequest) => Promise<T>)(ctx, req), request);
  }

  /** Send the agent's source to a node process once; later requests call it by name. */
  async function installAgent(name: string): Promise<void> {
    await cluster()
      .node(name)
      .rpc(({ state }, source: string) => {
        state['agent'] = new Function(`return (${source});`)();
      }, groupAgent.toString());
    await agentOn(name, { op: 'install-router' });
  }

  const env: GroupScenarioEnv = {
    kind: 'cluster',
    names,
    agent: agentOn,
    async kill(name) {
      await cluster().node(name).kill();
    },
    async restart(name) {
      await cluster().restart(name);
      await installAgent(name);
      await cluster().waitForMesh();
    },
    async cut(a, b) {
      await cluster().cut(a, b, { closeNow: true });
    },
    async heal(a, b) {
      await cluster().heal(a, b);
    },
    async until(cond, what, maxMs = 10_000) {
      const deadline = performance.now() + maxMs;
      while (!(await cond())) {
        if (performance.now() > deadline) throw new Error(`timed out after ${maxMs} ms waiting for ${what()}`);
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      }
    },
  };

  return {
    env,
    async installAgents() {
      for (const name of names) await installAgent(name);
    },
    async reset() {
      const c = cluster();
      for (const node of c.nodes) if (!node.alive) await env.restart(node.name);
      for (const node of c.nodes) await node.rpc(({ node: n }) => n.unblock());
      for (const x of c.nodes) for (const y of c.nodes) if (x.name < y.name) await c.heal(x.name, y.name);
      await c.waitForMesh();
      for (const node of c.nodes) await agentOn(node.name, { op: 'cleanup' });
    },
  };
}
