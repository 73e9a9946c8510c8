import { InvalidArgumentError, NotRunningError } from '../errors.js';
import { ALL, type GroupEvent, type GroupEventCallback } from '../group/events.js';
import { Group } from '../group/group.js';
import { Node } from '../node/node.js';
import type { Pid, Ref } from '../process/pid.js';
import type { DownInfo } from '../process/host.js';
import { RoleListeners, type RoleEvent, type RoleEventListener, type RoleEventType } from './events.js';
import { resolveRolesOptions, scopeName, type RolesOptions } from './options.js';
import { roleKey } from './role-key.js';
import { MARKER_KEY, ROLE_PREFIX, ScopeView } from './scope-view.js';

/** One scope this node has joined. */
interface Scope {
  readonly name: string;
  readonly view: ScopeView;
  /** This node's roles in the scope: role key → role (the source of truth for our own rows). */
  readonly mine: Map<string, unknown>;
  /** getMyRoles' answer, sorted by role key, built on first read after a change. */
  myList: unknown[] | undefined;
  readonly onEvents: GroupEventCallback<unknown>;
}

/**
 * Node roles in overlapping scopes (ClusterHelper's API), on top of a Group: each scope is a
 * named cluster of the Group; in it, one internal process per node joins a presence marker and
 * one key per role (the role's canonical text; the role value is the member's meta). Replication,
 * resync on connect, anti-entropy and the purge of a departed node are the Group's. Reads come
 * from a per-scope index derived from the Group's events: synchronous, a Map lookup and a copy.
 * See docs/api.md, "Node roles and scopes".
 */
export class Roles {
  readonly node: Node;
  readonly group: Group;
  readonly defaultScope: string;
  private readonly ownsGroup: boolean;
  private readonly scopes = new Map<string, Scope>();
  private readonly listeners: RoleListeners;
  /** The internal process whose rows are this node's markers and roles. */
  private pid: Pid;
  private down: Ref;
  /** While a multi-role write runs, the Group events it makes wait here to be applied as one batch. */
  private deferred: Map<Scope, GroupEvent<unknown>[]> | undefined;
  private running = true;

  private constructor(node: Node, group: Group, ownsGroup: boolean, defaultScope: string) {
    this.node = node;
    this.group = group;
    this.ownsGroup = ownsGroup;
    this.defaultScope = defaultScope;
    this.listeners = new RoleListeners(node.logger);
    this.pid = this.spawn();
    this.down = node.monitor(this.pid, (down) => this.onDown(down));
  }

  /** Start roles on a node: joins the configured scopes and adds the configured roles. */
  static async start(node: Node, options?: RolesOptions): Promise<Roles> {
    if (!(node instanceof Node)) throw new InvalidArgumentError('Roles.start(node, options): node must be a running Node (from startNode)');
    const resolved = resolveRolesOptions(options);
    // Every role is checked before anything starts: a typo in the config fails fast and whole.
    for (const [scope, list] of resolved.initial) for (const role of list) roleKey(role, `Roles.start: roles of scope "${scope}"`);
    let group: Group;
    let owns: boolean;
    if (resolved.group instanceof Group) {
      group = resolved.group;
      owns = false;
      if (group.node !== node) throw new InvalidArgumentError('Roles.start: the Group given runs on another node');
      if (group.options.extractMeta !== undefined) {
        throw new InvalidArgumentError('Roles.start: the Group given has an extractMeta option; roles need the raw meta (use a Group of its own)');
      }
    } else {
      group = await Group.start(node, { name: resolved.group, log: false });
      owns = true;
    }
    const roles = new Roles(node, group, owns, resolved.defaultScope);
    try {
      for (const [type, listener] of resolved.on) roles.listeners.add(type, listener, 'Roles.start: option "on"');
      for (const [scope, list] of resolved.initial) roles.join(scope, list, 'Roles.start');
    } catch (error) {
      await roles.stop();
      throw error;
    }
    return roles;
  }

  // ---- writes -------------------------------------------------------------------------------------

  /** Give this node a role in a scope (default scope when omitted). Adding a role it has is a no-op. */
  addRole(role: unknown, scope?: string | null): void {
    this.add([role], scope, 'addRole');
  }

  /** Give this node several roles; the change reaches every node as one roleAdded event. */
  addRoles(roles: readonly unknown[], scope?: string | null): void {
    this.add(roles, scope, 'addRoles');
  }

  /** Take a role from this node; removing a role it does not have is a no-op. */
  removeRole(role: unknown, scope?: string | null): void {
    this.remove([role], scope, 'removeRole');
  }

  removeRoles(roles: readonly unknown[], scope?: string | null): void {
    this.remove(roles, scope, 'removeRoles');
  }

  private add(roles: readonly unknown[], scope: string | null | undefined, what: string): void {
    const s = this.scope(scope, what);
    const keys = this.keysOf(roles, what);
    this.batch(s, () => {
      for (const [key, role] of keys) {
        if (s.mine.has(key)) continue;
        const value = copy(role);
        s.mine.set(key, value);
        s.myList = undefined;
        this.group.join(ROLE_PREFIX + key, value, { pid: this.pid, cluster: s.name });
      }
    });
  }

  private remove(roles: readonly unknown[], scope: string | null | undefined, what: string): void {
    const s = this.scope(scope, what);
    const keys = this.keysOf(roles, what);
    this.batch(s, () => {
      for (const key of keys.keys()) {
        if (!s.mine.delete(key)) continue;
        s.myList = undefined;
        this.group.leave(ROLE_PREFIX + key, { pid: this.pid, cluster: s.name });
      }
    });
  }

  /** Join a scope: this node appears in it (with no roles yet) and sees its nodes and roles. */
  joinScope(scope: string): void {
    this.join(scope, [], 'joinScope');
  }

  private join(scope: string, roles: readonly unknown[], what: string): void {
    this.assertRunning(what);
    const name = scopeName(scope, what);
    if (this.scopes.has(name)) throw new InvalidArgumentError(`${what}: this node has already joined scope "${name}"`);
    const keys = this.keysOf(roles, what);
    const s: Scope = { name, view: new ScopeView(name), mine: new Map(), myList: undefined, onEvents: (events) => this.onEvents(s, events) };
    this.group.connect(name);
    this.scopes.set(name, s);
    this.group.monitor(ALL, s.onEvents, { cluster: name });
    // Rows the Group already holds for this cluster (a shared Group) enter the view as if they had just arrived.
    this.onEvents(s, this.tableRows(name));
    for (const [key, role] of keys) s.mine.set(key, copy(role));
    this.assert(s);
  }

  /**
   * Join this node's rows of a scope: the roles first, the marker last, so every node sees the
   * node appear with its roles (one nodeAdded), not bare and then gaining them.
   */
  private assert(s: Scope): void {
    this.batch(s, () => {
      for (const [key, role] of s.mine) this.group.join(ROLE_PREFIX + key, role, { pid: this.pid, cluster: s.name });
      this.group.join(MARKER_KEY, {}, { pid: this.pid, cluster: s.name });
    });
  }

  /** Leave a scope: this node and its roles in it disappear from every node's view of it. */
  leaveScope(scope: string): void {
    this.assertRunning('leaveScope');
    const name = scopeName(scope, 'leaveScope');
    const s = this.scopes.get(name);
    if (s === undefined) throw new InvalidArgumentError(`leaveScope: this node has not joined scope "${name}" (joined: ${this.listScopes().join(', ') || 'none'})`);
    // This node stops observing the scope: no events locally; the others see our roles go.
    this.group.demonitor(ALL, s.onEvents, { cluster: name });
    this.scopes.delete(name);
    this.group.disconnect(name);
  }

  // ---- reads (local, synchronous) ---------------------------------------------------------------

  /** Nodes with `role` in the scope, sorted by name. */
  getNodes(role: unknown, scope?: string | null): string[] {
    const s = this.scope(scope, 'getNodes');
    return s.view.nodesWith(roleKey(role, 'getNodes'));
  }

  /** The roles of `node` in the scope, in the canonical order of their keys; [] for a node not in it. */
  getRoles(node: string, scope?: string | null): unknown[] {
    const s = this.scope(scope, 'getRoles');
    if (typeof node !== 'string') throw new InvalidArgumentError(`getRoles: node must be a node name (string), got ${typeof node}`);
    return s.view.rolesOf(node);
  }

  /** This node's roles in the scope. */
  getMyRoles(scope?: string | null): unknown[] {
    const s = this.scope(scope, 'getMyRoles');
    s.myList ??= [...s.mine.keys()].sort().map((k) => s.mine.get(k));
    return s.myList.slice();
  }

  /** Whether `node` has `role` in the scope. */
  hasRole(node: string, role: unknown, scope?: string | null): boolean {
    const s = this.scope(scope, 'hasRole');
    if (typeof node !== 'string') throw new InvalidArgumentError(`hasRole: node must be a node name (string), got ${typeof node}`);
    return s.view.hasRole(node, roleKey(role, 'hasRole'));
  }

  /** Every node that has joined the scope (with or without roles), this one included, sorted. */
  allNodes(scope?: string | null): string[] {
    return this.scope(scope, 'allNodes').view.allNodes();
  }

  /** The scopes this node has joined, sorted. */
  listScopes(): string[] {
    return [...this.scopes.keys()].sort();
  }

  isLocalNode(node: string): boolean {
    return node === this.node.name;
  }

  // ---- events -------------------------------------------------------------------------------------

  /** Listen to 'roleAdded' | 'roleRemoved' | 'nodeAdded' | 'nodeRemoved' of every joined scope. */
  on(type: RoleEventType, listener: RoleEventListener): this {
    this.listeners.add(type, listener, 'on');
    return this;
  }

  off(type: RoleEventType, listener: RoleEventListener): this {
    this.listeners.remove(type, listener, 'off');
    return this;
  }

  // ---- lifecycle ----------------------------------------------------------------------------------

  /** Stop: this node's roles disappear everywhere; the Group stops too if Roles started it. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.node.demonitor(this.down);
    for (const s of this.scopes.values()) this.group.demonitor(ALL, s.onEvents, { cluster: s.name });
    const names = [...this.scopes.keys()];
    this.scopes.clear();
    if (this.ownsGroup) await this.group.stop();
    else if (names.length > 0) this.group.disconnect(names);
    if (this.node.running) this.node.exit(this.pid, 'shutdown');
  }

  /**
   * Every scope's index agrees with the Group's tables ([] = consistent): the present nodes are
   * the marker's members, and each role's nodes are the present members of its key.
   */
  checkConsistency(): string[] {
    const problems: string[] = [];
    for (const s of this.scopes.values()) {
      const cluster = { cluster: s.name };
      const present = new Set(this.group.members(MARKER_KEY, cluster).map((e) => e.pid.node));
      const expected = [...present].sort();
      const seen = s.view.allNodes();
      if (expected.join('\n') !== seen.join('\n')) problems.push(`scope ${s.name}: nodes ${JSON.stringify(seen)}, the Group has ${JSON.stringify(expected)}`);
      const keys = new Set(this.group.groups({ prefix: ROLE_PREFIX, cluster: s.name }).map((k) => k.slice(ROLE_PREFIX.length)));
      for (const key of s.view.roleIndex().keys()) keys.add(key);
      for (const key of keys) {
        const want = [...new Set(this.group.members(ROLE_PREFIX + key, cluster).map((e) => e.pid.node))].filter((n) => present.has(n)).sort();
        const got = s.view.nodesWith(key);
        if (want.join('\n') !== got.join('\n')) problems.push(`scope ${s.name}, role ${key}: nodes ${JSON.stringify(got)}, the Group has ${JSON.stringify(want)}`);
      }
    }
    return problems;
  }

  // ---- internals ----------------------------------------------------------------------------------

  private onEvents(s: Scope, events: readonly GroupEvent<unknown>[]): void {
    if (this.scopes.get(s.name) !== s) return;
    const deferred = this.deferred?.get(s);
    if (deferred !== undefined) {
      for (const event of events) deferred.push(event);
      return;
    }
    const out = s.view.apply(events);
    if (out.length > 0) this.listeners.deliver(out);
  }

  /** Run the writes of one call; their Group events become one batch of role events. */
  private batch(s: Scope, writes: () => void): void {
    if (this.deferred !== undefined) {
      // A listener writing from inside another write's delivery: its events join their own batch later.
      writes();
      return;
    }
    const pending: GroupEvent<unknown>[] = [];
    this.deferred = new Map([[s, pending]]);
    try {
      writes();
    } finally {
      this.deferred = undefined;
      if (pending.length > 0) this.onEvents(s, pending);
    }
  }

  private keysOf(roles: readonly unknown[], what: string): Map<string, unknown> {
    if (!Array.isArray(roles)) throw new InvalidArgumentError(`${what}: roles must be an array, e.g. ${what}(["web", {shard: 1}])`);
    const keys = new Map<string, unknown>();
    for (const role of roles as unknown[]) {
      const key = roleKey(role, what);
      if (!keys.has(key)) keys.set(key, role);
    }
    return keys;
  }

  private scope(scope: unknown, what: string): Scope {
    this.assertRunning(what);
    const name = scope === undefined || scope === null ? this.defaultScope : scopeName(scope, what);
    const s = this.scopes.get(name);
    if (s === undefined) {
      throw new InvalidArgumentError(`${what}: this node has not joined scope "${name}"; call roles.joinScope("${name}") first (joined: ${this.listScopes().join(', ') || 'none'})`);
    }
    return s;
  }

  private tableRows(cluster: string): GroupEvent<unknown>[] {
    const rows: GroupEvent<unknown>[] = [];
    const add = (key: string): void => {
      for (const { pid, meta } of this.group.members(key, { cluster })) {
        rows.push({ type: 'joined', group: this.group.name, cluster, key, pid, meta, previousMeta: null, reason: null });
      }
    };
    add(MARKER_KEY);
    for (const key of this.group.groups({ prefix: ROLE_PREFIX, cluster })) add(key);
    return rows;
  }

  private spawn(): Pid {
    // Only its rows matter: it waits for an exit that never comes (until stop).
    return this.node.spawn(async (ctx) => {
      for (;;) await ctx.receive();
    });
  }

  /** Someone killed the internal process: a new one takes over and re-asserts this node's rows. */
  private onDown(down: DownInfo): void {
    if (!this.running || !this.node.running) return;
    this.node.logger.warn({ event: 'roles_process_down', reason: down.reason }, 'the roles process exited; restarting it');
    this.pid = this.spawn();
    this.down = this.node.monitor(this.pid, (d) => this.onDown(d));
    for (const s of this.scopes.values()) this.assert(s);
  }

  private assertRunning(what: string): void {
    if (!this.running) throw new NotRunningError(`${what}: Roles on node ${this.node.name} has stopped`);
  }
}

/** A copy: the caller may go on changing its object, the role may not change under its key. */
function copy(role: unknown): unknown {
  return typeof role === 'object' && role !== null ? structuredClone(role) : role;
}
