import type { Pid } from '../process/pid.js';
import type { ClusterName } from './clusters.js';
import { NEWEST_FIRST, preferred, type TimeOrder } from './conflict-strategies.js';
import type { RowData } from './replicator.js';

/**
 * Registrations this node has heard of but does not show, because another registration of the
 * same key is kept ("shadowed" rows). They exist only while two registrations of one key are
 * alive at once (a conflict not yet resolved by the owners, typically across an asymmetric
 * partition: a and b cannot see each other, c sees both).
 *
 * Why keep them: only the owners of the two registrations resolve the conflict, and a third node
 * is never told again about the one it set aside. If the one it kept then goes away (its process
 * exits, it is unregistered, its node dies) before the owners meet, the other is still
 * registered everywhere else, and without this record the third node would lack it for ever:
 * every sequence number matches, so anti-entropy sees nothing wrong.
 *
 * Invariant (checked): a key has shadows only while the tables hold a row for it, never one of
 * the same pid, and every shadow is owned by another node (owners never shadow their own rows).
 */
export class Shadows {
  private readonly byCluster = new Map<ClusterName, Map<string, RowData[]>>();
  /** The conflict strategy's time order (keepOldest reverses it). */
  private readonly order: TimeOrder;

  constructor(order: TimeOrder = NEWEST_FIRST) {
    this.order = order;
  }

  isEmpty(): boolean {
    return this.byCluster.size === 0;
  }

  /** Set a registration aside (replacing an earlier copy of the same pid's). */
  add(row: RowData): void {
    let keys = this.byCluster.get(row.cluster);
    if (keys === undefined) this.byCluster.set(row.cluster, (keys = new Map()));
    const rows = keys.get(row.key);
    // Field by field: a stored Row keeps key, cluster and time in getters.
    const copy: RowData = { cluster: row.cluster, key: row.key, pid: row.pid, meta: row.meta, time: row.time };
    if (rows === undefined) keys.set(row.key, [copy]);
    else {
      const at = rows.findIndex((r) => r.pid.equals(row.pid));
      if (at >= 0) rows[at] = copy;
      else rows.push(copy);
    }
  }

  /** Forget the shadow of `pid` under `key` (its owner unregistered it); true if there was one. */
  remove(cluster: ClusterName, key: string, pid: Pid): boolean {
    const keys = this.byCluster.get(cluster);
    const rows = keys?.get(key);
    if (rows === undefined) return false;
    const at = rows.findIndex((r) => r.pid.equals(pid));
    if (at < 0) return false;
    rows.splice(at, 1);
    if (rows.length === 0) this.dropKey(cluster, key);
    return true;
  }

  /** Forget every shadow in `cluster` of the pids `ids` of `node`'s `incarnation` (they exited): a scan, but shadows exist only during conflicts. */
  removeIds(cluster: ClusterName, node: string, incarnation: number, ids: readonly number[]): void {
    const keys = this.byCluster.get(cluster);
    if (keys === undefined) return;
    const dead = new Set(ids);
    for (const [key, rows] of keys) {
      const kept = rows.filter((r) => !(r.pid.node === node && r.pid.incarnation === incarnation && dead.has(r.pid.id)));
      if (kept.length === rows.length) continue;
      if (kept.length === 0) this.dropKey(cluster, key);
      else keys.set(key, kept);
    }
  }

  /** Forget every shadow owned by `node` (in one cluster, or all): it went down, left or resyncs. */
  removeOwnedBy(node: string, cluster?: ClusterName): void {
    for (const [c, keys] of this.byCluster) {
      if (cluster !== undefined && c !== cluster) continue;
      for (const [key, rows] of keys) {
        const kept = rows.filter((r) => r.pid.node !== node);
        if (kept.length === rows.length) continue;
        if (kept.length === 0) this.dropKey(c, key);
        else keys.set(key, kept);
      }
    }
  }

  /** Forget every shadow of a cluster (this node left it). */
  removeCluster(cluster: ClusterName): void {
    this.byCluster.delete(cluster);
  }

  /**
   * The key lost its shown row: take out the registration to show instead, the one a third node
   * would have kept had it heard only of the shadows (latest time in the strategy's order, ties by
   * pid order).
   */
  takeBest(cluster: ClusterName, key: string): RowData | undefined {
    const rows = this.byCluster.get(cluster)?.get(key);
    if (rows === undefined) return undefined;
    let best = 0;
    for (let i = 1; i < rows.length; i++) if (preferred(this.order, rows[i]!, rows[best]!)) best = i;
    const [row] = rows.splice(best, 1);
    if (rows.length === 0) this.dropKey(cluster, key);
    return row;
  }

  clear(): void {
    this.byCluster.clear();
  }

  /** Problems with the invariant above, given the shown row of a key ([] = none). */
  check(shown: (cluster: ClusterName, key: string) => Pid | undefined, self: string): string[] {
    const problems: string[] = [];
    for (const [cluster, keys] of this.byCluster) {
      for (const [key, rows] of keys) {
        const at = `shadow ${cluster ?? '(default)'}/${key}`;
        const pid = shown(cluster, key);
        if (pid === undefined) problems.push(`${at}: no row shown for the key`);
        for (const r of rows) {
          if (pid !== undefined && r.pid.equals(pid)) problems.push(`${at}: shadows the shown pid ${pid.key}`);
          if (r.pid.node === self) problems.push(`${at}: a local pid ${r.pid.key} is shadowed`);
        }
      }
    }
    return problems;
  }

  private dropKey(cluster: ClusterName, key: string): void {
    const keys = this.byCluster.get(cluster);
    keys?.delete(key);
    if (keys?.size === 0) this.byCluster.delete(cluster);
  }
}
