/**
 * Frame fuzzing material shared by the in-process fuzzer (test/unit/security/frame-fuzz.test.ts)
 * and the one against a live node process (test/cluster/fuzz.test.ts): well-formed bodies of every
 * node and group frame type, the same with one field replaced by an arbitrary value, arbitrary
 * values of every shape, and byte-level mutations of whole frames. Everything is drawn from a
 * seeded generator, so a failing case replays from its seed.
 */
import { FrameType, Pid, Ref, encode, encodeFrame, writeFrameHeader } from '../../src/internal.js';
import { GroupFrame } from '../../src/group/protocol.js';

export const NODE_TYPES: readonly number[] = Object.values(FrameType).filter((t) => t >= 0x10);
export const GROUP_TYPES: readonly number[] = Object.values(GroupFrame);
/** Types nobody registers: in the transport and node ranges (must close the link) and above (dropped). */
export const UNKNOWN_TYPES: readonly number[] = [0x08, 0x0f, 0x1a, 0x2f, 0x3b, 0x3f, 0x40, 0x7f];

/** What the fuzzer knows of its target, to aim at live processes and the running Group. */
export interface Target {
  readonly node: string;
  readonly incarnation: number;
  /** A live process on the target. */
  readonly pid: Pid;
  /** The name of the fuzzing peer (its refs and its processes' pids carry it; incarnation 1). */
  readonly self: string;
  /** The Group running on the target. */
  readonly group: string;
}

/** mulberry32: small, fast, seeded. */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  bytes(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }
}

const STRINGS = ['', 'x', '/', 'a/', '__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'app', '\u0000', 'é', 'x'.repeat(300)];
const NUMBERS = [0, -1, 1, 2, 3, 0.5, -0, NaN, Infinity, -Infinity, 2 ** 31, 2 ** 32, 2 ** 53, -(2 ** 53), 1e308, Number.MAX_SAFE_INTEGER];

/** An arbitrary value of any shape msgpack can carry (depth-bounded). */
export function anyValue(rng: Rng, target: Target, depth = 0): unknown {
  const kind = rng.int(depth > 2 ? 9 : 13);
  switch (kind) {
    case 0:
      return null;
    case 1:
      return undefined;
    case 2:
      return rng.int(2) === 0;
    case 3:
      return rng.pick(NUMBERS);
    case 4:
      return rng.int(1000);
    case 5:
      return rng.pick(STRINGS);
    case 6:
      return rng.bytes(rng.int(40));
    case 7:
      return rng.int(2) === 0 ? target.pid : new Pid(rng.pick([target.node, target.self, 'elsewhere']), rng.pick([target.incarnation, 0, 1]), rng.int(100));
    case 8:
      return new Ref(rng.pick([target.node, target.self, '__proto__']), rng.pick([target.incarnation, 1]), rng.int(100));
    case 9:
    case 10: {
      const out: unknown[] = [];
      for (let i = rng.int(6); i > 0; i--) out.push(anyValue(rng, target, depth + 1));
      return out;
    }
    default: {
      // JSON.parse makes "__proto__" an own key, as a decoded map would have it.
      const out = JSON.parse(rng.int(3) === 0 ? '{"__proto__": {"polluted": "yes"}}' : '{}') as Record<string, unknown>;
      for (let i = rng.int(4); i > 0; i--) {
        // Own data properties, as decoding makes them ("__proto__" included: no prototype change).
        Object.defineProperty(out, rng.pick(STRINGS), { value: anyValue(rng, target, depth + 1), enumerable: true, writable: true, configurable: true });
      }
      return out;
    }
  }
}

/** A body of the right shape for `type` (what a correct peer would send), aimed at the target. */
export function wellFormed(type: number, rng: Rng, target: Target): unknown[] {
  const ref = new Ref(target.self, 1, rng.int(1_000_000));
  const cluster = rng.pick([null, null, 'c1']);
  // Mostly the peer's own processes: a Group only takes rows of a peer's own pids.
  const pid = (): Pid => (rng.int(4) === 0 ? target.pid : new Pid(target.self, 1, rng.int(20)));
  const key = (): string => rng.pick(['k', 'room/1', '__proto__', 'constructor', 'prototype', 'room/__proto__']);
  // G_OP and G_STATE name the sender's own pids by id; sometimes a whole Pid or junk instead.
  const pidId = (): unknown => rng.pick([rng.int(20), rng.int(20), pid(), -1, 1.5]);
  const row = (): unknown[] => [key(), pidId(), anyValue(rng, target, 2), Date.now() + rng.pick([0, -1e6, 1e6])];
  const g = target.group;
  switch (type) {
    case FrameType.SEND:
      return [target.pid, anyValue(rng, target)];
    case FrameType.SEND_NAMED:
      return ['fuzz-inbox', anyValue(rng, target)];
    case FrameType.CAST:
      return [target.pid, anyValue(rng, target)];
    case FrameType.CALL:
      return [ref, target.pid, null, anyValue(rng, target)];
    case FrameType.REPLY:
      return [ref, rng.int(5), anyValue(rng, target)];
    case FrameType.EXIT:
      return [new Pid(target.node, target.incarnation, 999_999), 'fuzz'];
    case FrameType.MONITOR:
      return [ref, target.pid];
    case FrameType.DEMONITOR:
      return [ref];
    case FrameType.DOWN:
      return [ref, target.pid, 'noproc'];
    case FrameType.PEERS:
      return [['nobody', ''], ['ghost', 'not an address']];
    case GroupFrame.HELLO:
      return [g, ['c1']];
    case GroupFrame.HELLO_ACK:
      return [g, [null], ['c1']];
    case GroupFrame.STATE:
      return [g, cluster, rng.int(10), [row()], [row()], rng.int(2) === 0, rng.int(2) === 0];
    case GroupFrame.OP:
      return [g, cluster, rng.int(10), rng.int(4), key(), pidId(), anyValue(rng, target, 2), Date.now() + rng.pick([0, -1e6, 1e6]), 'fuzz'];
    case GroupFrame.CONNECT:
    case GroupFrame.CONNECT_ACK:
    case GroupFrame.DISCONNECT:
      return [g, ['c1']];
    case GroupFrame.DISPATCH:
      return [g, [target.pid, pid()], anyValue(rng, target)];
    case GroupFrame.DIGEST:
      return [g, [[null, rng.int(100)], ['c1', 3]]];
    case GroupFrame.RESYNC:
      return [g, cluster];
    case GroupFrame.BYE:
      return [g];
    default:
      return [anyValue(rng, target)];
  }
}

/** A body for `type`: well formed, well formed but for one field, or anything at all. */
export function fuzzBody(type: number, rng: Rng, target: Target): unknown {
  const body = wellFormed(type, rng, target);
  switch (rng.int(4)) {
    case 0:
      return body;
    case 1:
    case 2: {
      // Keep the group name (so the frame reaches the Group) unless it is the field we change.
      body[rng.int(body.length)] = anyValue(rng, target);
      if (rng.int(4) === 0) body.length = rng.int(body.length + 1);
      return body;
    }
    default:
      return anyValue(rng, target);
  }
}

export type Mutation = 'none' | 'truncate' | 'longer' | 'shorter' | 'huge' | 'retype' | 'batch' | 'flip' | 'undecodable' | 'garbage';
export const MUTATIONS: readonly Mutation[] = ['none', 'truncate', 'longer', 'shorter', 'huge', 'retype', 'batch', 'flip', 'undecodable', 'garbage'];

/** The bytes of one frame of `type` carrying `body`, then mutated. */
export function fuzzFrame(type: number, body: unknown, mutation: Mutation, rng: Rng, target: Target): Buffer {
  let frame = encodeFrame(type, encode(body));
  const declared = frame.readUInt32BE(0);
  switch (mutation) {
    case 'none':
      return frame;
    case 'truncate':
      return frame.subarray(0, rng.int(frame.length));
    case 'longer':
      frame.writeUInt32BE(declared + 1 + rng.int(64), 0);
      return frame;
    case 'shorter':
      frame.writeUInt32BE(Math.max(0, declared - 1 - rng.int(8)), 0);
      return frame;
    case 'huge':
      frame.writeUInt32BE(rng.pick([0xffffffff, 0x7fffffff, 2 ** 24, 9 * 1024 * 1024]), 0);
      return frame;
    case 'retype':
      frame[5] = rng.int(256);
      return frame;
    case 'batch':
      // Several values under the batch bit: the receiver decodes them back to back.
      frame = Buffer.concat([frame.subarray(0, 6), encode(body), encode(anyValue(rng, target)), encode(body)]);
      writeFrameHeader(frame, 0, frame.length - 6, type | 0x80);
      return frame;
    case 'flip':
      for (let i = 1 + rng.int(4); i > 0; i--) {
        const at = 6 + rng.int(Math.max(1, frame.length - 6));
        if (at < frame.length) frame[at] = frame[at]! ^ (1 << rng.int(8));
      }
      return frame;
    case 'undecodable': {
      // 0xc1 is never used in msgpack; a map header promising more entries than there are.
      const payload = rng.pick([Buffer.from([0xc1]), Buffer.from([0xdf, 0xff, 0xff, 0xff, 0xff]), Buffer.from([0x92, 0x01]), Buffer.from([0xd4, 0x30, 0x00, 0x01])]);
      return encodeFrame(type, payload);
    }
    case 'garbage':
      return rng.bytes(1 + rng.int(64));
  }
}
