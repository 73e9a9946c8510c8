/**
 * The virtual connection of the nats transport (src/transport/nats-conduit.ts) without a server:
 * two conduits joined by a model of NATS core, which delivers in order but loses what is in
 * flight when a client drops off its server, and everything published to or by that client until
 * it reconnects. Whatever the writes and outages, the receiver must get exactly the bytes written,
 * in order, once; the window must hold the writer back and release it.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Clock, Timer } from '../../../src/time/clock.js';
import { NatsConduit, decodeHeader, type ConduitPort } from '../../../src/transport/nats-conduit.js';

const WINDOW = 8 * 1024;
const CHUNK = 1000;

class ManualClock implements Clock {
  private t = 0;
  private timers: Array<{ at: number; fn: () => void; live: boolean }> = [];
  now(): number {
    return this.t;
  }
  wallNow(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): Timer {
    const timer = { at: this.t + ms, fn, live: true };
    this.timers.push(timer);
    return { cancel: () => void (timer.live = false) };
  }
  setInterval(): Timer {
    throw new Error('not used');
  }
  advance(ms: number): void {
    this.t += ms;
    for (const timer of this.timers.filter((x) => x.live && x.at <= this.t)) {
      timer.live = false;
      timer.fn();
    }
  }
}

type Side = 'a' | 'b';

/** NATS core between two clients: a FIFO per direction; a client that is off its server loses its traffic. */
class ModelNats {
  readonly queues: Record<Side, Uint8Array[]> = { a: [], b: [] }; // messages on their way *to* a side
  readonly offline: Record<Side, boolean> = { a: false, b: false };
  readonly conduits = {} as Record<Side, NatsConduit>;
  readonly clock = new ManualClock();
  published = 0;

  port(side: Side): ConduitPort {
    const other: Side = side === 'a' ? 'b' : 'a';
    return {
      clock: this.clock,
      windowBytes: WINDOW,
      ackBytes: WINDOW / 4,
      lingerMs: 1000,
      maxChunk: () => CHUNK,
      publish: (_subject, message) => {
        this.published++;
        if (!this.offline[side] && !this.offline[other]) this.queues[other].push(Uint8Array.from(message));
      },
      forget: () => undefined,
    };
  }

  /** Deliver the next message to `side`; false when none is waiting. */
  deliver(side: Side): boolean {
    const message = this.queues[side].shift();
    if (message === undefined) return false;
    const header = decodeHeader(message)!;
    const conduit = this.conduits[side];
    if (conduit.isFrom(header.src)) conduit.receive(header.kind, header.seq, message);
    return true;
  }

  /** The client of `side` loses its server: what is in flight to and from it is gone. */
  drop(side: Side): void {
    this.offline[side] = true;
    this.queues[side] = [];
    const other: Side = side === 'a' ? 'b' : 'a';
    this.queues[other] = [];
  }

  reconnect(side: Side): void {
    this.offline[side] = false;
    this.conduits[side].resync();
  }

  /** One message on its way to `side` vanishes, with no client disconnecting (a loss inside a NATS cluster). */
  lose(side: Side, index: number): void {
    const queue = this.queues[side];
    if (queue.length > 0) queue.splice(index % queue.length, 1);
  }

  /** Deliver everything, letting time pass (timers fire) until nothing more is sent. */
  settle(): void {
    for (let steps = 0; steps < 1_000_000; steps++) {
      this.clock.advance(5);
      if (this.deliver('a') || this.deliver('b')) continue;
      this.clock.advance(2000);
      if (this.queues.a.length === 0 && this.queues.b.length === 0) return;
    }
    throw new Error('the conduits never went quiet');
  }
}

function pair(): { net: ModelNats; received: Buffer[]; drains: () => number; closes: Record<Side, Array<Error | undefined>> } {
  const net = new ModelNats();
  const a = new NatsConduit(net.port('a'), 11, 'nats:b');
  const b = new NatsConduit(net.port('b'), 22, 'nats:a');
  a.connect(22, 'to-b');
  b.connect(11, 'to-a');
  net.conduits.a = a;
  net.conduits.b = b;
  const received: Buffer[] = [];
  let drains = 0;
  const closes: Record<Side, Array<Error | undefined>> = { a: [], b: [] };
  a.setHandlers({ onData: () => undefined, onDrain: () => drains++, onClose: (e) => closes.a.push(e) });
  b.setHandlers({ onData: (chunk) => received.push(Buffer.from(chunk)), onDrain: () => undefined, onClose: (e) => closes.b.push(e) });
  return { net, received, drains: () => drains, closes };
}

const step = fc.oneof(
  fc.record({ op: fc.constant('write' as const), bytes: fc.integer({ min: 1, max: 5000 }) }),
  fc.record({ op: fc.constant('deliver' as const), side: fc.constantFrom<Side>('a', 'b'), count: fc.integer({ min: 1, max: 20 }) }),
  fc.record({ op: fc.constant('outage' as const), side: fc.constantFrom<Side>('a', 'b') }),
  fc.record({ op: fc.constant('reconnect' as const), side: fc.constantFrom<Side>('a', 'b') }),
  fc.record({ op: fc.constant('lose' as const), side: fc.constantFrom<Side>('a', 'b'), index: fc.nat() }),
);

describe('nats conduit (sequence numbers, acknowledgements, resend)', () => {
  it('delivers exactly the bytes written, in order, once, whatever is lost to client outages or inside the server', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), fc.integer({ min: 0, max: 255 }), (steps, seed) => {
        const { net, received } = pair();
        const written: Buffer[] = [];
        let blocked = false;
        let counter = seed;
        for (const s of steps) {
          if (s.op === 'write') {
            // A writer like the Link: once write() says no, it waits for onDrain (approximated
            // here by writing again only when the window has room).
            if (blocked && net.conduits.a.inFlightBytes >= WINDOW) continue;
            const data = Buffer.alloc(s.bytes, counter++ & 0xff);
            written.push(data);
            blocked = !net.conduits.a.write(data);
          } else if (s.op === 'deliver') {
            for (let i = 0; i < s.count; i++) net.deliver(s.side);
          } else if (s.op === 'outage') {
            net.drop(s.side);
          } else if (s.op === 'lose') {
            net.lose(s.side, s.index);
          } else if (!net.offline.a && !net.offline.b) {
            continue;
          } else {
            net.reconnect(s.side);
          }
        }
        for (const side of ['a', 'b'] as const) if (net.offline[side]) net.reconnect(side);
        net.settle();
        expect(Buffer.concat(received).equals(Buffer.concat(written))).toBe(true);
        expect(net.conduits.a.inFlightBytes).toBe(0);
      }),
      { numRuns: 300 },
    );
  });

  it('write() says no beyond the window, and onDrain comes once the receiver has acknowledged', () => {
    const { net, drains } = pair();
    const a = net.conduits.a;
    expect(a.write(Buffer.alloc(WINDOW / 2))).toBe(true);
    expect(a.write(Buffer.alloc(WINDOW / 2))).toBe(false);
    expect(a.inFlightBytes).toBe(WINDOW);
    expect(drains()).toBe(0);
    net.settle();
    expect(drains()).toBe(1);
    expect(a.inFlightBytes).toBe(0);
  });

  it('a gap is reported at once (NACK) and filled by a resend, before any retransmission timer', () => {
    const { net, received } = pair();
    net.conduits.a.write(Buffer.alloc(CHUNK * 3, 1));
    net.lose('b', 0);
    net.deliver('b');
    expect(received).toEqual([]);
    expect(net.queues.a.map((m) => decodeHeader(m)!.kind)).toEqual([7]); // NACK
    while (net.deliver('a') || net.deliver('b'));
    expect(Buffer.concat(received).length).toBe(CHUNK * 3);
  });

  it('a lost tail with nothing after it is sent again once the retransmission timer expires', () => {
    const { net, received } = pair();
    net.conduits.a.write(Buffer.alloc(10, 1));
    net.lose('b', 0);
    net.clock.advance(999);
    expect(net.queues.b).toEqual([]);
    net.clock.advance(1);
    expect(net.queues.b).toHaveLength(1);
    net.settle();
    expect(Buffer.concat(received).length).toBe(10);
  });

  it('splits a write into messages of at most maxChunk bytes', () => {
    const { net, received } = pair();
    net.conduits.a.write(Buffer.alloc(CHUNK * 3 + 1, 5));
    expect(net.queues.b.map((m) => m.length - 13)).toEqual([CHUNK, CHUNK, CHUNK, 1]);
    net.settle();
    expect(received.map((c) => c.length)).toEqual([CHUNK, CHUNK, CHUNK, 1]);
  });

  it('end() closes both ends cleanly after the data, even when the END was lost to an outage', async () => {
    const { net, received, closes } = pair();
    net.conduits.a.write(Buffer.from('last words'));
    net.conduits.a.end();
    net.drop('b');
    net.reconnect('b');
    net.settle();
    await Promise.resolve();
    expect(Buffer.concat(received).toString()).toBe('last words');
    expect(closes).toEqual({ a: [undefined], b: [undefined] });
    expect(net.conduits.a.write(Buffer.from('more'))).toBe(false);
  });

  it('destroy() resets the peer, which closes with an error; no handler runs after onClose', async () => {
    const { net, closes } = pair();
    net.conduits.b.destroy();
    expect(closes.b).toEqual([]); // asynchronous, like a socket's close
    net.settle();
    await Promise.resolve();
    expect(closes.b).toEqual([undefined]);
    expect(closes.a).toHaveLength(1);
    expect(closes.a[0]?.message).toMatch(/reset by nats:b/);
    net.conduits.b.receive(4, 0, new Uint8Array(20));
    expect(closes.b).toHaveLength(1);
  });

  it('a message from another conduit that reused the id is ignored', () => {
    const { net } = pair();
    expect(net.conduits.b.isFrom(11)).toBe(true);
    expect(net.conduits.b.isFrom(12)).toBe(false);
  });
});
