/**
 * Keys such as `__proto__`, `constructor` and `prototype`, in messages, call requests and replies,
 * exit reasons, Group keys, named clusters, metadata and raw msgpack bytes, sent over the wire
 * (memory network: the real encode, frames and decode) cannot pollute Object.prototype on the
 * receiving node. msgpackr (mapsAsObjects) renames a map key "__proto__" to "__proto_" on every
 * read path (fixstr, str8, key cache) and refuses non-primitive map keys; "constructor" and
 * "prototype" arrive as ordinary own properties.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ALL, Group, Server, type Node } from '../../../src/index.js';
import { FrameType, PROTOCOL_VERSION, decode, encode, seededRandom } from '../../../src/internal.js';
import type { GroupEvent } from '../../../src/group/events.js';
import { RawPeer, authenticate } from '../../support/raw-peer.js';
import { collector, createSim, idle, type Sim } from '../node/sim-helpers.js';

/** An object with the dangerous keys as own properties, as a parsed JSON body would have them. */
function hostile(): Record<string, unknown> {
  return JSON.parse(
    '{"__proto__": {"polluted": "via __proto__"}, "constructor": {"prototype": {"polluted": "via constructor.prototype"}}, "prototype": {"polluted": "via prototype"}, "toString": "not a function", "hasOwnProperty": 1, "ok": true}',
  ) as Record<string, unknown>;
}

function expectUnpolluted(): void {
  expect(Object.keys(Object.prototype)).toEqual([]);
  expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  expect(Object.getPrototypeOf({})).toBe(Object.prototype);
  expect(typeof ({} as { toString: unknown }).toString).toBe('function');
}

/** What the receiver gets for hostile(): a plain object, __proto__ renamed, the rest own properties. */
function expectDefused(received: unknown): void {
  const value = received as Record<string, unknown>;
  expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
  expect(Object.keys(value).sort()).toEqual(['__proto_', 'constructor', 'hasOwnProperty', 'ok', 'prototype', 'toString']);
  expect(value['__proto_']).toEqual({ polluted: 'via __proto__' });
  expect(Object.hasOwn(value, 'constructor')).toBe(true);
  expect((value as { polluted?: unknown }).polluted).toBeUndefined();
}

let sim: Sim;
let a: Node;
let b: Node;
beforeEach(async () => {
  sim = createSim(401);
  [a, b] = await sim.cluster('a', 'b');
});
afterEach(async () => {
  await sim.teardown();
  expectUnpolluted();
});

describe('the codec', () => {
  it('writes "__proto__" keys (so the decoder really sees them) and reads them back renamed, on every key path', () => {
    const bytes = encode(hostile());
    expect(bytes.includes(Buffer.from('__proto__'))).toBe(true);
    expectDefused(decode(bytes));
    // str8 key (not fixstr: another read path), and nested maps deep enough to hit the key cache.
    const str8Key = Buffer.concat([Buffer.from([0x81, 0xd9, 9]), Buffer.from('__proto__'), encode({ polluted: 1 })]);
    expect(decode(str8Key)).toEqual({ __proto_: { polluted: 1 } });
    const many = decode(encode(Array.from({ length: 100 }, () => hostile()))) as unknown[];
    for (const value of many) expectDefused(value);
    // A map key that is itself a map or an array is refused, not stringified into "__proto__".
    expect(() => decode(Buffer.from([0x81, 0x91, 0xa9, ...Buffer.from('__proto__'), 0x01]))).toThrow(/cannot decode/);
    expectUnpolluted();
  });
});

describe('over the wire between two nodes', () => {
  it('messages, casts, call requests and replies, exit reasons', async () => {
    const inbox = collector(b, 'inbox');
    const casts: unknown[] = [];
    a.send(inbox.pid, hostile());
    a.send({ name: 'inbox', node: 'b' }, [hostile(), { nested: hostile() }]);
    class Mirror extends Server<void> {
      override handleCall(request: unknown): unknown {
        expectDefused(request);
        return hostile();
      }
      override handleCast(message: unknown): void {
        casts.push(message);
      }
    }
    const mirror = b.spawn(Mirror, undefined);
    a.cast(mirror, hostile());
    const reply = await sim.resolve(a.call(mirror, hostile()), 'the call');
    expectDefused(reply);
    await sim.until(() => inbox.messages.length === 2 && casts.length === 1, 'the messages');
    expectDefused(casts[0]);
    expectDefused(inbox.messages[0]);
    const [first, second] = inbox.messages[1] as [unknown, { nested: unknown }];
    expectDefused(first);
    expectDefused(second.nested);
    // An exit reason crossing the wire (EXIT), and coming back in a DOWN.
    const victim = idle(b);
    const reasons: unknown[] = [];
    a.monitor(victim, (down) => reasons.push(down.reason));
    await sim.run(10);
    a.exit(victim, hostile());
    await sim.until(() => reasons.length === 1, 'the DOWN');
    expectDefused(reasons[0]);
    expectUnpolluted();
  });

  it('raw msgpack from an authenticated peer: a str8 "__proto__" key in a SEND payload', async () => {
    const inbox = collector(b, 'inbox');
    const raw = await RawPeer.memory(sim.network, 'raw', 'b', { clock: sim.clock, random: seededRandom(1) });
    await authenticate(raw, { name: 'raw', incarnation: 1 }, Buffer.alloc(0), (cond, what) => sim.until(cond, what));
    const message = Buffer.concat([Buffer.from([0x82, 0xd9, 9]), Buffer.from('__proto__'), encode({ polluted: true }), encode('constructor'), encode({ prototype: { polluted: true } })]);
    raw.write(
      (() => {
        const payload = Buffer.concat([Buffer.from([0x92]), encode(inbox.pid), message]);
        const frame = Buffer.alloc(6 + payload.length);
        frame.writeUInt32BE(payload.length + 2, 0);
        frame[4] = PROTOCOL_VERSION;
        frame[5] = FrameType.SEND;
        payload.copy(frame, 6);
        return frame;
      })(),
    );
    await sim.until(() => inbox.messages.length === 1, 'the message');
    expect(inbox.messages[0]).toEqual({ __proto_: { polluted: true }, constructor: { prototype: { polluted: true } } });
    expectUnpolluted();
  });
});

describe('Group keys, metadata and cluster names', () => {
  const KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__'];

  it('register, join and events with dangerous keys and metadata replicate as data', async () => {
    const ga = await Group.start(a, { name: 'app', log: false });
    const gb = await Group.start(b, { name: 'app', log: false });
    await sim.until(() => ga.nodes().length === 1 && gb.nodes().length === 1, 'group peers');
    const seen: GroupEvent<unknown>[] = [];
    gb.monitor(ALL, (events) => seen.push(...events));
    gb.monitor('__proto__/', (events) => seen.push(...events));
    const pids = KEYS.map(() => idle(a));
    KEYS.forEach((key, i) => {
      expect(ga.register(key, hostile(), { pid: pids[i]! })).toBe('ok');
      expect(ga.join(key, hostile(), { pid: pids[i]! })).toBe('ok');
      expect(ga.join(`${key}/x`, hostile(), { pid: pids[i]! })).toBe('ok');
    });
    await sim.until(() => gb.registryCount() === KEYS.length && gb.memberCount() === 2 * KEYS.length, 'replicated');
    for (const [i, key] of KEYS.entries()) {
      expect(gb.whereis(key)?.equals(pids[i]!)).toBe(true);
      expectDefused(gb.lookup(key)!.meta);
      expect(gb.members(key).map((m) => m.pid.key)).toEqual([pids[i]!.key]);
      expect(gb.members(`${key}/`).map((m) => m.pid.key)).toEqual([pids[i]!.key]);
    }
    expect(gb.registered().sort()).toEqual([...KEYS].sort());
    expect(gb.lookup('polluted')).toBeNull();
    expect(seen.filter((e) => e.key === '__proto__/x')).toHaveLength(2); // ALL and the prefix
    expect(seen.filter((e) => e.type === 'registered').map((e) => e.key).sort()).toEqual([...KEYS].sort());
    // Leaving and exiting take them out again, as for any key.
    for (const pid of pids) a.exit(pid, 'done');
    await sim.until(() => gb.registryCount() === 0 && gb.memberCount() === 0, 'removed on b');
    expect(ga.checkConsistency()).toEqual([]);
    expect(gb.checkConsistency()).toEqual([]);
    expectUnpolluted();
  });

  it('named clusters called __proto__ and constructor', async () => {
    const ga = await Group.start(a, { name: 'app', log: false });
    const gb = await Group.start(b, { name: 'app', log: false });
    await sim.until(() => ga.nodes().length === 1 && gb.nodes().length === 1, 'group peers');
    for (const cluster of ['__proto__', 'constructor']) {
      ga.connect(cluster);
      gb.connect(cluster);
    }
    await sim.until(() => gb.nodes('__proto__').length === 2 && gb.nodes('constructor').length === 2, 'clusters joined');
    const p = idle(a);
    ga.register('k', hostile(), { pid: p, cluster: '__proto__' });
    ga.join('g', {}, { pid: p, cluster: 'constructor' });
    await sim.until(() => gb.whereis('k', { cluster: '__proto__' }) !== undefined && gb.members('g', { cluster: 'constructor' }).length === 1, 'replicated');
    expect(gb.whereis('k')).toBeUndefined(); // not in the default cluster
    expectDefused(gb.lookup('k', { cluster: '__proto__' })!.meta);
    gb.disconnect('__proto__');
    expect(gb.whereis('k', { cluster: '__proto__' })).toBeUndefined();
    expect(ga.checkConsistency()).toEqual([]);
    expect(gb.checkConsistency()).toEqual([]);
    expectUnpolluted();
  });
});
