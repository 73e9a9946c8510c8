/**
 * transport: raw node-to-node performance of the TCP link, below every cluster feature.
 *
 * Two nodes, A and B, each its own OS process (bench/support/bench-node.ts), connected over TCP
 * on 127.0.0.1. The driver (the runner's process) only starts phases over IPC; every measured
 * message goes A → B (or back, for replies) through the node's link.
 *
 * - small / large: a process on A sends `count` messages with `node.send` to a process on B.
 *   The clock runs in the driver from the moment it tells A to start until B reports that its
 *   receiver got the last one (so it includes two IPC hops, ~0.1 ms, against seconds of traffic).
 *   The receiver checks that every message arrived, in order. MB/s counts payload bytes: the
 *   encoded message for small ones (exactly `smallBytes`), the Buffer's bytes for large ones.
 *   For small messages the CPU time (user + system) each process spent per message is reported
 *   too: on a shared or virtualised machine it varies much less than wall-clock throughput, so it
 *   is the number to compare when judging a change to the message path.
 * - call latency: one process on A makes `sequentialCalls` calls, one at a time, to an echo
 *   Server on B; p50 / p99 of the round trips, timed on A.
 * - concurrent calls: `concurrentCallers` processes on A call the echo server at the same time,
 *   `callsPerCaller` each; total calls / wall time (0 callers skips it).
 *
 * Flow control of the sender: `node.send` is fire-and-forget and the link drops a peer whose
 * outbound queue exceeds maxQueueBytes (64 MiB by default), so queueing a million messages in one
 * synchronous loop would overload the link. The sender yields to the event loop after every
 * `batchBytes` of payload (the link flushes once per turn, in a setImmediate queued before ours),
 * and while `node.queuedBytes(B)` is above `highWaterBytes` (the receiver is not keeping up) it
 * waits, polling every millisecond, until the queue has drained below that mark. This is what a
 * well-behaved producer does; the queue never comes near the overload bound. (Polling with
 * setImmediate instead busy-waits: measured, it raised the sender's CPU per message by up to 2x
 * and took that CPU from the receiver on a 2-core machine.)
 */
import { Pid, Server, encode } from '../../src/internal.js';
import { BenchNodeProcess } from '../support/node-process.js';
import { percentile } from '../support/stats.js';
import { defineWorkload, type RoleContext, type Roles } from '../support/workload.js';

const ROLES = import.meta.url;
/** Sequence numbers start here so that each one encodes as a uint32 (5 bytes): constant size. */
const SEQ_BASE = 0x10000;

type Kind = 'small' | 'large';

interface ThroughputArgs {
  readonly kind: Kind;
  readonly count: number;
  readonly bytes: number;
}

interface BlastArgs extends ThroughputArgs {
  readonly to: string;
  readonly batchBytes: number;
  readonly highWaterBytes: number;
}

interface SinkArgs extends ThroughputArgs {
  readonly timeoutMs: number;
}

/** CPU time (user + system) a node process spent on a phase: steadier than wall time on a shared machine. */
interface CpuSummary {
  readonly cpuUs: number;
}

interface LatencySummary {
  readonly p50Us: number;
  readonly p99Us: number;
}

interface ConcurrentSummary {
  readonly calls: number;
  readonly seconds: number;
}

export default defineWorkload({
  id: 'transport',
  title: 'two node processes over TCP on 127.0.0.1: send throughput and call round trip',
  params: {
    smallMessages: 1_000_000,
    smallBytes: 100,
    largeMessages: 20_000,
    largeBytes: 64 * 1024,
    sequentialCalls: 20_000,
    concurrentCallers: 100,
    callsPerCaller: 1_000,
    batchBytes: 256 * 1024,
    highWaterBytes: 4 * 1024 * 1024,
    phaseTimeoutMs: 120_000,
    /** Which phases to run (comma-separated: small, large, calls), e.g. to profile one alone. */
    phases: 'small,large,calls',
  },
  metrics: {
    small_msgs: { label: 'small messages (100 B)', unit: 'msg/s', better: 'higher' },
    small_mb: { label: 'small messages, payload', unit: 'MB/s', better: 'higher' },
    small_send_cpu: { label: 'small: sender CPU per message', unit: 'µs', better: 'lower' },
    small_recv_cpu: { label: 'small: receiver CPU per message', unit: 'µs', better: 'lower' },
    large_msgs: { label: 'large messages (64 KiB)', unit: 'msg/s', better: 'higher' },
    large_mb: { label: 'large messages, payload', unit: 'MB/s', better: 'higher' },
    call_p50: { label: 'call round trip p50', unit: 'µs', better: 'lower' },
    call_p99: { label: 'call round trip p99', unit: 'µs', better: 'lower' },
    concurrent_calls: { label: 'calls, concurrent callers', unit: 'calls/s', better: 'higher' },
  },

  async start(params, context) {
    const phases = new Set(params.phases.split(',').map((phase) => phase.trim()));
    for (const phase of phases) {
      if (phase !== 'small' && phase !== 'large' && phase !== 'calls') throw new Error(`transport: unknown phase "${phase}" (phases: small, large, calls)`);
    }
    const nodes: BenchNodeProcess[] = [];
    try {
      const a = await BenchNodeProcess.start({ name: 'bench-a', profileDir: context.profileDir });
      nodes.push(a);
      const b = await BenchNodeProcess.start({ name: 'bench-b', seeds: [a.seed], profileDir: context.profileDir });
      nodes.push(b);
      await Promise.all([a.waitForPeers([b.name]), b.waitForPeers([a.name])]);
      const echo = await b.invoke<string>(ROLES, 'startEcho');

      const throughput = async (kind: Kind, count: number, bytes: number): Promise<{ msgs: number; mb: number; sendCpu: number; recvCpu: number }> => {
        const sink = await b.invoke<string>(ROLES, 'startSink', { kind, count, bytes, timeoutMs: params.phaseTimeoutMs } satisfies SinkArgs);
        const started = performance.now();
        const blast: BlastArgs = { kind, count, bytes, to: sink, batchBytes: params.batchBytes, highWaterBytes: params.highWaterBytes };
        const [sender, receiver] = await Promise.all([a.invoke<CpuSummary>(ROLES, 'blast', blast), b.invoke<CpuSummary>(ROLES, 'awaitSink')]);
        const seconds = (performance.now() - started) / 1000;
        return { msgs: count / seconds, mb: (count * bytes) / seconds / 1e6, sendCpu: sender.cpuUs / count, recvCpu: receiver.cpuUs / count };
      };

      return {
        async run() {
          const result: Record<string, number> = {};
          if (phases.has('small')) {
            const small = await throughput('small', params.smallMessages, params.smallBytes);
            result['small_msgs'] = small.msgs;
            result['small_mb'] = small.mb;
            result['small_send_cpu'] = small.sendCpu;
            result['small_recv_cpu'] = small.recvCpu;
          }
          if (phases.has('large')) {
            const large = await throughput('large', params.largeMessages, params.largeBytes);
            result['large_msgs'] = large.msgs;
            result['large_mb'] = large.mb;
          }
          if (!phases.has('calls')) return result;
          const latency = await a.invoke<LatencySummary>(ROLES, 'callSequential', { to: echo, count: params.sequentialCalls });
          result['call_p50'] = latency.p50Us;
          result['call_p99'] = latency.p99Us;
          if (params.concurrentCallers > 0) {
            const concurrent = await a.invoke<ConcurrentSummary>(ROLES, 'callConcurrent', {
              to: echo,
              callers: params.concurrentCallers,
              callsPerCaller: params.callsPerCaller,
            });
            result['concurrent_calls'] = concurrent.calls / concurrent.seconds;
          }
          return result;
        },
        async stop() {
          await Promise.all(nodes.map((node) => node.stop()));
        },
      };
    } catch (error) {
      await Promise.all(nodes.map((node) => node.kill()));
      throw error;
    }
  },
});

// ---- inside the node processes ---------------------------------------------------------

class Echo extends Server {
  override handleCall(request: unknown): unknown {
    return request;
  }
}

/** Run `body` as a process on the node; resolves with its result, rejects with what it threw. */
function inProcess<T>(node: RoleContext['node'], body: (self: Pid, receive: () => Promise<unknown>) => Promise<T>): { pid: Pid; result: Promise<T> } {
  let pid!: Pid;
  const result = new Promise<T>((resolve, reject) => {
    pid = node.spawn(async (ctx) => {
      try {
        resolve(await body(ctx.self, () => ctx.receive()));
      } catch (error) {
        reject(error as Error);
      }
    });
  });
  return { pid, result };
}

function cpuSince(start: NodeJS.CpuUsage): CpuSummary {
  const used = process.cpuUsage(start);
  return { cpuUs: used.user + used.system };
}

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The `pad` length that makes `{seq, pad}` encode to exactly `bytes` bytes. */
function padFor(bytes: number): string {
  for (let length = 0; length <= bytes; length++) {
    const pad = 'x'.repeat(length);
    if (encode({ seq: SEQ_BASE, pad }).length === bytes) return pad;
  }
  throw new RangeError(`no {seq, pad} message encodes to exactly ${bytes} bytes; pick smallBytes >= 16`);
}

export const roles = {
  startEcho({ node }: RoleContext): string {
    return node.spawn(Echo, undefined).key;
  },

  /** Spawn the receiver on B; its completion is awaited by `awaitSink`. */
  startSink({ node, state }: RoleContext, { kind, count, bytes, timeoutMs }: SinkArgs): string {
    const progress = { received: 0 };
    // From here to the last message B does nothing else: its CPU time is the cost of receiving.
    const cpuAtStart = process.cpuUsage();
    const { pid, result } = inProcess(node, async (_self, receive) => {
      for (let i = 0; i < count; i++) {
        const message = await receive();
        if (kind === 'small') {
          const seq = (message as { seq?: unknown }).seq;
          if (seq !== SEQ_BASE + i) throw new Error(`small message ${i}: expected seq ${SEQ_BASE + i}, got ${String(seq)}`);
        } else if (!Buffer.isBuffer(message) || message.length !== bytes || message.readUInt32BE(0) !== i) {
          throw new Error(`large message ${i}: not the ${bytes}-byte Buffer number ${i}`);
        }
        progress.received = i + 1;
      }
    });
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        node.exit(pid, 'kill');
        reject(new Error(`receiver got ${progress.received} of ${count} ${kind} messages in ${timeoutMs} ms`));
      }, timeoutMs);
    });
    const done = Promise.race([result, deadline]).then((): CpuSummary => cpuSince(cpuAtStart));
    state.set('sink', done.finally(() => clearTimeout(timer)));
    return pid.key;
  },

  awaitSink({ state }: RoleContext): Promise<CpuSummary> {
    return state.get('sink') as Promise<CpuSummary>;
  },

  /** On A: send `count` messages to the receiver, with the flow control described at the top. */
  async blast({ node }: RoleContext, { kind, count, bytes, to, batchBytes, highWaterBytes }: BlastArgs): Promise<CpuSummary> {
    const target = Pid.parse(to);
    const peer = target.node;
    const perBatch = Math.max(1, Math.floor(batchBytes / bytes));
    const pad = kind === 'small' ? padFor(bytes) : '';
    const data = kind === 'large' ? Buffer.alloc(bytes, 0x78) : undefined;
    const cpuAtStart = process.cpuUsage();
    await inProcess(node, async () => {
      for (let sent = 0; sent < count; ) {
        const end = Math.min(count, sent + perBatch);
        if (data === undefined) {
          for (; sent < end; sent++) node.send(target, { seq: SEQ_BASE + sent, pad });
        } else {
          // send() encodes (copies) the Buffer at once, so rewriting it for the next one is safe.
          for (; sent < end; sent++) {
            data.writeUInt32BE(sent, 0);
            node.send(target, data);
          }
        }
        await yieldToEventLoop();
        while (node.queuedBytes(peer) > highWaterBytes) await sleep(1);
        // send() drops messages silently once the peer is gone: fail loudly instead.
        if (!node.isAlive(target)) throw new Error(`lost the link to ${peer} after ${sent} ${kind} messages`);
      }
    }).result;
    // Wait for the link to hand its last bytes to the socket, so the sender's cost is complete.
    while (node.queuedBytes(peer) > 0) await yieldToEventLoop();
    return cpuSince(cpuAtStart);
  },

  /** On A: one caller, one call at a time; round-trip percentiles in microseconds. */
  async callSequential({ node }: RoleContext, { to, count }: { to: string; count: number }): Promise<LatencySummary> {
    const target = Pid.parse(to);
    const samples = new Float64Array(count);
    await inProcess(node, async () => {
      for (let i = 0; i < count; i++) {
        const started = performance.now();
        const reply = await node.call(target, i);
        samples[i] = performance.now() - started;
        if (reply !== i) throw new Error(`call ${i}: the echo server answered ${String(reply)}`);
      }
    }).result;
    samples.sort();
    return { p50Us: percentile(samples, 50) * 1000, p99Us: percentile(samples, 99) * 1000 };
  },

  /** On A: `callers` processes calling at once; total calls and wall time. */
  async callConcurrent({ node }: RoleContext, { to, callers, callsPerCaller }: { to: string; callers: number; callsPerCaller: number }): Promise<ConcurrentSummary> {
    const target = Pid.parse(to);
    const started = performance.now();
    const all: Array<Promise<void>> = [];
    for (let c = 0; c < callers; c++) {
      all.push(
        inProcess(node, async () => {
          for (let i = 0; i < callsPerCaller; i++) await node.call(target, i);
        }).result,
      );
    }
    await Promise.all(all);
    return { calls: callers * callsPerCaller, seconds: (performance.now() - started) / 1000 };
  },
} satisfies Roles;
