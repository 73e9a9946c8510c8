/** What a node holds, read through the public Group API, in a form two nodes can be compared on. */
import type { Group, Node } from '../../src/index.js';
import { NAMED_CLUSTERS } from './schedule.js';
import { clusterLabel, serialOf } from './model.js';

/** One row as a node's tables hold it: [key, pid, meta serial]. */
export type ViewRow = readonly [string, string, number | null];

export interface NodeView {
  readonly name: string;
  readonly incarnation: number;
  readonly meshPeers: string[];
  readonly groupPeers: string[];
  /** Named clusters this node is connected to. */
  readonly connected: string[];
  /** Named cluster → its nodes as this node sees them (only for connected clusters). */
  readonly clusterNodes: Record<string, string[]>;
  /** By cluster label (see clusterLabel), sorted. */
  readonly registry: Record<string, ViewRow[]>;
  readonly members: Record<string, ViewRow[]>;
  readonly consistency: string[];
}

export function compareRows(a: ViewRow, b: ViewRow): number {
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0;
}

export function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

export function readView(node: Node, group: Group): NodeView {
  const registry: Record<string, ViewRow[]> = {};
  const members: Record<string, ViewRow[]> = {};
  for (const cluster of [null, ...NAMED_CLUSTERS]) {
    const label = clusterLabel(cluster);
    registry[label] = group
      .registered({ cluster })
      .map((key): ViewRow => {
        const entry = group.lookup(key, { cluster })!;
        return [key, entry.pid.key, serialOf(entry.meta)];
      })
      .sort(compareRows);
    const rows: ViewRow[] = [];
    for (const key of group.groups({ cluster })) {
      for (const entry of group.members(key, { cluster })) rows.push([key, entry.pid.key, serialOf(entry.meta)]);
    }
    members[label] = rows.sort(compareRows);
  }
  const connected = NAMED_CLUSTERS.filter((c) => group.isConnected(c));
  const clusterNodes: Record<string, string[]> = {};
  for (const c of connected) clusterNodes[c] = group.nodes(c);
  return {
    name: node.name,
    incarnation: node.incarnation,
    meshPeers: node.peers().sort(),
    groupPeers: group.nodes(),
    connected,
    clusterNodes,
    registry,
    members,
    consistency: group.checkConsistency(),
  };
}

/** Whether the nodes agree: full mesh, and every cluster's members hold the same rows and member list. */
export function viewsAgree(views: readonly NodeView[]): boolean {
  const names = views.map((v) => v.name);
  for (const v of views) {
    const others = names.filter((n) => n !== v.name);
    if (!sameList(v.meshPeers, others) || !sameList(v.groupPeers, others)) return false;
  }
  for (const cluster of [null, ...NAMED_CLUSTERS]) {
    const label = clusterLabel(cluster);
    const inCluster = views.filter((v) => cluster === null || v.connected.includes(cluster));
    const ref = inCluster[0];
    for (const v of inCluster) {
      if (JSON.stringify(v.registry[label]) !== JSON.stringify(ref!.registry[label])) return false;
      if (JSON.stringify(v.members[label]) !== JSON.stringify(ref!.members[label])) return false;
      if (cluster !== null && !sameList(v.clusterNodes[cluster] ?? [], inCluster.map((p) => p.name))) return false;
    }
  }
  return true;
}
