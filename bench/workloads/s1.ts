/**
 * S1 (bench-spec.md, "Scale"): 10 nodes, 1,000,000 registrations in total: convergence time and
 * memory per node.
 *
 * Ten node processes over TCP on 127.0.0.1 in a full mesh (node 0 is every other node's seed; the
 * mesh gossips the rest), each running one Group (bench/support/group-cluster.ts) without a
 * monitor: nothing here needs events, so no node builds 1,000,000 of them. Each node spawns
 * `perNode` idle processes before the clock. The clock starts when the driver tells all nodes to
 * register at once: node i's processes register "user/(i * perNode + j)" with {name, n}, yielding
 * to the event loop every `chunk` calls. Every node polls its own `registryCount()` every 5 ms
 * and reports once it holds all `nodes * perNode` rows; the clock stops when the last has.
 *
 * Checks (the run fails otherwise): every node ends with exactly that many rows, all nodes have
 * equal digests (count + order-independent hash of every key → pid), and no link went down
 * during the run or while the figures were read (a lost link would mean the time includes a
 * resync, or the memory figures a purge). The memory readings and digests run one node at a time.
 *
 * Memory, read after the figure in every node process after a full GC: heapUsed and RSS (median
 * and max over the nodes), and heap growth per registry row (from the heap with the idle
 * processes spawned to the heap with all rows: 1 local registration for every
 * 9 replicas).
 *
 * Every run starts ten fresh node processes (so memory is not that of a node which held and
 * dropped a previous run's million rows); the runner skips the warm-up run, since 1,000,000 calls
 * warm the JIT within the run. The processes are SIGKILLed after the run (a graceful stop would
 * make each survivor purge every leaver's rows, for nothing), unless CPU profiles are written.
 */
import { awaitCounts, GROUP_ROLES, startNamedGroupNode, waitGroupPeers, type Digest, type GroupNodeOptions, type MemoryReport, type SpawnArgs, type WriteAllArgs } from '../support/group-cluster.js';
import type { BenchNodeProcess } from '../support/node-process.js';
import { median } from '../support/stats.js';
import { defineWorkload, type Params, type WorkloadContext } from '../support/workload.js';

interface S1Params extends Params {
  readonly nodes: number;
  readonly perNode: number;
  readonly chunk: number;
  /** --max-old-space-size of each node process, in MB; 0 = Node's default (~4 GiB on this machine). */
  readonly maxOldSpaceMb: number;
  /**
   * heartbeat.timeoutMs of every node; 0 = the library default (2,500 ms). Default 15,000: with
   * the library default, ten busy nodes on 2 cores time each other out within ~40 s of the start
   * (a node applying a backlog of replicated ops sends nothing for seconds), links drop and
   * the run measures resyncs, so it fails its check. Erlang's net_ticktime default is 60 s.
   */
  readonly heartbeatTimeoutMs: number;
  readonly timeoutMs: number;
}

const MB = 2 ** 20;

export default defineWorkload({
  id: 'S1',
  title: '10 nodes: 1,000,000 registrations in total (100,000 on each), until every node sees all; memory per node',
  params: { nodes: 10, perNode: 100_000, chunk: 1_000, maxOldSpaceMb: 0, heartbeatTimeoutMs: 15_000, timeoutMs: 900_000 } satisfies S1Params,
  metrics: {
    seconds: { label: 'first call → every node holds all rows', unit: 's', better: 'lower' },
    converged: { label: 'converged registrations (all rows / that time)', unit: 'regs/s', better: 'higher' },
    calls_done: { label: "slowest node's own calls returned after", unit: 's', better: 'lower' },
    heap_median: { label: 'heap used after GC per node, median', unit: 'MB', better: 'lower' },
    heap_max: { label: 'heap used after GC per node, max', unit: 'MB', better: 'lower' },
    rss_median: { label: 'RSS per node, median', unit: 'MB', better: 'lower' },
    rss_max: { label: 'RSS per node, max', unit: 'MB', better: 'lower' },
    heap_per_row: { label: 'heap growth per registry row (local or replica), median', unit: 'bytes', better: 'lower' },
  },
  warmUp: false,

  async start(params, context) {
    return {
      async run() {
        const nodes = await startCluster(params, context);
        try {
          return await measure(nodes, params, context);
        } finally {
          await Promise.all(nodes.map((node) => (context.profileDir === undefined ? node.kill() : node.stop(60_000))));
        }
      },
      async stop() {},
    };
  },
});

/** Node 0, then the others at once with node 0 as their seed; resolves when every Group sees all the others. */
async function startCluster(params: S1Params, context: WorkloadContext): Promise<BenchNodeProcess[]> {
  const options: GroupNodeOptions = {
    profileDir: context.profileDir,
    monitor: false,
    ...(params.maxOldSpaceMb > 0 ? { execArgv: [`--max-old-space-size=${params.maxOldSpaceMb}`] } : {}),
    ...(params.heartbeatTimeoutMs > 0 ? { nodeOptions: { heartbeat: { timeoutMs: params.heartbeatTimeoutMs } } } : {}),
  };
  const started: BenchNodeProcess[] = [];
  try {
    const first = await startNamedGroupNode('bench-s1-0', [], options);
    started.push(first);
    const others = await Promise.allSettled(
      Array.from({ length: params.nodes - 1 }, (_, i) => startNamedGroupNode(`bench-s1-${i + 1}`, [first.seed], options)),
    );
    for (const outcome of others) if (outcome.status === 'fulfilled') started.push(outcome.value);
    const failed = others.find((outcome) => outcome.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    await waitGroupPeers(started, params.nodes - 1, 60_000);
    context.log(`${started.length} nodes up, full mesh`);
    return started;
  } catch (error) {
    await Promise.all(started.map((node) => node.kill()));
    throw error;
  }
}

async function measure(nodes: BenchNodeProcess[], params: S1Params, context: WorkloadContext): Promise<Record<string, number>> {
  const total = params.nodes * params.perNode;
  await Promise.all(nodes.map((node) => node.invoke(GROUP_ROLES, 'spawnIdle', { count: params.perNode } satisfies SpawnArgs)));
  const before = await memoryOf(nodes);
  const downsBefore = await nodedownsOf(nodes);
  context.log(`${params.perNode} idle processes on each node; registering`);

  const started = performance.now();
  const [callSeconds] = await Promise.all([
    Promise.all(nodes.map((node, i) => node.invoke<number>(GROUP_ROLES, 'registerAll', { from: i * params.perNode, chunk: params.chunk } satisfies WriteAllArgs))),
    awaitCounts(nodes, total, 0, params.timeoutMs),
  ]);
  const seconds = (performance.now() - started) / 1000;

  const after = await memoryOf(nodes);
  await check(nodes, total, downsBefore);
  const heap = after.map((m) => m.heapUsed / MB);
  const rss = after.map((m) => m.rss / MB);
  context.log(`converged in ${seconds.toFixed(1)} s; heap after GC ${heap.map((h) => h.toFixed(0)).join(' ')} MB; RSS ${rss.map((r) => r.toFixed(0)).join(' ')} MB`);
  return {
    seconds,
    converged: total / seconds,
    calls_done: Math.max(...callSeconds),
    heap_median: median(heap),
    heap_max: Math.max(...heap),
    rss_median: median(rss),
    rss_max: Math.max(...rss),
    heap_per_row: median(after.map((m, i) => (m.heapUsed - before[i]!.heapUsed) / total)),
  };
}

/** Every node holds exactly `total` rows, all agree on them, and no link dropped during the run. */
async function check(nodes: BenchNodeProcess[], total: number, downsBefore: number[]): Promise<void> {
  const downs = await nodedownsOf(nodes);
  const lost = nodes.filter((_, i) => downs[i] !== downsBefore[i]).map((node) => node.name);
  if (lost.length > 0) throw new Error(`S1: links went down during the run or the memory readings (nodedown on ${lost.join(', ')}); try a larger --param S1.heartbeatTimeoutMs`);
  const digests = await oneAtATime(nodes, (node) => node.invoke<Digest>(GROUP_ROLES, 'digest'));
  digests.forEach((digest, i) => {
    if (digest.count !== total) throw new Error(`S1: ${nodes[i]!.name} holds ${digest.count} rows, expected ${total}`);
    if (digest.hash !== digests[0]!.hash) throw new Error(`S1: ${nodes[i]!.name} disagrees with ${nodes[0]!.name} (digest ${digest.hash} vs ${digests[0]!.hash})`);
  });
  // Checked again after the digests and GCs too: a link lost meanwhile may have purged rows the figures counted.
  const downsAfter = await nodedownsOf(nodes);
  const lostLate = nodes.filter((_, i) => downsAfter[i] !== downsBefore[i]).map((node) => node.name);
  if (lostLate.length > 0) throw new Error(`S1: links went down while the result was checked (nodedown on ${lostLate.join(', ')})`);
}

function memoryOf(nodes: readonly BenchNodeProcess[]): Promise<MemoryReport[]> {
  return oneAtATime(nodes, (node) => node.invoke<MemoryReport>(GROUP_ROLES, 'memory'));
}

/**
 * The full GCs and digests (each a second or more of one node's event loop with 1,000,000 rows)
 * run one node at a time: ten at once on 2 cores stalled every node for longer than the
 * heartbeat timeout, and links dropped.
 */
async function oneAtATime<T>(nodes: readonly BenchNodeProcess[], work: (node: BenchNodeProcess) => Promise<T>): Promise<T[]> {
  const results: T[] = [];
  for (const node of nodes) results.push(await work(node));
  return results;
}

function nodedownsOf(nodes: readonly BenchNodeProcess[]): Promise<number[]> {
  return Promise.all(nodes.map((node) => node.invoke<number>(GROUP_ROLES, 'nodedowns')));
}
