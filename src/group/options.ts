import { InvalidArgumentError } from '../errors.js';
import type { Pid } from '../process/pid.js';
import type { ClusterName } from './clusters.js';
import { CONFLICT_STRATEGIES, type ConflictStrategy } from './conflict-strategies.js';

/** One side of a registry conflict, as handed to a resolver. */
export interface ConflictEntry {
  readonly pid: Pid;
  readonly meta: unknown;
  /** Wall-clock epoch ms of the registration on its node. */
  readonly time: number;
}

export interface RegistryConflict {
  readonly group: string;
  readonly cluster: ClusterName;
  readonly key: string;
  /** The entry owned by this node. */
  readonly local: ConflictEntry;
  /** The entry that arrived from a peer (replication or partition heal). */
  readonly remote: ConflictEntry;
}

/**
 * Picks the winner of a registry conflict: return `conflict.local.pid` or `conflict.remote.pid`;
 * anything else means neither keeps the key. It must decide the same on every node (it runs on
 * both sides). A custom resolver kills nobody: the loser keeps running, unregistered.
 */
export type ConflictResolver = (conflict: RegistryConflict) => Pid | null | undefined;

export type GroupLogLevel = 'info' | 'verbose' | false;

export interface GroupOptions {
  /** The instance name; peers replicate with Groups of the same name only. Required. */
  name: string;
  /** 'info' (default), 'verbose' (every replication op), or false. Changeable with `logLevel()`. */
  log?: GroupLogLevel;
  /** Custom conflict resolution (excludes `conflictStrategy`); kills nobody. */
  resolveRegistryConflict?: ConflictResolver;
  /** A built-in conflict resolution (see conflict-strategies.ts); default 'keepNewest'. */
  conflictStrategy?: ConflictStrategy;
  /** Applied to meta on reads (unless a call overrides it) and in events. */
  extractMeta?: (meta: unknown) => unknown;
  /** Period of the anti-entropy digest sent to each peer. Default 5000 ms. */
  antiEntropyMs?: number;
  /** Rows per STATE frame when sending a snapshot. Default 2000. */
  snapshotChunkRows?: number;
  /**
   * How long a deleteGroup is remembered (its tombstone kept) before it is forgotten. A member
   * that joined before the delete on the far side of a partition longer than this survives the
   * heal. Default 24 h.
   */
  groupTombstoneMs?: number;
  /**
   * 'update' (default): a process is a member of a group once; a re-join updates it. 'count'
   * (pg/pg2): each join counts, the process leaves after as many leaves, and members() lists it
   * once per join. Give every node of a Group the same value.
   */
  joins?: 'update' | 'count';
  /** Only a process itself may register, join, leave or update its own entries. Default false. */
  strict?: boolean;
  /**
   * OpenTelemetry spans for register, registerLocked, join, dispatch, publish and multiCall
   * (@opentelemetry/api, tracer 'rollcall'). 'auto' (default): traced when the app has registered
   * an SDK (a global tracer provider) before Group.start, otherwise not wrapped at all (the API
   * alone would cost the write path; docs/operations.md "Tracing"). true: always wrapped (spans
   * record once an SDK is registered). false: never.
   */
  tracing?: boolean | 'auto';
}

export interface ResolvedGroupOptions {
  readonly name: string;
  readonly log: GroupLogLevel;
  readonly resolveRegistryConflict: ConflictResolver | undefined;
  /** 'keepNewest' when a custom resolver is given (it is then unused for decisions). */
  readonly conflictStrategy: ConflictStrategy;
  readonly extractMeta: ((meta: unknown) => unknown) | undefined;
  readonly antiEntropyMs: number;
  readonly snapshotChunkRows: number;
  readonly groupTombstoneMs: number;
  readonly joins: 'update' | 'count';
  readonly strict: boolean;
  readonly tracing: boolean | 'auto';
}

const KNOWN = new Set(['name', 'log', 'resolveRegistryConflict', 'conflictStrategy', 'extractMeta', 'antiEntropyMs', 'snapshotChunkRows', 'groupTombstoneMs', 'joins', 'strict', 'tracing']);

export function resolveGroupOptions(options: GroupOptions): ResolvedGroupOptions {
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('Group.start(node, options) needs an options object, e.g. {name: "app"}');
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key)) throw new InvalidArgumentError(`unknown Group option "${key}" (known: ${[...KNOWN].join(', ')})`);
  }
  const { name } = options;
  if (typeof name !== 'string' || name === '' || name.length > 255) {
    throw new InvalidArgumentError('Group.start: "name" must be a non-empty string (at most 255 characters), e.g. {name: "app"}');
  }
  const log = options.log ?? 'info';
  if (log !== 'info' && log !== 'verbose' && log !== false) throw new InvalidArgumentError(`Group.start: log must be 'info', 'verbose' or false, got ${String(log)}`);
  if (options.resolveRegistryConflict !== undefined && typeof options.resolveRegistryConflict !== 'function') {
    throw new InvalidArgumentError('Group.start: resolveRegistryConflict must be a function ({local, remote, key, cluster}) => winner pid');
  }
  const conflictStrategy = options.conflictStrategy ?? 'keepNewest';
  if (!CONFLICT_STRATEGIES.includes(conflictStrategy)) {
    throw new InvalidArgumentError(`Group.start: conflictStrategy must be one of ${CONFLICT_STRATEGIES.map((s) => `'${s}'`).join(', ')}, got ${String(conflictStrategy)}`);
  }
  if (options.conflictStrategy !== undefined && options.resolveRegistryConflict !== undefined) {
    throw new InvalidArgumentError('Group.start: give either conflictStrategy or resolveRegistryConflict, not both (a custom resolver replaces the strategy)');
  }
  if (options.extractMeta !== undefined && typeof options.extractMeta !== 'function') {
    throw new InvalidArgumentError('Group.start: extractMeta must be a function (meta) => value');
  }
  const antiEntropyMs = options.antiEntropyMs ?? 5000;
  if (typeof antiEntropyMs !== 'number' || !(antiEntropyMs > 0)) throw new InvalidArgumentError('Group.start: antiEntropyMs must be a positive number of milliseconds');
  const snapshotChunkRows = options.snapshotChunkRows ?? 2000;
  if (!Number.isInteger(snapshotChunkRows) || snapshotChunkRows < 1) throw new InvalidArgumentError('Group.start: snapshotChunkRows must be a positive integer');
  const groupTombstoneMs = options.groupTombstoneMs ?? 24 * 60 * 60 * 1000;
  if (typeof groupTombstoneMs !== 'number' || !(groupTombstoneMs > 0)) throw new InvalidArgumentError('Group.start: groupTombstoneMs must be a positive number of milliseconds');
  const joins = options.joins ?? 'update';
  if (joins !== 'update' && joins !== 'count') throw new InvalidArgumentError(`Group.start: joins must be 'update' or 'count', got ${String(joins)}`);
  const strict = options.strict ?? false;
  if (typeof strict !== 'boolean') throw new InvalidArgumentError(`Group.start: strict must be true or false, got ${String(strict)}`);
  const tracing = options.tracing ?? 'auto';
  if (typeof tracing !== 'boolean' && tracing !== 'auto') throw new InvalidArgumentError(`Group.start: tracing must be 'auto', true or false, got ${String(tracing)}`);
  return {
    name,
    log,
    tracing,
    resolveRegistryConflict: options.resolveRegistryConflict,
    conflictStrategy,
    extractMeta: options.extractMeta,
    antiEntropyMs,
    snapshotChunkRows,
    groupTombstoneMs,
    joins,
    strict,
  };
}

/** Validate a key for a write: a non-empty string not ending in "/" (reserved for prefix queries). */
export function writableKey(key: unknown, what: string): string {
  if (typeof key !== 'string') throw new InvalidArgumentError(`${what}: key must be a string, got ${typeof key}`);
  if (key === '') throw new InvalidArgumentError(`${what}: key must not be empty`);
  if (key.endsWith('/')) {
    throw new InvalidArgumentError(`${what}: key "${key}" must not end with "/": a trailing slash is reserved for prefix queries`);
  }
  return key;
}

/** Validate a cluster option: undefined/null = the default cluster; a named cluster is a non-empty string. */
export function clusterOption(cluster: unknown, what: string): ClusterName {
  if (cluster === undefined || cluster === null) return null;
  if (typeof cluster !== 'string' || cluster === '') {
    throw new InvalidArgumentError(`${what}: cluster must be a non-empty string (or omitted for the default cluster)`);
  }
  return cluster;
}

/** Validate a key for a read: any string (an unknown key reads as empty). */
export function readableKey(key: unknown, what: string): void {
  if (typeof key !== 'string') throw new InvalidArgumentError(`${what}: key must be a string, got ${typeof key}`);
}

const NO_OPTIONS = Object.freeze({});

/** The options argument of a call: omitted means none; anything but an object is refused. */
export function optionsObject<T extends object>(options: T | undefined, what: string): T {
  if (options === undefined) return NO_OPTIONS as T;
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError(`${what}: options must be an object (or omitted), got ${options === null ? 'null' : typeof options}`);
  return options;
}

/** Validate a prefix option: omitted means every key. */
export function prefixOption(prefix: unknown, what: string): string {
  if (prefix === undefined) return '';
  if (typeof prefix !== 'string') throw new InvalidArgumentError(`${what}: prefix must be a string, got ${typeof prefix}`);
  return prefix;
}

/** Validate a per-call extractMeta override. */
export function extractMetaOption(extract: unknown, what: string): ((meta: unknown) => unknown) | undefined {
  if (extract !== undefined && typeof extract !== 'function') throw new InvalidArgumentError(`${what}: extractMeta must be a function (meta) => value`);
  return extract as ((meta: unknown) => unknown) | undefined;
}
