/**
 * The handshake under attack, on the memory network in virtual time: clients that skip or fake the
 * proof, replayed handshake frames, a client that says nothing, a flood of connections that never
 * authenticate (bounded by maxPendingHandshakes), unauthenticated claims to be a peer, and a
 * version change after the handshake. Wrong cookie between two real nodes:
 * test/cluster/foundation.test.ts; wrong version at HELLO: version-mismatch.test.ts; the same
 * bounds on real sockets and TLS: test/unit/security/half-open.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { FrameDecoder, FrameType, PROTOCOL_VERSION, Server, decode, encode, encodeFrame, memory, seededRandom, type Conduit, type Connector, type TransportFactory } from '../../../src/internal.js';
import type { Node, NodeOptions } from '../../../src/index.js';
import { capturingLogger, eventsNamed, type LogRecord } from '../../support/log-capture.js';
import { RawPeer, authenticate, challengeOf, handshakeProof } from '../../support/raw-peer.js';
import { createSim, idle, type Sim } from '../node/sim-helpers.js';

const COOKIE = 'the-cluster-secret';
const HANDSHAKE_TIMEOUT_MS = 1000;

let sim: Sim;
const extraConnectors: Connector[] = [];
afterEach(async () => {
  await Promise.all(extraConnectors.splice(0).map((c) => c.close()));
  await sim.teardown();
});

interface Started {
  readonly node: Node;
  readonly logs: LogRecord[];
}

async function start(name: string, options: Partial<NodeOptions> = {}): Promise<Started> {
  const logs: LogRecord[] = [];
  const node = await sim.start(name, { cookie: COOKIE, handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS, logger: capturingLogger(logs), ...options });
  return { node, logs };
}

const rawDeps = (): { clock: Sim['clock']; random: ReturnType<typeof seededRandom> } => ({ clock: sim.clock, random: seededRandom(7) });

function rawTo(node: Node, from = 'mallory'): Promise<RawPeer> {
  return RawPeer.memory(sim.network, from, node.name, rawDeps());
}

const until = (cond: () => boolean, what: string, maxMs?: number): Promise<void> => sim.until(cond, what, maxMs);

class Echo extends Server<void> {
  override handleCall(request: unknown): unknown {
    return { echo: request };
  }
}

/** A call from a to a fresh echo server on b completes: the link carries traffic both ways. */
async function expectCallWorks(a: Node, b: Node): Promise<void> {
  const echo = b.spawn(Echo, undefined);
  expect(await sim.resolve(a.call(echo, 'still there?'), 'a call across the link')).toEqual({ echo: 'still there?' });
}

describe('handshake: a client without the cookie never gets a link', () => {
  it('a client that skips the proof and sends a node frame is closed as a bad frame', async () => {
    sim = createSim(101);
    const a = await start('a');
    const raw = await rawTo(a.node);
    raw.hello('mallory', 1);
    await until(() => challengeOf(raw) !== undefined, 'CHALLENGE');
    raw.send(FrameType.SEND, [idle(a.node), 'let me in']);
    await until(() => raw.closed, 'the connection closed');
    expect(raw.closedByRemote).toBe(true);
    expect(raw.frame(FrameType.WELCOME)).toBeUndefined();
    expect(eventsNamed(a.logs, 'bad_frame')[0]?.['err']).toMatch(/SEND frame before the handshake completed/);
    expect(a.node.peers()).toEqual([]);
  });

  it.each([
    ['an empty proof', { proof: Buffer.alloc(0) }],
    ['a proof of the right length but random', { proof: Buffer.alloc(32, 7) }],
    ['a proof made with no cookie (an empty key)', undefined],
  ])('%s is refused as bad_cookie and logged as auth_failed', async (_label, body) => {
    sim = createSim(102);
    const a = await start('a');
    const raw = await rawTo(a.node);
    raw.hello('mallory', 1);
    await until(() => challengeOf(raw) !== undefined, 'CHALLENGE');
    const challenge = challengeOf(raw)!;
    raw.send(FrameType.PROOF, body ?? { proof: handshakeProof('client', Buffer.alloc(0), raw.nonce, challenge.nonce, { name: 'mallory', incarnation: 1 }, challenge) });
    await until(() => raw.closed, 'the connection closed');
    expect(raw.frame(FrameType.REFUSE)?.body).toMatchObject({ reason: 'bad_cookie' });
    expect(raw.frame(FrameType.WELCOME)).toBeUndefined();
    expect(eventsNamed(a.logs, 'auth_failed')).toHaveLength(1);
    expect(a.node.peers()).toEqual([]);
  });

  it('a PROOF without a proof, or a WELCOME sent by the client, closes the connection', async () => {
    sim = createSim(103);
    const a = await start('a');
    for (const [type, body] of [
      [FrameType.PROOF, {}],
      [FrameType.PROOF, { proof: 'not bytes' }],
      [FrameType.WELCOME, {}],
    ] as const) {
      const raw = await rawTo(a.node);
      raw.hello('mallory', 1);
      await until(() => challengeOf(raw) !== undefined, 'CHALLENGE');
      raw.send(type, body);
      await until(() => raw.closed, `closed after ${JSON.stringify(body)}`);
      expect(raw.frame(FrameType.WELCOME)).toBeUndefined();
    }
    expect(eventsNamed(a.logs, 'bad_frame').map((r) => r['err'])).toEqual(['malformed PROOF', 'malformed PROOF', 'unexpected WELCOME']);
    expect(a.node.peers()).toEqual([]);
  });

  it('a HELLO whose name is not a node name is malformed (no CHALLENGE)', async () => {
    sim = createSim(104);
    const a = await start('a');
    for (const name of ['', 'has space', 'x'.repeat(256), 'a/b', 'a\u0000b']) {
      const raw = await rawTo(a.node);
      raw.hello(name, 1);
      await until(() => raw.closed, `closed after HELLO from ${JSON.stringify(name)}`);
      expect(raw.frame(FrameType.CHALLENGE)).toBeUndefined();
    }
    expect(eventsNamed(a.logs, 'bad_frame').map((r) => r['err'])).toEqual(Array(5).fill('malformed HELLO'));
  });

  it('a node without a cookie (allowed on the memory transport) and one with a cookie refuse each other', async () => {
    sim = createSim(105);
    const a = await start('a');
    const b = await start('b', { cookie: undefined, seeds: ['a'] });
    await until(() => eventsNamed(a.logs, 'auth_failed').length + eventsNamed(b.logs, 'auth_failed').length > 0, 'auth_failed');
    await sim.run(2000);
    expect(a.node.peers()).toEqual([]);
    expect(b.node.peers()).toEqual([]);
  });
});

type Recorded = Array<{ type: number; body: unknown }>;

/** A transport that records the frames its conduits send and receive. */
function recording(inner: TransportFactory, sent: Recorded, received: Recorded): TransportFactory {
  const decoderInto = (into: Recorded): FrameDecoder =>
    new FrameDecoder({ maxFrameBytes: 1 << 24, onFrame: (_version, type, payload) => into.push({ type, body: decode(payload) }) });
  const tap = (conduit: Conduit): Conduit => {
    const out = decoderInto(sent);
    const incoming = decoderInto(received);
    return {
      remoteLabel: conduit.remoteLabel,
      write: (data) => {
        out.push(Buffer.from(data));
        return conduit.write(data);
      },
      end: () => conduit.end(),
      destroy: () => conduit.destroy(),
      setHandlers: (handlers) =>
        conduit.setHandlers({
          ...handlers,
          onData: (chunk) => {
            incoming.push(Buffer.from(chunk));
            handlers.onData(chunk);
          },
        }),
    };
  };
  return (deps) => {
    const connector = inner(deps);
    return {
      kind: connector.kind,
      listen: (onConduit) => connector.listen((c) => onConduit(tap(c))),
      dial: async (address) => tap(await connector.dial(address)),
      close: () => connector.close(),
    };
  };
}

describe('handshake: replayed frames do not authenticate (fresh nonces on every connection)', () => {
  /** a and b connect, b's transport recording: what an eavesdropper on their link would have seen. */
  async function eavesdrop(): Promise<{ a: Started; b: Started; hello: unknown; proof: unknown; challenge: Record<string, unknown> }> {
    const sent: Recorded = [];
    const received: Recorded = [];
    const a = await start('a');
    const b = await start('b', { seeds: ['a'], transport: recording(memory(sim.network), sent, received) });
    await until(() => a.node.peers().length === 1 && b.node.peers().length === 1, 'a and b connected');
    return {
      a,
      b,
      hello: sent.find((f) => f.type === FrameType.HELLO)!.body,
      proof: sent.find((f) => f.type === FrameType.PROOF)!.body,
      challenge: received.find((f) => f.type === FrameType.CHALLENGE)!.body as Record<string, unknown>,
    };
  }

  it("b's recorded HELLO and PROOF replayed to a are refused; b's own link stays up", async () => {
    sim = createSim(111);
    const { a, b, hello, proof, challenge } = await eavesdrop();
    const downs: string[] = [];
    a.node.on('nodedown', (e) => downs.push(e.node));
    const raw = await rawTo(a.node, 'eve');
    raw.send(FrameType.HELLO, hello);
    await until(() => challengeOf(raw) !== undefined, 'a fresh CHALLENGE');
    // The recorded proof covers the nonce a chose for b's connection; a chooses a new one each time.
    expect(challengeOf(raw)!.nonce.equals(challenge['nonce'] as Buffer)).toBe(false);
    raw.send(FrameType.PROOF, proof);
    await until(() => raw.closed, 'the replay refused');
    expect(raw.frame(FrameType.REFUSE)?.body).toMatchObject({ reason: 'bad_cookie' });
    expect(raw.frame(FrameType.WELCOME)).toBeUndefined();
    expect(eventsNamed(a.logs, 'auth_failed')).toHaveLength(1);
    await sim.run(100);
    expect(a.node.peers()).toEqual(['b']);
    expect(downs).toEqual([]);
    await expectCallWorks(a.node, b.node);
  });

  it("a's recorded CHALLENGE, replayed by an impostor that a node dials, is refused before that node sends a proof", async () => {
    sim = createSim(112);
    const { challenge } = await eavesdrop();
    const c = await start('c');
    const accepted: RawPeer[] = [];
    extraConnectors.push(await RawPeer.listen(sim.network, 'impostor', rawDeps(), (peer) => accepted.push(peer)));
    c.node.connect('impostor');
    await until(() => accepted[0]?.frame(FrameType.HELLO) !== undefined, "c's HELLO");
    accepted[0]!.send(FrameType.CHALLENGE, challenge);
    await until(() => accepted[0]!.closed, 'c closes the connection');
    expect(accepted[0]!.frames.map((f) => f.type)).toEqual([FrameType.HELLO, FrameType.REFUSE]);
    expect(accepted[0]!.frame(FrameType.REFUSE)?.body).toMatchObject({ reason: 'bad_cookie' });
    expect(eventsNamed(c.logs, 'auth_failed')[0]?.['msg']).toMatch(/cookies differ/);
    expect(c.node.peers()).toEqual([]);
  });
});

describe('handshake: clients that do not finish it', () => {
  it.each([
    ['says nothing', (_raw: RawPeer) => undefined],
    ['sends HELLO and never a proof', (raw: RawPeer) => raw.hello('mallory', 1)],
    ['trickles a HELLO one byte at a time, too slowly', undefined],
  ])('a client that %s is closed at handshakeTimeoutMs, not before', async (label, act) => {
    sim = createSim(121);
    const a = await start('a');
    const raw = await rawTo(a.node);
    const openedAt = sim.clock.now();
    if (act !== undefined) {
      act(raw);
    } else {
      const bytes = encodeFrame(FrameType.HELLO, encode({ name: 'slow', incarnation: 1, address: '', nonce: raw.nonce, protocol: 1 }));
      // One byte every 100 ms: the HELLO would be complete after ~10 s; the deadline is 1 s.
      let sentBytes = 0;
      const timer = sim.clock.setInterval(() => {
        if (sentBytes < bytes.length) raw.write(bytes.subarray(sentBytes, ++sentBytes));
        else timer.cancel();
      }, 100);
    }
    await sim.run(HANDSHAKE_TIMEOUT_MS - 50);
    expect(raw.closed, `${label}: still open before the timeout`).toBe(false);
    await until(() => raw.closed, 'closed by the handshake timeout', 1000);
    expect(sim.clock.now() - openedAt).toBeLessThan(HANDSHAKE_TIMEOUT_MS + 50);
    expect(raw.closedByRemote).toBe(true);
    expect(raw.frame(FrameType.WELCOME)).toBeUndefined();
    expect(eventsNamed(a.logs, 'handshake_timeout')).toMatchObject([{ level: 'debug' }]);
    expect(a.node.peers()).toEqual([]);
  });
});

describe('handshake: many half-open connections are bounded (maxPendingHandshakes)', () => {
  it('beyond the limit new connections are closed at once, logged (throttled); peers keep working; the slots free up', async () => {
    sim = createSim(131);
    const LIMIT = 4;
    const a = await start('a', { maxPendingHandshakes: LIMIT });
    const b = await start('b', { seeds: ['a'] });
    await until(() => a.node.peers().length === 1, 'a and b connected');
    const downs: string[] = [];
    a.node.on('nodedown', (e) => downs.push(`${e.node}: ${e.reason}`));

    const held: RawPeer[] = [];
    for (let i = 0; i < LIMIT; i++) held.push(await rawTo(a.node, `held-${i}`));
    const flood: RawPeer[] = [];
    for (let i = 0; i < 20; i++) flood.push(await rawTo(a.node, `flood-${i}`));
    await sim.run(20);
    // The first LIMIT wait for their handshake; every later one is closed at once.
    expect(held.map((r) => r.closed)).toEqual(Array(LIMIT).fill(false));
    expect(flood.every((r) => r.closedByRemote && r.frames.length === 0)).toBe(true);
    const limitLines = eventsNamed(a.logs, 'handshake_limit');
    expect(limitLines).toHaveLength(1); // one line for the burst (then at most one per 10 s)
    expect(limitLines[0]).toMatchObject({ level: 'warn', limit: LIMIT, refused: 1 });

    // Meanwhile a keeps serving its peer, both ways.
    await expectCallWorks(a.node, b.node);
    await expectCallWorks(b.node, a.node);

    // A legitimate newcomer while the slots are full is refused, then gets in once they free up
    // (here: the held connections reach their handshake timeout; closing them would do too).
    const c = await start('c', { seeds: ['a'], reconnect: { initialMs: 50, maxMs: 300 } });
    await sim.run(50);
    expect(c.node.peers()).not.toContain('a');
    await until(() => held.every((r) => r.closed), 'the held connections time out', 2 * HANDSHAKE_TIMEOUT_MS);
    await until(() => c.node.peers().includes('a'), 'c connects to a once the flood is over', 10_000);
    expect(downs).toEqual([]);
    expect(a.node.peers().sort()).toEqual(['b', 'c']);
  });

  it('the limit counts only unauthenticated connections: authenticated peers beyond it are fine', async () => {
    sim = createSim(132);
    const a = await start('a', { maxPendingHandshakes: 2 });
    const peers: RawPeer[] = [];
    for (let i = 0; i < 6; i++) {
      const raw = await rawTo(a.node, `peer-${i}`);
      await authenticate(raw, { name: `peer-${i}`, incarnation: 1 }, COOKIE, until);
      peers.push(raw);
    }
    expect(a.node.peers()).toHaveLength(6);
    expect(eventsNamed(a.logs, 'handshake_limit')).toEqual([]);
  });

  it('maxPendingHandshakes is validated', async () => {
    sim = createSim(133);
    for (const bad of [0, -1, 1.5, '8', Number.NaN]) {
      await expect(start('x', { maxPendingHandshakes: bad as number })).rejects.toMatchObject({
        code: 'ERR_ROLLCALL_INVALID_ARGUMENT',
        message: expect.stringMatching(/maxPendingHandshakes must be an integer >= 1/),
      });
    }
  });
});

describe('handshake: an unauthenticated claim to be a peer changes nothing', () => {
  it('a HELLO claiming to be b, sent to c while c is dialling b, does not cancel that dial', async () => {
    sim = createSim(141);
    const b = await start('b');
    const c = await start('c');
    sim.network.setLatency('b', 'c', 200); // c's dial to b takes a while
    const ups: number[] = [];
    c.node.on('nodeup', () => ups.push(sim.clock.now()));
    const startedAt = sim.clock.now();
    c.node.connect('b@b');
    await sim.run(100);
    const forger = await rawTo(c.node, 'mallory');
    forger.hello('b', b.node.incarnation + 1); // "b", even claiming a newer incarnation
    await until(() => c.node.peers().includes('b'), 'c connected to b', 5000);
    // Two round trips of 400 ms; without the forger it takes the same.
    expect(ups[0]! - startedAt).toBeLessThan(1500);
    expect(c.node.peerInfo()[0]!.incarnation).toBe(b.node.incarnation);
    expect(eventsNamed(c.logs, 'nodedown')).toEqual([]);
  });

  it("a HELLO claiming to be b does not displace b's own connection that is still in its handshake", async () => {
    sim = createSim(142);
    const a = await start('a');
    sim.network.setLatency('a', 'b', 200);
    const b = await start('b', { seeds: ['a'] });
    await sim.run(250); // b's HELLO has reached a; a's CHALLENGE is on its way back
    const forger = await rawTo(a.node, 'mallory');
    forger.hello('b', b.node.incarnation);
    await until(() => a.node.peers().includes('b'), 'a connected to b', 5000);
    expect(sim.clock.now()).toBeLessThan(1500);
    expect(eventsNamed(a.logs, 'nodedown')).toEqual([]);
  });

  it('a pending HELLO claiming to be b does not stop c from dialling b', async () => {
    sim = createSim(143);
    await start('b');
    const c = await start('c');
    const forger = await rawTo(c.node, 'mallory');
    forger.hello('b', 1);
    await until(() => challengeOf(forger) !== undefined, 'the forger challenged');
    c.node.connect('b@b');
    // Well before the forger's handshake times out (1 s): c did not wait for "b" to prove itself.
    await until(() => c.node.peers().includes('b'), 'c connected to b', HANDSHAKE_TIMEOUT_MS / 2);
  });
});

describe('handshake: the version is checked on every frame, not only at HELLO', () => {
  it('an authenticated peer that switches protocol version is dropped with protocol_version_mismatch', async () => {
    sim = createSim(151);
    const a = await start('a');
    const raw = await rawTo(a.node, 'peer');
    await authenticate(raw, { name: 'peer', incarnation: 1 }, COOKIE, until);
    const downs: Array<{ node: string; reason: string }> = [];
    a.node.on('nodedown', (e) => downs.push({ node: e.node, reason: e.reason }));
    raw.send(FrameType.PING, {}, PROTOCOL_VERSION + 1);
    await until(() => raw.closed, 'the link closed');
    expect(downs).toEqual([{ node: 'peer', reason: 'protocol_version_mismatch' }]);
    expect(eventsNamed(a.logs, 'protocol_version_mismatch')[0]).toMatchObject({ theirs: PROTOCOL_VERSION + 1, ours: PROTOCOL_VERSION });
  });
});
