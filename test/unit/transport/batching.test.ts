/**
 * Batched frames:
 *  1. consecutive frames of a batchable type to one peer leave as one batch frame (BATCH_BIT) and
 *     arrive as the same values, in order;
 *  2. a frame of another type ends the batch, so order across types is kept;
 *  3. non-batchable types are never coalesced;
 *  4. a batch of a type that is not batchable, or with undecodable bytes, closes only that link.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Mesh, encode, encodeFrame, silentLogger, DEFAULTS, type Conduit, type PeerIdentity } from '../../../src/internal.js';
import { SimNetwork, VirtualClock, seededRandom } from '../../../src/index.js';
import { BATCH_BIT } from '../../../src/wire/types.js';
import { tapWrites } from '../../support/wire-tap.js';

const BATCHED = 0x40;
const SINGLE = 0x41;

interface Side {
  mesh: Mesh;
  received: Array<[number, unknown]>;
  wireTypes: number[];
  downs: string[];
  conduits: Conduit[];
}


describe('link batching', () => {
  let clock: VirtualClock;
  let a: Side;
  let b: Side;

  async function side(name: string, network: SimNetwork): Promise<Side> {
    const random = seededRandom(name.charCodeAt(0));
    const s: Side = { received: [], wireTypes: [], downs: [], conduits: [] } as unknown as Side;
    const connector = tapWrites(network.connector()({ nodeName: name, clock, random, logger: silentLogger() }), (type) => s.wireTypes.push(type), (c) => s.conduits.push(c));
    s.mesh = new Mesh(
      connector,
      { name, incarnation: 1, address: '' },
      { cookie: Buffer.from('k'), heartbeat: DEFAULTS.heartbeat, reconnect: DEFAULTS.reconnect, maxFrameBytes: 1 << 20, maxQueueBytes: 1 << 24, handshakeTimeoutMs: 5000 },
      { peerUp: () => undefined, peerDown: (_p: PeerIdentity, reason: string) => s.downs.push(reason) },
      { clock, random, logger: silentLogger() },
    );
    s.mesh.handle(BATCHED, (_p, body) => s.received.push([BATCHED, body]), { batch: true });
    s.mesh.handle(SINGLE, (_p, body) => s.received.push([SINGLE, body]));
    await s.mesh.start();
    return s;
  }

  async function until(cond: () => boolean): Promise<void> {
    for (let i = 0; i < 5000 && !cond(); i++) await clock.advance(1);
    expect(cond()).toBe(true);
  }

  beforeEach(async () => {
    clock = new VirtualClock();
    const network = new SimNetwork({ clock, random: seededRandom(1), latencyMs: 1 });
    a = await side('a', network);
    b = await side('b', network);
    a.mesh.connect('b', 'b');
    await until(() => a.mesh.peers().length === 1 && b.mesh.peers().length === 1);
    a.wireTypes.length = 0;
  });
  afterEach(async () => {
    await a.mesh.stop();
    await b.mesh.stop();
    await clock.advance(1000);
  });

  it('coalesces consecutive batchable frames into one batch frame, in order, broken by other types', async () => {
    for (let i = 0; i < 100; i++) a.mesh.send('b', BATCHED, encode({ i }));
    a.mesh.send('b', SINGLE, encode('middle'));
    a.mesh.send('b', SINGLE, encode('middle2'));
    for (let i = 100; i < 150; i++) a.mesh.send('b', BATCHED, encode({ i }));
    await until(() => b.received.length === 152);
    expect(a.wireTypes).toEqual([BATCHED | BATCH_BIT, SINGLE, SINGLE, BATCHED | BATCH_BIT]);
    expect(b.received.slice(0, 100).map(([t, v]) => [t, (v as { i: number }).i])).toEqual([...Array(100).keys()].map((i) => [BATCHED, i]));
    expect(b.received.slice(100, 102)).toEqual([
      [SINGLE, 'middle'],
      [SINGLE, 'middle2'],
    ]);
    expect(b.received.slice(102).map(([, v]) => (v as { i: number }).i)).toEqual([...Array(50).keys()].map((i) => i + 100));
  });

  it('a single frame of a batchable type travels as a plain frame', async () => {
    a.mesh.send('b', BATCHED, encode('alone'));
    await until(() => b.received.length === 1);
    expect(a.wireTypes).toEqual([BATCHED]);
  });

  it('a batch frame of a non-batchable type, or with garbage, closes only that link', async () => {
    // Write raw frames straight into a's end of the connection, bypassing the link.
    const raw = a.conduits[0]!;
    raw.write(encodeFrame(SINGLE | BATCH_BIT, Buffer.concat([encode(1), encode(2)])));
    await until(() => b.downs.length === 1);
    expect(b.downs).toEqual(['bad_frame']);
    await until(() => a.mesh.peers().length === 1 && b.mesh.peers().length === 1); // reconnects
    const again = a.conduits[a.conduits.length - 1]!;
    again.write(encodeFrame(BATCHED | BATCH_BIT, Buffer.from([0x92, 0x01])));
    await until(() => b.downs.length === 2);
    expect(b.downs).toEqual(['bad_frame', 'bad_frame']);
  });
});
