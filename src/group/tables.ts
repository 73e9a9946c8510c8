/**
 * The in-memory tables of ONE Group instance: the registry (at most one row per (cluster, key))
 * and the process groups (at most one membership row per (cluster, key, pid)), with the indexes
 * the replication engine needs. A pure data structure: no events, no network, no processes; every
 * method is synchronous and returns plain values. The reference keeps four ETS tables per shard
 * (reg_by_key, reg_by_pid, pg_by_key, pg_by_pid, group-durable-semantics.md §2.1); here one instance
 * holds every shard's rows, so the engine shards its writes, not its data.
 *
 * Indexes, kept in lock-step by one add and one remove function per table (syn's
 * add_to_local_table shape: `addRegistryRow`/`removeRegistryRow`, `addMemberRow`/`removeMemberRows`):
 * - per cluster, `registry: Map<key, RegistryRow>`: O(1) lookup, uniqueness;
 * - per cluster, `groups: Map<key, MemberRow | MemberRow[]>`: a lone member is stored as the row
 *   itself (measured: an array costs 56 more bytes, +17% for one-member groups); two or more are an
 *   array sorted by Pid order, which members() hands out without copying (valid until the next
 *   write), and in which one owner node's members are a contiguous run;
 * - per cluster, `keys`: a B+ tree of the keys that have a registry row or members (one index for
 *   both tables), so a prefix query costs O(log n + k); built by the first prefix query or key
 *   listing of the cluster (O(n log n) once), kept in step from then on;
 * - `byOwner: Map<node, OwnerPids>`: the by-pid index nested under the owner node (by pid id, see
 *   OwnerPids), so
 *   one hash entry per pid serves both process-death cleanup and node purges, and a purge costs
 *   O(rows of that node), not a scan. A pid with one row stores the row itself (no container).
 *
 * Orders (all deterministic, independent of insertion history):
 * - keys: JavaScript string order (UTF-16 code units). It differs from the reference's UTF-8 byte
 *   order only between astral characters and U+E000..U+FFFF; the set of keys a prefix selects is
 *   the same in both orders.
 * - members of one key: `Pid.compare` (node name, then incarnation, then id).
 * - rows returned by rowsOfPid / removePids (per pid) / purges ("canonical order"): cluster (null first, then
 *   string order), key, registry row before memberships, then Pid order.
 *
 * Rows are immutable: an update replaces the row (the previous one is returned to the caller, who
 * needs its meta for the `previousMeta` of events). New rows reuse the cluster name, the key (of an
 * existing group or registration) and the Pid instance already stored, so replicated copies of
 * them cost nothing.
 *
 * Measured on Node 20 (100k rows, meta `{name: 'u123', n: 123}`, keys `user/123`, Pids allocated
 * elsewhere): ~214 B per registration (of which the meta ~64 B, the key ~32 B, the registry Map
 * entry ~37 B, the row with its boxed `time`, and the owner index slot) and ~157 B per membership
 * in groups of 100 (the key and its Map entry are per group); the key index adds ~23 B per key
 * once built.
 */
import { createRequire } from 'node:module';
import type btree from 'sorted-btree';
import { IdTable } from '../process/id-table.js';
import { Pid } from '../process/pid.js';

// sorted-btree is CommonJS: Node's ESM loader (and tsx) and vitest disagree on what its default
// import is. require() has one meaning everywhere, and TypeScript types it exactly.
const requireCjs = createRequire(import.meta.url);
const { bulkLoad } = requireCjs('sorted-btree/extended/bulkLoad.js') as typeof import('sorted-btree/extended/bulkLoad.js');
/** sorted-btree's default node size (bulkLoad needs it spelled out). */
const KEY_INDEX_NODE_SIZE = 32;
type KeyIndex = btree.default<string, undefined>;

/** A cluster name; `null` is the default cluster every Group peer is in ('' is a named cluster). */
export type Cluster = string | null;

/**
 * The fields every row has. A row is also what lookup() and members() hand out as an entry, so its
 * only own enumerable fields are the entry's, `pid` and `meta` (an entry equals `{pid, meta}` for
 * deep-equality and JSON), and it is frozen so that no caller can corrupt a table through it. The
 * other fields are private, read through prototype getters. Rows of the default cluster (most
 * rows) have no cluster slot at all: four slots, 8 B less per row; named-cluster rows are the
 * Named* subclasses. Make rows with `registryRow()` / `memberRow()`.
 */
abstract class RowFields {
  readonly pid: Pid;
  readonly meta: unknown;
  readonly #key: string;
  readonly #time: number;

  constructor(key: string, pid: Pid, meta: unknown, time: number) {
    this.pid = pid;
    this.meta = meta;
    this.#key = key;
    this.#time = time;
  }

  get cluster(): Cluster {
    return null;
  }

  get key(): string {
    return this.#key;
  }

  /** The writer's wall clock (epoch ms). */
  get time(): number {
    return this.#time;
  }

  /** The owner node: the only node allowed to write this row. */
  get node(): string {
    return this.pid.node;
  }
}

/** A registry row: `key` names `pid` in `cluster`. */
export class RegistryRow extends RowFields {
  constructor(key: string, pid: Pid, meta: unknown, time: number) {
    super(key, pid, meta, time);
    if (new.target === RegistryRow) Object.freeze(this);
  }

  /** Discriminant for `Row`. */
  get kind(): 'registry' {
    return 'registry';
  }
}

class NamedRegistryRow extends RegistryRow {
  readonly #cluster: string;

  constructor(cluster: string, key: string, pid: Pid, meta: unknown, time: number) {
    super(key, pid, meta, time);
    this.#cluster = cluster;
    Object.freeze(this);
  }

  override get cluster(): Cluster {
    return this.#cluster;
  }
}

/** A membership row: `pid` is a member of group `key` in `cluster`. */
export class MemberRow extends RowFields {
  constructor(key: string, pid: Pid, meta: unknown, time: number) {
    super(key, pid, meta, time);
    if (new.target === MemberRow) Object.freeze(this);
  }

  get kind(): 'member' {
    return 'member';
  }

  /** The topics subscribed to (sorted, distinct, frozen), or undefined: every message. */
  get topics(): readonly string[] | undefined {
    return undefined;
  }

  /** How many times the process joined (Group option `joins: 'count'`); 1 otherwise. */
  get count(): number {
    return 1;
  }
}

class NamedMemberRow extends MemberRow {
  readonly #cluster: string;

  constructor(cluster: string, key: string, pid: Pid, meta: unknown, time: number) {
    super(key, pid, meta, time);
    this.#cluster = cluster;
    Object.freeze(this);
  }

  override get cluster(): Cluster {
    return this.#cluster;
  }
}

/**
 * A membership with topics or a join count above 1: only callers that use those features pay
 * for the two extra slots (and the cluster slot, default cluster or not).
 */
class ExtendedMemberRow extends MemberRow {
  readonly #cluster: Cluster;
  readonly #topics: readonly string[] | undefined;
  readonly #count: number;

  constructor(cluster: Cluster, key: string, pid: Pid, meta: unknown, time: number, topics: readonly string[] | undefined, count: number) {
    super(key, pid, meta, time);
    this.#cluster = cluster;
    this.#topics = topics;
    this.#count = count;
    Object.freeze(this);
  }

  override get cluster(): Cluster {
    return this.#cluster;
  }

  override get topics(): readonly string[] | undefined {
    return this.#topics;
  }

  override get count(): number {
    return this.#count;
  }
}

export function registryRow(cluster: Cluster, key: string, pid: Pid, meta: unknown, time: number): RegistryRow {
  return cluster === null ? new RegistryRow(key, pid, meta, time) : new NamedRegistryRow(cluster, key, pid, meta, time);
}

export function memberRow(cluster: Cluster, key: string, pid: Pid, meta: unknown, time: number, topics?: readonly string[], count = 1): MemberRow {
  if (topics !== undefined || count !== 1) return new ExtendedMemberRow(cluster, key, pid, meta, time, topics, count);
  return cluster === null ? new MemberRow(key, pid, meta, time) : new NamedMemberRow(cluster, key, pid, meta, time);
}

export type Row = RegistryRow | MemberRow;

/** The rows one node owns in one cluster, each list in key order then Pid order. */
export interface OwnedSnapshot {
  registry: RegistryRow[];
  members: MemberRow[];
}

/**
 * All rows of one pid: the row itself (the common case, no container), a small array, or a Set
 * once the pid has many rows so that leaving one of a thousand groups stays O(1).
 */
type PidRows = Row | Row[] | Set<Row>;
const PID_ROWS_ARRAY_MAX = 16;

/** The members of one key: the lone row, or two or more rows sorted by Pid order. */
type Members = MemberRow | MemberRow[];


/** The tables of one cluster. */
class ClusterTable {
  readonly cluster: Cluster;
  // Not readonly: a node purge that removes most rows builds them anew (see rebuildWithout).
  registry = new Map<string, RegistryRow>();
  /** Arrays hold 2+ rows; once handed out by members() the next write replaces them by a copy. */
  groups = new Map<string, Members>();
  /**
   * The sorted key index, built by the first prefix query or key listing (`keyIndex()`) and kept
   * in step from then on: a table that is never listed pays neither its memory (~13 B per key)
   * nor its inserts (~6% of a write).
   */
  keys: KeyIndex | undefined = undefined;
  memberCount = 0;

  constructor(cluster: Cluster) {
    this.cluster = cluster;
  }

  keyIndex(): KeyIndex {
    if (this.keys === undefined) {
      const keys = [...this.registry.keys()];
      for (const key of this.groups.keys()) if (!this.registry.has(key)) keys.push(key);
      keys.sort(compareStrings);
      this.keys = bulkLoad(keys, new Array<undefined>(keys.length), KEY_INDEX_NODE_SIZE, compareStrings);
    }
    return this.keys;
  }

  isEmpty(): boolean {
    return this.registry.size === 0 && this.groups.size === 0;
  }
}

export class GroupTables {
  /** The default cluster's table is permanent: lookups in it skip a Map probe. */
  private readonly defaultTable = new ClusterTable(null);
  /** Named clusters with at least one row. */
  private readonly namedTables = new Map<string, ClusterTable>();
  private readonly byOwner = new Map<string, OwnerPids>();

  // ---- registry -------------------------------------------------------------------------------

  /** The registry row of `key` in `cluster`, or undefined. The hot read path: two Map probes at most. */
  lookup(cluster: Cluster, key: string): RegistryRow | undefined {
    const table = cluster === null ? this.defaultTable : this.namedTables.get(cluster);
    return table === undefined ? undefined : table.registry.get(key);
  }

  /**
   * Insert or replace the registry row of (cluster, key), whatever pid held it. Returns the
   * previous row (undefined if none). Deciding whether the write is allowed (taken, conflicts,
   * newer timestamps) is the engine's job.
   */
  register(cluster: Cluster, key: string, pid: Pid, meta: unknown, time: number): RegistryRow | undefined {
    checkWrite(cluster, key, pid, time);
    const table = this.tableForWrite(cluster);
    const previous = table.registry.get(key);
    this.addRegistryRow(table, previous === undefined ? key : previous.key, pid, meta, time, previous);
    return previous;
  }

  /**
   * Remove the registry row of (cluster, key) and return it. With `pid`, only if that pid holds
   * it (the reference's replicate_unregister rule); otherwise nothing changes and undefined is
   * returned.
   */
  unregister(cluster: Cluster, key: string, pid?: Pid): RegistryRow | undefined {
    const table = this.tableForRead(cluster);
    const row = table?.registry.get(key);
    if (table === undefined || row === undefined) return undefined;
    if (pid !== undefined && !row.pid.equals(pid)) return undefined;
    this.removeRegistryRow(table, row);
    return row;
  }

  /** Registry rows whose key starts with `prefix`, in key order. */
  registryByPrefix(cluster: Cluster, prefix: string): RegistryRow[] {
    const out: RegistryRow[] = [];
    const table = this.tableForRead(cluster);
    if (table === undefined) return out;
    forKeysWithPrefix(table.keyIndex(), prefix, (key) => {
      const row = table.registry.get(key);
      if (row !== undefined) out.push(row);
    });
    return out;
  }

  /** Registered keys (optionally only those starting with `prefix`), in key order. */
  registeredKeys(cluster: Cluster, prefix = ''): string[] {
    const out: string[] = [];
    const table = this.tableForRead(cluster);
    if (table === undefined) return out;
    forKeysWithPrefix(table.keyIndex(), prefix, (key) => {
      if (table.registry.has(key)) out.push(key);
    });
    return out;
  }

  registryCount(cluster: Cluster): number {
    return this.tableForRead(cluster)?.registry.size ?? 0;
  }

  /** Registry rows of `cluster` owned by `node`: O(rows of that node). */
  localRegistryCount(cluster: Cluster, node: string): number {
    let count = 0;
    this.forEachOwnedRow(node, (row) => {
      if (row.cluster === cluster && row instanceof RegistryRow) count++;
    });
    return count;
  }

  /**
   * Registry rows under `prefix` (owned by `node` when given), for tenant views: O(log n + keys
   * under the prefix) over the key index, so no write path keeps a per-prefix counter.
   */
  registryCountByPrefix(cluster: Cluster, prefix: string, node?: string): number {
    const table = this.tableForRead(cluster);
    if (table === undefined) return 0;
    let count = 0;
    forKeysWithPrefix(table.keyIndex(), prefix, (key) => {
      const row = table.registry.get(key);
      if (row !== undefined && (node === undefined || row.pid.node === node)) count++;
    });
    return count;
  }

  /**
   * Memberships (joins, in count mode) of every key under `prefix`, of `node`'s processes when
   * given (tenant views): O(log n + keys under the prefix).
   */
  memberCountByPrefix(cluster: Cluster, prefix: string, node?: string): number {
    const table = this.tableForRead(cluster);
    if (table === undefined) return 0;
    let count = 0;
    forKeysWithPrefix(table.keyIndex(), prefix, (key) => {
      const members = table.groups.get(key);
      if (members === undefined) return;
      for (const row of members instanceof MemberRow ? [members] : members) if (node === undefined || row.pid.node === node) count += row.count;
    });
    return count;
  }

  // ---- process groups -------------------------------------------------------------------------

  /**
   * Insert or replace the membership of `pid` in (cluster, key). Returns the previous row of that
   * pid. `topics` (undefined: every message) and `count` (joins, default 1) are stored as given.
   */
  join(cluster: Cluster, key: string, pid: Pid, meta: unknown, time: number, topics?: readonly string[], count?: number): MemberRow | undefined {
    checkWrite(cluster, key, pid, time);
    const table = this.tableForWrite(cluster);
    return this.addMemberRow(table, key, pid, meta, time, topics, count);
  }

  /** Remove the membership of `pid` in (cluster, key) and return it (undefined if not a member). */
  leave(cluster: Cluster, key: string, pid: Pid): MemberRow | undefined {
    const table = this.tableForRead(cluster);
    const members = table?.groups.get(key);
    const row = members === undefined ? undefined : findMember(members, pid);
    if (row !== undefined) this.removeMemberRows(table!, key, row);
    return row;
  }

  /** The membership of `pid` in (cluster, key), or undefined: O(log members). */
  member(cluster: Cluster, key: string, pid: Pid): MemberRow | undefined {
    const members = this.tableForRead(cluster)?.groups.get(key);
    return members === undefined ? undefined : findMember(members, pid);
  }

  /**
   * The members of (cluster, key) in Pid order (node name, incarnation, id), so each node's
   * members form one contiguous run. O(1): for two or more members this is the stored array
   * itself, valid until the next write to the tables (writes change it in place); for a lone
   * member a new one-element array. Read it at once or copy it; never mutate it. (Group copies it
   * for its callers: an array it handed out stays theirs.)
   */
  members(cluster: Cluster, key: string): readonly MemberRow[] {
    const table = cluster === null ? this.defaultTable : this.namedTables.get(cluster);
    const members = table === undefined ? undefined : table.groups.get(key);
    // Fresh small arrays, not a shared frozen one: callers iterate one elements kind (monomorphic).
    if (members === undefined) return [];
    return members instanceof MemberRow ? [members] : members;
  }

  /** Members of (cluster, key) whose pid lives on `node`, in Pid order: O(log members + result). */
  membersOnNode(cluster: Cluster, key: string, node: string): MemberRow[] {
    const members = this.tableForRead(cluster)?.groups.get(key);
    if (members === undefined) return [];
    if (members instanceof MemberRow) return members.pid.node === node ? [members] : [];
    const [start, end] = nodeRun(members, node);
    return members.slice(start, end);
  }

  /** Memberships of every key starting with `prefix`: key order, then Pid order within a key. */
  membersByPrefix(cluster: Cluster, prefix: string): MemberRow[] {
    const out: MemberRow[] = [];
    const table = this.tableForRead(cluster);
    if (table === undefined) return out;
    forKeysWithPrefix(table.keyIndex(), prefix, (key) => {
      const members = table.groups.get(key);
      if (members instanceof MemberRow) out.push(members);
      else if (members !== undefined) for (let i = 0; i < members.length; i++) out.push(members[i]!);
    });
    return out;
  }

  /** Keys that have members (optionally only those starting with `prefix`), in key order. */
  groups(cluster: Cluster, prefix = ''): string[] {
    const out: string[] = [];
    const table = this.tableForRead(cluster);
    if (table === undefined) return out;
    forKeysWithPrefix(table.keyIndex(), prefix, (key) => {
      if (table.groups.has(key)) out.push(key);
    });
    return out;
  }

  /** Keys of `cluster` that have members: O(1). */
  groupCount(cluster: Cluster): number {
    return this.tableForRead(cluster)?.groups.size ?? 0;
  }

  /** Memberships in `cluster`, or of one key when `key` is given. */
  memberCount(cluster: Cluster, key?: string): number {
    const table = this.tableForRead(cluster);
    if (table === undefined) return 0;
    if (key === undefined) return table.memberCount;
    const members = table.groups.get(key);
    return members === undefined ? 0 : members instanceof MemberRow ? 1 : members.length;
  }

  /** Members of (cluster, key) owned by `node`: O(log members), thanks to the Pid order. */
  localMemberCount(cluster: Cluster, key: string, node: string): number {
    const members = this.tableForRead(cluster)?.groups.get(key);
    if (members === undefined) return 0;
    if (members instanceof MemberRow) return members.pid.node === node ? 1 : 0;
    const [start, end] = nodeRun(members, node);
    return end - start;
  }

  // ---- by pid, by owner node ------------------------------------------------------------------

  /** Every row of `pid` (registry and memberships, every cluster), in canonical order. */
  rowsOfPid(pid: Pid): Row[] {
    return rowsOfEntry(this.byOwner.get(pid.node)?.get(pid), undefined);
  }

  /** Whether `pid` has any row (no allocation: the process-exit path asks this of every exit). */
  hasPid(pid: Pid): boolean {
    return this.byOwner.get(pid.node)?.get(pid) !== undefined;
  }

  /**
   * Remove every row of each of `pids` (processes that died together), or only those of
   * `cluster` when given; returns each pid's removed rows in canonical order, in the order of
   * `pids`. The memberships of one group go in one pass: 10,000 members of 100 groups leaving
   * one by one spliced each array 100 times.
   */
  removePids(pids: readonly Pid[], cluster?: Cluster): Row[][] {
    const perPid = this.rowsOfPids(pids, cluster);
    this.removeRowsOfPids(perPid);
    return perPid;
  }

  /**
   * `removePids` for the pids `ids` of `node`'s incarnation `incarnation` (a peer's EXIT op names
   * its own dead processes by id: no Pid is decoded or hashed for them). `ids` must be distinct.
   */
  removeIds(node: string, incarnation: number, ids: readonly number[], cluster?: Cluster): Row[][] {
    const owner = this.byOwner.get(node);
    const perPid = ids.map((id) => rowsOfEntry(owner?.getId(node, incarnation, id), cluster));
    this.removeRowsOfPids(perPid);
    return perPid;
  }

  /** The rows of each of `pids` (only those of `cluster` when given), in canonical order. */
  rowsOfPids(pids: readonly Pid[], cluster?: Cluster): Row[][] {
    return pids.map((pid) => rowsOfEntry(this.byOwner.get(pid.node)?.get(pid), cluster));
  }

  /** Remove the rows `rowsOfPids` returned (the second half of `removePids`). */
  removeRowsOfPids(perPid: readonly (readonly Row[])[]): void {
    // Not perPid.flat(): V8's flat took 2 µs per pid (measured with 100k pids).
    const whole: Row[] = [];
    let partial: Row[] | undefined;
    for (const rows of perPid) {
      if (rows.length === 0) continue;
      // A pid losing all its rows leaves the owner index in one step, not one row at a time.
      const pid = rows[0]!.pid;
      const owner = this.byOwner.get(pid.node)!;
      const entry = owner.get(pid)!;
      if (entryLength(entry) === rows.length) {
        owner.delete(pid);
        if (owner.size === 0) this.byOwner.delete(pid.node);
        for (const row of rows) whole.push(row);
      } else {
        partial ??= [];
        for (const row of rows) partial.push(row);
      }
    }
    this.removeRows(whole, false, undefined);
    if (partial !== undefined) this.removeRows(partial, true, undefined);
  }

  /**
   * Remove every row owned by `node` (a node name: every incarnation, like the reference's node
   * atom), in every cluster (node down); returned in canonical order.
   */
  purgeNode(node: string): Row[] {
    return this.removeOwned(node, undefined);
  }

  /** Remove the rows of `cluster` owned by `node` (cluster disconnect); returned in owner index order. */
  purgeClusterOwnedBy(cluster: Cluster, node: string): Row[] {
    return this.removeOwned(node, cluster);
  }

  /** The rows of `cluster` owned by `node` (the peer-sync snapshot), in key then Pid order. */
  snapshotOwned(cluster: Cluster, node: string): OwnedSnapshot {
    const rows = this.ownedRows(node, cluster);
    const snapshot: OwnedSnapshot = { registry: [], members: [] };
    for (const row of rows) {
      if (row instanceof RegistryRow) snapshot.registry.push(row);
      else snapshot.members.push(row);
    }
    return snapshot;
  }

  /** Registrations and memberships owned by `node`, per cluster: one pass over its rows (the dashboard's counts). */
  countOwned(node: string): Map<Cluster, { registry: number; members: number }> {
    const counts = new Map<Cluster, { registry: number; members: number }>();
    this.forEachOwnedRow(node, (row) => {
      let c = counts.get(row.cluster);
      if (c === undefined) counts.set(row.cluster, (c = { registry: 0, members: 0 }));
      if (row instanceof RegistryRow) c.registry++;
      else c.members++;
    });
    return counts;
  }

  /** Owner nodes that have at least one row, in string order. */
  ownerNodes(): string[] {
    return [...this.byOwner.keys()].sort(compareStrings);
  }

  /** Clusters that have at least one row (null first when it has rows, then string order). */
  clusters(): Cluster[] {
    const out: Cluster[] = this.defaultTable.isEmpty() ? [] : [null];
    return out.concat([...this.namedTables.keys()].sort(compareStrings));
  }

  clear(): void {
    this.defaultTable.registry.clear();
    this.defaultTable.groups.clear();
    this.defaultTable.keys = undefined;
    this.defaultTable.memberCount = 0;
    this.namedTables.clear();
    this.byOwner.clear();
  }

  // ---- the one add / one remove function of each table ----------------------------------------

  /** Insert (previous undefined) or replace `previous`, the current row of `key`. */
  private addRegistryRow(
    table: ClusterTable,
    key: string,
    pid: Pid,
    meta: unknown,
    time: number,
    previous: RegistryRow | undefined,
  ): RegistryRow {
    const row = registryRow(table.cluster, key, this.canonicalPid(pid), meta, time);
    this.attachOwned(row, previous);
    table.registry.set(key, row);
    // The key index, once built, holds keys with a registration or members: no probe without it.
    if (table.keys !== undefined && previous === undefined && !table.groups.has(key)) table.keys.set(key, undefined);
    return row;
  }

  private removeRegistryRow(table: ClusterTable, row: RegistryRow, detach = true): void {
    table.registry.delete(row.key);
    if (table.keys !== undefined && !table.groups.has(row.key)) table.keys.delete(row.key);
    if (detach) this.detachOwned(row);
    this.dropIfEmpty(table);
  }

  /** Insert or replace the membership of `pid` in `key`; returns the replaced row. */
  private addMemberRow(table: ClusterTable, key: string, pid: Pid, meta: unknown, time: number, topics?: readonly string[], count?: number): MemberRow | undefined {
    const members = table.groups.get(key);
    let index = -1;
    let previous: MemberRow | undefined;
    if (members instanceof MemberRow) {
      const order = members.pid.compare(pid);
      if (order === 0) previous = members;
      else index = order < 0 ? ~1 : ~0;
    } else if (members !== undefined) {
      index = searchPid(members, pid);
      if (index >= 0) previous = members[index];
    }
    const storedKey = members === undefined ? key : members instanceof MemberRow ? members.key : members[0]!.key;
    const row = memberRow(table.cluster, storedKey, this.canonicalPid(pid), meta, time, topics, count);
    this.attachOwned(row, previous);
    if (members === undefined) {
      table.groups.set(key, row);
      if (table.keys !== undefined && !table.registry.has(key)) table.keys.set(key, undefined);
    } else if (members instanceof MemberRow) {
      table.groups.set(key, previous !== undefined ? row : index === ~0 ? [row, members] : [members, row]);
    } else if (index < 0) {
      const rows = withMember(members, ~index, row);
      if (rows !== members) table.groups.set(key, rows);
    } else {
      members[index] = row;
    }
    if (previous === undefined) table.memberCount++;
    return previous;
  }

  /**
   * Remove `doomed` (one stored row, or a list of distinct stored rows, of group `key`). A list is
   * taken out in one merge pass over the Pid-sorted array, so purging a node with many members of
   * a large group does not splice the array once per row.
   */
  private removeMemberRows(table: ClusterTable, key: string, doomed: MemberRow | MemberRow[], detach = true): void {
    const members = table.groups.get(key)!;
    let kept: MemberRow[] | undefined;
    if (members instanceof MemberRow) {
      table.memberCount--;
    } else {
      const before = members.length;
      if (doomed instanceof MemberRow) {
        kept = members;
        kept.splice(searchPid(members, doomed.pid), 1);
      } else {
        kept = withoutSorted(members, doomed);
      }
      table.memberCount -= before - kept.length;
    }
    if (kept === undefined || kept.length === 0) {
      table.groups.delete(key);
      if (table.keys !== undefined && !table.registry.has(key)) table.keys.delete(key);
    } else if (kept.length === 1) {
      table.groups.set(key, kept[0]!);
    } else if (kept !== members) {
      table.groups.set(key, kept);
    }
    if (!detach) {
      // The caller drops the whole owner entry at once.
    } else if (doomed instanceof MemberRow) this.detachOwned(doomed);
    else for (const row of doomed) this.detachOwned(row);
    this.dropIfEmpty(table);
  }

  // ---- helpers --------------------------------------------------------------------------------

  /**
   * Remove the rows owned by `node` (of one cluster, or all when `cluster` is undefined), in owner
   * index order. No sort: a node-down purge of 200k rows spent a third of its time sorting
   * (measured), and the memberships of one group only need gathering, so a Map does it in O(n).
   */
  private removeOwned(node: string, cluster: Cluster | undefined): Row[] {
    const removed: Row[] = [];
    // Rows of the default cluster (most of them) are counted without a Map update per row.
    let inDefault = 0;
    const perCluster = new Map<Cluster, number>();
    this.forEachOwnedRow(node, (row) => {
      const rowCluster = row.cluster;
      if (cluster !== undefined && rowCluster !== cluster) return;
      removed.push(row);
      if (rowCluster === null) inDefault++;
      else perCluster.set(rowCluster, (perCluster.get(rowCluster) ?? 0) + 1);
    });
    if (inDefault > 0) perCluster.set(null, inDefault);
    // A whole node goes: its owner entry is dropped in one step instead of row by row, and a
    // table losing most of its rows is built anew from the rest (measured: deleting 200k of 201k
    // rows one by one took 150-350 ms, mostly B+ tree and Map deletes).
    const whole = cluster === undefined;
    const rebuilt = new Set<Cluster>();
    if (whole) {
      this.byOwner.delete(node);
      for (const [rowCluster, count] of perCluster) {
        const table = this.tableForRead(rowCluster)!;
        if (2 * count < table.registry.size + table.memberCount) continue;
        rebuildWithout(table, node);
        rebuilt.add(rowCluster);
        this.dropIfEmpty(table);
      }
      if (rebuilt.size === perCluster.size) return removed;
    }
    this.removeRows(removed, !whole, rebuilt);
    return removed;
  }

  /**
   * Remove `rows` (distinct, stored), except those of the `skip` clusters: registrations one by
   * one, the memberships of each group gathered and filtered out in one pass (a lone one spliced).
   * `detach` false: the caller drops the owner entries itself.
   */
  private removeRows(rows: readonly Row[], detach: boolean, skip: ReadonlySet<Cluster> | undefined): void {
    // Lists, not Sets: a Set of rows hashes each (frozen) row object, ~1 µs a row (measured).
    const doomedMembers = new Map<ClusterTable, Map<string, MemberRow[]>>();
    for (const row of rows) {
      if (skip?.has(row.cluster) === true) continue;
      const table = this.tableForRead(row.cluster)!;
      if (row instanceof RegistryRow) {
        this.removeRegistryRow(table, row, detach);
        continue;
      }
      let byKey = doomedMembers.get(table);
      if (byKey === undefined) doomedMembers.set(table, (byKey = new Map()));
      const doomed = byKey.get(row.key);
      if (doomed === undefined) byKey.set(row.key, [row]);
      else doomed.push(row);
    }
    for (const [table, byKey] of doomedMembers) {
      for (const [key, doomed] of byKey) this.removeMemberRows(table, key, doomed.length === 1 ? doomed[0]! : doomed, detach);
    }
  }

  /** Rows owned by `node` (of one cluster, or all when `cluster` is undefined), canonical order. */
  private ownedRows(node: string, cluster: Cluster | undefined): Row[] {
    const out: Row[] = [];
    this.forEachOwnedRow(node, (row) => {
      if (cluster === undefined || row.cluster === cluster) out.push(row);
    });
    return out.sort(compareRows);
  }

  /** Call `fn` for every row owned by `node` (owner index order): O(rows of that node). */
  forEachOwnedRow(node: string, fn: (row: Row) => void): void {
    const pids = this.byOwner.get(node);
    if (pids === undefined) return;
    pids.forEachEntry((entry) => {
      if (entry instanceof RegistryRow || entry instanceof MemberRow) fn(entry);
      else for (const row of entry) fn(row);
    });
  }

  /** The Pid instance new rows of `pid` use: the one its stored rows already share, if any. */
  private canonicalPid(pid: Pid): Pid {
    const entry = this.byOwner.get(pid.node)?.get(pid);
    return entry === undefined ? pid : anyPidRow(entry).pid;
  }

  /** Put `row` in the owner index, in place of `previous` (the row it replaces), if any. */
  private attachOwned(row: Row, previous: Row | undefined): void {
    const pid = row.pid;
    // Same pid (rows of one pid share one Pid instance): swap in place, no entry churn.
    if (previous !== undefined && previous.pid === pid) {
      const pids = this.byOwner.get(pid.node)!;
      const entry = pids.get(pid)!;
      const next = replacePidRow(entry, previous, row);
      if (next !== entry) pids.set(pid, next);
      return;
    }
    if (previous !== undefined) this.detachOwned(previous);
    let pids = this.byOwner.get(pid.node);
    if (pids === undefined) {
      pids = new OwnerPids();
      this.byOwner.set(pid.node, pids);
    }
    const entry = pids.get(pid);
    if (entry === undefined) pids.set(pid, row);
    else {
      const next = withPidRow(entry, row);
      if (next !== entry) pids.set(pid, next);
    }
  }

  /** Take `row` out of the owner index, dropping the pid entry and node map once empty. */
  private detachOwned(row: Row): void {
    const pid = row.pid;
    const pids = this.byOwner.get(pid.node)!;
    const entry = pids.get(pid)!;
    const rest = withoutPidRow(entry, row);
    if (rest === undefined) {
      pids.delete(pid);
      if (pids.size === 0) this.byOwner.delete(pid.node);
    } else if (rest !== entry) {
      pids.set(pid, rest);
    }
  }

  private tableForRead(cluster: Cluster): ClusterTable | undefined {
    return cluster === null ? this.defaultTable : this.namedTables.get(cluster);
  }

  private tableForWrite(cluster: Cluster): ClusterTable {
    if (cluster === null) return this.defaultTable;
    let table = this.namedTables.get(cluster);
    if (table === undefined) {
      table = new ClusterTable(cluster);
      this.namedTables.set(cluster, table);
    }
    return table;
  }

  private dropIfEmpty(table: ClusterTable): void {
    if (table.cluster !== null && table.isEmpty()) this.namedTables.delete(table.cluster);
  }

  // ---- consistency ----------------------------------------------------------------------------

  /**
   * Every index agrees with every other: each row is reachable from its cluster table and from
   * the owner index exactly once, counts match, each key index holds exactly the keys that have
   * rows, member arrays are sorted and duplicate-free, and no empty container is left behind.
   * Returns human-readable violations; empty means consistent. O(rows); for tests.
   */
  checkConsistency(): string[] {
    const problems: string[] = [];
    /** Rows seen in the cluster tables, with how often the owner index reaches each. */
    const reached = new Map<Row, number>();
    const tables: ClusterTable[] = [this.defaultTable];
    for (const [name, table] of this.namedTables) {
      if (table.cluster !== name) problems.push(`cluster table under ${show(name)} is for ${show(table.cluster)}`);
      if (table.isEmpty()) problems.push(`empty cluster table left for ${show(name)}`);
      tables.push(table);
    }
    for (const table of tables) checkClusterTable(table, reached, problems);

    let ownedRows = 0;
    for (const [node, pids] of this.byOwner) {
      if (pids.size === 0) problems.push(`empty owner map left for node ${show(node)}`);
      for (const [slot, entry] of pids.slots()) {
        const rows: Row[] = [];
        pushPidRows(entry, rows);
        const pidKey = rows[0]?.pid.key ?? '(empty)';
        const where = `owner index ${show(node)}/${pidKey}`;
        if (rows.length > 0 && (typeof slot === 'number' ? rows[0]!.pid.id !== slot : rows[0]!.pid.key !== slot)) {
          problems.push(`${where}: stored under ${String(slot)}`);
        }
        if (rows.length > 0 && pids.get(rows[0]!.pid) !== entry) problems.push(`${where}: not what a lookup of its pid finds`);
        if (Array.isArray(entry) && (entry.length < 2 || entry.length > PID_ROWS_ARRAY_MAX)) {
          problems.push(`${where}: array of ${entry.length} rows (expected 2..${PID_ROWS_ARRAY_MAX})`);
        }
        if (entry instanceof Set && entry.size <= PID_ROWS_ARRAY_MAX / 2) {
          problems.push(`${where}: set of ${entry.size} rows (expected more than ${PID_ROWS_ARRAY_MAX / 2})`);
        }
        for (const row of rows) {
          ownedRows++;
          if (row.pid.node !== node || !row.pid.equals(rows[0]!.pid)) {
            problems.push(`${where}: holds ${describe(row)} of another pid`);
          }
          if (row.pid !== rows[0]!.pid) problems.push(`${where}: rows do not share one Pid instance`);
          const count = reached.get(row);
          if (count === undefined) problems.push(`${where}: ${describe(row)} is not in its cluster table`);
          else reached.set(row, count + 1);
        }
      }
    }
    for (const [row, count] of reached) {
      if (count !== 1) problems.push(`${describe(row)} reached ${count} times from the owner index (expected 1)`);
    }
    if (ownedRows !== reached.size) {
      problems.push(`owner index holds ${ownedRows} rows, cluster tables ${reached.size}`);
    }
    return problems;
  }
}

function checkClusterTable(table: ClusterTable, reached: Map<Row, number>, problems: string[]): void {
  const at = `cluster ${show(table.cluster)}`;
  let keysWithRows = 0;
  for (const [key, row] of table.registry) {
    keysWithRows++;
    if (!(row instanceof RegistryRow)) problems.push(`${at}: registry[${show(key)}] is not a RegistryRow`);
    if (row.key !== key || row.cluster !== table.cluster) problems.push(`${at}: registry[${show(key)}] holds ${describe(row)}`);
    if (table.keys !== undefined && !table.keys.has(key)) problems.push(`${at}: registered key ${show(key)} missing from the key index`);
    if (reached.has(row)) problems.push(`${at}: ${describe(row)} stored twice`);
    reached.set(row, 0);
  }
  let memberCount = 0;
  for (const [key, members] of table.groups) {
    if (!table.registry.has(key)) keysWithRows++;
    const rows = members instanceof MemberRow ? [members] : members;
    if (!(members instanceof MemberRow) && rows.length < 2) {
      problems.push(`${at}: member array of ${rows.length} rows for ${show(key)} (a lone member is stored as the row)`);
    }
    if (table.keys !== undefined && !table.keys.has(key)) problems.push(`${at}: group key ${show(key)} missing from the key index`);
    memberCount += rows.length;
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i]!;
      if (!(row instanceof MemberRow)) problems.push(`${at}: groups[${show(key)}][${i}] is not a MemberRow`);
      if (row.key !== key || row.cluster !== table.cluster) problems.push(`${at}: groups[${show(key)}] holds ${describe(row)}`);
      if (!Number.isInteger(row.count) || row.count < 1) problems.push(`${at}: ${describe(row)} has join count ${row.count}`);
      const topics = row.topics;
      if (topics !== undefined && (topics.length === 0 || topics.some((t, j) => j > 0 && topics[j - 1]! >= t))) {
        problems.push(`${at}: ${describe(row)} has topics not sorted, distinct and non-empty`);
      }
      if (i > 0 && rows[i - 1]!.pid.compare(row.pid) >= 0) {
        problems.push(`${at}: members of ${show(key)} not in strict Pid order at ${i}`);
      }
      if (reached.has(row)) problems.push(`${at}: ${describe(row)} stored twice`);
      reached.set(row, 0);
    }
  }
  if (memberCount !== table.memberCount) problems.push(`${at}: memberCount ${table.memberCount}, actual ${memberCount}`);
  if (table.keys !== undefined) checkKeyIndex(table.keys, table, keysWithRows, at, problems);
}

// ---- pure helpers -----------------------------------------------------------------------------

function checkWrite(cluster: Cluster, key: string, pid: Pid, time: number): void {
  if (cluster !== null && typeof cluster !== 'string') {
    throw new TypeError(`cluster must be a string or null (null is the default cluster), got ${typeof cluster}`);
  }
  if (typeof key !== 'string') throw new TypeError(`key must be a string, got ${typeof key}`);
  if (!(pid instanceof Pid)) throw new TypeError('pid must be a Pid (from spawn, self() or the codec)');
  if (typeof time !== 'number' || !Number.isFinite(time)) {
    throw new TypeError(`time must be a finite number (wall-clock epoch ms), got ${String(time)}`);
  }
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareClusters(a: Cluster, b: Cluster): number {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  return a < b ? -1 : 1;
}

/** Canonical order: cluster, key, registry before memberships, Pid. */
function compareRows(a: Row, b: Row): number {
  if (a.cluster !== b.cluster) return compareClusters(a.cluster, b.cluster);
  if (a.key !== b.key) return a.key < b.key ? -1 : 1;
  const aRegistry = a instanceof RegistryRow;
  if (aRegistry !== b instanceof RegistryRow) return aRegistry ? -1 : 1;
  return a.pid.compare(b.pid);
}

function findMember(members: Members, pid: Pid): MemberRow | undefined {
  if (members instanceof MemberRow) return members.pid.equals(pid) ? members : undefined;
  const index = searchPid(members, pid);
  return index < 0 ? undefined : members[index];
}

/**
 * Below this length, an insert copies the member array to an exact-size one: V8 grows a pushed or
 * spliced array by half its length + 16 slots (measured: a 3-member group's array costs 208 B
 * instead of 72). Longer arrays grow in place, amortized.
 */
const EXACT_ARRAY_MAX = 64;

/** `rows` with `row` inserted at `index`: in place when long, else an exact-size copy. */
function withMember(rows: MemberRow[], index: number, row: MemberRow): MemberRow[] {
  if (rows.length >= EXACT_ARRAY_MAX) {
    if (index === rows.length) rows.push(row);
    else rows.splice(index, 0, row);
    return rows;
  }
  const grown = rows.slice();
  grown.splice(index, 0, row);
  return grown.length <= EXACT_ARRAY_MAX ? grown.slice() : grown;
}

/**
 * `members` (sorted by Pid) without `doomed` (some of them, in any order; sorted here): one merge
 * pass, no hashing of rows.
 */
function withoutSorted(members: readonly MemberRow[], doomed: MemberRow[]): MemberRow[] {
  doomed.sort((x, y) => x.pid.compare(y.pid));
  const kept: MemberRow[] = [];
  let next = 0;
  for (const row of members) {
    if (next < doomed.length && row === doomed[next]) next++;
    else kept.push(row);
  }
  return kept.length < EXACT_ARRAY_MAX ? kept.slice() : kept; // push() leaves spare capacity
}

/** Index of `pid` in `rows` (sorted by Pid), or ~insertionPoint when absent. */
function searchPid(rows: readonly MemberRow[], pid: Pid): number {
  let low = 0;
  let high = rows.length - 1;
  while (low <= high) {
    const mid = (low + high) >>> 1;
    const order = rows[mid]!.pid.compare(pid);
    if (order < 0) low = mid + 1;
    else if (order > 0) high = mid - 1;
    else return mid;
  }
  return ~low;
}

/** Problems of a cluster table's key index (it must hold exactly the keys that have rows). */
function checkKeyIndex(keys: KeyIndex, table: ClusterTable, keysWithRows: number, at: string, problems: string[]): void {
  if (keys.size !== keysWithRows) {
    problems.push(`${at}: key index holds ${keys.size} keys, ${keysWithRows} keys have rows`);
  }
  keys.forEach((_value, key) => {
    if (!table.registry.has(key) && !table.groups.has(key)) problems.push(`${at}: key index holds ${show(key)} with no rows`);
  });
  try {
    keys.checkValid(true);
  } catch (error) {
    problems.push(`${at}: key index is not a valid B+ tree: ${(error as Error).message}`);
  }
}

/**
 * Replace the indexes of `table` by ones without the rows owned by `node`: O(rows kept + keys),
 * whatever the number removed. Member arrays keep their order (a node's members are one run).
 */
function rebuildWithout(table: ClusterTable, node: string): void {
  const registry = new Map<string, RegistryRow>();
  for (const [key, row] of table.registry) if (row.pid.node !== node) registry.set(key, row);
  const groups = new Map<string, Members>();
  let memberCount = 0;
  for (const [key, members] of table.groups) {
    if (members instanceof MemberRow) {
      if (members.pid.node !== node) {
        groups.set(key, members);
        memberCount++;
      }
      continue;
    }
    const [start, end] = nodeRun(members, node);
    const kept = start === end ? members : members.slice(0, start).concat(members.slice(end));
    if (kept.length === 1) groups.set(key, kept[0]!);
    else if (kept.length > 1) groups.set(key, kept);
    memberCount += kept.length;
  }
  table.registry = registry;
  table.groups = groups;
  table.memberCount = memberCount;
  table.keys = undefined; // keyIndex() builds it from the kept keys when it is next needed
}

/** [start, end) of the members whose pid lives on `node`: Pid order sorts by node name first. */
function nodeRun(rows: readonly MemberRow[], node: string): [number, number] {
  const start = firstIndex(rows, (n) => n >= node);
  const end = firstIndex(rows, (n) => n > node, start);
  return [start, end];
}

function firstIndex(rows: readonly MemberRow[], atOrAfter: (node: string) => boolean, from = 0): number {
  let low = from;
  let high = rows.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (atOrAfter(rows[mid]!.pid.node)) high = mid;
    else low = mid + 1;
  }
  return low;
}

/**
 * Call `fn` for each key of `index` starting with `prefix`, in order. The range is
 * [prefix, successor(prefix)): every string starting with `prefix` sorts inside it and nothing else.
 */
function forKeysWithPrefix(index: KeyIndex, prefix: string, fn: (key: string) => void): void {
  const upper = prefixUpperBound(prefix);
  if (upper !== undefined) {
    index.forRange(prefix, upper, false, fn);
    return;
  }
  const max = index.maxKey();
  if (max !== undefined) index.forRange(prefix, max, true, fn);
}

/**
 * The smallest string greater than every string starting with `prefix`: drop trailing U+FFFF
 * code units and increment the last remaining one. Undefined when there is none ('' or all U+FFFF).
 */
export function prefixUpperBound(prefix: string): string | undefined {
  let end = prefix.length;
  while (end > 0 && prefix.charCodeAt(end - 1) === 0xffff) end--;
  if (end === 0) return undefined;
  return prefix.slice(0, end - 1) + String.fromCharCode(prefix.charCodeAt(end - 1) + 1);
}

/**
 * The pids of one owner node that have rows, keyed by pid id in an IdTable: a number needs no
 * hashing, where a pid's string key must be hashed by V8 on its first use in a Map (measured:
 * ~15% of a write), and neighbouring ids share cache lines.
 * Two incarnations of a node can both have a pid with one id (an old incarnation's rows not yet
 * purged): the first takes the id slot, the other goes to `others`, keyed by its string key.
 */
class OwnerPids {
  private readonly byId = new IdTable<PidRows>();
  private others: Map<string, PidRows> | undefined = undefined;

  get size(): number {
    return this.byId.size + (this.others?.size ?? 0);
  }

  get(pid: Pid): PidRows | undefined {
    const entry = this.byId.get(pid.id);
    if (entry !== undefined && anyPidRow(entry).pid.incarnation === pid.incarnation) return entry;
    return this.others?.get(pid.key);
  }

  set(pid: Pid, rows: PidRows): void {
    const entry = this.byId.get(pid.id);
    if (entry !== undefined ? anyPidRow(entry).pid.incarnation === pid.incarnation : this.others?.has(pid.key) !== true) {
      this.byId.set(pid.id, rows);
    } else {
      (this.others ??= new Map()).set(pid.key, rows);
    }
  }

  delete(pid: Pid): void {
    const entry = this.byId.get(pid.id);
    if (entry !== undefined && anyPidRow(entry).pid.incarnation === pid.incarnation) this.byId.delete(pid.id);
    else if (this.others?.delete(pid.key) === true && this.others.size === 0) this.others = undefined;
  }

  /** The entry of pid `<node.incarnation.id>`, without a Pid in hand. */
  getId(node: string, incarnation: number, id: number): PidRows | undefined {
    const entry = this.byId.get(id);
    if (entry !== undefined && anyPidRow(entry).pid.incarnation === incarnation) return entry;
    return this.others === undefined ? undefined : this.others.get(new Pid(node, incarnation, id).key);
  }

  forEachEntry(fn: (entry: PidRows) => void): void {
    this.byId.forEach(fn);
    if (this.others !== undefined) for (const entry of this.others.values()) fn(entry);
  }

  /** Every entry with the slot it is stored under (an id, or a pid key in `others`): for checks. */
  slots(): Array<[number | string, PidRows]> {
    return [...this.byId.entries(), ...(this.others ?? [])];
  }
}

function anyPidRow(entry: PidRows): Row {
  if (entry instanceof RegistryRow || entry instanceof MemberRow) return entry;
  if (Array.isArray(entry)) return entry[0]!;
  return entry.values().next().value as Row;
}

function withPidRow(entry: PidRows, row: Row): PidRows {
  if (entry instanceof RegistryRow || entry instanceof MemberRow) return [entry, row];
  if (Array.isArray(entry)) {
    if (entry.length < PID_ROWS_ARRAY_MAX) {
      entry.push(row);
      return entry;
    }
    const set = new Set(entry);
    set.add(row);
    return set;
  }
  entry.add(row);
  return entry;
}

/** `entry` without `row`: undefined when empty; shrinks back to a single row or an array. */
function withoutPidRow(entry: PidRows, row: Row): PidRows | undefined {
  if (entry instanceof RegistryRow || entry instanceof MemberRow) return undefined;
  if (Array.isArray(entry)) {
    const index = entry.indexOf(row);
    const last = entry.pop()!;
    if (index < entry.length) entry[index] = last;
    return entry.length === 1 ? entry[0] : entry;
  }
  entry.delete(row);
  return entry.size > PID_ROWS_ARRAY_MAX / 2 ? entry : [...entry];
}

function replacePidRow(entry: PidRows, previous: Row, row: Row): PidRows {
  if (entry instanceof RegistryRow || entry instanceof MemberRow) return row;
  if (Array.isArray(entry)) {
    entry[entry.indexOf(previous)] = row;
    return entry;
  }
  entry.delete(previous);
  entry.add(row);
  return entry;
}

function entryLength(entry: PidRows): number {
  if (entry instanceof RegistryRow || entry instanceof MemberRow) return 1;
  return Array.isArray(entry) ? entry.length : entry.size;
}

/** The rows of an owner-index entry (only those of `cluster` when given), in canonical order. */
function rowsOfEntry(entry: PidRows | undefined, cluster: Cluster | undefined): Row[] {
  const out: Row[] = [];
  if (entry === undefined) return out;
  pushPidRows(entry, out);
  // Most pids have one or two rows; Array#sort costs more than the one comparison two need.
  if (out.length === 2) {
    if (compareRows(out[0]!, out[1]!) > 0) out.reverse();
  } else if (out.length > 2) out.sort(compareRows);
  return cluster === undefined ? out : out.filter((row) => row.cluster === cluster);
}

function pushPidRows(entry: PidRows, out: Row[]): void {
  if (entry instanceof RegistryRow || entry instanceof MemberRow) out.push(entry);
  else for (const row of entry) out.push(row);
}

function show(value: Cluster): string {
  return value === null ? 'null' : JSON.stringify(value);
}

function describe(row: Row): string {
  return `${row instanceof RegistryRow ? 'registry' : 'member'} row (${show(row.cluster)}, ${show(row.key)}, ${row.pid.key})`;
}
