import type { GroupEvent } from '../group/events.js';
import type { Pid } from '../process/pid.js';
import type { RoleEvent } from './events.js';

/** The Group key a node joins to say "I am in this scope" (the presence marker). */
export const MARKER_KEY = '@node';
/** Role keys are this prefix + the role's canonical key (role-key.ts); the member's meta is the role value. */
export const ROLE_PREFIX = 'role:';

interface NodeState {
  /** The pid whose marker row makes the node present in the scope; undefined = not present. */
  marker: Pid | undefined;
  /** Role key → the row's pid and the role value, whether or not the node is present yet. */
  readonly roles: Map<string, { readonly pid: Pid; readonly role: unknown }>;
  /** getRoles' answer, sorted by role key, built on first read after a change. */
  list: unknown[] | undefined;
}

interface Before {
  readonly present: boolean;
  /** Role key → role, of a node present before the batch (undefined when it was not). */
  readonly roles: Map<string, unknown> | undefined;
  /** Why the last row of this node that went in the batch went. */
  reason: unknown;
}

const EMPTY: readonly string[] = Object.freeze([]);

/**
 * One scope as this node sees it, derived from the Group events of the scope's cluster: who is
 * present (has the marker row) and which roles each node has. The indexes answer every read with
 * a lookup and a copy. Only present nodes count: a node's role rows that arrive before its marker
 * (or stay after it) are kept but not shown, so reads and the role events always agree.
 */
export class ScopeView {
  private readonly nodes = new Map<string, NodeState>();
  /** Present nodes, sorted. */
  private present: string[] = [];
  /** Role key → present nodes with that role, sorted. */
  private readonly byRole = new Map<string, string[]>();

  constructor(readonly scope: string) {}

  /** Apply one batch of the cluster's Group events; returns the role events it makes, in order. */
  apply(events: readonly GroupEvent<unknown>[]): RoleEvent[] {
    const touched = new Map<string, Before>();
    for (const event of events) {
      if (event.type !== 'joined' && event.type !== 'left') continue;
      const isMarker = event.key === MARKER_KEY;
      if (!isMarker && !event.key.startsWith(ROLE_PREFIX)) continue;
      const node = event.pid.node;
      let state = this.nodes.get(node);
      if (state === undefined) {
        if (event.type === 'left') continue;
        this.nodes.set(node, (state = { marker: undefined, roles: new Map(), list: undefined }));
      }
      let before = touched.get(node);
      if (before === undefined) touched.set(node, (before = snapshot(state)));
      if (isMarker) {
        if (event.type === 'joined') state.marker = event.pid;
        else if (state.marker?.equals(event.pid) === true) {
          // Another pid's marker (a Roles restarted on that node) is not this one's to remove.
          state.marker = undefined;
          before.reason = event.reason;
        }
        continue;
      }
      const key = event.key.slice(ROLE_PREFIX.length);
      if (event.type === 'joined') state.roles.set(key, { pid: event.pid, role: event.meta });
      else if (state.roles.get(key)?.pid.equals(event.pid) === true) {
        state.roles.delete(key);
        if (state.marker !== undefined) before.reason = event.reason;
      }
    }
    const out: RoleEvent[] = [];
    for (const [node, before] of touched) this.settle(node, before, out);
    return out;
  }

  /** Present nodes with the role of this key, sorted (a copy). */
  nodesWith(key: string): string[] {
    return (this.byRole.get(key) ?? EMPTY).slice();
  }

  /** The roles of a present node, sorted by role key (a copy); [] for a node not present. */
  rolesOf(node: string): unknown[] {
    const state = this.nodes.get(node);
    if (state?.marker === undefined) return [];
    state.list ??= [...state.roles.keys()].sort().map((k) => state.roles.get(k)!.role);
    return state.list.slice();
  }

  hasRole(node: string, key: string): boolean {
    const state = this.nodes.get(node);
    return state?.marker !== undefined && state.roles.has(key);
  }

  /** Present nodes, sorted (a copy). */
  allNodes(): string[] {
    return this.present.slice();
  }

  isPresent(node: string): boolean {
    return this.nodes.get(node)?.marker !== undefined;
  }

  /** Role keys of present nodes → nodes, for the consistency check. */
  roleIndex(): ReadonlyMap<string, readonly string[]> {
    return this.byRole;
  }

  /** Compare a node's state after the batch with before it: update the indexes, say what changed. */
  private settle(node: string, before: Before, out: RoleEvent[]): void {
    const state = this.nodes.get(node)!;
    state.list = undefined;
    const now = state.marker !== undefined;
    const scope = this.scope;
    if (now && !before.present) {
      insertSorted(this.present, node);
      for (const key of state.roles.keys()) this.index(key, node);
      out.push({ type: 'nodeAdded', scope, node, roles: this.rolesOf(node), reason: null });
    } else if (!now && before.present) {
      removeSorted(this.present, node);
      const roles = [...before.roles!.keys()].sort();
      for (const key of roles) this.unindex(key, node);
      const values = roles.map((k) => before.roles!.get(k));
      if (values.length > 0) out.push({ type: 'roleRemoved', scope, node, roles: values, reason: before.reason });
      out.push({ type: 'nodeRemoved', scope, node, roles: values, reason: before.reason });
    } else if (now) {
      const added: string[] = [];
      for (const key of state.roles.keys()) if (!before.roles!.has(key)) added.push(key);
      const removed: string[] = [];
      for (const key of before.roles!.keys()) if (!state.roles.has(key)) removed.push(key);
      if (removed.length > 0) {
        removed.sort();
        for (const key of removed) this.unindex(key, node);
        out.push({ type: 'roleRemoved', scope, node, roles: removed.map((k) => before.roles!.get(k)), reason: before.reason });
      }
      if (added.length > 0) {
        added.sort();
        for (const key of added) this.index(key, node);
        out.push({ type: 'roleAdded', scope, node, roles: added.map((k) => state.roles.get(k)!.role), reason: null });
      }
    }
    if (!now && state.roles.size === 0) this.nodes.delete(node);
  }

  private index(key: string, node: string): void {
    let nodes = this.byRole.get(key);
    if (nodes === undefined) this.byRole.set(key, (nodes = []));
    insertSorted(nodes, node);
  }

  private unindex(key: string, node: string): void {
    const nodes = this.byRole.get(key);
    if (nodes === undefined) return;
    removeSorted(nodes, node);
    if (nodes.length === 0) this.byRole.delete(key);
  }
}

function snapshot(state: NodeState): Before {
  if (state.marker === undefined) return { present: false, roles: undefined, reason: null };
  const roles = new Map<string, unknown>();
  for (const [key, { role }] of state.roles) roles.set(key, role);
  return { present: true, roles, reason: null };
}

function position(sorted: readonly string[], value: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function insertSorted(sorted: string[], value: string): void {
  const at = position(sorted, value);
  if (sorted[at] !== value) sorted.splice(at, 0, value);
}

function removeSorted(sorted: string[], value: string): void {
  const at = position(sorted, value);
  if (sorted[at] === value) sorted.splice(at, 1);
}
