import { isDeepStrictEqual } from 'node:util';
import { InvalidArgumentError, NoProcError, NotRunningError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import { GroupCounters, groupStatsOf, type GroupStats } from '../observability/stats.js';
import { Node, type NodeDownEvent, type NodeUpEvent } from '../node/node.js';
import { Pid } from '../process/pid.js';
import type { PeerIdentity } from '../transport/link.js';
import { ClusterMembership, type ClusterName } from './clusters.js';
import { ALL, type GroupEvent, type GroupEventCallback, type Pattern, type Subscriber } from './events.js';
import { clusterOption, extractMetaOption, optionsObject, prefixOption, readableKey, resolveGroupOptions, writableKey, type GroupLogLevel, type GroupOptions, type ResolvedGroupOptions } from './options.js';
import { GroupFrame, Op, attachGroup, detachGroup, type GroupEndpoint } from './protocol.js';
import { Replicator, type ReplicaHost, type RowData } from './replicator.js';
import { Subscriptions } from './subscriptions.js';
import { GroupTables, RegistryRow, type Row } from './tables.js';

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

export interface DispatchOptions {
  cluster?: string | null;
  /** Also send to the registered process of the key. */
  includeRegistered?: boolean;
}

const SLASH = 0x2f;

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
  private readonly replicator: Replicator;
  /** Events of replicated ops not yet delivered (see emitSoon). */
  private pendingEvents: GroupEvent[] = [];
  /** Local processes that exited with rows or subscriptions, cleaned up together in a microtask. */
  private exited: Array<{ pid: Pid; reason: unknown }> = [];
  private readonly stopExitListener: () => void;
  private level: GroupLogLevel;
  private running = true;
  private readonly onUp = (e: NodeUpEvent): void => this.replicator.onNodeUp(e.node);
  private readonly onDown = (e: NodeDownEvent): void => this.replicator.onNodeDown(e.node);

  private constructor(node: Node, options: ResolvedGroupOptions) {
    this.node = node;
    this.name = options.name;
    this.options = options;
    this.level = options.log;
    this.logger = node.logger.child({ group: options.name });
    this.logger.level = LEVELS[String(options.log)]!;
    this.membership.add(null, node.name);
    this.replicator = new Replicator(this);
    this.stopExitListener = node.onProcessExit((pid, reason) => this.onLocalExit(pid, reason));
  }

  /** Start a Group instance on a node and say hello to the peers running the same name. */
  static async start(node: Node, options: GroupOptions): Promise<Group> {
    if (!(node instanceof Node)) throw new InvalidArgumentError('Group.start(node, options): node must be a running Node (from startNode)');
    const resolved = resolveGroupOptions(options);
    // Loaded only when asked for (before anything starts): an untraced Group never loads @opentelemetry/api.
    const tracing = resolved.tracing ? await import('../observability/tracing.js') : undefined;
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
    this.replicator.stop();
    this.node.off('nodeup', this.onUp);
    this.node.off('nodedown', this.onDown);
    detachGroup(this.node, this.name);
    this.stopExitListener();
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
    const time = this.node.clock.wallNow();
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

  // ---- process groups -----------------------------------------------------------------------

  /** Join group `key` (once per process; a re-join with different meta updates it in place). */
  join(key: string, meta: unknown = {}, options?: WriteOptions): 'ok' {
    writableKey(key, 'join');
    options = optionsObject(options, 'join');
    const cluster = this.writableCluster(options.cluster, 'join');
    const pid = this.actingPid(options.pid, 'join');
    const existing = this.tables.member(cluster, key, pid);
    if (existing !== undefined && isDeepStrictEqual(existing.meta, meta)) return 'ok';
    const time = this.node.clock.wallNow();
    const payload = this.replicator.encodeOp(cluster, Op.JOIN, key, pid, meta, time, existing === undefined ? 'join' : 'update');
    if (existing === undefined) this.counters.joins++;
    else this.counters.memberUpdates++;
    this.tables.join(cluster, key, pid, meta, time);
    this.replicator.broadcast(cluster, payload);
    if (this.wantsEvents()) this.emit([this.event('joined', this.tables.member(cluster, key, pid)!, existing?.meta ?? null, null)]);
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
    if (options === undefined && this.options.extractMeta === undefined && key.charCodeAt(key.length - 1) !== SLASH) {
      return this.tables.members(null, key).slice();
    }
    return this.membersWith(key, optionsObject(options, 'members'));
  }

  private membersWith(key: string, options: MembersOptions): Entry[] {
    const cluster = readCluster(options.cluster);
    const override = extractMetaOption(options.extractMeta, 'members');
    const limit = options.limit ?? Infinity;
    if (typeof limit !== 'number' || !(limit >= 0)) throw new InvalidArgumentError('members: limit must be a number >= 0');
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
    const extract = override ?? this.options.extractMeta;
    const count = Math.min(rows.length, limit);
    // Rows are the entries (frozen, own fields pid and meta), so the common case costs one copy of
    // an array of references, and the caller may sort or change that array as it likes.
    if (extract === undefined) return owned && count === rows.length ? (rows as Row[]) : rows.slice(0, count);
    const out = new Array<Entry>(count);
    for (let i = 0; i < count; i++) out[i] = { pid: rows[i]!.pid, meta: extract(rows[i]!.meta) };
    return out;
  }

  /** Keys that have members (optionally under a prefix). */
  groups(options?: { prefix?: string; cluster?: string | null }): string[] {
    const { cluster, prefix } = optionsObject(options, 'groups');
    return this.tables.groups(readCluster(cluster), prefixOption(prefix, 'groups'));
  }

  /** Every registered key in the cluster (optionally under a prefix). */
  registered(options?: { prefix?: string; cluster?: string | null }): string[] {
    const { cluster, prefix } = optionsObject(options, 'registered');
    return this.tables.registeredKeys(readCluster(cluster), prefixOption(prefix, 'registered'));
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
    return this.tables.localMemberCount(readCluster(optionsObject(options, 'localMemberCount').cluster), key, this.node.name);
  }

  registryCount(options?: { cluster?: string | null }): number {
    return this.tables.registryCount(readCluster(optionsObject(options, 'registryCount').cluster));
  }

  memberCount(key?: string, options?: { cluster?: string | null }): number {
    if (key !== undefined) readableKey(key, 'memberCount');
    return this.tables.memberCount(readCluster(optionsObject(options, 'memberCount').cluster), key);
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
    return [...this.tables.checkConsistency(), ...this.membership.checkConsistency(), ...this.replicator.shadows.check(shown, this.node.name)];
  }

  // ---- ReplicaHost / GroupEndpoint ------------------------------------------------------------------

  onFrame(type: number, peer: PeerIdentity, body: unknown[]): void {
    if (this.running) this.replicator.onFrame(type, peer, body);
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
    if (!this.running || (!this.tables.hasPid(pid) && !this.subscriptions.isSubscribed(pid))) return;
    if (this.exited.length === 0) queueMicrotask(() => this.cleanUpExited());
    this.exited.push({ pid, reason });
  }

  /** The exited processes' rows go (replicated with each one's exit reason), their subscriptions end. */
  private cleanUpExited(): void {
    const exited = this.exited;
    this.exited = [];
    const events: GroupEvent[] = [];
    for (const { pid, reason } of exited) {
      this.subscriptions.removeSubscriber(pid);
      if (!this.running) continue;
      const rows = this.tables.removePid(pid);
      if (rows.length === 0) continue;
      this.counters.purgedExits += rows.length;
      this.replicator.broadcastRemovals(rows, reason);
      if (this.wantsEvents()) for (const row of rows) events.push(this.event(row instanceof RegistryRow ? 'unregistered' : 'left', row, null, reason));
      this.replicator.showNextAfter(rows, events);
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

  private actingPid(pid: Pid | undefined, what: string): Pid {
    const acting = pid ?? this.node.self();
    if (acting === undefined) throw new InvalidArgumentError(`${what}: no pid given and not called from inside a process; pass {pid}`);
    if (!(acting instanceof Pid)) throw new InvalidArgumentError(`${what}: pid must be a Pid`);
    if (acting.node !== this.node.name) {
      throw new InvalidArgumentError(`${what}: ${acting.key} lives on node ${acting.node}; only its own node may write its entries (call ${what} there)`);
    }
    if (!this.node.isAlive(acting)) throw new NoProcError(`${what}: ${acting.key} is not alive`);
    return acting;
  }
}

function readCluster(cluster: unknown): ClusterName {
  return cluster === undefined || cluster === null ? null : typeof cluster === 'string' && cluster !== '' ? cluster : clusterOption(cluster, 'read');
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


