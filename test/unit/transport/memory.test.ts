import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { SimNetwork, memory, type LatencyMs } from '../../../src/transport/memory.js';
import type { Conduit, Connector } from '../../../src/transport/conduit.js';
import { VirtualClock } from '../../../src/time/virtual-clock.js';
import { seededRandom } from '../../../src/time/random.js';
import { realClock } from '../../../src/time/clock.js';
import { silentLogger } from '../../../src/observability/logger.js';

interface Recorder {
  readonly events: string[];
  readonly closes: (Error | undefined)[];
  data(): string;
}

/** Attach handlers that log every event with its virtual time. */
function record(conduit: Conduit, clock: VirtualClock, label = ''): Recorder {
  const events: string[] = [];
  const closes: (Error | undefined)[] = [];
  const chunks: Buffer[] = [];
  conduit.setHandlers({
    onData: (chunk) => {
      chunks.push(chunk);
      events.push(`${label}data:${chunk.toString()}@${clock.now()}`);
    },
    onDrain: () => events.push(`${label}drain@${clock.now()}`),
    onClose: (error) => {
      closes.push(error);
      events.push(`${label}close${error ? `:${(error as NodeJS.ErrnoException).code}` : ''}@${clock.now()}`);
    },
  });
  return { events, closes, data: () => Buffer.concat(chunks).toString() };
}

interface Setup {
  clock: VirtualClock;
  net: SimNetwork;
  connector(name: string): Connector;
}

function setup(options: { latencyMs?: LatencyMs; highWaterBytes?: number; seed?: number } = {}): Setup {
  const clock = new VirtualClock();
  const random = seededRandom(options.seed ?? 1);
  const net = new SimNetwork({ clock, random, latencyMs: options.latencyMs ?? 10, highWaterBytes: options.highWaterBytes });
  const factory = memory(net);
  return {
    clock,
    net,
    connector: (name) => factory({ nodeName: name, clock, random, logger: silentLogger() }),
  };
}

/** `a` dials `b`; returns both ends (the listener's is the one handed to onConduit). */
async function pair(env: Setup, a = 'a', b = 'b'): Promise<{ client: Conduit; server: Conduit }> {
  const accepted: Conduit[] = [];
  await env.connector(b).listen((conduit) => accepted.push(conduit));
  const client = await env.connector(a).dial(b);
  expect(accepted).toHaveLength(1);
  return { client, server: accepted[0]! };
}

describe('memory transport - dial and listen', () => {
  it('listen resolves with the node name, and dial hands the other end to the listener', async () => {
    const env = setup();
    const accepted: Conduit[] = [];
    const b = env.connector('b');
    expect(b.kind).toBe('memory');
    await expect(b.listen((conduit) => accepted.push(conduit))).resolves.toBe('b');
    const client = await env.connector('a').dial('b');
    expect(client.remoteLabel).toBe('memory:b');
    expect(accepted.map((conduit) => conduit.remoteLabel)).toEqual(['memory:a']);
  });

  it('refuses a second listener on a taken address', async () => {
    const env = setup();
    await env.connector('b').listen(() => {});
    await expect(env.connector('b').listen(() => {})).rejects.toMatchObject({ code: 'EADDRINUSE', message: expect.stringMatching(/already taken/) });
  });

  it('refuses a dial to an address nobody listens at, and after the listener closed', async () => {
    const env = setup();
    await expect(env.connector('a').dial('nobody')).rejects.toMatchObject({ code: 'ECONNREFUSED', message: expect.stringMatching(/nobody listens/) });
    const b = env.connector('b');
    await b.listen(() => {});
    await b.close();
    await b.close();
    await expect(env.connector('a').dial('b')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    // The address is free again.
    await expect(env.connector('b').listen(() => {})).resolves.toBe('b');
  });

  it('keeps two networks apart: the same names do not clash', async () => {
    const one = setup();
    const two = setup();
    await one.connector('b').listen(() => {});
    await expect(two.connector('b').listen(() => {})).resolves.toBe('b');
    await expect(two.connector('a').dial('c')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('a listener whose onConduit throws resets that conduit instead of failing the dial', async () => {
    const env = setup({ latencyMs: 10 });
    await env.connector('b').listen(() => {
      throw new Error('listener bug');
    });
    const client = await env.connector('a').dial('b');
    const atClient = record(client, env.clock);
    await env.clock.runUntilIdle();
    expect(atClient.events).toEqual(['close:ECONNRESET@10']);
  });

  it('also runs on the real clock', async () => {
    const net = new SimNetwork({ clock: realClock, random: seededRandom(3), latencyMs: { min: 1, max: 3 } });
    const deps = (nodeName: string) => ({ nodeName, clock: realClock, random: seededRandom(3), logger: silentLogger() });
    const received: string[] = [];
    const done = new Promise<void>((resolve) => {
      void memory(net)(deps('b')).listen((conduit) =>
        conduit.setHandlers({
          onData: (chunk) => received.push(chunk.toString()),
          onDrain: () => {},
          onClose: () => resolve(),
        }),
      );
    });
    const client = await memory(net)(deps('a')).dial('b');
    for (let i = 0; i < 20; i++) client.write(Buffer.from(`${i},`));
    client.end();
    await done;
    expect(received.join('')).toBe(Array.from({ length: 20 }, (_, i) => `${i},`).join(''));
  });

  it('validates its options', () => {
    const clock = new VirtualClock();
    const random = seededRandom(1);
    expect(() => new SimNetwork({ clock, random, latencyMs: -1 })).toThrow(/latencyMs/);
    expect(() => new SimNetwork({ clock, random, latencyMs: { min: 5, max: 2 } })).toThrow(/min <= max/);
    expect(() => new SimNetwork({ clock, random, highWaterBytes: 0 })).toThrow(/highWaterBytes/);
    const net = new SimNetwork({ clock, random });
    expect(() => net.cut('a', 'a')).toThrow(/two different node names/);
  });
});

describe('memory transport - delivery', () => {
  it('delivers bytes after the latency, not before, in both directions', async () => {
    const env = setup({ latencyMs: 10 });
    const { client, server } = await pair(env);
    const atServer = record(server, env.clock);
    const atClient = record(client, env.clock);
    await env.clock.advance(3);
    expect(client.write(Buffer.from('ping'))).toBe(true);
    await env.clock.advance(9.9);
    expect(atServer.events).toEqual([]);
    await env.clock.advance(0.1);
    expect(atServer.events).toEqual(['data:ping@13']);
    server.write(Buffer.from('pong'));
    await env.clock.advance(10);
    expect(atClient.events).toEqual(['data:pong@23']);
  });

  it('copies written bytes, so the writer may reuse its buffer', async () => {
    const env = setup();
    const { client, server } = await pair(env);
    const atServer = record(server, env.clock);
    const buffer = Buffer.from('abc');
    client.write(buffer);
    buffer.write('xyz');
    client.write(buffer);
    await env.clock.advance(10);
    expect(atServer.data()).toBe('abcxyz');
  });

  it('keeps bytes that arrive before setHandlers and delivers them, then the close, once set', async () => {
    const env = setup();
    const { client, server } = await pair(env);
    client.write(Buffer.from('early-1'));
    client.write(Buffer.from('early-2'));
    client.end();
    await env.clock.advance(20);
    const atServer = record(server, env.clock);
    expect(atServer.events).toEqual([]);
    await env.clock.settle();
    expect(atServer.events).toEqual(['data:early-1@20', 'data:early-2@20', 'close@20']);
  });

  it('never lets a later write overtake an earlier one under random latency', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        fc.array(fc.record({ bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }), pauseMs: fc.integer({ min: 0, max: 30 }) }), {
          minLength: 1,
          maxLength: 60,
        }),
        async (seed, writes) => {
          const env = setup({ seed, latencyMs: { min: 5, max: 50 } });
          const { client, server } = await pair(env);
          const received: Buffer[] = [];
          const times: number[] = [];
          server.setHandlers({
            onData: (chunk) => {
              received.push(chunk);
              times.push(env.clock.now());
            },
            onDrain: () => {},
            onClose: () => {},
          });
          const writeTimes: number[] = [];
          for (const write of writes) {
            writeTimes.push(env.clock.now());
            client.write(Buffer.from(write.bytes));
            if (write.pauseMs > 0) await env.clock.advance(write.pauseMs);
          }
          await env.clock.runUntilIdle();
          expect(received.map((chunk) => [...chunk])).toEqual(writes.map((write) => [...write.bytes]));
          // Each chunk lands within its own latency range, unless an earlier chunk holds it back.
          times.forEach((time, index) => {
            const previous = index === 0 ? 0 : times[index - 1]!;
            expect(time).toBeGreaterThanOrEqual(Math.max(previous, writeTimes[index]! + 5));
            expect(time).toBeLessThanOrEqual(Math.max(previous, writeTimes[index]! + 50));
          });
        },
      ),
      { numRuns: 50 },
    );
  });

  it('uses each link latency set by setLatency, in both directions', async () => {
    const env = setup({ latencyMs: 10 });
    const ab = await pair(env, 'a', 'b');
    const ac = await pair(env, 'a', 'c');
    env.net.setLatency('b', 'a', 50);
    const atB = record(ab.server, env.clock);
    const atC = record(ac.server, env.clock);
    const atA = record(ab.client, env.clock);
    ab.client.write(Buffer.from('to-b'));
    ac.client.write(Buffer.from('to-c'));
    ab.server.write(Buffer.from('from-b'));
    await env.clock.runUntilIdle();
    expect(atC.events).toEqual(['data:to-c@10']);
    expect(atB.events).toEqual(['data:to-b@50']);
    expect(atA.events).toEqual(['data:from-b@50']);
  });
});

describe('memory transport - backpressure', () => {
  it('write returns false beyond highWaterBytes and onDrain fires once the bytes are delivered', async () => {
    const env = setup({ latencyMs: 10, highWaterBytes: 100 });
    const { client, server } = await pair(env);
    const atClient = record(client, env.clock);
    const atServer = record(server, env.clock);
    expect(client.write(Buffer.alloc(60, 'x'))).toBe(true);
    await env.clock.advance(5);
    expect(client.write(Buffer.alloc(60, 'y'))).toBe(false);
    expect(client.write(Buffer.alloc(10, 'z'))).toBe(false);
    // At 10 the first chunk lands: 70 bytes left in flight, below the mark.
    await env.clock.advance(5);
    expect(atClient.events).toEqual(['drain@10']);
    expect(atServer.data()).toBe('x'.repeat(60));
    expect(client.write(Buffer.alloc(10, 'w'))).toBe(true);
    await env.clock.runUntilIdle();
    expect(atClient.events).toEqual(['drain@10']);
    expect(atServer.data()).toBe('x'.repeat(60) + 'y'.repeat(60) + 'z'.repeat(10) + 'w'.repeat(10));
  });

  it('does not drain while a cut holds the bytes, and drains after heal', async () => {
    const env = setup({ latencyMs: 10, highWaterBytes: 10 });
    const { client, server } = await pair(env);
    const atClient = record(client, env.clock);
    record(server, env.clock);
    env.net.cut('a', 'b');
    expect(client.write(Buffer.alloc(20))).toBe(false);
    await env.clock.advance(1000);
    expect(atClient.events).toEqual([]);
    env.net.heal('a', 'b');
    await env.clock.advance(10);
    expect(atClient.events).toEqual(['drain@1010']);
  });
});

describe('memory transport - end and destroy', () => {
  it('end delivers what was written, then closes the other end, then this end after the reply FIN', async () => {
    const env = setup({ latencyMs: 10 });
    const { client, server } = await pair(env);
    const atClient = record(client, env.clock, 'client:');
    const atServer = record(server, env.clock, 'server:');
    client.write(Buffer.from('last'));
    client.end();
    client.end();
    expect(client.write(Buffer.from('after-end'))).toBe(false);
    await env.clock.runUntilIdle();
    expect(atServer.events).toEqual(['server:data:last@10', 'server:close@10']);
    expect(atClient.events).toEqual(['client:close@20']);
    expect(atServer.closes).toEqual([undefined]);
  });

  it('after end, this end still receives what the peer wrote before it saw the FIN', async () => {
    const env = setup({ latencyMs: 10 });
    const { client, server } = await pair(env);
    const atClient = record(client, env.clock);
    record(server, env.clock);
    client.end();
    await env.clock.advance(5);
    server.write(Buffer.from('reply'));
    await env.clock.runUntilIdle();
    expect(atClient.events).toEqual(['data:reply@15', 'close@20']);
  });

  it('destroy drops unsent bytes, closes this end asynchronously, and the peer after the latency', async () => {
    const env = setup({ latencyMs: 10 });
    const { client, server } = await pair(env);
    const atClient = record(client, env.clock);
    const atServer = record(server, env.clock);
    client.write(Buffer.from('lost'));
    client.destroy();
    expect(atClient.events).toEqual([]);
    client.destroy();
    await env.clock.settle();
    expect(atClient.events).toEqual(['close@0']);
    // What the peer sends now vanishes: this end is gone.
    server.write(Buffer.from('into-the-void'));
    await env.clock.runUntilIdle();
    expect(atServer.events).toEqual(['close:ECONNRESET@10']);
    expect(atClient.events).toEqual(['close@0']);
  });

  it('destroy from inside onData stops further data; onClose follows once', async () => {
    const env = setup({ latencyMs: 10 });
    const { client, server } = await pair(env);
    const events: string[] = [];
    server.setHandlers({
      onData: (chunk) => {
        events.push(`data:${chunk.toString()}`);
        server.destroy();
        events.push('destroy-returned');
      },
      onDrain: () => events.push('drain'),
      onClose: () => events.push('close'),
    });
    client.write(Buffer.from('one'));
    client.write(Buffer.from('two'));
    await env.clock.runUntilIdle();
    expect(events).toEqual(['data:one', 'destroy-returned', 'close']);
  });

  it('calls onClose exactly once even when both ends close at the same time', async () => {
    const env = setup({ latencyMs: 10 });
    const { client, server } = await pair(env);
    const atClient = record(client, env.clock);
    const atServer = record(server, env.clock);
    client.end();
    server.destroy();
    client.destroy();
    await env.clock.runUntilIdle();
    expect(atClient.events).toEqual(['close@0']);
    expect(atServer.events).toEqual(['close@0']);
  });
});

describe('memory transport - cuts', () => {
  it('a cut both ways holds bytes in both directions and delivers them in order after heal', async () => {
    const env = setup({ latencyMs: 10 });
    const { client, server } = await pair(env);
    const atClient = record(client, env.clock);
    const atServer = record(server, env.clock);
    client.write(Buffer.from('in-flight'));
    env.net.cut('a', 'b');
    expect(env.net.isCut('a', 'b')).toBe(true);
    expect(env.net.isCut('b', 'a')).toBe(true);
    client.write(Buffer.from('-during'));
    server.write(Buffer.from('back'));
    await env.clock.advance(500);
    expect(atServer.events).toEqual([]);
    expect(atClient.events).toEqual([]);
    env.net.heal('b', 'a');
    expect(env.net.isCut('a', 'b')).toBe(false);
    await env.clock.advance(9);
    expect(atServer.events).toEqual([]);
    await env.clock.advance(1);
    expect(atServer.events).toEqual(['data:in-flight@510', 'data:-during@510']);
    expect(atClient.events).toEqual(['data:back@510']);
  });

  it('a one-way cut holds only that direction', async () => {
    const env = setup({ latencyMs: 10 });
    const { client, server } = await pair(env);
    const atClient = record(client, env.clock);
    const atServer = record(server, env.clock);
    env.net.cut('a', 'b', { oneWay: true });
    expect(env.net.isCut('a', 'b')).toBe(true);
    expect(env.net.isCut('b', 'a')).toBe(false);
    client.write(Buffer.from('held'));
    server.write(Buffer.from('flows'));
    await env.clock.advance(100);
    expect(atClient.events).toEqual(['data:flows@10']);
    expect(atServer.events).toEqual([]);
    env.net.healAll();
    await env.clock.advance(10);
    expect(atServer.events).toEqual(['data:held@110']);
  });

  it('discards held bytes when the receiving end is destroyed before heal; its close reaches the peer after heal', async () => {
    const env = setup({ latencyMs: 10 });
    const { client, server } = await pair(env);
    const atClient = record(client, env.clock);
    const atServer = record(server, env.clock);
    env.net.cut('a', 'b');
    client.write(Buffer.from('never'));
    await env.clock.advance(50);
    server.destroy();
    await env.clock.advance(50);
    expect(atServer.events).toEqual(['close@50']);
    expect(atClient.events).toEqual([]);
    env.net.heal('a', 'b');
    await env.clock.runUntilIdle();
    expect(atServer.events).toEqual(['close@50']);
    expect(atClient.events).toEqual(['close:ECONNRESET@110']);
  });

  it('holds an end (FIN) like bytes: the peer sees data and close only after heal', async () => {
    const env = setup({ latencyMs: 10 });
    const { client, server } = await pair(env);
    const atServer = record(server, env.clock);
    const atClient = record(client, env.clock);
    env.net.cut('a', 'b', { oneWay: true });
    client.write(Buffer.from('bye'));
    client.end();
    await env.clock.advance(100);
    expect(atServer.events).toEqual([]);
    env.net.heal('a', 'b');
    await env.clock.runUntilIdle();
    expect(atServer.events).toEqual(['data:bye@110', 'close@110']);
    expect(atClient.events).toEqual(['close@120']);
  });

  it('refuses new dials while either direction is cut, and accepts them after heal', async () => {
    const env = setup();
    await env.connector('b').listen(() => {});
    await env.connector('a').listen(() => {});
    const a = env.connector('a-dialer');
    env.net.cut('b', 'a-dialer', { oneWay: true });
    await expect(a.dial('b')).rejects.toMatchObject({ code: 'ECONNREFUSED', message: expect.stringMatching(/cut/) });
    await expect(env.connector('b').dial('a')).resolves.toBeDefined();
    env.net.heal('a-dialer', 'b');
    await expect(a.dial('b')).resolves.toBeDefined();
  });
});

describe('memory transport - crash', () => {
  it('a crash closes peers after the latency without calling the crashed node handlers', async () => {
    const env = setup({ latencyMs: 10 });
    const { client, server } = await pair(env, 'a', 'b');
    const atA = record(client, env.clock);
    const atB = record(server, env.clock);
    client.write(Buffer.from('unsent'));
    env.net.crash('a');
    await env.clock.runUntilIdle();
    expect(atA.events).toEqual([]);
    expect(atB.events).toEqual(['close:ECONNRESET@10']);
  });

  it('a crashed node no longer listens or dials; a new node with its name may listen again', async () => {
    const env = setup();
    const b = env.connector('b');
    await b.listen(() => {});
    env.net.crash('b');
    await expect(env.connector('a').dial('b')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await expect(b.dial('a')).rejects.toMatchObject({ code: 'ENETDOWN' });
    await expect(env.connector('b').listen(() => {})).resolves.toBe('b');
    await expect(env.connector('a').dial('b')).resolves.toBeDefined();
  });

  it('a crash behind a cut is seen by the peer only after heal', async () => {
    const env = setup({ latencyMs: 10 });
    const { client, server } = await pair(env, 'a', 'b');
    record(client, env.clock);
    const atB = record(server, env.clock);
    env.net.cut('a', 'b');
    env.net.crash('a');
    await env.clock.advance(200);
    expect(atB.events).toEqual([]);
    env.net.heal('a', 'b');
    await env.clock.runUntilIdle();
    expect(atB.events).toEqual(['close:ECONNRESET@210']);
  });
});

describe('memory transport - determinism', () => {
  /** Three nodes, random latency, a cut and a heal: returns every delivery with its time. */
  async function scenario(seed: number): Promise<string[]> {
    const env = setup({ seed, latencyMs: { min: 1, max: 40 } });
    const log: string[] = [];
    const names = ['n1', 'n2', 'n3'];
    for (const name of names) {
      await env.connector(name).listen((conduit) =>
        conduit.setHandlers({
          onData: (chunk) => log.push(`${name}<${conduit.remoteLabel}:${chunk.toString()}@${env.clock.now()}`),
          onDrain: () => {},
          onClose: () => log.push(`${name}<${conduit.remoteLabel}:close@${env.clock.now()}`),
        }),
      );
    }
    const conduits: Conduit[] = [];
    for (const from of names) {
      for (const to of names) {
        if (from !== to) conduits.push(await env.connector(`${from}-out`).dial(to));
      }
    }
    for (let round = 0; round < 20; round++) {
      conduits.forEach((conduit, index) => conduit.write(Buffer.from(`r${round}c${index}`)));
      if (round === 5) env.net.cut('n1-out', 'n2');
      if (round === 12) env.net.healAll();
      await env.clock.advance(7);
    }
    conduits.forEach((conduit) => conduit.end());
    await env.clock.runUntilIdle();
    return log;
  }

  it('two runs with the same seed give identical delivery logs; another seed a different one', async () => {
    const first = await scenario(42);
    const second = await scenario(42);
    const other = await scenario(43);
    expect(first.length).toBe(6 * 21);
    expect(second).toEqual(first);
    expect(other).not.toEqual(first);
    expect([...other].sort()).not.toEqual([...first].sort());
  });
});
