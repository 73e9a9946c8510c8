/**
 * L2 (register) and L3 (join) of bench-spec.md share one shape: N processes, each writes one
 * entry; measured twice per run, as the Erlang anchors were (anchor-figures.md):
 *
 * - seq: one caller makes all N calls for the processes (`{pid}` option), in one synchronous loop;
 *   wall time from the first call until the last returned.
 * - conc: every process makes its own call (acting as `self()`) when it receives 'go'; the
 *   driver role sends 'go' to all N, and the clock stops when the last one has written.
 *
 * The N processes are spawned once (start). Before each measurement the Group is replaced by a
 * fresh one and the heap is collected, untimed, so every measurement starts from empty tables.
 * Keys and meta objects are built once, before any timing. Every call must answer 'ok' and the
 * table must hold N entries afterwards, or the run fails.
 */
import type { Workload, Params, RoleContext, Roles, WorkloadContext, WorkloadInstance } from './workload.js';
import { collectGarbage, Countdown, currentGroup, freshGroup, groupKey, secondsSince, startSingleNode, userKey, userMeta } from './group-bench.js';
import type { Group, Pid } from '../../src/internal.js';

export type WriteKind = 'register' | 'join';

interface WriteArgs {
  readonly processes: number;
  /** join only: members per group (group of process i = floor(i / perGroup)). */
  readonly perGroup: number;
  readonly timeoutMs: number;
}

interface Live {
  group: Group | undefined;
  latch: Countdown | undefined;
}

const GO = 'go';

const METRICS = {
  seq: { label: 'one caller (seq)', unit: '/s', better: 'higher' },
  seq_s: { label: 'one caller (seq): wall time', unit: 's', better: 'lower' },
  conc: { label: 'each process itself (conc)', unit: '/s', better: 'higher' },
  conc_s: { label: 'each process itself (conc): wall time', unit: 's', better: 'lower' },
} as const;

/** The workload definition for `kind`; `rolesUrl` is the workload module's import.meta.url. */
export function writeWorkload<P extends Params & WriteArgs>(
  kind: WriteKind,
  definition: { id: string; title: string; params: P; unit: string },
  rolesUrl: string,
): Workload<P> {
  const metrics = Object.fromEntries(Object.entries(METRICS).map(([id, spec]) => [id, spec.unit === '/s' ? { ...spec, label: `${kind}: ${spec.label}`, unit: definition.unit } : { ...spec, label: `${kind}: ${spec.label}` }]));
  return {
    id: definition.id,
    title: definition.title,
    params: definition.params,
    metrics,
    async start(params: P, context: WorkloadContext): Promise<WorkloadInstance> {
      const node = await startSingleNode(`bench-${definition.id.toLowerCase()}`, context);
      const args: WriteArgs = { processes: params.processes, perGroup: params.perGroup, timeoutMs: params.timeoutMs };
      try {
        await node.invoke(rolesUrl, 'setup', args);
        return {
          async run() {
            const seq = await node.invoke<number>(rolesUrl, 'seq', args);
            const conc = await node.invoke<number>(rolesUrl, 'conc', args);
            return { seq: params.processes / seq, seq_s: seq, conc: params.processes / conc, conc_s: conc };
          },
          stop: () => node.stop(),
        };
      } catch (error) {
        await node.kill();
        throw error;
      }
    },
  };
}

/** The roles the node process runs for `kind` (export them as the workload module's `roles`). */
export function writeRoles(kind: WriteKind): Roles {
  const live: Live = { group: undefined, latch: undefined };
  let keys: string[] = [];
  let metas: Array<{ name: string; n: number }> = [];
  let pids: Pid[] = [];

  const write = (group: Group, i: number, pid: Pid | undefined): string =>
    kind === 'register' ? group.register(keys[i]!, metas[i], pid === undefined ? undefined : { pid }) : group.join(keys[i]!, metas[i], pid === undefined ? undefined : { pid });

  const written = (group: Group): number => (kind === 'register' ? group.localRegistryCount() : group.memberCount());

  const check = (group: Group, processes: number): void => {
    if (written(group) !== processes) throw new Error(`${kind}: the table holds ${written(group)} entries, expected ${processes}`);
  };

  const prepare = async ({ node, state }: RoleContext): Promise<Group> => {
    live.group = await freshGroup(node, state);
    await collectGarbage();
    return live.group;
  };

  return {
    setup({ node }: RoleContext, { processes, perGroup }: WriteArgs): void {
      const groupNames = kind === 'join' ? Array.from({ length: Math.ceil(processes / perGroup) }, (_, g) => groupKey(g)) : [];
      keys = Array.from({ length: processes }, (_, i) => (kind === 'register' ? userKey(i) : groupNames[Math.floor(i / perGroup)]!));
      metas = Array.from({ length: processes }, (_, i) => userMeta(i));
      pids = Array.from({ length: processes }, (_, i) =>
        node.spawn(async (ctx) => {
          for (;;) {
            await ctx.receive();
            const latch = live.latch!;
            try {
              const result = write(live.group!, i, undefined);
              if (result === 'ok') latch.tick();
              else latch.fail(new Error(`${kind} ${keys[i]} by process ${i}: ${result}`));
            } catch (error) {
              latch.fail(error as Error);
            }
          }
        }),
      );
    },

    /** One caller, all calls; returns the seconds. */
    async seq(context: RoleContext, { processes }: WriteArgs): Promise<number> {
      const group = await prepare(context);
      const started = performance.now();
      for (let i = 0; i < processes; i++) {
        const result = write(group, i, pids[i]);
        if (result !== 'ok') throw new Error(`${kind} ${keys[i]} for process ${i}: ${result}`);
      }
      const seconds = secondsSince(started);
      check(group, processes);
      return seconds;
    },

    /** Each process calls for itself on 'go'; returns the seconds until the last has. */
    async conc(context: RoleContext, { processes, timeoutMs }: WriteArgs): Promise<number> {
      const group = await prepare(context);
      const latch = new Countdown(processes, timeoutMs, `${kind} (conc)`);
      live.latch = latch;
      const { node } = context;
      const started = performance.now();
      for (let i = 0; i < processes; i++) node.send(pids[i]!, GO);
      await latch.done;
      const seconds = secondsSince(started);
      check(group, processes);
      return seconds;
    },
  };
}
