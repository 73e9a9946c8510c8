import { isDeepStrictEqual } from 'node:util';
import { InvalidArgumentError, NoProcError, NotRunningError } from '../errors.js';
import type { ServerClass } from '../process/host.js';
import { assertEncodable } from '../wire/codec.js';
import type { Logger } from '../observability/logger.js';
import { GroupCounters, groupStatsOf, type GroupStats } from '../observability/stats.js';
import { Node, type NodeDownEvent, type NodeUpEvent } from '../node/node.js';
import { Pid } from '../process/pid.js';
import type { PeerIdentity } from '../transport/link.js';
import { ClusterMembership, type ClusterName } from './clusters.js';
import type { Declaration } from './declarations.js';
import { ALL, type GroupEvent, type GroupEventCallback, type GroupLifecycleCallback, type GroupLifecycleEvent, type Pattern, type Subscriber } from './events.js';
import { clusterOption, extractMetaOption, optionsObject, prefixOption, readableKey, resolveGroupOptions, writableKey, type GroupLogLevel, type GroupOptions, type ResolvedGroupOptions } from './options.js';
import { GroupLocks } from './locks.js';
import { multiCall, type MultiCallOptions, type MultiCallResult } from './multicall.js';
import { RegisteredServers, type RegisteredServerInfo, type RegisteredServerOptions } from './registered-servers.js';
import { GroupFrame, Op, attachGroup, detachGroup, type GroupEndpoint } from './protocol.js';
import { Replicator, type ReplicaHost, type RowData } from './replicator.js';
import { joinsOf, mergedTopics, perJoin, receives, topicsOption, wireTail } from './memberships.js';
import { countOwned, ownedGroupKeys } from './node-counts.js';
import { Subscriptions } from './subscriptions.js';
import { GroupTables, RegistryRow, type Row } from './tables.js';
import { TenantView, endTenantMonitors } from './tenant.js';

export interface Entry {
  readonly pid: Pid;
  readonly meta: unknown;
}

export interface WriteOptions {
  /** The process to act for; default: the calling process. Must live on this node. */
  pid?: Pid;
  /** A named cluster this node has connected to; default: the default cluster. */
  cluster?: string | null;
}

export interface ReadOptions {
  cluster?: string | null;
  /** Overrides the instance's extractMeta for this read. */
  extractMeta?: (meta: unknown) => unknown;
}

export interface MembersOptions extends ReadOptions {
  /** Return at most this many members. */
  limit?: number;
  /** Also list the registered process of the key (first), as the reference's exact-key members did. */
  includeRegistered?: boolean;
}

export interface JoinOptions extends WriteOptions {
  /**
   * Topics to receive publishes of. Absent: every message on a first join, the current topics on
   * a re-join; []: every message (for good); otherwise merged with the current ones.
   */
  topics?: readonly string[];
}

export interface PublishOptions {
  /** Reach only the members subscribed to this topic (and those that take every message). */
  topic?: string;
  cluster?: string | null;
}

export interface CountOptions {
  cluster?: string | null;
  /** Count only the entries of processes of this node. */
  node?: string;
}

/** One process's membership of a group, with its topics and join count. */
export interface MembershipInfo {
  readonly pid: Pid;
  readonly meta: unknown;
  /** Sorted topics, or null: every message. */
  readonly topics: readonly string[] | null;
  /** How many times it joined (1 unless the Group counts joins). */
  readonly joins: number;
}

export interface DispatchOptions {
  cluster?: string | null;
  /** Also send to the registered process of the key. */
  includeRegistered?: boolean;
}

const SLASH = 0x2f;
/** Default timeoutMs of registerLocked. */
const LOCK_TIMEOUT_MS = 5000;

const LEVELS: Record<string, string> = { info: 'info', verbose: 'debug', false: 'silent' };

/**
 * A Group instance: cluster-wide registry (one process per key), process groups (many per key),
 * lifecycle events, dispatch and named clusters, replicated to every peer node running a Group of
 * the same name. Reads are local Map lookups; writes update the local tables at once and replicate
 * asynchronously (docs/consistency.md).
 */
export class Group implements GroupEndpoint, ReplicaHost {
  readonly node: Node;
  readonly name: string;
  readonly options: ResolvedGroupOptions;
  readonly tables = new GroupTables();
  readonly membership = new ClusterMembership();
  readonly logger: Logger;
  /** Plain counters behind `stats()` and the Prometheus metrics (observability/stats.ts). */
  readonly counters = new GroupCounters();
  private readonly subscriptions = new Subscriptions<unknown>();
  /** monitorGroups subscribers: their events are not GroupEvents (no pid), so they are kept apart. */
  private readonly lifecycleSubscriptions = new Subscriptions<unknown>();
  private pendingLifecycle: GroupLifecycleEvent[] = [];
  private readonly replicator: Replicator;
  private readonly locks: GroupLocks;
  private readonly servers = new RegisteredServers(this);
  /** Events of replicated ops not yet delivered (see emitSoon). */
  private pendingEvents: GroupEvent[] = [];
  /** Local processes that exited with rows or subscriptions, cleaned up together in a microtask. */
  private exited: Array<{ pid: Pid; reason: unknown }> = [];
  private readonly stopExitListener: () => void;
  private level: GroupLogLevel;
  private running = true;
  /** members() may hand out a copy of the stored array: no extractMeta, one entry per process. */
  private readonly plainMembers: boolean;
  private readonly countJoins: boolean;
  private readonly onUp = (e: NodeUpEvent): void => this.replicator.onNodeUp(e.node);
  private readonly onDown = (e: NodeDownEvent): void => {
    this.replicator.onNodeDown(e.node);
    this.locks.onPeerGone(e.node);
  };

  private constructor(node: Node, options: ResolvedGroupOptions) {
    this.node = node;
    this.name = options.name;
    this.options = options;
    this.level = options.log;
    this.logger = node.logger.child({ group: options.name });
    this.logger.level = LEVELS[String(options.log)]!;
    this.membership.add(null, node.name);
    this.plainMembers = options.extractMeta === undefined && options.joins !== 'count';
    this.countJoins = options.joins === 'count';
    this.replicator = new Replicator(this);
    this.locks = new GroupLocks({
      node,
      name: this.name,
      membership: this.membership,
      registeredPid: (cluster, key) => this.tables.lookup(cluster, key)?.pid,
      send: (peer, type, rest) => this.replicator.sendFrame(peer, type, rest),
    });
    this.stopExitListener = node.onProcessExit((pid, reason) => this.onLocalExit(pid, reason));
  }

  /** Start a Group instance on a node and say hello to the peers running the same name. */
  static async start(node: Node, options: GroupOptions): Promise<Group> {
    if (!(node instanceof Node)) throw new InvalidArgumentError('Group.start(node, options): node must be a running Node (from startNode)');
    const resolved = resolveGroupOptions(options);
    // Loaded only when wanted (before anything starts): with tracing false nothing loads @opentelemetry/api.
    const tracing = resolved.tracing === false ? undefined : await loadTracing(resolved.tracing === 'auto');
    if (!node.running) throw new NotRunningError(`Group.start: node ${node.name} is not running`);
    const group = new Group(node, resolved);
    try {
      attachGroup(node, resolved.name, group);
    } catch {
      throw new InvalidArgumentError(`Group.start: a Group named "${resolved.name}" is already running on node ${node.name}; stop it first or pick another name`);
    }
    node.on('nodeup', group.onUp);
    node.on('nodedown', group.onDown);
    group.replicator.start();
    tracing?.traceGroup(group);
    return group;
  }

  /** Stop: peers purge this node's entries of the Group; local subscriptions end. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.locks.stop();
    this.servers.clear();
    this.replicator.stop();
    this.node.off('nodeup', this.onUp);
    this.node.off('nodedown', this.onDown);
    detachGroup(this.node, this.name);
    this.stopExitListener();
    endTenantMonitors(this);
    this.exited = [];
  }

  // ---- registry ---------------------------------------------------------------------------

  /** Register `key` for a process: 'ok', or 'taken' when another process holds it (as far as this node knows). */
  register(key: string, meta: unknown = {}, options?: WriteOptions): 'ok' | 'taken' {
    writableKey(key, 'register');
    options = optionsObject(options, 'register');
    const cluster = this.writableCluster(options.cluster, 'register');
    const pid = this.actingPid(options.pid, 'register');
    const existing = this.tables.lookup(cluster, key);
    if (existing !== undefined && !existing.pid.equals(pid)) return this.refused('register', 'taken');
    if (existing !== undefined && isDeepStrictEqual(existing.meta, meta)) return 'ok';
    // An update keeps a keepOldest registration's time: its age decides its conflicts (conflict-strategies.ts).
    const now = this.node.clock.wallNow();
    const time = existing === undefined ? now : this.replicator.order.updated(now, existing.time);
    const reason = existing === undefined ? 'register' : 'update';
    if (existing === undefined) this.counters.registers++;
    else this.counters.registryUpdates++;
    const payload = this.replicator.encodeOp(cluster, Op.REGISTER, key, pid, meta, time, reason);
    this.tables.register(cluster, key, pid, meta, time);
    this.replicator.broadcast(cluster, payload);
    if (this.wantsEvents()) this.emit([this.event('registered', this.tables.lookup(cluster, key)!, existing?.meta ?? null, null)]);
    return 'ok';
  }

  /**
   * Register `key` under a cluster-wide lock (Erlang global's register_name): the lock on (cluster,
   * key) is taken at every Group peer of the cluster and here, then the key is registered and the
   * locks released. Two nodes racing for one key while connected never both get 'ok'; the loser
   * gets 'taken' and nobody is killed. Across a partition the sides cannot lock each other out:
   * conflict resolution settles it at heal (docs/consistency.md, "Locked registration").
   */
  async registerLocked(key: string, meta: unknown = {}, options?: WriteOptions & { timeoutMs?: number }): Promise<'ok' | 'taken'> {
    writableKey(key, 'registerLocked');
    options = optionsObject(options, 'registerLocked');
    const timeoutMs = options.timeoutMs ?? LOCK_TIMEOUT_MS;
    if (typeof timeoutMs !== 'number' || !(timeoutMs > 0)) throw new InvalidArgumentError('registerLocked: timeoutMs must be a positive number of milliseconds');
    const cluster = this.writableCluster(options.cluster, 'registerLocked');
    const pid = this.actingPid(options.pid, 'registerLocked');
    assertEncodable(meta);
    const existing = this.tables.lookup(cluster, key);
    if (existing !== undefined && !existing.pid.equals(pid)) return 'taken';
    const lease = await this.locks.acquire(cluster, key, pid, timeoutMs);
    if (lease === 'taken') return 'taken';
    try {
      // Checks again: the process may have died, the cluster been left, while we waited.
      return this.register(key, meta, { pid, cluster });
    } finally {
      // After register: its op is on every link before the UNLOCK, so the next holder sees it.
      lease.release();
    }
  }

  /**
   * Remove the registration of `key`: 'ok', 'not_found', or 'not_owner' when the registered
   * process lives on another node (only its node may change it). Any local caller may unregister
   * a local process's key, as in the reference.
   */
  unregister(key: string, options?: { cluster?: string | null }): 'ok' | 'not_found' | 'not_owner' {
    writableKey(key, 'unregister');
    options = optionsObject(options, 'unregister');
    const cluster = this.writableCluster(options.cluster, 'unregister');
    const existing = this.tables.lookup(cluster, key);
    if (existing === undefined) return this.refused('unregister', 'not_found');
    if (existing.pid.node !== this.node.name) return this.refused('unregister', 'not_owner');
    if (this.options.strict) this.checkStrict(existing.pid, 'unregister');
    this.counters.unregisters++;
    const payload = this.replicator.encodeOp(cluster, Op.UNREGISTER, key, existing.pid, existing.meta, existing.time, 'unregister');
    this.tables.unregister(cluster, key, existing.pid);
    this.replicator.broadcast(cluster, payload);
    const events = this.wantsEvents() ? [this.event('unregistered', existing, null, 'unregister')] : undefined;
    this.replicator.showNext(cluster, key, events);
    if (events !== undefined) this.emit(events);
    return 'ok';
  }

  /** The process registered under `key`, with its meta, or null. */
  lookup(key: string, options?: ReadOptions): Entry | null {
    if (typeof key !== 'string') readableKey(key, 'lookup');
    if (options !== undefined) options = optionsObject(options, 'lookup');
    const row = this.tables.lookup(options === undefined ? null : readCluster(options.cluster), key);
    const override = options === undefined ? undefined : extractMetaOption(options.extractMeta, 'lookup');
    if (row === undefined) return null;
    // The stored row is the entry (frozen, own fields pid and meta): nothing to allocate.
    const extract = override ?? this.options.extractMeta;
    return extract === undefined ? row : { pid: row.pid, meta: extract(row.meta) };
  }

  /** The registered process of `key`, or undefined (global-style `whereis`). */
  whereis(key: string, options?: { cluster?: string | null }): Pid | undefined {
    readableKey(key, 'whereis');
    return this.tables.lookup(readCluster(optionsObject(options, 'whereis').cluster), key)?.pid;
  }

  /**
   * syn's update_registry: replace the meta of `key`'s registration with `fn(oldMeta)`, atomically
   * on the owning node, replicated like a re-register. 'not_owner' when the registered process
   * lives on another node (functions do not cross the wire: call it there). `fn` must be
   * synchronous and must not write to this Group; if it throws, nothing changes.
   */
  updateMeta(key: string, fn: (meta: unknown) => unknown, options?: { cluster?: string | null }): 'ok' | 'not_found' | 'not_owner' {
    writableKey(key, 'updateMeta');
    updateFunction(fn, 'updateMeta');
    options = optionsObject(options, 'updateMeta');
    const cluster = this.writableCluster(options.cluster, 'updateMeta');
    const existing = this.tables.lookup(cluster, key);
    if (existing === undefined) return 'not_found';
    if (existing.pid.node !== this.node.name) return 'not_owner';
    if (this.options.strict) this.checkStrict(existing.pid, 'updateMeta');
    const meta = updatedMeta(fn, existing.meta, 'updateMeta');
    if (this.tables.lookup(cluster, key) !== existing) throw new InvalidArgumentError('updateMeta: fn changed the registration itself; it must only compute the new meta');
    // Same pid: register updates it in place ('ok'), or does nothing when the meta is unchanged.
    return this.register(key, meta, { pid: existing.pid, cluster }) === 'ok' ? 'ok' : 'not_found';
  }

  /**
   * syn's update_member: replace the meta of a membership (default: the calling process's) with
   * `fn(oldMeta)`, atomically on the owning node; topics and join count are kept. As updateMeta.
   */
  updateMember(key: string, fn: (meta: unknown) => unknown, options?: WriteOptions): 'ok' | 'not_found' | 'not_owner' {
    writableKey(key, 'updateMember');
    updateFunction(fn, 'updateMember');
    options = optionsObject(options, 'updateMember');
    const cluster = this.writableCluster(options.cluster, 'updateMember');
    const pid = options.pid ?? this.node.self();
    if (!(pid instanceof Pid)) throw new InvalidArgumentError('updateMember: pass {pid} (a Pid), or call from inside a process');
    const existing = this.tables.member(cluster, key, pid);
    if (existing === undefined) return 'not_found';
    if (pid.node !== this.node.name) return 'not_owner';
    if (this.options.strict) this.checkStrict(pid, 'updateMember');
    const meta = updatedMeta(fn, existing.meta, 'updateMember');
    if (this.tables.member(cluster, key, pid) !== existing) throw new InvalidArgumentError('updateMember: fn changed the membership itself; it must only compute the new meta');
    if (isDeepStrictEqual(existing.meta, meta)) return 'ok';
    const time = this.node.clock.wallNow();
    const payload = this.replicator.encodeOp(cluster, Op.JOIN, key, existing.pid, meta, time, 'update', wireTail(existing.topics, existing.count));
    this.tables.join(cluster, key, existing.pid, meta, time, existing.topics, existing.count);
    this.replicator.broadcast(cluster, payload);
    if (this.wantsEvents()) this.emit([this.event('joined', this.tables.member(cluster, key, pid)!, existing.meta, null)]);
    return 'ok';
  }

  // ---- process groups -----------------------------------------------------------------------

  /**
   * Join group `key`. Default (`joins: 'update'`): once per process, a re-join updates meta and
   * merges topics in place. With `joins: 'count'` every join counts (see leave).
   */
  join(key: string, meta: unknown = {}, options?: JoinOptions): 'ok' {
    writableKey(key, 'join');
    options = optionsObject(options, 'join');
    const cluster = this.writableCluster(options.cluster, 'join');
    const pid = this.actingPid(options.pid, 'join');
    const existing = this.tables.member(cluster, key, pid);
    const topics = options.topics === undefined ? existing?.topics : mergedTopics(existing !== undefined, existing?.topics, topicsOption(options.topics, 'join'));
    const count = this.countJoins ? (existing?.count ?? 0) + 1 : 1;
    // 'count': only the join count changes, which replicates but is no event.
    let reason = 'join';
    if (existing !== undefined) {
      const same = topics === existing.topics && isDeepStrictEqual(existing.meta, meta);
      if (same && count === 1) return 'ok';
      reason = same ? 'count' : 'update';
    }
    const time = this.node.clock.wallNow();
    const payload = this.replicator.encodeOp(cluster, Op.JOIN, key, pid, meta, time, reason, wireTail(topics, count));
    if (reason === 'update') this.counters.memberUpdates++;
    else this.counters.joins++;
    this.tables.join(cluster, key, pid, meta, time, topics, count);
    this.replicator.broadcast(cluster, payload);
    if (reason !== 'count' && this.wantsEvents()) this.emit([this.event('joined', this.tables.member(cluster, key, pid)!, existing?.meta ?? null, null)]);
    return 'ok';
  }

  leave(key: string, options?: WriteOptions): 'ok' | 'not_in_group' {
    writableKey(key, 'leave');
    options = optionsObject(options, 'leave');
    const cluster = this.writableCluster(options.cluster, 'leave');
    const pid = this.actingPid(options.pid, 'leave');
    const existing = this.tables.member(cluster, key, pid);
    if (existing === undefined) return this.refused('leave', 'not_in_group');
    this.counters.leaves++;
    if (existing.count > 1) {
      // Count mode, not the last leave: the owner sends the row with its new count (state-based,
      // so a lost op is repaired by a resync like any other) and the process stays a member.
      const count = existing.count - 1;
      const time = this.node.clock.wallNow();
      const update = this.replicator.encodeOp(cluster, Op.JOIN, key, pid, existing.meta, time, 'count', wireTail(existing.topics, count));
      this.tables.join(cluster, key, pid, existing.meta, time, existing.topics, count);
      this.replicator.broadcast(cluster, update);
      return 'ok';
    }
    const payload = this.replicator.encodeOp(cluster, Op.LEAVE, key, pid, existing.meta, existing.time, 'leave');
    this.tables.leave(cluster, key, pid);
    this.replicator.broadcast(cluster, payload);
    if (this.wantsEvents()) this.emit([this.event('left', existing, null, 'leave')]);
    return 'ok';
  }

  /**
   * Members of group `key` (joined processes, ordered by pid), or of every group whose key starts
   * with `key` when it ends in "/". `includeRegistered` puts the registered process(es) first.
   */
  members(key: string, options?: MembersOptions): Entry[] {
    if (typeof key !== 'string') throw new InvalidArgumentError('members: key must be a string');
    // The hot path (exact key, no options): one copy of the stored array, nothing else.
    if (options === undefined && this.plainMembers && key.charCodeAt(key.length - 1) !== SLASH) {
      return this.tables.members(null, key).slice();
    }
    return this.membersWith(key, optionsObject(options, 'members'));
  }

  private membersWith(key: string, options: MembersOptions): Entry[] {
    const cluster = readCluster(options.cluster);
    const override = extractMetaOption(options.extractMeta, 'members');
    const limit = limitOption(options.limit, 'members');
    const prefix = key.endsWith('/');
    // `owned`: a fresh array no one else holds (tables.members() hands out the stored one).
    let rows: readonly Row[] = prefix ? this.tables.membersByPrefix(cluster, key) : this.tables.members(cluster, key);
    let owned = prefix;
    if (options.includeRegistered === true) {
      const registered: Row[] = prefix ? this.tables.registryByPrefix(cluster, key) : optional(this.tables.lookup(cluster, key));
      if (registered.length > 0) {
        rows = registered.concat(rows);
        owned = true;
      }
    }
    return this.entries(rows, owned, limit, override);
  }

  /** Members of `key` whose processes live on this node (pg's get_local_members). */
  localMembers(key: string, options?: Omit<MembersOptions, 'includeRegistered'>): Entry[] {
    readableKey(key, 'localMembers');
    options = optionsObject(options, 'localMembers');
    const rows = this.tables.membersOnNode(readCluster(options.cluster), key, this.node.name);
    return this.entries(rows, true, limitOption(options.limit, 'localMembers'), extractMetaOption(options.extractMeta, 'localMembers'));
  }

  /**
   * The listed entries of `rows` (at most `limit`), one per join in count mode. `owned`: `rows`
   * is a fresh array no one else holds.
   */
  private entries(rows: readonly Row[], owned: boolean, limit: number, override: ((meta: unknown) => unknown) | undefined): Entry[] {
    if (this.countJoins) {
      rows = perJoin(rows, limit);
      owned = true;
    }
    const extract = override ?? this.options.extractMeta;
    const count = Math.min(rows.length, limit);
    // Rows are the entries (frozen, own fields pid and meta), so the common case costs one copy of
    // an array of references, and the caller may sort or change that array as it likes.
    if (extract === undefined) return owned && count === rows.length ? (rows as Row[]) : rows.slice(0, count);
    const out = new Array<Entry>(count);
    for (let i = 0; i < count; i++) out[i] = { pid: rows[i]!.pid, meta: extract(rows[i]!.meta) };
    return out;
  }

  /** The membership of a process (default: the calling one) in `key`, with topics and join count, or null. */
  memberInfo(key: string, options?: { pid?: Pid; cluster?: string | null }): MembershipInfo | null {
    readableKey(key, 'memberInfo');
    options = optionsObject(options, 'memberInfo');
    const pid = options.pid ?? this.node.self();
    if (!(pid instanceof Pid)) throw new InvalidArgumentError('memberInfo: pass {pid} (a Pid), or call from inside a process');
    const row = this.tables.member(readCluster(options.cluster), key, pid);
    if (row === undefined) return null;
    return { pid: row.pid, meta: this.extract(row.meta, undefined), topics: row.topics ?? null, joins: row.count };
  }

  /** Keys in which processes of this node are members (optionally under a prefix). */
  localGroups(options?: { prefix?: string; cluster?: string | null }): string[] {
    const { cluster, prefix } = optionsObject(options, 'localGroups');
    return ownedGroupKeys(this.tables, readCluster(cluster), this.node.name, prefixOption(prefix, 'localGroups'));
  }

  /** Keys that have members or were created with createGroup and not deleted (optionally under a prefix), sorted. */
  groups(options?: { prefix?: string; cluster?: string | null }): string[] {
    const { cluster, prefix } = optionsObject(options, 'groups');
    const name = readCluster(cluster);
    const withMembers = this.tables.groups(name, prefixOption(prefix, 'groups'));
    const declared = this.replicator.declarations.declaredKeys(name, prefix ?? '');
    return declared.length === 0 ? withMembers : mergeSorted(withMembers, declared);
  }

  /** Whether group `key` exists: it has members, or was created (createGroup) and not deleted since. */
  hasGroup(key: string, options?: { cluster?: string | null }): boolean {
    readableKey(key, 'hasGroup');
    const cluster = readCluster(optionsObject(options, 'hasGroup').cluster);
    return this.tables.memberCount(cluster, key) > 0 || this.replicator.declarations.exists(cluster, key);
  }

  /**
   * Declare group `key`: it is listed (groups, hasGroup) even with no members, on every node,
   * until deleteGroup, whoever dies. 'exists' when it was already created (as far as this node
   * knows). See docs/consistency.md, "Explicit groups".
   */
  createGroup(key: string, options?: { cluster?: string | null }): 'ok' | 'exists' {
    writableKey(key, 'createGroup');
    const cluster = this.writableCluster(optionsObject(options, 'createGroup').cluster, 'createGroup');
    return this.replicator.declare(cluster, key, true) as 'ok' | 'exists';
  }

  /**
   * Delete group `key` cluster-wide: every member that joined before the delete leaves (each on
   * its own node, event reason 'group_deleted', also after a partition heals) and it is no longer
   * listed. 'not_found' when this node knows neither members nor a declaration of it.
   * Registrations under the key are untouched.
   */
  deleteGroup(key: string, options?: { cluster?: string | null }): 'ok' | 'not_found' {
    writableKey(key, 'deleteGroup');
    const cluster = this.writableCluster(optionsObject(options, 'deleteGroup').cluster, 'deleteGroup');
    return this.replicator.declare(cluster, key, false) as 'ok' | 'not_found';
  }

  /** Every registered key in the cluster (optionally under a prefix). */
  registered(options?: { prefix?: string; cluster?: string | null }): string[] {
    const { cluster, prefix } = optionsObject(options, 'registered');
    return this.tables.registeredKeys(readCluster(cluster), prefixOption(prefix, 'registered'));
  }

  // ---- calls and servers ------------------------------------------------------------------------

  /**
   * Call every member of `key` in parallel (`node.call`); settles when each has replied or failed.
   * A member that dies or whose node goes down is in `bad` at once, a slow one after `timeoutMs`.
   */
  async multiCall<R = unknown>(key: string, request: unknown, options?: MultiCallOptions): Promise<MultiCallResult<R>> {
    if (!this.running) throw new NotRunningError(`multiCall: Group ${this.name} has stopped`);
    readableKey(key, 'multiCall');
    options = optionsObject(options, 'multiCall');
    const members = this.tables.members(readCluster(options.cluster), key);
    return multiCall<R>(this.node, members.map((row) => row.pid), request, options.timeoutMs);
  }

  /**
   * Start a Server on this node, register it under `key` (registerLocked) and join it to
   * `options.groups`, in one step; if a step fails (the key taken: NameTakenError) everything done
   * is undone and the promise rejects. Resolves with the server's pid.
   */
  async startRegisteredServer<A>(key: string, server: ServerClass<A>, arg: A, options?: RegisteredServerOptions): Promise<Pid> {
    if (!this.running) throw new NotRunningError(`startRegisteredServer: Group ${this.name} has stopped`);
    return this.servers.start(key, server, arg, optionsObject(options, 'startRegisteredServer'));
  }

  /** The servers `startRegisteredServer` started on this node that are alive, with key and groups. */
  registeredServers(): RegisteredServerInfo[] {
    return this.servers.list();
  }

  // ---- dispatch -------------------------------------------------------------------------------

  /**
   * Send `message` to every member of `key` on every node: local members directly, each remote
   * node one frame whatever its member count. Messages from one sender keep their order.
   */
  dispatch(key: string, message: unknown, options?: DispatchOptions): void {
    if (!this.running) throw new NotRunningError(`dispatch: Group ${this.name} has stopped`);
    const started = this.counters.detailed ? performance.now() : 0;
    readableKey(key, 'dispatch');
    options = optionsObject(options, 'dispatch');
    const cluster = readCluster(options.cluster);
    const here = this.node.name;
    const registered = options.includeRegistered === true ? this.tables.lookup(cluster, key) : undefined;
    // Read at once: sends never write to the tables.
    const members = this.tables.members(cluster, key);
    // Each remote node's frame is encoded before anyone receives the message: an unencodable one
    // throws with nobody served.
    const frames = this.remoteDispatchFrames(registered, members, message);
    if (registered !== undefined && registered.pid.node === here) this.node.send(registered.pid, message);
    for (const row of members) if (row.pid.node === here) this.node.send(row.pid, message);
    if (frames !== undefined) for (const [peer, payload] of frames) this.node.sendRaw(peer, GroupFrame.DISPATCH, payload);
    if (frames !== undefined) this.counters.framesOut[GroupFrame.DISPATCH & 15]! += frames.length;
    this.counters.dispatches++;
    this.counters.recordPublish(members.length + (registered === undefined ? 0 : 1), this.counters.detailed ? (performance.now() - started) / 1000 : undefined);
  }

  /**
   * Send `message` to the members of `key` subscribed to `topic` (all members when no topic),
   * cluster-wide, as dispatch does (each remote node one frame); returns the pids sent to, in Pid
   * order, each once however many times it joined.
   */
  publish(key: string, message: unknown, options?: PublishOptions): Pid[] {
    if (!this.running) throw new NotRunningError(`publish: Group ${this.name} has stopped`);
    const started = this.counters.detailed ? performance.now() : 0;
    readableKey(key, 'publish');
    options = optionsObject(options, 'publish');
    const cluster = readCluster(options.cluster);
    const topic = options.topic;
    if (topic !== undefined && (typeof topic !== 'string' || topic === '')) {
      throw new InvalidArgumentError('publish: topic must be a non-empty string (or omitted to reach every member)');
    }
    const all = this.tables.members(cluster, key);
    const members = topic === undefined ? all : all.filter((row) => receives(row, topic));
    const frames = this.remoteDispatchFrames(undefined, members, message);
    const here = this.node.name;
    const pids = new Array<Pid>(members.length);
    for (let i = 0; i < members.length; i++) {
      const pid = members[i]!.pid;
      pids[i] = pid;
      if (pid.node === here) this.node.send(pid, message);
    }
    if (frames !== undefined) {
      for (const [peer, payload] of frames) this.node.sendRaw(peer, GroupFrame.DISPATCH, payload);
      this.counters.framesOut[GroupFrame.DISPATCH & 15]! += frames.length;
    }
    this.counters.publishes++;
    this.counters.recordPublish(pids.length, this.counters.detailed ? (performance.now() - started) / 1000 : undefined);
    return pids;
  }

  /** One DISPATCH payload per remote node with members, or undefined when all are local. */
  private remoteDispatchFrames(registered: Row | undefined, members: readonly Row[], message: unknown): Array<[string, Buffer]> | undefined {
    const here = this.node.name;
    let byNode: Map<string, Pid[]> | undefined;
    const add = (pid: Pid): void => {
      if (pid.node === here) return;
      byNode ??= new Map();
      const pids = byNode.get(pid.node);
      if (pids === undefined) byNode.set(pid.node, [pid]);
      else pids.push(pid);
    };
    if (registered !== undefined) add(registered.pid);
    for (const row of members) add(row.pid);
    if (byNode === undefined) return undefined;
    return [...byNode].map(([peer, pids]) => [peer, this.node.encodePayload([this.name, pids, message])]);
  }

  /** Send `message` to the members of `key` on this node only. */
  dispatchLocal(key: string, message: unknown, options?: DispatchOptions): void {
    if (!this.running) throw new NotRunningError(`dispatchLocal: Group ${this.name} has stopped`);
    readableKey(key, 'dispatchLocal');
    options = optionsObject(options, 'dispatchLocal');
    const cluster = readCluster(options.cluster);
    this.counters.localDispatches++;
    if (options.includeRegistered === true) {
      const row = this.tables.lookup(cluster, key);
      if (row !== undefined && row.pid.node === this.node.name) this.node.send(row.pid, message);
    }
    for (const row of this.tables.membersOnNode(cluster, key, this.node.name)) this.node.send(row.pid, message);
  }

  // ---- monitoring -------------------------------------------------------------------------------

  /**
   * Subscribe to lifecycle events of keys matching `pattern` (ALL, an exact key, or a prefix ending
   * in "/"). A Pid subscriber receives `{group, events}` messages and is unsubscribed when it dies;
   * a callback gets `(events, {group})`.
   */
  monitor(pattern: Pattern, subscriber: Subscriber<unknown>, options?: { cluster?: string | null }): 'ok' {
    if (!this.running) throw new NotRunningError(`monitor: Group ${this.name} has stopped`);
    const cluster = clusterOption(optionsObject(options, 'monitor').cluster, 'monitor');
    if (subscriber instanceof Pid && subscriber.node !== this.node.name) {
      // Events are node-local; a subscriber elsewhere subscribes through its own node's Group.
      throw new InvalidArgumentError(`monitor: subscriber ${subscriber.key} lives on node ${subscriber.node}; subscribe on that node's Group`);
    }
    // A dead process never exits again, so its subscription would never end: it is not made.
    if (subscriber instanceof Pid && !this.node.isAlive(subscriber)) return 'ok';
    this.subscriptions.add(cluster, pattern, subscriber);
    return 'ok';
  }

  demonitor(pattern: Pattern, subscriber: Subscriber<unknown>, options?: { cluster?: string | null }): 'ok' {
    this.subscriptions.remove(clusterOption(optionsObject(options, 'demonitor').cluster, 'demonitor'), pattern, subscriber);
    return 'ok';
  }

  /** A view confined to one tenant + namespace (src/group/tenant.ts, docs/api.md "Tenants"). */
  tenant(tenantId: string, namespace = 'default'): TenantView {
    return new TenantView(this, tenantId, namespace);
  }

  /**
   * Subscribe to 'group_created' / 'group_deleted' events of declared groups whose key matches
   * `pattern` (as for monitor). A Pid subscriber receives `{group, events}` messages.
   */
  monitorGroups(pattern: Pattern, subscriber: Pid | GroupLifecycleCallback, options?: { cluster?: string | null }): 'ok' {
    if (!this.running) throw new NotRunningError(`monitorGroups: Group ${this.name} has stopped`);
    const cluster = clusterOption(optionsObject(options, 'monitorGroups').cluster, 'monitorGroups');
    if (subscriber instanceof Pid && subscriber.node !== this.node.name) {
      throw new InvalidArgumentError(`monitorGroups: subscriber ${subscriber.key} lives on node ${subscriber.node}; subscribe on that node's Group`);
    }
    if (subscriber instanceof Pid && !this.node.isAlive(subscriber)) return 'ok';
    this.lifecycleSubscriptions.add(cluster, pattern, subscriber as Subscriber<unknown>);
    return 'ok';
  }

  demonitorGroups(pattern: Pattern, subscriber: Pid | GroupLifecycleCallback, options?: { cluster?: string | null }): 'ok' {
    this.lifecycleSubscriptions.remove(clusterOption(optionsObject(options, 'demonitorGroups').cluster, 'demonitorGroups'), pattern, subscriber as Subscriber<unknown>);
    return 'ok';
  }

  // ---- named clusters ---------------------------------------------------------------------------

  /** Join named clusters: this node's entries of them replicate to (and from) their other members. */
  connect(clusters: string | string[]): 'ok' {
    if (!this.running) throw new NotRunningError(`connect: Group ${this.name} has stopped`);
    const fresh = clusterList(clusters, 'connect').filter((c) => !this.membership.has(c, this.node.name));
    if (fresh.length === 0) return 'ok';
    for (const cluster of fresh) this.membership.add(cluster, this.node.name);
    this.replicator.connect(fresh);
    return 'ok';
  }

  /** Leave named clusters: this node's entries of them are removed everywhere ('cluster_disconnect'). */
  disconnect(clusters: string | string[]): 'ok' {
    if (!this.running) throw new NotRunningError(`disconnect: Group ${this.name} has stopped`);
    const leaving = clusterList(clusters, 'disconnect').filter((c) => this.membership.has(c, this.node.name));
    if (leaving.length === 0) return 'ok';
    const events: GroupEvent[] = [];
    for (const cluster of leaving) {
      for (const node of this.membership.nodes(cluster)) this.membership.remove(cluster, node);
      this.replicator.shadows.removeCluster(cluster);
      // Ours go everywhere; the others' we simply stop seeing (reads of a cluster we left see nothing).
      for (const node of this.tables.ownerNodes()) {
        for (const row of this.tables.purgeClusterOwnedBy(cluster, node)) {
          this.counters.purgedClusterDisconnect++;
          events.push(this.event(row instanceof RegistryRow ? 'unregistered' : 'left', row, null, 'cluster_disconnect'));
        }
      }
    }
    this.replicator.disconnect(leaving);
    this.emit(events);
    return 'ok';
  }

  isConnected(cluster: string): boolean {
    return this.membership.has(clusterOption(cluster, 'isConnected'), this.node.name);
  }

  /** Without a cluster: the Group peers (excluding this node). With one: its members, this node included when connected. */
  nodes(cluster?: string): string[] {
    if (cluster === undefined) return this.replicator.peers();
    return this.membership.nodes(clusterOption(cluster, 'nodes'));
  }

  // ---- counts and logging -------------------------------------------------------------------------

  localRegistryCount(options?: { cluster?: string | null }): number {
    return this.tables.localRegistryCount(readCluster(optionsObject(options, 'localRegistryCount').cluster), this.node.name);
  }

  localMemberCount(key: string, options?: { cluster?: string | null }): number {
    readableKey(key, 'localMemberCount');
    const cluster = readCluster(optionsObject(options, 'localMemberCount').cluster);
    if (this.countJoins) return joinsOf(this.tables.membersOnNode(cluster, key, this.node.name));
    return this.tables.localMemberCount(cluster, key, this.node.name);
  }

  /** Registrations in the cluster, or of one node's processes with {node}. */
  registryCount(options?: CountOptions): number {
    options = optionsObject(options, 'registryCount');
    const cluster = readCluster(options.cluster);
    if (options.node === undefined) return this.tables.registryCount(cluster);
    return this.tables.localRegistryCount(cluster, nodeOption(options.node, 'registryCount'));
  }

  /**
   * Members of `key` (or memberships of every key), as members() lists them: joins in count
   * mode; with {node}, only that node's processes.
   */
  memberCount(key?: string, options?: CountOptions): number {
    if (key !== undefined) readableKey(key, 'memberCount');
    options = optionsObject(options, 'memberCount');
    const cluster = readCluster(options.cluster);
    if (options.node === undefined) {
      if (!this.countJoins) return this.tables.memberCount(cluster, key);
      return joinsOf(key === undefined ? this.tables.membersByPrefix(cluster, '') : this.tables.members(cluster, key));
    }
    const node = nodeOption(options.node, 'memberCount');
    if (key !== undefined) {
      return this.countJoins ? joinsOf(this.tables.membersOnNode(cluster, key, node)) : this.tables.localMemberCount(cluster, key, node);
    }
    const owned = countOwned(this.tables, cluster, node);
    return this.countJoins ? owned.joins : owned.memberships;
  }

  /** Keys with members, or keys in which {node}'s processes are members. */
  groupCount(options?: CountOptions): number {
    options = optionsObject(options, 'groupCount');
    const cluster = readCluster(options.cluster);
    if (options.node === undefined) return this.tables.groupCount(cluster);
    return countOwned(this.tables, cluster, nodeOption(options.node, 'groupCount')).groups;
  }

  /**
   * Counters of this instance (local ops, replication, conflicts, purges, events) and the current
   * table sizes; see docs/api.md for each field.
   */
  stats(): GroupStats {
    const clusters = this.tables.clusters().map((cluster) => ({ cluster, entries: this.tables.registryCount(cluster), members: this.tables.memberCount(cluster) }));
    let entries = 0;
    let members = 0;
    for (const c of clusters) {
      entries += c.entries;
      members += c.members;
    }
    return groupStatsOf(this.counters, { group: this.name, node: this.node.name, clusters, entries, members });
  }

  /** Change the log level at runtime: 'info', 'verbose' (every replication frame) or false. */
  logLevel(level?: GroupLogLevel): GroupLogLevel {
    if (level !== undefined) {
      if (level !== 'info' && level !== 'verbose' && level !== false) throw new InvalidArgumentError(`logLevel: 'info', 'verbose' or false, got ${String(level)}`);
      this.level = level;
      this.logger.level = LEVELS[String(level)]!;
    }
    return this.level;
  }

  /** The consistency checker: every index of the tables agrees with every other ([] = consistent). */
  checkConsistency(): string[] {
    const shown = (cluster: ClusterName, key: string): Pid | undefined => this.tables.lookup(cluster, key)?.pid;
    return [
      ...this.tables.checkConsistency(),
      ...this.membership.checkConsistency(),
      ...this.replicator.shadows.check(shown, this.node.name),
      ...this.replicator.declarations.check(),
    ];
  }

  // ---- ReplicaHost / GroupEndpoint ------------------------------------------------------------------

  onFrame(type: number, peer: PeerIdentity, body: unknown[]): void {
    if (!this.running) return;
    if (type >= GroupFrame.LOCK && type <= GroupFrame.UNLOCK) return this.locks.onFrame(type, peer.name, body);
    this.replicator.onFrame(type, peer, body);
    if (type === GroupFrame.BYE) this.locks.onPeerGone(peer.name);
  }

  verbose(): boolean {
    return this.level === 'verbose';
  }

  /** Whether anyone subscribes: with no subscription, no event object is built at all. */
  wantsEvents(): boolean {
    return this.subscriptions.count() > 0;
  }

  emit(events: GroupEvent[]): void {
    // Events still pending go first: a subscriber sees every key's events in the order they happened.
    if (this.pendingEvents.length > 0) this.flushPendingEvents();
    this.deliver(events);
  }

  emitSoon(events: GroupEvent[]): void {
    if (events.length === 0) return;
    if (this.pendingEvents.length === 0) queueMicrotask(() => this.flushPendingEvents());
    for (let i = 0; i < events.length; i++) this.pendingEvents.push(events[i]!);
  }

  private flushPendingEvents(): void {
    const pending = this.pendingEvents;
    if (pending.length === 0) return;
    this.pendingEvents = [];
    this.deliver(pending);
  }

  private deliver(events: GroupEvent[]): void {
    if (events.length === 0) return;
    this.subscriptions.deliver(events, (subscriber, batch) => {
      this.counters.eventsDelivered += batch.length;
      if (subscriber instanceof Pid) {
        this.node.send(subscriber, { group: this.name, events: batch });
        return;
      }
      try {
        (subscriber as GroupEventCallback<unknown>)(batch, { group: this.name });
      } catch (error) {
        this.logger.error({ event: 'callback_error', err: error }, 'group event callback threw');
      }
    });
  }

  /** A declared group's state flipped here: its lifecycle event goes out in a microtask (never re-entrant). */
  declared(cluster: ClusterName, key: string, declaration: Declaration): void {
    if (this.lifecycleSubscriptions.count() === 0) return;
    if (this.pendingLifecycle.length === 0) queueMicrotask(() => this.flushLifecycle());
    this.pendingLifecycle.push({ type: declaration.exists ? 'group_created' : 'group_deleted', group: this.name, cluster, key, node: declaration.node, time: declaration.time });
  }

  private flushLifecycle(): void {
    const events = this.pendingLifecycle;
    this.pendingLifecycle = [];
    // Subscriptions match on cluster and key only, which a lifecycle event has.
    this.lifecycleSubscriptions.deliver(events as unknown as GroupEvent<unknown>[], (subscriber, batch) => {
      if (subscriber instanceof Pid) {
        this.node.send(subscriber, { group: this.name, events: batch });
        return;
      }
      try {
        (subscriber as unknown as GroupLifecycleCallback)(batch as unknown as GroupLifecycleEvent[], { group: this.name });
      } catch (error) {
        this.logger.error({ event: 'callback_error', err: error }, 'group lifecycle callback threw');
      }
    });
  }

  event(type: GroupEvent['type'], row: RowData, previousMeta: unknown, reason: unknown): GroupEvent {
    return {
      type,
      group: this.name,
      cluster: row.cluster,
      key: row.key,
      pid: row.pid,
      meta: this.extract(row.meta, undefined) as GroupEvent['meta'],
      previousMeta: (previousMeta === null || previousMeta === undefined ? null : this.extract(previousMeta, undefined)) as GroupEvent['previousMeta'],
      reason,
    };
  }

  // ---- internals ----------------------------------------------------------------------------------

  /**
   * Every local exit passes here (synchronously, inside the exit): no per-process monitor. A pid
   * with rows or subscriptions is queued; one microtask cleans up all the exits of a turn, so
   * 10,000 processes dying together make one event batch and one replication burst.
   */
  private onLocalExit(pid: Pid, reason: unknown): void {
    if (!this.running || (!this.tables.hasPid(pid) && !this.subscriptions.isSubscribed(pid) && !this.lifecycleSubscriptions.isSubscribed(pid))) return;
    if (this.exited.length === 0) queueMicrotask(() => this.cleanUpExited());
    this.exited.push({ pid, reason });
  }

  /** The exited processes' rows go (replicated with each one's exit reason), their subscriptions end. */
  private cleanUpExited(): void {
    const exited = this.exited;
    this.exited = [];
    const dead: Pid[] = [];
    const reasons: unknown[] = [];
    for (const { pid, reason } of exited) {
      this.subscriptions.removeSubscriber(pid);
      this.lifecycleSubscriptions.removeSubscriber(pid);
      if (!this.running) continue;
      // A process without rows gets an empty list from rowsOfPids: one lookup per exit, not two.
      dead.push(pid);
      reasons.push(reason);
    }
    if (dead.length === 0) return;
    // The peers hear first (a burst is flushed at once), then the rows go here: they purge meanwhile.
    const rows = this.tables.rowsOfPids(dead);
    this.replicator.broadcastExits(dead, rows, reasons);
    this.tables.removeRowsOfPids(rows);
    const events: GroupEvent[] = [];
    const wantsEvents = this.wantsEvents();
    for (let i = 0; i < dead.length; i++) {
      const pidRows = rows[i]!;
      this.counters.purgedExits += pidRows.length;
      if (wantsEvents) for (const row of pidRows) events.push(this.event(row instanceof RegistryRow ? 'unregistered' : 'left', row, null, reasons[i]));
      this.replicator.showNextAfter(pidRows, events);
    }
    this.emit(events);
  }

  /** Count a refused write and return its answer. */
  private refused<R extends string>(op: string, reason: R): R {
    this.counters.refused(op, reason);
    return reason;
  }

  private extract(meta: unknown, override: ((meta: unknown) => unknown) | undefined): unknown {
    const fn = override ?? this.options.extractMeta;
    return fn === undefined ? meta : fn(meta);
  }

  private writableCluster(cluster: unknown, what: string): ClusterName {
    if (!this.running) throw new NotRunningError(`${what}: Group ${this.name} has stopped`);
    const name = clusterOption(cluster, what);
    if (name !== null && !this.membership.has(name, this.node.name)) {
      throw new InvalidArgumentError(`${what}: not connected to cluster "${name}". Call group.connect("${name}") first`);
    }
    return name;
  }

  /** Strict mode: the caller must be the process `target` itself. */
  private checkStrict(target: Pid | undefined, what: string): void {
    const self = this.node.self();
    if (self === undefined) {
      throw new InvalidArgumentError(`${what}: Group ${this.name} is strict (a process writes only its own entries); call it from inside the process`);
    }
    if (!(target instanceof Pid) || !target.equals(self)) {
      throw new InvalidArgumentError(`${what}: Group ${this.name} is strict: ${self.key} may write only its own entries, not those of ${target instanceof Pid ? target.key : String(target)}`);
    }
  }

  private actingPid(pid: Pid | undefined, what: string): Pid {
    const acting = pid ?? this.node.self();
    if (this.options.strict) this.checkStrict(acting, what);
    if (acting === undefined) throw new InvalidArgumentError(`${what}: no pid given and not called from inside a process; pass {pid}`);
    if (!(acting instanceof Pid)) throw new InvalidArgumentError(`${what}: pid must be a Pid`);
    if (acting.node !== this.node.name) {
      throw new InvalidArgumentError(`${what}: ${acting.key} lives on node ${acting.node}; only its own node may write its entries (call ${what} there)`);
    }
    if (!this.node.isAlive(acting)) throw new NoProcError(`${what}: ${acting.key} is not alive`);
    return acting;
  }
}

/**
 * The tracing module when this Group is to be traced: always for `tracing: true`; for 'auto' only
 * when an SDK is registered (and @opentelemetry/api, a peer dependency, is installed at all).
 */
async function loadTracing(auto: boolean): Promise<typeof import('../observability/tracing.js') | undefined> {
  // No provider registered with any copy of the API: nothing to import. A dynamic import waits on
  // the module loader (real I/O under a loader hook such as tsx's), so Group.start would yield to
  // timers and I/O, and simulated clusters would not replay a seed exactly.
  if (auto && !tracerProviderRegistered()) return undefined;
  try {
    const tracing = await import('../observability/tracing.js');
    return !auto || tracing.sdkRegistered() ? tracing : undefined;
  } catch (error) {
    if (auto) return undefined;
    throw error;
  }
}

/**
 * Whether an app registered a global tracer provider with @opentelemetry/api 1.x, read from the
 * API's global slot (`Symbol.for('opentelemetry.js.api.1')`, where every copy of the API keeps
 * its globals) without loading the API.
 */
function tracerProviderRegistered(): boolean {
  const api = (globalThis as Record<symbol, unknown>)[Symbol.for('opentelemetry.js.api.1')];
  return typeof api === 'object' && api !== null && (api as Record<string, unknown>)['trace'] !== undefined;
}

function readCluster(cluster: unknown): ClusterName {
  return cluster === undefined || cluster === null ? null : typeof cluster === 'string' && cluster !== '' ? cluster : clusterOption(cluster, 'read');
}

/** Union of two sorted, duplicate-free key lists, sorted. */
function mergeSorted(a: string[], b: string[]): string[] {
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (j >= b.length || (i < a.length && a[i]! < b[j]!)) out.push(a[i++]!);
    else if (i >= a.length || b[j]! < a[i]!) out.push(b[j++]!);
    else {
      out.push(a[i++]!);
      j++;
    }
  }
  return out;
}

function limitOption(limit: unknown, what: string): number {
  if (limit === undefined) return Infinity;
  if (typeof limit !== 'number' || !(limit >= 0)) throw new InvalidArgumentError(`${what}: limit must be a number >= 0`);
  return limit;
}

function nodeOption(node: unknown, what: string): string {
  if (typeof node !== 'string' || node === '') throw new InvalidArgumentError(`${what}: node must be a node name (a non-empty string)`);
  return node;
}

function updateFunction(fn: unknown, what: string): void {
  if (typeof fn !== 'function') throw new InvalidArgumentError(`${what}: fn must be a function (oldMeta) => newMeta`);
}

/** Run an update function: it throws (nothing changes) or returns the new meta, synchronously. */
function updatedMeta(fn: (meta: unknown) => unknown, meta: unknown, what: string): unknown {
  const next = fn(meta);
  if (typeof (next as { then?: unknown } | null)?.then === 'function') {
    throw new InvalidArgumentError(`${what}: fn returned a promise; it must return the new meta synchronously (the read-modify-write is atomic only in one turn)`);
  }
  return next;
}

function optional<T>(value: T | undefined): T[] {
  return value === undefined ? [] : [value];
}

function clusterList(clusters: string | string[], what: string): string[] {
  const list = typeof clusters === 'string' ? [clusters] : clusters;
  if (!Array.isArray(list) || list.length === 0) throw new InvalidArgumentError(`${what}: give a cluster name or a non-empty list of names`);
  for (const c of list) clusterOption(c, what);
  return [...new Set(list)];
}


