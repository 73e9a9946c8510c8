/**
 * Shared setup of the pg-style Group tests (topics, join counts, updates, strict mode, per-node
 * reads): nodes on the in-memory network in virtual time, a Group on each, and actors: processes
 * that run the Group calls they are sent (so the calling process is the actor, as `self()` is in
 * pg and syn) and keep every other message they receive.
 */
import { ALL, Group, type GroupEvent, type GroupOptions, type Node, type Pid } from '../../../src/index.js';
import { createSim, type Sim } from '../node/sim-helpers.js';

/** A call to run inside an actor's process. */
class Command {
  constructor(
    readonly fn: () => unknown,
    readonly resolve: (value: unknown) => void,
    readonly reject: (error: unknown) => void,
  ) {}
}

export interface Actor {
  readonly pid: Pid;
  readonly node: Node;
  /** Every message that was not a call, in arrival order. */
  readonly inbox: unknown[];
  /** Run `fn` inside the actor's process (self() is the actor); settle it with sim.resolve/settle. */
  call<T>(fn: () => T): Promise<T>;
}

export function actor(node: Node): Actor {
  const inbox: unknown[] = [];
  const pid = node.spawn(async (ctx) => {
    for (;;) {
      const message = await ctx.receive();
      if (!(message instanceof Command)) {
        inbox.push(message);
        continue;
      }
      try {
        message.resolve(message.fn());
      } catch (error) {
        message.reject(error);
      }
    }
  });
  return {
    pid,
    node,
    inbox,
    call: <T>(fn: () => T) =>
      new Promise<T>((resolve, reject) => {
        node.send(pid, new Command(fn, resolve as (value: unknown) => void, reject));
      }),
  };
}

export interface PgCluster {
  readonly sim: Sim;
  readonly nodes: Node[];
  readonly groups: Group[];
  /** Every event each node's Group delivered, in order (one array per node). */
  readonly events: GroupEvent<unknown>[][];
  /** Let replication settle (ops in flight arrive). */
  settle(): Promise<void>;
}

/** `names.length` nodes in a full mesh, each running a Group with `options` (and log off). */
export async function pgCluster(seed: number, names: string[], options: Partial<GroupOptions> = {}): Promise<PgCluster> {
  const sim = createSim(seed);
  const nodes = await sim.cluster(...names);
  const groups: Group[] = [];
  const events: GroupEvent<unknown>[][] = [];
  for (const node of nodes) {
    const group = await Group.start(node, { name: 'app', log: false, ...options });
    const seen: GroupEvent<unknown>[] = [];
    group.monitor(ALL, (batch) => seen.push(...batch));
    groups.push(group);
    events.push(seen);
  }
  await sim.until(() => groups.every((g) => g.nodes().length === names.length - 1), 'every Group sees every peer');
  // The handshakes' snapshots still in flight arrive before the test writes anything.
  await sim.run(100);
  return { sim, nodes, groups, events, settle: () => sim.run(50) };
}

/** Pids as comparable strings. */
export const keys = (pids: readonly { key: string }[]): string[] => pids.map((p) => p.key);

/** The members of `key` on `group`, as pid keys in listing order. */
export const memberKeys = (group: Group, key: string): string[] => keys(group.members(key).map((e) => e.pid));
