import type { Logger } from '../observability/logger.js';
import { InvalidArgumentError } from '../errors.js';

export type RoleEventType = 'roleAdded' | 'roleRemoved' | 'nodeAdded' | 'nodeRemoved';

/**
 * A change of one node in one scope, as this node saw it. One event per node and kind per Group
 * event batch: `addRoles([a, b])` arrives as one roleAdded with both roles.
 */
export interface RoleEvent {
  readonly type: RoleEventType;
  readonly scope: string;
  readonly node: string;
  /**
   * roleAdded/roleRemoved: the roles added or removed. nodeAdded: every role the node has in the
   * scope when it appears. nodeRemoved: the roles it had (a roleRemoved with the same list
   * precedes it when there were any).
   */
  readonly roles: readonly unknown[];
  /**
   * Why rows went, for roleRemoved/nodeRemoved: 'leave' (removeRole), 'cluster_disconnect'
   * (leaveScope), 'nodedown' (the node crashed or was cut off), an exit reason (its Roles
   * stopped)... null for additions.
   */
  readonly reason: unknown;
}

export type RoleEventListener = (event: RoleEvent) => void;

const TYPES: ReadonlySet<string> = new Set<RoleEventType>(['roleAdded', 'roleRemoved', 'nodeAdded', 'nodeRemoved']);

/** Listeners per event type; a listener that throws is logged and does not stop the others. */
export class RoleListeners {
  private readonly byType = new Map<RoleEventType, Set<RoleEventListener>>();

  constructor(private readonly logger: Logger) {}

  add(type: unknown, listener: unknown, what: string): void {
    const checked = this.check(type, listener, what);
    let set = this.byType.get(checked);
    if (set === undefined) this.byType.set(checked, (set = new Set()));
    set.add(listener as RoleEventListener);
  }

  remove(type: unknown, listener: unknown, what: string): void {
    this.byType.get(this.check(type, listener, what))?.delete(listener as RoleEventListener);
  }

  get size(): number {
    let n = 0;
    for (const set of this.byType.values()) n += set.size;
    return n;
  }

  deliver(events: readonly RoleEvent[]): void {
    for (const event of events) {
      const set = this.byType.get(event.type);
      if (set === undefined) continue;
      for (const listener of [...set]) {
        try {
          listener(event);
        } catch (error) {
          this.logger.error({ event: 'roles_listener_error', type: event.type, err: error }, 'a roles event listener threw');
        }
      }
    }
  }

  private check(type: unknown, listener: unknown, what: string): RoleEventType {
    if (typeof type !== 'string' || !TYPES.has(type)) {
      throw new InvalidArgumentError(`${what}: unknown event ${JSON.stringify(type) ?? String(type)}; use one of ${[...TYPES].join(', ')}`);
    }
    if (typeof listener !== 'function') throw new InvalidArgumentError(`${what}: the listener must be a function (event) => void`);
    return type as RoleEventType;
  }
}
