/**
 * Tenant views: `group.tenant(tenantId, namespace)` is the same Group seen through a key mapping
 * that confines every operation, listing, count, event and monitor to one tenant + namespace.
 * No second table, no second replication: a tenant key is stored (and replicated) as
 * `TENANT_PREFIX + enc(tenant) + "/" + enc(namespace) + "/" + key`, where enc escapes "%" and "/"
 * (see `tenantPrefix`). Two facts make the confinement hold by construction:
 *  - an encoded id has no "/", so the prefix of (tenant, namespace) is never a prefix of another
 *    pair's (the first two "/" after TENANT_PREFIX end the ids): the key spaces are disjoint and
 *    a prefix query under one prefix can only reach that tenant's keys;
 *  - a view validates each tenant-relative argument BEFORE prepending the prefix, and the result
 *    of prepending to a string is always under the prefix: whatever the key ("..", "/", "\u0000",
 *    a copy of another tenant's stored key), it lands in the caller's own space.
 * The root Group is the administrator: it sees and may change every key, tenant keys included.
 *
 * HOW TO WRAP A NEW GROUP METHOD in TenantView (one or two lines, with `const s = this.#scope`):
 *  - a key the method WRITES: `s.writeKey(key, 'name')`; a key it READS: `s.readKey(key, 'name')`.
 *    Both validate first (a non-string would otherwise concatenate into a valid key: never do
 *    `s.prefix + key` by hand). If the method treats a key ending in "/" as a prefix, the empty
 *    key must not reach it: `s.readKey('')` is the bare prefix, i.e. the whole tenant (see members).
 *  - options with a `prefix` (listings): `s.listOptions(options, 'name')`.
 *  - results: Entry/Entry[] through `s.entry`/`s.entries`; key lists through `s.keys`; event
 *    batches through `s.events`. Pids, counts and status strings pass through unchanged.
 *  - anything that enumerates without a key (a count or listing of "everything") must be given
 *    `s.prefix` (see registryCount); never call an unprefixed root variant.
 *  - node- or cluster-level operations (connect, disconnect, logLevel, stop) are not tenant data:
 *    refuse them (see connect) or leave them out.
 */
import { InvalidArgumentError } from '../errors.js';
import { Pid } from '../process/pid.js';
import type { ClusterName } from './clusters.js';
import { type GroupEvent, type GroupEventCallback, type GroupEventInfo, type Pattern, type Subscriber } from './events.js';
import type { CountOptions, DispatchOptions, Entry, Group, JoinOptions, MembersOptions, MembershipInfo, PublishOptions, ReadOptions, WriteOptions } from './group.js';
import type { MultiCallOptions, MultiCallResult } from './multicall.js';
import { clusterOption, optionsObject, prefixOption, readableKey, writableKey } from './options.js';
import { parsePattern } from './subscriptions.js';

/** Every tenant key starts with this; no tenant-relative key can produce a key outside its own prefix. */
export const TENANT_PREFIX = '\u0000t/';

/** Longest tenant id or namespace, in UTF-16 code units (before escaping). */
export const MAX_TENANT_ID_LENGTH = 255;

const ESCAPED = /[%/]/g;
const ESCAPES = /%2F|%25/g;

function encodeId(id: string): string {
  return id.replace(ESCAPED, (c) => (c === '%' ? '%25' : '%2F'));
}

function decodeId(encoded: string): string {
  return encoded.replace(ESCAPES, (e) => (e === '%25' ? '%' : '/'));
}

function checkId(id: unknown, what: string): string {
  if (typeof id !== 'string') throw new InvalidArgumentError(`tenant: ${what} must be a string, got ${typeof id}`);
  if (id === '') throw new InvalidArgumentError(`tenant: ${what} must not be empty`);
  if (id.length > MAX_TENANT_ID_LENGTH) throw new InvalidArgumentError(`tenant: ${what} must be at most ${MAX_TENANT_ID_LENGTH} characters, got ${id.length}`);
  return id;
}

/** The stored prefix of (tenant, namespace); throws InvalidArgumentError for ids a view refuses. */
export function tenantPrefix(tenant: string, namespace: string): string {
  return `${TENANT_PREFIX}${encodeId(checkId(tenant, 'tenantId'))}/${encodeId(checkId(namespace, 'namespace'))}/`;
}

/**
 * Decode a stored key (as the root Group lists it): `{tenant, namespace, key}` for a key written
 * through a tenant view, undefined for any other key (root keys, and reserved-looking keys that no
 * view could have written). For admin tools: `group.registered().filter((k) => !parseTenantKey(k))`
 * lists the root's own keys.
 */
export function parseTenantKey(stored: string): { tenant: string; namespace: string; key: string } | undefined {
  if (typeof stored !== 'string' || !stored.startsWith(TENANT_PREFIX)) return undefined;
  const end1 = stored.indexOf('/', TENANT_PREFIX.length);
  const end2 = end1 < 0 ? -1 : stored.indexOf('/', end1 + 1);
  if (end2 < 0) return undefined;
  const tenant = decodeId(stored.slice(TENANT_PREFIX.length, end1));
  const namespace = decodeId(stored.slice(end1 + 1, end2));
  const key = stored.slice(end2 + 1);
  // Only the canonical spelling is a view's key (e.g. "%41" is not: a view would have written "%2541").
  if (tenant === '' || namespace === '' || key === '' || tenant.length > MAX_TENANT_ID_LENGTH || namespace.length > MAX_TENANT_ID_LENGTH) return undefined;
  if (stored.slice(0, end2 + 1) !== tenantPrefix(tenant, namespace)) return undefined;
  return { tenant, namespace, key };
}

/** The translation core of one (tenant, namespace): scope arguments in, unscope results out. */
export class TenantScope {
  readonly prefix: string;

  constructor(tenant: string, namespace: string) {
    this.prefix = tenantPrefix(tenant, namespace);
  }

  /** A tenant-relative key for a write, validated like the Group's own, then scoped. */
  writeKey(key: string, what: string): string {
    writableKey(key, what);
    return this.prefix + key;
  }

  /** A tenant-relative key for a read (any string), scoped. '' becomes the bare prefix, which no one can store. */
  readKey(key: string, what: string): string {
    readableKey(key, what);
    return this.prefix + key;
  }

  /** A monitor pattern: ALL is the tenant's prefix, a key or a prefix is scoped. Refuses what the Group refuses. */
  pattern(pattern: Pattern): string {
    const parsed = parsePattern(pattern);
    return parsed.kind === 'all' ? this.prefix : this.prefix + (parsed.kind === 'exact' ? parsed.key : parsed.prefix);
  }

  /** Listing options: the `prefix` scoped (omitted = the whole tenant), every other field as given. */
  listOptions<T extends { prefix?: string }>(options: T | undefined, what: string): T {
    const given = optionsObject(options, what);
    return { ...given, prefix: this.prefix + prefixOption(given.prefix, what) };
  }

  unscope(key: string): string {
    return key.slice(this.prefix.length);
  }

  keys(keys: string[]): string[] {
    for (let i = 0; i < keys.length; i++) keys[i] = this.unscope(keys[i]!);
    return keys;
  }

  /** A plain {pid, meta}: the stored row would also answer `.key` (the scoped key) and `.time`. */
  entry(entry: Entry | null): Entry | null {
    return entry === null ? null : { pid: entry.pid, meta: entry.meta };
  }

  entries(entries: Entry[]): Entry[] {
    const out = new Array<Entry>(entries.length);
    for (let i = 0; i < entries.length; i++) out[i] = { pid: entries[i]!.pid, meta: entries[i]!.meta };
    return out;
  }

  events(events: readonly GroupEvent<unknown>[]): GroupEvent<unknown>[] {
    const out = new Array<GroupEvent<unknown>>(events.length);
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      out[i] = { type: e.type, group: e.group, cluster: e.cluster, key: this.unscope(e.key), pid: e.pid, meta: e.meta, previousMeta: e.previousMeta, reason: e.reason };
    }
    return out;
  }
}

/**
 * A view of a Group confined to one tenant + namespace (`group.tenant(id, namespace)`). Same
 * signatures and results as the Group's methods, with tenant-relative keys. Views are cheap and
 * stateless (monitors live in the Group): make one per request if you like; two views of the same
 * pair are interchangeable (a monitor made through one is removed through the other).
 *
 * Not isolated (see docs/api.md "Tenants"): pids are global capabilities, node names and named
 * clusters are shared, and the root Group sees everything.
 */
export class TenantView {
  readonly tenant: string;
  readonly namespace: string;
  /** The Group instance's name (as in events). */
  readonly name: string;
  // True private fields: a tenant's code holding the view cannot reach the root Group through it.
  readonly #group: Group;
  readonly #scope: TenantScope;

  constructor(group: Group, tenant: string, namespace: string) {
    this.#scope = new TenantScope(tenant, namespace);
    this.#group = group;
    this.tenant = tenant;
    this.namespace = namespace;
    this.name = group.name;
  }

  // ---- registry ---------------------------------------------------------------------------

  register(key: string, meta: unknown = {}, options?: WriteOptions): 'ok' | 'taken' {
    return this.#group.register(this.#scope.writeKey(key, 'register'), meta, options);
  }

  unregister(key: string, options?: { cluster?: string | null }): 'ok' | 'not_found' | 'not_owner' {
    return this.#group.unregister(this.#scope.writeKey(key, 'unregister'), options);
  }

  lookup(key: string, options?: ReadOptions): Entry | null {
    return this.#scope.entry(this.#group.lookup(this.#scope.readKey(key, 'lookup'), options));
  }

  whereis(key: string, options?: { cluster?: string | null }): Pid | undefined {
    return this.#group.whereis(this.#scope.readKey(key, 'whereis'), options);
  }

  registerLocked(key: string, meta: unknown = {}, options?: WriteOptions & { timeoutMs?: number }): Promise<'ok' | 'taken'> {
    return this.#group.registerLocked(this.#scope.writeKey(key, 'registerLocked'), meta, options);
  }

  updateMeta(key: string, fn: (meta: unknown) => unknown, options?: { cluster?: string | null }): 'ok' | 'not_found' | 'not_owner' {
    return this.#group.updateMeta(this.#scope.writeKey(key, 'updateMeta'), fn, options);
  }

  /** Registered keys of this tenant (optionally under a tenant-relative prefix). */
  registered(options?: { prefix?: string; cluster?: string | null }): string[] {
    return this.#scope.keys(this.#group.registered(this.#scope.listOptions(options, 'registered')));
  }

  // ---- process groups -----------------------------------------------------------------------

  join(key: string, meta: unknown = {}, options?: JoinOptions): 'ok' {
    return this.#group.join(this.#scope.writeKey(key, 'join'), meta, options);
  }

  leave(key: string, options?: WriteOptions): 'ok' | 'not_in_group' {
    return this.#group.leave(this.#scope.writeKey(key, 'leave'), options);
  }

  /** Members of `key`, or of every key under it when it ends in "/". '' is an exact key (no members), as on the Group. */
  members(key: string, options?: MembersOptions): Entry[] {
    const scoped = this.#scope.readKey(key, 'members');
    if (key === '') {
      // The bare prefix ends in "/": the Group would read it as "every key of the tenant".
      optionsObject(options, 'members');
      return [];
    }
    return this.#scope.entries(this.#group.members(scoped, options));
  }

  updateMember(key: string, fn: (meta: unknown) => unknown, options?: WriteOptions): 'ok' | 'not_found' | 'not_owner' {
    return this.#group.updateMember(this.#scope.writeKey(key, 'updateMember'), fn, options);
  }

  /** Members of `key` on this node ('' is an exact key with no members, as in members). */
  localMembers(key: string, options?: Omit<MembersOptions, 'includeRegistered'>): Entry[] {
    const scoped = this.#scope.readKey(key, 'localMembers');
    if (key === '') {
      optionsObject(options, 'localMembers');
      return [];
    }
    return this.#scope.entries(this.#group.localMembers(scoped, options));
  }

  memberInfo(key: string, options?: { pid?: Pid; cluster?: string | null }): MembershipInfo | null {
    return this.#group.memberInfo(this.#scope.readKey(key, 'memberInfo'), options);
  }

  /** Keys of this tenant with members on this node (optionally under a tenant-relative prefix). */
  localGroups(options?: { prefix?: string; cluster?: string | null }): string[] {
    return this.#scope.keys(this.#group.localGroups(this.#scope.listOptions(options, 'localGroups')));
  }

  createGroup(key: string, options?: { cluster?: string | null }): 'ok' | 'exists' {
    return this.#group.createGroup(this.#scope.writeKey(key, 'createGroup'), options);
  }

  deleteGroup(key: string, options?: { cluster?: string | null }): 'ok' | 'not_found' {
    return this.#group.deleteGroup(this.#scope.writeKey(key, 'deleteGroup'), options);
  }

  hasGroup(key: string, options?: { cluster?: string | null }): boolean {
    return this.#group.hasGroup(this.#scope.readKey(key, 'hasGroup'), options);
  }

  /** Keys of this tenant that have members (optionally under a tenant-relative prefix). */
  groups(options?: { prefix?: string; cluster?: string | null }): string[] {
    return this.#scope.keys(this.#group.groups(this.#scope.listOptions(options, 'groups')));
  }

  // ---- dispatch -------------------------------------------------------------------------------

  dispatch(key: string, message: unknown, options?: DispatchOptions): void {
    this.#group.dispatch(this.#scope.readKey(key, 'dispatch'), message, options);
  }

  publish(key: string, message: unknown, options?: PublishOptions): Pid[] {
    return this.#group.publish(this.#scope.readKey(key, 'publish'), message, options);
  }

  multiCall<R = unknown>(key: string, request: unknown, options?: MultiCallOptions): Promise<MultiCallResult<R>> {
    return this.#group.multiCall<R>(this.#scope.readKey(key, 'multiCall'), request, options);
  }

  dispatchLocal(key: string, message: unknown, options?: DispatchOptions): void {
    this.#group.dispatchLocal(this.#scope.readKey(key, 'dispatchLocal'), message, options);
  }

  // ---- monitoring -------------------------------------------------------------------------------

  /**
   * Events of this tenant's keys matching `pattern` (ALL = every key of the tenant), with
   * tenant-relative keys. A Pid subscriber gets `{group, events}` messages and is unsubscribed
   * when it exits; a callback gets `(events, {group})`.
   */
  monitor(pattern: Pattern, subscriber: Subscriber<unknown>, options?: { cluster?: string | null }): 'ok' {
    monitorsOf(this.#group).add(this.#scope, pattern, subscriber, options);
    return 'ok';
  }

  demonitor(pattern: Pattern, subscriber: Subscriber<unknown>, options?: { cluster?: string | null }): 'ok' {
    monitorsOf(this.#group).remove(this.#scope, pattern, subscriber, options);
    return 'ok';
  }

  // ---- counts ---------------------------------------------------------------------------------

  /** Registrations of this tenant (of one node's processes with {node}). */
  registryCount(options?: CountOptions): number {
    return this.#group.tables.registryCountByPrefix(readCluster(options, 'registryCount'), this.#scope.prefix, readNode(options, 'registryCount'));
  }

  localRegistryCount(options?: { cluster?: string | null }): number {
    return this.#group.tables.registryCountByPrefix(readCluster(options, 'localRegistryCount'), this.#scope.prefix, this.#group.node.name);
  }

  /** Members of `key`, or with no key every membership of this tenant (of one node's processes with {node}). */
  memberCount(key?: string, options?: CountOptions): number {
    if (key !== undefined) return this.#group.memberCount(this.#scope.readKey(key, 'memberCount'), options);
    return this.#group.tables.memberCountByPrefix(readCluster(options, 'memberCount'), this.#scope.prefix, readNode(options, 'memberCount'));
  }

  /** Groups of this tenant (with members or created): a walk of the tenant's keys. */
  groupCount(options?: { cluster?: string | null }): number {
    return this.#group.groups({ cluster: readCluster(options, 'groupCount'), prefix: this.#scope.prefix }).length;
  }

  localMemberCount(key: string, options?: { cluster?: string | null }): number {
    return this.#group.localMemberCount(this.#scope.readKey(key, 'localMemberCount'), options);
  }

  // ---- cluster-level (shared by every tenant) -----------------------------------------------------

  /** Named-cluster membership is node-wide, not tenant data: only the Group itself may change it. */
  connect(_clusters: string | string[]): never {
    throw new InvalidArgumentError('connect: cluster membership is shared by every tenant; call connect on the Group, not on a tenant view');
  }

  disconnect(_clusters: string | string[]): never {
    throw new InvalidArgumentError('disconnect: cluster membership is shared by every tenant; call disconnect on the Group, not on a tenant view');
  }

  isConnected(cluster: string): boolean {
    return this.#group.isConnected(cluster);
  }

  nodes(cluster?: string): string[] {
    return this.#group.nodes(cluster);
  }
}

function readNode(options: CountOptions | undefined, what: string): string | undefined {
  const node = options?.node;
  if (node !== undefined && (typeof node !== 'string' || node === '')) throw new InvalidArgumentError(`${what}: node must be a node name (a non-empty string)`);
  return node;
}

function readCluster(options: { cluster?: string | null } | undefined, what: string): ClusterName {
  return clusterOption(optionsObject(options, what).cluster, what);
}

// ---- monitors -------------------------------------------------------------------------------------

/**
 * One subscriber of one tenant: a single wrapper callback subscribed to the Group with every
 * scoped pattern of that subscriber, so the Group's "each event once per subscriber" holds for the
 * tenant subscriber too, and each batch is rewritten once.
 */
interface MonitorRecord {
  readonly id: string | GroupEventCallback<unknown>;
  readonly prefix: string;
  readonly pid: Pid | undefined;
  readonly wrapper: GroupEventCallback<unknown>;
  /** Scoped patterns per cluster. */
  readonly patterns: Map<ClusterName, Set<string>>;
}

/**
 * The tenant monitors of one Group, shared by all its views. Process subscribers are removed on
 * their exit through one node exit listener, held only while some exist (the Group's own
 * cleanup does not know the wrappers).
 */
class TenantMonitors {
  private readonly records = new Map<string, Map<string | GroupEventCallback<unknown>, MonitorRecord>>();
  private readonly byPid = new Map<string, Set<MonitorRecord>>();
  private stopExitListener: (() => void) | undefined;

  constructor(private readonly group: Group) {}

  add(scope: TenantScope, pattern: Pattern, subscriber: Subscriber<unknown>, options: { cluster?: string | null } | undefined): void {
    const scoped = scope.pattern(pattern);
    const cluster = clusterOption(optionsObject(options, 'monitor').cluster, 'monitor');
    const id = subscriberId(subscriber);
    const group = this.group;
    const pid = typeof subscriber === 'function' ? undefined : subscriber;
    if (pid !== undefined && pid.node !== group.node.name) {
      throw new InvalidArgumentError(`monitor: subscriber ${pid.key} lives on node ${pid.node}; subscribe on that node's Group`);
    }
    // As on the Group: a dead process never exits again, so its subscription would never end.
    if (pid !== undefined && !group.node.isAlive(pid)) return;
    let byId = this.records.get(scope.prefix);
    let record = byId?.get(id);
    if (record?.patterns.get(cluster)?.has(scoped) === true) return;
    if (record === undefined) {
      const wrapper: GroupEventCallback<unknown> =
        pid === undefined
          ? (events, info: GroupEventInfo) => (subscriber as GroupEventCallback<unknown>)(scope.events(events), info)
          : (events, info: GroupEventInfo) => group.node.send(pid, { group: info.group, events: scope.events(events) });
      record = { id, prefix: scope.prefix, pid, wrapper, patterns: new Map() };
    }
    group.monitor(scoped, record.wrapper, { cluster });
    if (byId === undefined) this.records.set(scope.prefix, (byId = new Map()));
    byId.set(id, record);
    let patterns = record.patterns.get(cluster);
    if (patterns === undefined) record.patterns.set(cluster, (patterns = new Set()));
    patterns.add(scoped);
    if (pid !== undefined) this.trackPid(pid, record);
  }

  remove(scope: TenantScope, pattern: Pattern, subscriber: Subscriber<unknown>, options: { cluster?: string | null } | undefined): void {
    const scoped = scope.pattern(pattern);
    const cluster = clusterOption(optionsObject(options, 'demonitor').cluster, 'demonitor');
    const record = this.records.get(scope.prefix)?.get(subscriberId(subscriber));
    const patterns = record?.patterns.get(cluster);
    if (record === undefined || patterns === undefined || !patterns.has(scoped)) return;
    this.group.demonitor(scoped, record.wrapper, { cluster });
    patterns.delete(scoped);
    if (patterns.size === 0) record.patterns.delete(cluster);
    if (record.patterns.size === 0) this.forget(record);
  }

  private trackPid(pid: Pid, record: MonitorRecord): void {
    let set = this.byPid.get(pid.key);
    if (set === undefined) this.byPid.set(pid.key, (set = new Set()));
    set.add(record);
    this.stopExitListener ??= this.group.node.onProcessExit((exited) => this.onExit(exited));
  }

  end(): void {
    this.stopExitListener?.();
    this.stopExitListener = undefined;
    this.records.clear();
    this.byPid.clear();
  }

  private onExit(pid: Pid): void {
    const records = this.byPid.get(pid.key);
    if (records === undefined) return;
    for (const record of [...records]) {
      for (const [cluster, patterns] of record.patterns) for (const scoped of patterns) this.group.demonitor(scoped, record.wrapper, { cluster });
      record.patterns.clear();
      this.forget(record);
    }
  }

  private forget(record: MonitorRecord): void {
    const byId = this.records.get(record.prefix);
    byId?.delete(record.id);
    if (byId?.size === 0) this.records.delete(record.prefix);
    if (record.pid === undefined) return;
    const set = this.byPid.get(record.pid.key);
    set?.delete(record);
    if (set?.size === 0) this.byPid.delete(record.pid.key);
    if (this.byPid.size === 0 && this.stopExitListener !== undefined) {
      this.stopExitListener();
      this.stopExitListener = undefined;
    }
  }
}

const monitorsByGroup = new WeakMap<Group, TenantMonitors>();

/** A stopping Group's tenant monitors end: their exit listener goes with them (Group.stop). */
export function endTenantMonitors(group: Group): void {
  monitorsByGroup.get(group)?.end();
  monitorsByGroup.delete(group);
}

function monitorsOf(group: Group): TenantMonitors {
  let monitors = monitorsByGroup.get(group);
  if (monitors === undefined) monitorsByGroup.set(group, (monitors = new TenantMonitors(group)));
  return monitors;
}

function subscriberId(subscriber: unknown): string | GroupEventCallback<unknown> {
  if (typeof subscriber === 'function') return subscriber as GroupEventCallback<unknown>;
  if (Pid.isPid(subscriber)) return subscriber.key;
  throw new InvalidArgumentError('monitor: subscriber must be a Pid (it receives {group, events} messages) or a function (events, info) => void');
}
