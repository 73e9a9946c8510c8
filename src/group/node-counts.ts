/**
 * What one node owns in one cluster of a Group's tables, read through the owner index: O(rows of
 * that node), whatever the size of the rest of the cluster.
 */
import { MemberRow, type Cluster, type GroupTables } from './tables.js';

export interface OwnedCounts {
  /** Registrations. */
  registry: number;
  /** Memberships (one per process per group). */
  memberships: number;
  /** Joins: memberships weighted by their join count (equal to memberships unless joins: 'count'). */
  joins: number;
  /** Distinct keys with at least one of the node's members. */
  groups: number;
}

export function countOwned(tables: GroupTables, cluster: Cluster, node: string): OwnedCounts {
  const counts: OwnedCounts = { registry: 0, memberships: 0, joins: 0, groups: 0 };
  const keys = new Set<string>();
  tables.forEachOwnedRow(node, (row) => {
    if (row.cluster !== cluster) return;
    if (row instanceof MemberRow) {
      counts.memberships++;
      counts.joins += row.count;
      keys.add(row.key);
    } else {
      counts.registry++;
    }
  });
  counts.groups = keys.size;
  return counts;
}

/** Keys of `cluster` starting with `prefix` in which `node` has members, in key order. */
export function ownedGroupKeys(tables: GroupTables, cluster: Cluster, node: string, prefix: string): string[] {
  const keys = new Set<string>();
  tables.forEachOwnedRow(node, (row) => {
    if (row instanceof MemberRow && row.cluster === cluster && row.key.startsWith(prefix)) keys.add(row.key);
  });
  // Default sort: UTF-16 code unit order, the tables' key order.
  return [...keys].sort();
}
