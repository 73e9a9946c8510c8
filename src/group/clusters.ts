/** A cluster name: `null` is the default cluster every Group peer is in. */
export type ClusterName = string | null;

/**
 * Which nodes (self included) are in which cluster of one Group instance, with a forward index
 * (cluster → nodes) and a reverse one (node → clusters) kept in lock-step, so "who gets this
 * cluster's ops" and "forget this node everywhere" are both proportional to their answer.
 */
export class ClusterMembership {
  private readonly nodesByCluster = new Map<ClusterName, Set<string>>();
  private readonly clustersByNode = new Map<string, Set<ClusterName>>();

  /** Adding twice is harmless. */
  add(cluster: ClusterName, node: string): void {
    let nodes = this.nodesByCluster.get(cluster);
    if (nodes === undefined) this.nodesByCluster.set(cluster, (nodes = new Set()));
    nodes.add(node);
    let clusters = this.clustersByNode.get(node);
    if (clusters === undefined) this.clustersByNode.set(node, (clusters = new Set()));
    clusters.add(cluster);
  }

  /** Returns whether the node was in the cluster. */
  remove(cluster: ClusterName, node: string): boolean {
    const nodes = this.nodesByCluster.get(cluster);
    if (nodes === undefined || !nodes.delete(node)) return false;
    if (nodes.size === 0) this.nodesByCluster.delete(cluster);
    const clusters = this.clustersByNode.get(node)!;
    clusters.delete(cluster);
    if (clusters.size === 0) this.clustersByNode.delete(node);
    return true;
  }

  /** Remove a node from every cluster (it went down); returns the clusters it was in. */
  removeNode(node: string): ClusterName[] {
    const clusters = this.clustersByNode.get(node);
    if (clusters === undefined) return [];
    const out = [...clusters];
    for (const cluster of out) this.remove(cluster, node);
    return out;
  }

  has(cluster: ClusterName, node: string): boolean {
    return this.nodesByCluster.get(cluster)?.has(node) ?? false;
  }

  /** Nodes in a cluster, sorted by name. */
  nodes(cluster: ClusterName): string[] {
    const nodes = this.nodesByCluster.get(cluster);
    return nodes === undefined ? [] : [...nodes].sort();
  }

  /** Live view of the nodes of a cluster (do not mutate); for the replication hot path. */
  nodeSet(cluster: ClusterName): ReadonlySet<string> {
    return this.nodesByCluster.get(cluster) ?? EMPTY;
  }

  clustersOf(node: string): ClusterName[] {
    const clusters = this.clustersByNode.get(node);
    return clusters === undefined ? [] : [...clusters];
  }

  /** Every index agrees with the other; returns the violations (empty = consistent). */
  checkConsistency(): string[] {
    const problems: string[] = [];
    let forward = 0;
    for (const [cluster, nodes] of this.nodesByCluster) {
      if (nodes.size === 0) problems.push(`cluster ${String(cluster)} has an empty node set`);
      for (const node of nodes) {
        forward++;
        if (!this.clustersByNode.get(node)?.has(cluster)) problems.push(`${node} in ${String(cluster)} missing from the reverse index`);
      }
    }
    let reverse = 0;
    for (const [node, clusters] of this.clustersByNode) {
      if (clusters.size === 0) problems.push(`node ${node} has an empty cluster set`);
      for (const cluster of clusters) {
        reverse++;
        if (!this.nodesByCluster.get(cluster)?.has(node)) problems.push(`${node} → ${String(cluster)} missing from the forward index`);
      }
    }
    if (forward !== reverse) problems.push(`forward index has ${forward} pairs, reverse ${reverse}`);
    return problems;
  }
}

const EMPTY: ReadonlySet<string> = new Set();
