import { InvalidArgumentError } from '../errors.js';
import { Group } from '../group/group.js';
import type { RoleEventListener, RoleEventType } from './events.js';

export interface RolesOptions {
  /**
   * Roles this node has from the start: an array puts them in the default scope; an object maps
   * scope names to role arrays (those scopes are joined).
   */
  roles?: readonly unknown[] | Readonly<Record<string, readonly unknown[]>>;
  /** Scopes to join at start (besides the ones named in `roles`). Default: the default scope alone. */
  scopes?: readonly string[];
  /** The scope of calls that name none. Default 'default'. */
  scope?: string;
  /**
   * The Group the roles replicate through: a name (a Group of that name is started on the node
   * and stopped with the Roles; default '$roles'), or a running Group to share (left running).
   */
  group?: string | Group;
  /**
   * Listeners attached before the first scope is joined, so they see this node's own nodeAdded
   * and initial roles too (ClusterHelper's event_handler). Later: `roles.on(type, listener)`.
   */
  on?: Partial<Record<RoleEventType, RoleEventListener>>;
}

export interface ResolvedRolesOptions {
  readonly defaultScope: string;
  /** Scope → roles to add, in the order scopes are joined. */
  readonly initial: ReadonlyMap<string, readonly unknown[]>;
  readonly group: string | Group;
  readonly on: ReadonlyArray<readonly [unknown, unknown]>;
}

export const DEFAULT_SCOPE = 'default';
export const DEFAULT_GROUP = '$roles';
/** The Group's limit on cluster names (they travel in every HELLO). */
const MAX_SCOPE_LENGTH = 255;

const KNOWN = new Set(['roles', 'scopes', 'scope', 'group', 'on']);

export function resolveRolesOptions(options: RolesOptions | undefined): ResolvedRolesOptions {
  if (options === undefined) options = {};
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('Roles.start(node, options): options must be an object, e.g. {roles: ["web"]}');
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key)) throw new InvalidArgumentError(`Roles.start: unknown option "${key}" (known: ${[...KNOWN].join(', ')})`);
  }
  const defaultScope = options.scope === undefined ? DEFAULT_SCOPE : scopeName(options.scope, 'Roles.start: option "scope"');
  const initial = new Map<string, unknown[]>();
  const want = (scope: string): unknown[] => {
    let list = initial.get(scope);
    if (list === undefined) initial.set(scope, (list = []));
    return list;
  };
  if (options.scopes === undefined) want(defaultScope);
  else {
    if (!Array.isArray(options.scopes)) throw new InvalidArgumentError('Roles.start: "scopes" must be an array of scope names, e.g. ["default", "analytics"]');
    for (const scope of options.scopes as unknown[]) want(scopeName(scope, 'Roles.start: "scopes"'));
  }
  const { roles } = options;
  if (Array.isArray(roles)) want(defaultScope).push(...(roles as unknown[]));
  else if (typeof roles === 'object' && roles !== null) {
    for (const [scope, list] of Object.entries(roles as Record<string, unknown>)) {
      scopeName(scope, 'Roles.start: "roles"');
      if (!Array.isArray(list)) throw new InvalidArgumentError(`Roles.start: roles of scope "${scope}" must be an array of roles`);
      want(scope).push(...(list as unknown[]));
    }
  } else if (roles !== undefined) {
    throw new InvalidArgumentError('Roles.start: "roles" must be an array of roles (default scope) or an object {scope: [roles]}');
  }
  const group = options.group ?? DEFAULT_GROUP;
  if (!(group instanceof Group) && (typeof group !== 'string' || group === '')) {
    throw new InvalidArgumentError('Roles.start: "group" must be a Group name (a non-empty string) or a running Group');
  }
  const { on } = options;
  if (on !== undefined && (typeof on !== 'object' || on === null)) {
    throw new InvalidArgumentError('Roles.start: "on" must be an object {roleAdded?, roleRemoved?, nodeAdded?, nodeRemoved?} of listeners');
  }
  return { defaultScope, initial, group, on: on === undefined ? [] : Object.entries(on) };
}

/** Validate a scope name: a non-empty string of at most 255 characters. */
export function scopeName(scope: unknown, what: string): string {
  if (typeof scope !== 'string' || scope === '' || scope.length > MAX_SCOPE_LENGTH) {
    throw new InvalidArgumentError(`${what}: a scope is a non-empty string of at most ${MAX_SCOPE_LENGTH} characters, got ${describe(scope)}`);
  }
  return scope;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return value === '' ? 'an empty string' : `a string of ${value.length} characters`;
  return value === null ? 'null' : typeof value;
}
