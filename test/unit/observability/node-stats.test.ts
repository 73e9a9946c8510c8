/**
 * node.stats(): per-link traffic counters follow the direction of the traffic and agree between
 * the two ends; uptime, processes and totals over closed links; peers' event-loop delay carried
 * by heartbeats (real clock only).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startNode, tcp, type Node } from '../../../src/index.js';
import { FrameType, PROTOCOL_VERSION, encodeFrame, seededRandom, silentLogger } from '../../../src/internal.js';
import { RawPeer, authenticate } from '../../support/raw-peer.js';
import { waitFor } from '../../support/wait.js';
import { collector, createSim, idle, type Sim } from '../node/sim-helpers.js';

let sim: Sim | undefined;
const started: Node[] = [];
afterEach(async () => {
  await sim?.teardown();
  sim = undefined;
  await Promise.all(started.splice(0).map((n) => n.stop()));
});

const peerOf = (node: Node, name: string) => {
  const peer = node.stats().peers.find((p) => p.node === name);
  if (peer === undefined) throw new Error(`${node.name} has no peer ${name}`);
  return peer;
};

describe('node.stats()', () => {
  it('counts bytes and frames per link in the direction they travel', async () => {
    sim = createSim(3);
    const [a, b] = await sim.cluster('a', 'b');
    const inbox = collector(b);
    await sim.run(50);
    const ab0 = peerOf(a, 'b');
    const ba0 = peerOf(b, 'a');
    const payload = 'x'.repeat(100_000);
    a.send(inbox.pid, payload);
    await sim.until(() => inbox.messages.length === 1, 'delivered');
    const ab = peerOf(a, 'b');
    const ba = peerOf(b, 'a');
    // a -> b carried the message; b -> a only heartbeats.
    expect(ab.bytesOut - ab0.bytesOut).toBeGreaterThanOrEqual(100_000);
    expect(ba.bytesIn - ba0.bytesIn).toBeGreaterThanOrEqual(100_000);
    expect(ba.bytesOut - ba0.bytesOut).toBeLessThan(1000);
    expect(ab.bytesIn - ab0.bytesIn).toBeLessThan(1000);
    expect(ab.framesOut).toBeGreaterThan(ab0.framesOut);
    // With nothing in flight, what one end wrote is what the other read.
    await sim.until(() => {
      const [x, y] = [peerOf(a, 'b'), peerOf(b, 'a')];
      return x.bytesOut === y.bytesIn && y.bytesOut === x.bytesIn && x.framesOut === y.framesIn && y.framesOut === x.framesIn;
    }, 'both ends agree');
  });

  it('reports identity, uptime, processes, heartbeat age and link totals that survive a reconnect', async () => {
    sim = createSim(4);
    const [a, b] = await sim.cluster('a', 'b');
    idle(a);
    idle(a);
    await sim.run(1000);
    const stats = a.stats();
    expect(stats.name).toBe('a');
    expect(stats.incarnation).toBe(a.incarnation);
    expect(stats.uptimeMs).toBeGreaterThanOrEqual(1000);
    expect(stats.processes).toBe(a.processCount());
    expect(stats.processes).toBe(2);
    const peer = stats.peers.find((p) => p.node === 'b')!;
    expect(peer).toMatchObject({ state: 'up', incarnation: b.incarnation, queueBytes: 0 });
    // Heartbeats every 100 ms (sim-helpers): something arrived recently.
    expect(peer.heartbeatAgeMs).toBeLessThanOrEqual(200);
    expect(peer.connectedSinceMs).toBeGreaterThanOrEqual(1000);
    // Virtual clock: no load report in heartbeats (it would make the simulation's bytes machine-dependent).
    expect(peer.eventLoopDelayP99Ms).toBeNull();
    expect(stats.eventLoopDelay).toEqual({ p50: 0, p99: 0, max: 0 }); // not measured under a virtual clock

    const before = a.stats().links;
    expect(before.bytesOut).toBeGreaterThanOrEqual(peer.bytesOut);
    a.disconnect('b');
    await sim.until(() => a.peers().length === 1 && peerOf(a, 'b').connectedSinceMs < 500, 'reconnected', 5000);
    const after = a.stats();
    expect(peerOf(a, 'b').bytesOut).toBeLessThan(before.bytesOut);
    expect(after.links.bytesOut).toBeGreaterThanOrEqual(before.bytesOut);
    expect(after.links.framesIn).toBeGreaterThanOrEqual(before.framesIn);
  });

  it("carries each node's event-loop delay p99 to its peers in heartbeats (real clock)", async () => {
    const heartbeat = { intervalMs: 50, timeoutMs: 2000 };
    const a = await startNode({ name: 'a', transport: tcp(), listen: { host: '127.0.0.1', port: 0 }, cookie: 'obs', heartbeat, logger: silentLogger() });
    started.push(a);
    const b = await startNode({ name: 'b', transport: tcp(), listen: { host: '127.0.0.1', port: 0 }, cookie: 'obs', heartbeat, seeds: [a.seed], logger: silentLogger() });
    started.push(b);
    const reported = await waitFor(() => b.stats().peers.find((p) => p.node === 'a' && p.eventLoopDelayP99Ms !== null), { what: "a's load report at b" });
    expect(typeof reported.eventLoopDelayP99Ms).toBe('number');
    expect(reported.eventLoopDelayP99Ms).toBeGreaterThan(0); // the monitor's resolution is 20 ms: never 0 once sampled
    await waitFor(() => a.stats().peers.find((p) => p.node === 'b' && p.eventLoopDelayP99Ms !== null), { what: "b's load report at a" });
    expect(a.stats().eventLoopDelay.p99).toBeGreaterThan(0);
  });

  it('reads a peer load report from its heartbeat and ignores a malformed one, keeping the link', async () => {
    sim = createSim(5);
    const s = sim;
    const a = await s.start('a', { cookie: 'c' });
    const raw = await RawPeer.memory(s.network, 'peer', 'a', { clock: s.clock, random: seededRandom(9) });
    await authenticate(raw, { name: 'peer', incarnation: 1 }, 'c', (cond, what) => s.until(cond, what));
    raw.send(FrameType.PING, {});
    await s.run(5);
    expect(peerOf(a, 'peer').eventLoopDelayP99Ms).toBeNull(); // an older node's heartbeat: no report
    raw.send(FrameType.PING, { eld: 12.5 });
    await s.until(() => peerOf(a, 'peer').eventLoopDelayP99Ms === 12.5, 'the report read');
    raw.send(FrameType.PING, { eld: 'slow' });
    raw.send(FrameType.PING, { eld: -1 });
    raw.send(FrameType.PING, [1, 2, 3]);
    raw.write(encodeFrame(FrameType.PING, Buffer.from([0xc1, 0xc1, 0xc1]), PROTOCOL_VERSION)); // not msgpack
    await s.run(20);
    expect(raw.closed).toBe(false);
    expect(a.peers()).toEqual(['peer']);
    expect(peerOf(a, 'peer').eventLoopDelayP99Ms).toBe(12.5);
  });
});
