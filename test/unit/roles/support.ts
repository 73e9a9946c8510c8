/** A cluster of nodes on the in-memory network, each running Roles, plus what the tests check on them. */
import { expect } from 'vitest';
import { Roles, type Node, type RoleEvent, type RolesOptions } from '../../../src/index.js';
import { createSim, type Sim } from '../node/sim-helpers.js';

export const TEN = ['n0', 'n1', 'n2', 'n3', 'n4', 'n5', 'n6', 'n7', 'n8', 'n9'] as const;

export interface RolesCluster {
  readonly sim: Sim;
  readonly nodes: Map<string, Node>;
  readonly roles: Map<string, Roles>;
  /** Every role event each node saw, in order. */
  readonly events: Map<string, RoleEvent[]>;
  /** The Roles of a live node. */
  r(name: string): Roles;
  live(): string[];
  crash(name: string): Promise<void>;
  /** Every live node's index agrees with its Group tables. */
  consistent(): void;
  teardown(): Promise<void>;
}

export async function rolesCluster(seed: number, names: readonly string[] = TEN, options: (name: string) => RolesOptions = () => ({})): Promise<RolesCluster> {
  const sim = createSim(seed);
  const started = await sim.cluster(...names);
  const nodes = new Map<string, Node>();
  const roles = new Map<string, Roles>();
  const events = new Map<string, RoleEvent[]>();
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    const node = started[i]!;
    nodes.set(name, node);
    const seen: RoleEvent[] = [];
    const push = (e: RoleEvent): void => void seen.push(e);
    const r = await Roles.start(node, { ...options(name), on: { roleAdded: push, roleRemoved: push, nodeAdded: push, nodeRemoved: push } });
    roles.set(name, r);
    events.set(name, seen);
  }
  const dead = new Set<string>();
  const cluster: RolesCluster = {
    sim,
    nodes,
    roles,
    events,
    r(name) {
      const r = roles.get(name);
      if (r === undefined || dead.has(name)) throw new Error(`no live Roles on ${name}`);
      return r;
    },
    live: () => names.filter((n) => !dead.has(n)),
    async crash(name) {
      dead.add(name);
      await sim.crash(nodes.get(name)!);
      // The dead node's Group timers die with its OS process.
      await roles.get(name)!.stop();
    },
    consistent() {
      for (const name of cluster.live()) expect(cluster.r(name).checkConsistency(), `${name} consistent`).toEqual([]);
    },
    async teardown() {
      for (const name of cluster.live()) await roles.get(name)!.stop();
      await sim.teardown();
    },
  };
  return cluster;
}

/** Events of one kind about one node in one scope. */
export function eventsAbout(events: readonly RoleEvent[], type: RoleEvent['type'], node: string, scope = 'default'): RoleEvent[] {
  return events.filter((e) => e.type === type && e.node === node && e.scope === scope);
}

/**
 * What a listener that only ever saw the events would believe: node → its roles (JSON texts,
 * sorted). Comparing it with the reads shows the events told the whole story, in order.
 */
export function replay(events: readonly RoleEvent[], scope = 'default'): Map<string, string[]> {
  const state = new Map<string, Set<string>>();
  for (const e of events) {
    if (e.scope !== scope) continue;
    const texts = e.roles.map((r) => JSON.stringify(r));
    if (e.type === 'nodeAdded') {
      expect(state.has(e.node), `nodeAdded for ${e.node}, already present`).toBe(false);
      state.set(e.node, new Set(texts));
    } else if (e.type === 'nodeRemoved') {
      expect(state.has(e.node), `nodeRemoved for ${e.node}, not present`).toBe(true);
      state.delete(e.node);
    } else {
      const roles = state.get(e.node);
      expect(roles, `${e.type} for ${e.node}, not present`).toBeDefined();
      for (const t of texts) {
        if (e.type === 'roleAdded') roles!.add(t);
        else roles!.delete(t);
      }
    }
  }
  return new Map([...state].map(([node, roles]) => [node, [...roles].sort()]));
}

/** The reads of one Roles in the same shape as `replay`. */
export function readState(r: Roles, scope = 'default'): Map<string, string[]> {
  return new Map(r.allNodes(scope).map((node) => [node, r.getRoles(node, scope).map((x) => JSON.stringify(x)).sort()]));
}
