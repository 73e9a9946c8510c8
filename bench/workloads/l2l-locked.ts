/**
 * L2L: the cost of registerLocked (cluster-wide lock, then register) against plain register, on
 * three node processes over TCP on 127.0.0.1 (the D1 cluster), so every lock is taken at two
 * remote nodes and this one. Not in bench-spec.md; compare with `global` in anchor-figures.md
 * (L2 and D1 rows: `global:register_name` takes a lock on every node too).
 *
 * Per run, on fresh keys ("user/N", meta {name, n}), one idle process per key spawned untimed:
 * - plain: A registers N keys with `register` (one synchronous loop; calls returned).
 * - locked_seq: A registers N keys with `registerLocked`, one after another (each awaited): the
 *   latency of one locked registration (two remote round trips, in node-name order).
 * - locked_conc: A starts N `registerLocked` at once; until all resolved.
 * - contended: A, B and C race for the same N keys, all at once; until every call resolved
 *   (exactly one 'ok' per key is checked).
 * After each measure the processes exit and every registry empties again (untimed).
 */
import { awaitCounts, startGroupCluster, stopAll } from '../support/group-cluster.js';
import { defineWorkload, type RoleContext } from '../support/workload.js';
import type { Group, Pid } from '../../src/internal.js';

const ROLES = import.meta.url;

export default defineWorkload({
  id: 'L2L',
  title: 'registerLocked vs register on three nodes (lock at every node), seq, conc and contended',
  params: { keys: 10_000, seqKeys: 2_000, timeoutMs: 120_000 },
  metrics: {
    plain: { label: 'register, one caller (calls returned)', unit: 'regs/s', better: 'higher' },
    locked_seq: { label: 'registerLocked, one caller, each awaited', unit: 'regs/s', better: 'higher' },
    locked_seq_us: { label: 'registerLocked latency (seq)', unit: 'µs', better: 'lower' },
    locked_conc: { label: 'registerLocked, all at once from A', unit: 'regs/s', better: 'higher' },
    contended: { label: 'A, B, C race for the same keys', unit: 'keys/s', better: 'higher' },
  },

  async start(params) {
    const cluster = await startGroupCluster(undefined, { monitor: false });
    const nodes = [cluster.a, cluster.b, cluster.c];
    const measure = async (mode: Mode, keys: number, on = nodes.slice(0, 1)): Promise<number> => {
      await Promise.all(on.map((n) => n.invoke(ROLES, 'prepare', { keys })));
      const started = performance.now();
      const ok = await Promise.all(on.map((n) => n.invoke<number>(ROLES, 'run', { mode, timeoutMs: params.timeoutMs })));
      const seconds = (performance.now() - started) / 1000;
      if (ok.reduce((x, y) => x + y, 0) !== keys) throw new Error(`${mode}: ${ok.join('+')} registrations succeeded, want ${keys}`);
      await Promise.all(on.map((n) => n.invoke(ROLES, 'cleanup')));
      await awaitCounts(nodes, 0, 0, params.timeoutMs);
      return seconds;
    };
    return {
      async run() {
        const plain = await measure('plain', params.keys);
        const seq = await measure('locked_seq', params.seqKeys);
        const conc = await measure('locked_conc', params.keys);
        const contended = await measure('locked_conc', params.keys, nodes);
        return {
          plain: params.keys / plain,
          locked_seq: params.seqKeys / seq,
          locked_seq_us: (seq / params.seqKeys) * 1e6,
          locked_conc: params.keys / conc,
          contended: params.keys / contended,
        };
      },
      stop: () => stopAll(nodes),
    };
  },
});

type Mode = 'plain' | 'locked_seq' | 'locked_conc';

interface Prepared {
  pids: Pid[];
  keys: string[];
  metas: Array<{ name: string; n: number }>;
}

const idle = async (ctx: { receive(): Promise<unknown> }): Promise<void> => {
  await ctx.receive();
};

function groupOf(state: Map<string, unknown>): Group {
  const s = state.get('group') as { group: Group } | undefined;
  if (s === undefined) throw new Error('no Group: the startGroup role runs first');
  return s.group;
}

export const roles = {
  async prepare({ node, state }: RoleContext, { keys }: { keys: number }): Promise<void> {
    const prepared: Prepared = { pids: [], keys: [], metas: [] };
    for (let i = 0; i < keys; i++) {
      prepared.pids.push(node.spawn(idle));
      prepared.keys.push(`user/${i}`);
      prepared.metas.push({ name: `u${i}`, n: i });
      if (i % 1000 === 999) await new Promise((resolve) => setImmediate(resolve));
    }
    state.set('l2l', prepared);
  },

  /** The number of 'ok' answers. */
  async run({ state }: RoleContext, { mode, timeoutMs }: { mode: Mode; timeoutMs: number }): Promise<number> {
    const group = groupOf(state);
    const { pids, keys, metas } = state.get('l2l') as Prepared;
    let ok = 0;
    if (mode === 'plain') {
      for (let i = 0; i < keys.length; i++) if (group.register(keys[i]!, metas[i], { pid: pids[i]! }) === 'ok') ok++;
    } else if (mode === 'locked_seq') {
      for (let i = 0; i < keys.length; i++) if ((await group.registerLocked(keys[i]!, metas[i], { pid: pids[i]!, timeoutMs })) === 'ok') ok++;
    } else {
      const results = await Promise.all(keys.map((key, i) => group.registerLocked(key, metas[i], { pid: pids[i]!, timeoutMs })));
      for (const r of results) if (r === 'ok') ok++;
    }
    return ok;
  },

  async cleanup({ node, state }: RoleContext): Promise<void> {
    const { pids } = state.get('l2l') as Prepared;
    for (let i = 0; i < pids.length; i++) {
      node.exit(pids[i]!, 'shutdown');
      if (i % 1000 === 999) await new Promise((resolve) => setImmediate(resolve));
    }
    state.delete('l2l');
  },
};

