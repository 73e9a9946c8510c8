import type { ClusterName } from './clusters.js';

/**
 * The declared state of a group (createGroup / deleteGroup): a last-writer-wins register per
 * (cluster, key), held whole by every node of the cluster, so it has no owner to lose when a node
 * dies. `exists: false` is a tombstone. Ordered by (time, node name, tombstone first): every node
 * picks the same winner from the same writes, in any order, any number of times (the merge is
 * commutative, associative and idempotent), which is what lets snapshots and ops both carry it.
 * See docs/consistency.md, "Explicit groups".
 */
export interface Declaration {
  readonly exists: boolean;
  /** Wall-clock epoch ms of the write on its node. */
  readonly time: number;
  /** The node that wrote it (the tie-break). */
  readonly node: string;
}

/** A declaration on the wire (in STATE snapshots): [key, exists, time, node]. */
export type WireDeclaration = [string, boolean, number, string];

/** Whether `a` supersedes `b` (undefined: nothing declared yet). */
export function supersedes(a: Declaration, b: Declaration | undefined): boolean {
  if (b === undefined) return true;
  if (a.time !== b.time) return a.time > b.time;
  if (a.node !== b.node) return a.node > b.node;
  // One node never writes two declarations of a key with one time (it stamps after what it
  // knows), short of a clock stepped back across a restart: then the delete wins.
  return !a.exists && b.exists;
}

export class Declarations {
  private readonly byCluster = new Map<ClusterName, Map<string, Declaration>>();
  private tombstones = 0;

  get(cluster: ClusterName, key: string): Declaration | undefined {
    return this.byCluster.get(cluster)?.get(key);
  }

  /** Whether the key is declared to exist (created and not deleted since). */
  exists(cluster: ClusterName, key: string): boolean {
    return this.byCluster.get(cluster)?.get(key)?.exists === true;
  }

  /** Store `incoming` if it supersedes what is held; returns whether it did. */
  merge(cluster: ClusterName, key: string, incoming: Declaration): boolean {
    let table = this.byCluster.get(cluster);
    const current = table?.get(key);
    if (!supersedes(incoming, current)) return false;
    if (table === undefined) this.byCluster.set(cluster, (table = new Map()));
    table.set(key, Object.freeze({ exists: incoming.exists, time: incoming.time, node: incoming.node }));
    if (current !== undefined && !current.exists) this.tombstones--;
    if (!incoming.exists) this.tombstones++;
    return true;
  }

  /** Keys declared to exist, starting with `prefix`, sorted. */
  declaredKeys(cluster: ClusterName, prefix: string): string[] {
    const table = this.byCluster.get(cluster);
    if (table === undefined) return [];
    const out: string[] = [];
    for (const [key, d] of table) if (d.exists && key.startsWith(prefix)) out.push(key);
    return out.sort(compare);
  }

  /** Drop the tombstones written at or before `before`; returns how many went. */
  expire(before: number): number {
    if (this.tombstones === 0) return 0;
    let dropped = 0;
    for (const [cluster, table] of this.byCluster) {
      for (const [key, d] of table) {
        if (!d.exists && d.time <= before) {
          table.delete(key);
          dropped++;
        }
      }
      if (table.size === 0) this.byCluster.delete(cluster);
    }
    this.tombstones -= dropped;
    return dropped;
  }

  /** This node left a named cluster: it no longer sees (nor holds) that cluster's state. */
  dropCluster(cluster: ClusterName): void {
    const table = this.byCluster.get(cluster);
    if (table === undefined) return;
    for (const d of table.values()) if (!d.exists) this.tombstones--;
    this.byCluster.delete(cluster);
  }

  /** The whole table of a cluster, for a snapshot; undefined when empty (the frame stays as before). */
  toWire(cluster: ClusterName): WireDeclaration[] | undefined {
    const table = this.byCluster.get(cluster);
    if (table === undefined || table.size === 0) return undefined;
    const out: WireDeclaration[] = [];
    for (const [key, d] of table) out.push([key, d.exists, d.time, d.node]);
    return out;
  }

  size(): number {
    let n = 0;
    for (const table of this.byCluster.values()) n += table.size;
    return n;
  }

  /** Violations of the table's invariants ([] = consistent). */
  check(): string[] {
    const problems: string[] = [];
    let tombstones = 0;
    for (const [cluster, table] of this.byCluster) {
      if (table.size === 0) problems.push(`declarations: empty table kept for cluster ${String(cluster)}`);
      for (const [key, d] of table) {
        if (typeof d.exists !== 'boolean' || !Number.isFinite(d.time) || typeof d.node !== 'string' || d.node === '') {
          problems.push(`declarations: malformed entry for ${String(cluster)}/${key}`);
        }
        if (!d.exists) tombstones++;
      }
    }
    if (tombstones !== this.tombstones) problems.push(`declarations: ${tombstones} tombstones held, counter says ${this.tombstones}`);
    return problems;
  }
}

/** A snapshot entry as received, or undefined when malformed (dropped, like a malformed row). */
export function declarationFromWire(wire: unknown): { key: string; declaration: Declaration } | undefined {
  if (!Array.isArray(wire)) return undefined;
  const [key, exists, time, node] = wire as unknown[];
  if (typeof key !== 'string' || key === '' || typeof exists !== 'boolean' || typeof time !== 'number' || !Number.isFinite(time)) return undefined;
  if (typeof node !== 'string' || node === '') return undefined;
  return { key, declaration: { exists, time, node } };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
