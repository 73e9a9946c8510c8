/**
 * Heartbeat load reports at the mesh level (virtual clock, the report injected): a busy link,
 * which needs no heartbeat, still carries one report every 5 s, and the receiver shows it.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULTS, FrameType, Mesh, encode, silentLogger } from '../../../src/internal.js';
import { SimNetwork, VirtualClock, seededRandom } from '../../../src/index.js';
import { tapWrites } from '../../support/wire-tap.js';

const DATA = 0x40;


describe('heartbeat load reports', () => {
  it('reach the peer every 5 s even on a link too busy for heartbeats', async () => {
    const clock = new VirtualClock();
    const network = new SimNetwork({ clock, random: seededRandom(1), latencyMs: 1 });
    const pings = { count: 0 };
    const mesh = async (name: string, loadReport?: () => Buffer): Promise<Mesh> => {
      const random = seededRandom(name.charCodeAt(0));
      let connector = network.connector()({ nodeName: name, clock, random, logger: silentLogger() });
      if (loadReport !== undefined) connector = tapWrites(connector, (type) => void (type === FrameType.PING && pings.count++));
      const m = new Mesh(
        connector,
        { name, incarnation: 1, address: '' },
        { cookie: Buffer.from('k'), heartbeat: DEFAULTS.heartbeat, reconnect: DEFAULTS.reconnect, maxFrameBytes: 1 << 20, maxQueueBytes: 1 << 24, handshakeTimeoutMs: 5000 },
        { peerUp: () => undefined, peerDown: () => undefined },
        { clock, random, logger: silentLogger(), ...(loadReport === undefined ? {} : { loadReport }) },
      );
      m.handle(DATA, () => undefined);
      await m.start();
      return m;
    };
    let eld = 7;
    const a = await mesh('a', () => encode({ eld }));
    const b = await mesh('b');
    a.connect(b.local.address, 'b');
    for (let i = 0; i < 100 && a.peers().length === 0; i++) await clock.advance(1);
    expect(a.peers().map((p) => p.name)).toEqual(['b']);

    // a writes to b every 50 ms (the heartbeat interval is 500 ms): no idle heartbeat is due.
    pings.count = 0;
    const report = (): number | null => b.peerStats()[0]!.eventLoopDelayP99Ms;
    let reportedAt: number | undefined;
    for (let t = 0; t < 12_000; t += 50) {
      a.send('b', DATA, encode(t));
      await clock.advance(50);
      if (reportedAt === undefined && report() === 7) reportedAt = t;
      if (t === 6000) eld = 9;
    }
    expect(reportedAt).toBeDefined();
    expect(reportedAt!).toBeLessThanOrEqual(5100);
    // One report per 5 s: 2 in 12 s of traffic, not a heartbeat per interval (24).
    expect(pings.count).toBe(2);
    expect(report()).toBe(9);
    await a.stop();
    await b.stop();
  });
});
