/**
 * What an authenticated peer can send that it should not, case by case, on the memory network:
 * unknown frame types (closed below 0x30, dropped above), payloads of the wrong shape for every
 * node frame type (closed as bad frames, never a handler exception), undecodable payloads,
 * batches of types that cannot be batched, handshake frames after the handshake, and the small
 * frame limit before authentication. The random exploration is frame-fuzz.test.ts; the same
 * against a live node process, test/cluster/fuzz.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FrameType, Server, encodeFrame, encode, frameTypeName, seededRandom, type Node, type Pid } from '../../../src/internal.js';
import { capturingLogger, eventsNamed, type LogRecord } from '../../support/log-capture.js';
import { RawPeer, authenticate } from '../../support/raw-peer.js';
import { NODE_TYPES } from '../../support/frame-fuzz.js';
import { collector, createSim, type Collector, type Sim } from '../node/sim-helpers.js';

const COOKIE = 'frames-cookie';

class Echo extends Server<void> {
  override handleCall(request: unknown): unknown {
    return request;
  }
}

let sim: Sim;
let a: Node;
let b: Node;
let logs: LogRecord[];
let inbox: Collector;
let peerCount = 0;

beforeEach(async () => {
  sim = createSim(201);
  logs = [];
  a = await sim.start('a', { cookie: COOKIE, maxFrameBytes: 1024 * 1024, logger: capturingLogger(logs) });
  b = await sim.start('b', { cookie: COOKIE, seeds: ['a'] });
  await sim.until(() => a.peers().length === 1, 'a and b connected');
  inbox = collector(a, 'inbox');
});
afterEach(async () => {
  await sim.teardown();
});

const until = (cond: () => boolean, what: string): Promise<void> => sim.until(cond, what);

/** A raw peer that has done the handshake properly: a's peer as far as a knows. */
async function authenticated(): Promise<RawPeer> {
  const name = `raw-${++peerCount}`;
  const raw = await RawPeer.memory(sim.network, name, 'a', { clock: sim.clock, random: seededRandom(peerCount) });
  await authenticate(raw, { name, incarnation: 1 }, COOKIE, until);
  await until(() => a.peers().includes(name), `${name} up on a`);
  return raw;
}

/** The link stays usable: a message sent after the frame under test still arrives. */
async function expectStillServed(raw: RawPeer, pid: Pid): Promise<void> {
  const before = inbox.messages.length;
  raw.send(FrameType.SEND, [pid, 'after']);
  await until(() => inbox.messages.length > before || raw.closed, 'the next message');
  expect(raw.closed).toBe(false);
  expect(inbox.messages.at(-1)).toBe('after');
}

async function expectClosedAsBadFrame(raw: RawPeer, what: string): Promise<void> {
  await until(() => raw.closed, `the link closed after ${what}`);
  expect(raw.closedByRemote, what).toBe(true);
}

/** The node is unharmed: its real peer still answers calls, no handler threw. */
async function expectNodeUnharmed(): Promise<void> {
  expect(a.peers()).toContain('b');
  const echo = b.spawn(Echo, undefined);
  expect(await sim.resolve(a.call(echo, 'ok?'), 'a call to b')).toBe('ok?');
  expect(eventsNamed(logs, 'handler_error')).toEqual([]);
}

describe('frame types an authenticated peer must not send', () => {
  it.each([0x08, 0x0f, 0x1a, 0x20, 0x2f].map((t) => [frameTypeName(t), t] as const))('unknown type %s below 0x30 (transport and node ranges) closes the link', async (_name, type) => {
    const raw = await authenticated();
    raw.send(type, ['x']);
    await expectClosedAsBadFrame(raw, frameTypeName(type));
    expect(eventsNamed(logs, 'bad_frame').at(-1)?.['err']).toBe(`unknown frame type ${frameTypeName(type)}`);
    await expectNodeUnharmed();
  });

  it.each([0x30, 0x3f, 0x40, 0x7f, 0xb0, 0xff].map((t) => [frameTypeName(t), t] as const))('type %s of an upper layer nobody runs here (plain or batched) is dropped; the link stays', async (_name, type) => {
    const raw = await authenticated();
    raw.send(type, ['app', 'x']);
    await expectStillServed(raw, inbox.pid);
    expect(eventsNamed(logs, 'unhandled_frames')).toHaveLength(1);
    await expectNodeUnharmed();
  });

  it.each([FrameType.HELLO, FrameType.CHALLENGE, FrameType.PROOF, FrameType.WELCOME, FrameType.REFUSE].map((t) => [frameTypeName(t), t] as const))(
    'handshake frame %s after the handshake closes the link',
    async (_name, type) => {
      const raw = await authenticated();
      raw.send(type, { name: 'b', incarnation: 2, address: 'b', nonce: Buffer.alloc(32), proof: Buffer.alloc(32), reason: 'x', message: 'x' });
      await expectClosedAsBadFrame(raw, frameTypeName(type));
      await expectNodeUnharmed();
    },
  );

  it('a batch of a type that is never batched (a handshake type) closes the link', async () => {
    const raw = await authenticated();
    raw.write(encodeFrame(FrameType.HELLO | 0x80, Buffer.concat([encode({}), encode({})])));
    await expectClosedAsBadFrame(raw, 'HELLO[batch]');
    expect(eventsNamed(logs, 'bad_frame').at(-1)?.['err']).toMatch(/cannot be batched/);
    await expectNodeUnharmed();
  });
});

describe('node frame payloads of the wrong shape close the link as bad frames (no handler exception)', () => {
  const shapes: Array<[string, unknown]> = [
    ['nil', null],
    ['a number', 7],
    ['a string', 'SEND'],
    ['a map', { to: 'inbox', message: 'x' }],
    ['a map with __proto__', JSON.parse('{"__proto__": {"polluted": 1}, "0": "inbox"}')],
  ];
  for (const type of NODE_TYPES) {
    it(`${frameTypeName(type)}: ${shapes.map(([label]) => label).join(', ')}, and too few fields`, async () => {
      for (const [label, body] of shapes) {
        const raw = await authenticated();
        raw.send(type, body);
        await expectClosedAsBadFrame(raw, `${frameTypeName(type)} carrying ${label}`);
        expect(eventsNamed(logs, 'bad_frame').at(-1)?.['err']).toMatch(/malformed payload/);
      }
      if (type !== FrameType.PEERS) {
        const raw = await authenticated();
        raw.send(type, []);
        await expectClosedAsBadFrame(raw, `${frameTypeName(type)} carrying []`);
      }
      await expectNodeUnharmed();
      expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    });
  }

  it.each([
    ['SEND to something not a pid', FrameType.SEND, ['inbox', 'x']],
    ['SEND_NAMED to a number', FrameType.SEND_NAMED, [1, 'x']],
    ['CAST to a map', FrameType.CAST, [{}, 'x']],
    ['CALL without a ref', FrameType.CALL, ['ref', 'inbox', null, 'x']],
    ['CALL from a string', FrameType.CALL, ['REF', 'inbox', 'me', 'x']],
    ['EXIT of a string', FrameType.EXIT, ['inbox', 'kill']],
    ['MONITOR of a name', FrameType.MONITOR, ['REF', 'inbox']],
    ['DEMONITOR without a ref', FrameType.DEMONITOR, [7]],
    ['DOWN without a ref', FrameType.DOWN, [null, null, 'x']],
  ])('%s', async (_label, type, body) => {
    const raw = await authenticated();
    const fixed = (body as unknown[]).map((v) => (v === 'REF' ? a.makeRef() : v));
    raw.send(type, fixed);
    await expectClosedAsBadFrame(raw, _label);
    expect(inbox.messages).toEqual([]);
    await expectNodeUnharmed();
  });

  it.each([
    ['a map with a toString that is not a function', JSON.parse('{"toString": 5, "valueOf": 6}')],
    ['a bigint inside a map', { n: 2n ** 70n }],
  ])('REPLY and EXIT carrying %s (the fuzzer found that describing such a value threw)', async (_label, value) => {
    const raw = await authenticated();
    const monitored = collector(a);
    const reasons: unknown[] = [];
    a.monitor(monitored.pid, (down) => reasons.push(down.reason));
    for (const status of [0, 1, 2, 3, 9]) raw.send(FrameType.REPLY, [a.makeRef(), status, value]);
    raw.send(FrameType.EXIT, [monitored.pid, value]);
    await expectStillServed(raw, inbox.pid);
    await until(() => reasons.length === 1, 'the exit');
    expect(reasons[0]).toEqual(value);
    await expectNodeUnharmed();
  });

  it('PEERS entries that are not [name, address] are skipped; bad addresses are failed dials, not exceptions', async () => {
    const raw = await authenticated();
    raw.send(FrameType.PEERS, [7, ['ghost'], ['ghost', 'not an address'], ['nobody', ''], [null, 'x'], 'y']);
    await expectStillServed(raw, inbox.pid);
    await sim.run(2000); // retries of the failed dials come and go
    await expectNodeUnharmed();
  });
});

describe('bytes that do not decode', () => {
  it.each([
    ['0xc1, a byte msgpack never uses (msgpackr decodes it to a marker object: a wrong shape)', Buffer.from([0xc1])],
    ['a map header promising 2^32-1 entries', Buffer.from([0xdf, 0xff, 0xff, 0xff, 0xff])],
    ['an array cut short', Buffer.from([0x92, 0x01])],
    ['two values in a non-batch frame', Buffer.concat([encode(['x']), encode(['y'])])],
    ['a malformed pid extension', Buffer.concat([Buffer.from([0x92, 0xd4, 0x30, 0x00]), encode(['a', 'not a number', 1]), encode('x')])],
  ])('%s closes the link', async (_label, payload) => {
    const raw = await authenticated();
    raw.write(encodeFrame(FrameType.SEND, payload));
    await expectClosedAsBadFrame(raw, _label);
    await expectNodeUnharmed();
  });
});

describe('frame size limits', () => {
  it('before authentication a frame over 16 KiB is refused as soon as its header arrives', async () => {
    const raw = await RawPeer.memory(sim.network, 'big-hello', 'a', { clock: sim.clock, random: seededRandom(1) });
    const header = Buffer.alloc(6);
    header.writeUInt32BE(20 * 1024, 0);
    header[4] = 1;
    header[5] = FrameType.HELLO;
    raw.write(header); // nothing more: the node must not wait for (and buffer) 20 KiB
    await expectClosedAsBadFrame(raw, 'a 20 KiB HELLO header');
    expect(eventsNamed(logs, 'bad_frame').at(-1)?.['err']).toMatch(/over the limit of 16384 bytes/);
  });

  it('after authentication the node limit (maxFrameBytes) applies: 100 KiB arrives, over 1 MiB closes', async () => {
    const raw = await authenticated();
    raw.send(FrameType.SEND, [inbox.pid, Buffer.alloc(100 * 1024, 1)]);
    await until(() => inbox.messages.length === 1, 'the 100 KiB message');
    const header = Buffer.alloc(6);
    header.writeUInt32BE(1024 * 1024 + 1, 0);
    header[4] = 1;
    header[5] = FrameType.SEND;
    raw.write(header);
    await expectClosedAsBadFrame(raw, 'a frame over maxFrameBytes');
    await expectNodeUnharmed();
  });
});
