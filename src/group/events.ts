import type { Pid } from '../process/pid.js';

/**
 * The monitor pattern that matches every key of a cluster: `group.monitor(ALL, subscriber)`.
 *
 * A symbol, not a string, so it can never collide with a key: keys are strings, and no string
 * (not even `'all'` or `'*'`) equals a symbol. `Symbol.for` rather than `Symbol()` so that two
 * installed copies of the library (an app and the CLI) agree on it, as the error brand does.
 * Monitoring is node-local, so ALL never has to cross the wire.
 */
export const ALL: unique symbol = Symbol.for('rollcall.group.all');

/** What `monitor`/`demonitor` accept: ALL, an exact key, or a prefix ending in "/". */
export type Pattern = typeof ALL | string;

export type GroupEventType = 'registered' | 'unregistered' | 'joined' | 'left';

/** Metadata attached to a registration or a membership. */
export type GroupMeta = Readonly<Record<string, unknown>>;

/**
 * One change to a Group's tables, as seen by the node that applied it (local operation,
 * replication, snapshot merge, purge or conflict resolution).
 */
export interface GroupEvent<M = GroupMeta> {
  readonly type: GroupEventType;
  /** The Group instance's name. */
  readonly group: string;
  /** null = the default cluster. */
  readonly cluster: string | null;
  readonly key: string;
  readonly pid: Pid;
  readonly meta: M;
  /** The meta this event replaced (an update in place), otherwise null. */
  readonly previousMeta: M | null;
  /**
   * Why the entry went away: 'unregister', 'leave', the owner's exit reason, 'nodedown',
   * `{ nodedown: node }` (that node's shard went away), 'cluster_disconnect',
   * 'resolve_conflict' or 'group_deleted' (deleteGroup). null for 'registered' and 'joined'.
   */
  readonly reason: unknown;
}

/**
 * A declared group's state changed on this node (createGroup / deleteGroup, local or learned
 * from a peer). Delivered only to `monitorGroups` subscribers: it has no pid, so it is not a
 * GroupEvent, and existing monitors never see it.
 */
export interface GroupLifecycleEvent {
  readonly type: 'group_created' | 'group_deleted';
  readonly group: string;
  /** null = the default cluster. */
  readonly cluster: string | null;
  readonly key: string;
  /** The node that called createGroup / deleteGroup. */
  readonly node: string;
  /** Its timestamp (wall-clock epoch ms, the register's order). */
  readonly time: number;
}

export interface GroupLifecycleMessage {
  readonly group: string;
  readonly events: readonly GroupLifecycleEvent[];
}

export type GroupLifecycleCallback = (events: readonly GroupLifecycleEvent[], info: GroupEventInfo) => void;

/** The second argument of a callback subscriber. */
export interface GroupEventInfo {
  readonly group: string;
}

/** The message a Pid subscriber receives: one per subscriber per batch, never with no events. */
export interface GroupEventMessage<M = GroupMeta> {
  readonly group: string;
  readonly events: readonly GroupEvent<M>[];
}

export type GroupEventCallback<M = GroupMeta> = (events: readonly GroupEvent<M>[], info: GroupEventInfo) => void;

/**
 * Who receives events: a process (compared by value, `pid.key`) or a callback (compared by
 * identity, so pass the same function to `demonitor`).
 */
export type Subscriber<M = GroupMeta> = Pid | GroupEventCallback<M>;
