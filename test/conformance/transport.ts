/**
 * The transport conformance suite: every transport (tcp, memory, nats) must pass it.
 *
 * Invariants checked:
 *  1. Two nodes that know each other connect, and both see `nodeup` with the other's identity.
 *  2. Per-pair delivery is in order, for many small messages and across large frames.
 *  3. Frames up to the maximum size arrive intact; a larger message is refused at the call.
 *  4. Backpressure: a burst far larger than the socket buffers arrives whole; a peer whose queue
 *     exceeds `maxQueueBytes` is dropped ('overload') and reconnected, not buffered forever.
 *  5. A silent peer (partition) is declared down with 'heartbeat_timeout' on both sides.
 *  6. After a partition heals, the nodes reconnect on their own (reconnect with backoff).
 *  7. A one-way partition still brings the link down on both sides, and heals.
 *  8. A node with a different cookie never connects; a graceful stop is seen as 'left'.
 */
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import type { Node, NodeOptions } from '../../src/index.js';
import { waitFor } from '../support/wait.js';

export interface ConformanceEnv {
  readonly heartbeat: { intervalMs: number; timeoutMs: number };
  startNode(name: string, options?: Partial<NodeOptions>): Promise<Node>;
  /** The seed string other nodes use to reach `node`. */
  seedOf(node: Node): string;
  cut(a: Node, b: Node, options?: { oneWay?: boolean }): Promise<void>;
  heal(a: Node, b: Node): Promise<void>;
  /** Wait until `cond()` holds, letting (real or virtual) time pass; throws after `maxMs`. */
  until(cond: () => boolean, what: string, maxMs?: number): Promise<void>;
  teardown(): Promise<void>;
}

/**
 * The env of a transport over real sockets in real time (tcp, nats): partitions by fault injection
 * in the mesh (`node.block`), waits by polling. The caller says how to start a node and seed it.
 */
export function realTimeEnv(
  heartbeat: ConformanceEnv['heartbeat'],
  start: (name: string, options: Partial<NodeOptions>) => Promise<Node>,
  seedOf: (node: Node) => string,
): ConformanceEnv {
  const nodes: Node[] = [];
  return {
    heartbeat,
    async startNode(name, options = {}) {
      const node = await start(name, options);
      nodes.push(node);
      return node;
    },
    seedOf,
    async cut(a, b, options = {}) {
      a.block(b.name, { in: options.oneWay !== true, out: true });
      b.block(a.name, { in: true, out: options.oneWay !== true });
    },
    async heal(a, b) {
      a.unblock(b.name);
      b.unblock(a.name);
    },
    async until(cond, what, maxMs = 10_000) {
      await waitFor(cond, { timeoutMs: maxMs, intervalMs: 5, what });
    },
    async teardown() {
      await Promise.all(nodes.map((n) => n.stop()));
    },
  };
}

interface Collected {
  messages: unknown[];
}

/** Spawn a process that appends everything it receives to `into.messages`. */
function collector(node: Node, into: Collected) {
  return node.spawn(async (ctx) => {
    for (;;) into.messages.push(await ctx.receive());
  });
}

export function transportConformance(name: string, makeEnv: () => Promise<ConformanceEnv>): void {
  describe(`transport conformance: ${name}`, () => {
    let env: ConformanceEnv;
    beforeEach(async () => {
      env = await makeEnv();
    });
    afterEach(async () => {
      await env.teardown();
    });

    async function pair(options: Partial<NodeOptions> = {}): Promise<[Node, Node]> {
      const a = await env.startNode('a', options);
      const b = await env.startNode('b', { ...options, seeds: [env.seedOf(a)] });
      await env.until(() => a.peers().includes('b') && b.peers().includes('a'), 'a and b connected');
      return [a, b];
    }

    it('two nodes: connect from a seed and both see nodeup with the peer identity', async () => {
      const a = await env.startNode('a');
      const upsOnA: Array<{ node: string; incarnation: number }> = [];
      a.on('nodeup', (e) => upsOnA.push(e));
      const b = await env.startNode('b', { seeds: [env.seedOf(a)] });
      await env.until(() => a.peers().includes('b') && b.peers().includes('a'), 'connected');
      expect(upsOnA).toEqual([expect.objectContaining({ node: 'b', incarnation: b.incarnation })]);
      expect(b.peerInfo()[0]).toMatchObject({ name: 'a', incarnation: a.incarnation });
    });

    it('two nodes: 20,000 small messages arrive in order', async () => {
      const [a, b] = await pair();
      const got: Collected = { messages: [] };
      const target = collector(b, got);
      for (let i = 0; i < 20_000; i++) a.send(target, { i, from: 'a' });
      await env.until(() => got.messages.length === 20_000, '20,000 messages');
      expect(got.messages.every((m, i) => (m as { i: number }).i === i)).toBe(true);
    });

    it('two nodes: large frames (1 MiB, 5 MiB) interleaved with small ones stay intact and in order', async () => {
      const [a, b] = await pair();
      const got: Collected = { messages: [] };
      const target = collector(b, got);
      const big = Buffer.alloc(1024 * 1024, 7);
      const huge = Buffer.alloc(5 * 1024 * 1024, 9);
      a.send(target, { i: 0 });
      a.send(target, { i: 1, blob: big });
      a.send(target, { i: 2 });
      a.send(target, { i: 3, blob: huge });
      a.send(target, { i: 4 });
      await env.until(() => got.messages.length === 5, 'five messages');
      const seen = got.messages as Array<{ i: number; blob?: Buffer }>;
      expect(seen.map((m) => m.i)).toEqual([0, 1, 2, 3, 4]);
      expect(Buffer.compare(seen[1]!.blob!, big)).toBe(0);
      expect(Buffer.compare(seen[3]!.blob!, huge)).toBe(0);
    });

    it('two nodes: a message larger than maxFrameBytes is refused at the call', async () => {
      const [a, b] = await pair({ maxFrameBytes: 64 * 1024 });
      const target = collector(b, { messages: [] });
      expect(() => a.send(target, Buffer.alloc(100 * 1024))).toThrow(/maxFrameBytes/);
      expect(a.peers()).toEqual(['b']);
    });

    it('two nodes: a burst much larger than the socket buffers arrives whole (backpressure)', async () => {
      const [a, b] = await pair();
      const got: Collected = { messages: [] };
      const target = collector(b, got);
      const chunk = Buffer.alloc(64 * 1024, 1);
      for (let i = 0; i < 400; i++) a.send(target, { i, chunk }); // ~25 MiB in one turn
      await env.until(() => got.messages.length === 400, '400 large messages', 60_000);
      expect((got.messages[399] as { i: number }).i).toBe(399);
      expect(a.queuedBytes('b')).toBe(0);
    });

    it('two nodes: a peer whose outbound queue overflows is dropped as overload and reconnected', async () => {
      const [a, b] = await pair({ maxQueueBytes: 2 * 1024 * 1024, maxFrameBytes: 1024 * 1024 });
      const downs: string[] = [];
      a.on('nodedown', (e) => downs.push(e.reason));
      const target = collector(b, { messages: [] });
      const chunk = Buffer.alloc(512 * 1024, 1);
      for (let i = 0; i < 16; i++) a.send(target, chunk); // 8 MiB queued in one turn > 2 MiB
      expect(downs).toEqual(['overload']);
      await env.until(() => a.peers().includes('b') && b.peers().includes('a'), 'reconnected after overload');
    });

    it('two nodes: a silent peer is declared down with heartbeat_timeout on both sides', async () => {
      const [a, b] = await pair();
      const downA: string[] = [];
      const downB: string[] = [];
      a.on('nodedown', (e) => downA.push(e.reason));
      b.on('nodedown', (e) => downB.push(e.reason));
      await env.cut(a, b);
      await env.until(() => downA.length > 0 && downB.length > 0, 'both sides notice', env.heartbeat.timeoutMs * 4);
      expect(downA).toEqual(['heartbeat_timeout']);
      expect(downB).toEqual(['heartbeat_timeout']);
      expect(a.peers()).toEqual([]);
    });

    it('two nodes: after a partition heals they reconnect by themselves', async () => {
      const [a, b] = await pair();
      await env.cut(a, b);
      await env.until(() => a.peers().length === 0 && b.peers().length === 0, 'partitioned', env.heartbeat.timeoutMs * 4);
      const ups: string[] = [];
      a.on('nodeup', (e) => ups.push(e.node));
      await env.heal(a, b);
      await env.until(() => a.peers().includes('b') && b.peers().includes('a'), 'reconnected', 20_000);
      expect(ups).toEqual(['b']);
      // The new link carries messages in order again.
      const got: Collected = { messages: [] };
      const target = collector(b, got);
      for (let i = 0; i < 100; i++) a.send(target, i);
      await env.until(() => got.messages.length === 100, 'messages after heal');
      expect(got.messages).toEqual([...Array(100).keys()]);
    });

    it('two nodes: a one-way partition brings the link down on both sides, then heals', async () => {
      const [a, b] = await pair();
      await env.cut(a, b, { oneWay: true });
      await env.until(() => a.peers().length === 0 && b.peers().length === 0, 'both down', env.heartbeat.timeoutMs * 4);
      await env.heal(a, b);
      await env.until(() => a.peers().includes('b') && b.peers().includes('a'), 'reconnected', 20_000);
    });

    it('two nodes: different cookies never connect', async () => {
      const a = await env.startNode('a', { cookie: 'one' });
      const b = await env.startNode('b', { cookie: 'two', seeds: [env.seedOf(a)] });
      const c = await env.startNode('c', { cookie: 'one', seeds: [env.seedOf(a)] });
      await env.until(() => a.peers().includes('c'), 'a and c connected (same cookie)');
      expect(a.peers()).toEqual(['c']);
      expect(b.peers()).toEqual([]);
    });

    it('two nodes: a graceful stop is seen as left, and the peer does not redial it', async () => {
      const [a, b] = await pair();
      const downs: string[] = [];
      a.on('nodedown', (e) => downs.push(e.reason));
      await b.stop();
      await env.until(() => downs.length > 0, 'a sees b leave');
      expect(downs).toEqual(['left']);
      expect(a.peers()).toEqual([]);
    });
  });
}
