import { describe, it, expect } from 'vitest';
import { InvalidArgumentError, TimeoutError } from '../../../src/errors.js';
import { realClock, type Clock, type Timer } from '../../../src/time/clock.js';
import { seededRandom } from '../../../src/time/random.js';
import type { Logger } from '../../../src/observability/logger.js';
import { dns, type Candidate, type DnsResolver, type SrvRecord } from '../../../src/discovery/index.js';

// --- helpers (kept local: the shared virtual clock is written elsewhere) -----------------------

/** Timers fire only when the test calls advance(). */
class ManualClock implements Clock {
  #now = 0;
  #timers = new Map<number, { at: number; every: number; fn: () => void }>();
  #nextId = 0;
  now(): number { return this.#now; }
  wallNow(): number { return 1_700_000_000_000 + this.#now; }
  setTimeout(fn: () => void, ms: number): Timer { return this.#add(fn, ms, 0); }
  setInterval(fn: () => void, ms: number): Timer { return this.#add(fn, ms, ms); }
  get pending(): number { return this.#timers.size; }
  advance(ms: number): void {
    const until = this.#now + ms;
    for (;;) {
      let dueId = -1;
      let dueAt = Infinity;
      for (const [id, t] of this.#timers) if (t.at <= until && t.at < dueAt) { dueId = id; dueAt = t.at; }
      const timer = this.#timers.get(dueId);
      if (timer === undefined) break;
      this.#now = dueAt;
      if (timer.every > 0) timer.at += timer.every; else this.#timers.delete(dueId);
      timer.fn();
    }
    this.#now = until;
  }
  #add(fn: () => void, ms: number, every: number): Timer {
    const id = this.#nextId++;
    this.#timers.set(id, { at: this.#now + ms, every, fn });
    return { cancel: () => { this.#timers.delete(id); } };
  }
}

interface LogRecord { level: string; obj: Record<string, unknown> }
function recordingLogger(): Logger & { records: LogRecord[] } {
  const records: LogRecord[] = [];
  const at = (level: string) => (obj: object): void => { records.push({ level, obj: obj as Record<string, unknown> }); };
  const logger = {
    level: 'debug', records,
    error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug'),
    child: () => logger,
  };
  return logger;
}

/** Collects emits; `next()` resolves at the next unread one. */
function emitRecorder(): { emits: Candidate[][]; emit: (c: Candidate[]) => void; next: () => Promise<Candidate[]> } {
  const emits: Candidate[][] = [];
  let read = 0;
  const waiters: Array<() => void> = [];
  return {
    emits,
    emit: (candidates) => {
      emits.push(candidates);
      for (const wake of waiters.splice(0)) wake();
    },
    next: () => new Promise<Candidate[]>((resolve) => {
      const check = (): void => {
        if (emits.length > read) resolve(emits[read++]!);
        else waiters.push(check);
      };
      check();
    }),
  };
}

/** Lets queued microtasks and resolved promises run; no timers involved. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

interface Deferred<T> { promise: Promise<T>; resolve: (value: T) => void; reject: (err: unknown) => void }
function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej; });
  return { promise, resolve, reject };
}

type Answer<T> = T | Error | Deferred<T>;

/**
 * A resolver that answers from a script, one entry per lookup (the last entry repeats), and
 * records every name it was asked for. An Error entry rejects; a Deferred entry is settled by the test.
 */
function stubResolver(script: { a?: Answer<string[]>[]; aaaa?: Answer<string[]>[]; srv?: Answer<SrvRecord[]>[] }) {
  const calls: string[] = [];
  const answer = <T>(kind: string, name: string, list: Answer<T>[] | undefined): Promise<T> => {
    calls.push(`${kind} ${name}`);
    if (list === undefined || list.length === 0) throw new Error(`unexpected ${kind} lookup`);
    const next = list.length > 1 ? list.shift()! : list[0]!;
    if (next instanceof Error) return Promise.reject(next);
    if (typeof next === 'object' && next !== null && 'promise' in next) return next.promise;
    return Promise.resolve(next);
  };
  const resolver: DnsResolver = {
    resolve4: (name) => answer('A', name, script.a),
    resolve6: (name) => answer('AAAA', name, script.aaaa),
    resolveSrv: (name) => answer('SRV', name, script.srv),
  };
  return { resolver, calls };
}

function deps(clock: Clock, logger: Logger = recordingLogger()) {
  return { clock, random: seededRandom(1), logger };
}

function expectInvalid(fn: () => unknown, ...fragments: string[]): void {
  let caught: unknown;
  try { fn(); } catch (err) { caught = err; }
  expect(caught).toBeInstanceOf(InvalidArgumentError);
  for (const fragment of fragments) expect((caught as Error).message).toContain(fragment);
}

function dnsError(code: string): Error {
  return Object.assign(new Error(`queryA ${code} rollcall.test`), { code });
}

const SERVICE = 'rollcall.default.svc.cluster.local';

// --- options ------------------------------------------------------------------------------------

describe('dns() options', () => {
  const { resolver } = stubResolver({});

  it('needs a name', () => {
    expectInvalid(() => dns({ name: '', port: 1, resolver }), 'dns({ name })', 'got ""');
    expectInvalid(() => dns({ name: 'a b', port: 1, resolver }), 'without spaces');
    expectInvalid(() => dns(undefined as unknown as { name: string }), 'needs an object');
  });

  it('needs a valid port for A and AAAA', () => {
    for (const type of ['A', 'AAAA'] as const) {
      expectInvalid(() => dns({ name: SERVICE, type, resolver }), `required for type "${type}"`, 'got undefined');
      for (const port of [0, 65536, 1.5, Number.NaN]) {
        expectInvalid(() => dns({ name: SERVICE, type, port, resolver }), 'integer from 1 to 65535');
      }
    }
    expect(() => dns({ name: SERVICE, port: 4370, resolver })).not.toThrow();
  });

  it('refuses a port for SRV, whose records carry their own', () => {
    expectInvalid(() => dns({ name: SERVICE, type: 'SRV', port: 4370, resolver }), 'not used with type "SRV"');
    expect(() => dns({ name: SERVICE, type: 'SRV', resolver })).not.toThrow();
  });

  it('refuses an unknown type, a bad refreshMs, and a resolver without the needed method', () => {
    expectInvalid(() => dns({ name: SERVICE, type: 'MX' as 'A', port: 1, resolver }), '"A", "AAAA" or "SRV"', '"MX"');
    expectInvalid(() => dns({ name: SERVICE, port: 1, refreshMs: 0, resolver }), 'dns({ refreshMs })');
    expectInvalid(() => dns({ name: SERVICE, type: 'SRV', resolver: {} as DnsResolver }), 'resolveSrv(name)');
  });

  it('defaults to the system resolver without looking anything up until start', () => {
    const discovery = dns({ name: SERVICE, port: 4370 });
    expect(discovery.kind).toBe('dns');
  });
});

// --- lookups ------------------------------------------------------------------------------------

describe('dns() lookups', () => {
  it('A: emits one host:port per address, deduplicated, after start returns', async () => {
    const clock = new ManualClock();
    const { resolver, calls } = stubResolver({ a: [['10.0.0.1', '10.0.0.2', '10.0.0.1']] });
    const rec = emitRecorder();
    const discovery = dns({ name: SERVICE, port: 4370, resolver });
    discovery.start(deps(clock), rec.emit);
    expect(rec.emits).toHaveLength(0);
    expect(await rec.next()).toStrictEqual([{ address: '10.0.0.1:4370' }, { address: '10.0.0.2:4370' }]);
    expect(calls).toStrictEqual([`A ${SERVICE}`]);
    discovery.stop();
  });

  it('AAAA: brackets IPv6 hosts', async () => {
    const clock = new ManualClock();
    const { resolver, calls } = stubResolver({ aaaa: [['fd00::1', '::1', 'fd00::1']] });
    const rec = emitRecorder();
    dns({ name: SERVICE, type: 'AAAA', port: 4370, resolver }).start(deps(clock), rec.emit);
    expect(await rec.next()).toStrictEqual([{ address: '[fd00::1]:4370' }, { address: '[::1]:4370' }]);
    expect(calls).toStrictEqual([`AAAA ${SERVICE}`]);
  });

  it('SRV: emits target:port per record, by priority then weight, without resolving targets', async () => {
    const clock = new ManualClock();
    const records: SrvRecord[] = [
      { name: 'pod-2.rollcall.default.svc.cluster.local', port: 4370, priority: 10, weight: 5 },
      { name: 'pod-0.rollcall.default.svc.cluster.local.', port: 4370, priority: 0, weight: 1 },
      { name: 'pod-1.rollcall.default.svc.cluster.local', port: 4371, priority: 0, weight: 50 },
      { name: 'pod-0.rollcall.default.svc.cluster.local', port: 4370, priority: 20, weight: 0 }, // duplicate
      { name: '.', port: 4370, priority: 0, weight: 0 }, // "no service" target
      { name: 'pod-9.rollcall.default.svc.cluster.local', port: 0, priority: 0, weight: 0 }, // bad port
    ];
    const { resolver, calls } = stubResolver({ srv: [records] });
    const rec = emitRecorder();
    const srvName = `_dist._tcp.${SERVICE}`;
    dns({ name: srvName, type: 'SRV', resolver }).start(deps(clock), rec.emit);
    expect(await rec.next()).toStrictEqual([
      { address: 'pod-1.rollcall.default.svc.cluster.local:4371' },
      { address: 'pod-0.rollcall.default.svc.cluster.local:4370' },
      { address: 'pod-2.rollcall.default.svc.cluster.local:4370' },
    ]);
    expect(calls).toStrictEqual([`SRV ${srvName}`]); // no A lookups of the targets
  });

  it('looks up again every refreshMs and emits each new answer', async () => {
    const clock = new ManualClock();
    const { resolver, calls } = stubResolver({ a: [['10.0.0.1'], ['10.0.0.1', '10.0.0.2'], ['10.0.0.2']] });
    const rec = emitRecorder();
    dns({ name: SERVICE, port: 4370, refreshMs: 2000, resolver }).start(deps(clock), rec.emit);
    expect(await rec.next()).toStrictEqual([{ address: '10.0.0.1:4370' }]);
    clock.advance(1999);
    expect(calls).toHaveLength(1);
    clock.advance(1);
    expect(calls).toHaveLength(2);
    expect(await rec.next()).toStrictEqual([{ address: '10.0.0.1:4370' }, { address: '10.0.0.2:4370' }]);
    clock.advance(2000);
    expect(await rec.next()).toStrictEqual([{ address: '10.0.0.2:4370' }]);
  });

  it('uses a default refresh of 5000 ms', async () => {
    const clock = new ManualClock();
    const { resolver, calls } = stubResolver({ a: [['10.0.0.1']] });
    const rec = emitRecorder();
    dns({ name: SERVICE, port: 1, resolver }).start(deps(clock), rec.emit);
    await rec.next();
    clock.advance(4999);
    expect(calls).toHaveLength(1);
    clock.advance(1);
    expect(calls).toHaveLength(2);
  });

  it('does not emit an empty answer', async () => {
    const clock = new ManualClock();
    const { resolver, calls } = stubResolver({ a: [[], ['10.0.0.3']] });
    const rec = emitRecorder();
    dns({ name: SERVICE, port: 1, refreshMs: 10, resolver }).start(deps(clock), rec.emit);
    await settle();
    expect(calls).toHaveLength(1);
    expect(rec.emits).toHaveLength(0);
    clock.advance(10);
    expect(await rec.next()).toStrictEqual([{ address: '10.0.0.3:1' }]);
  });
});

// --- failures -----------------------------------------------------------------------------------

describe('dns() failures', () => {
  it('logs a failed lookup at warn and retries at the next refresh, never throwing', async () => {
    const clock = new ManualClock();
    const logger = recordingLogger();
    const failure = dnsError('ENOTFOUND');
    const { resolver, calls } = stubResolver({ a: [failure, failure, ['10.0.0.1']] });
    const rec = emitRecorder();
    dns({ name: SERVICE, port: 4370, refreshMs: 100, resolver }).start(deps(clock, logger), rec.emit);
    await settle();
    expect(rec.emits).toHaveLength(0);
    expect(logger.records).toHaveLength(1);
    expect(logger.records[0]!.level).toBe('warn');
    expect(logger.records[0]!.obj).toMatchObject({ event: 'dns_lookup_failed', name: SERVICE, type: 'A', err: failure });

    clock.advance(100);
    await settle();
    expect(logger.records).toHaveLength(2);
    clock.advance(100);
    expect(await rec.next()).toStrictEqual([{ address: '10.0.0.1:4370' }]);
    expect(calls).toHaveLength(3);
    expect(logger.records).toHaveLength(2);
  });

  it('treats a resolver that throws synchronously, or answers garbage, as a failed lookup', async () => {
    const clock = new ManualClock();
    const logger = recordingLogger();
    let n = 0;
    const resolver: DnsResolver = {
      resolve4: () => {
        n++;
        if (n === 1) throw new Error('sync boom');
        if (n === 2) return Promise.resolve('10.0.0.1' as unknown as string[]);
        return Promise.resolve(['10.0.0.1']);
      },
      resolve6: () => Promise.resolve([]),
      resolveSrv: () => Promise.resolve([]),
    };
    const rec = emitRecorder();
    dns({ name: SERVICE, port: 1, refreshMs: 10, resolver }).start(deps(clock, logger), rec.emit);
    await settle();
    clock.advance(10);
    await settle();
    expect(logger.records.map((r) => [r.level, r.obj.event, (r.obj.err as Error).message])).toStrictEqual([
      ['warn', 'dns_lookup_failed', 'sync boom'],
      ['warn', 'dns_lookup_failed', 'DNS resolver answered with something other than an array'],
    ]);
    expect(rec.emits).toHaveLength(0);
    clock.advance(10);
    expect(await rec.next()).toStrictEqual([{ address: '10.0.0.1:1' }]);
  });

  it('gives up on a lookup still unanswered at the next refresh, and ignores its late answer', async () => {
    const clock = new ManualClock();
    const logger = recordingLogger();
    const hung = deferred<string[]>();
    const { resolver, calls } = stubResolver({ a: [hung, ['10.0.0.2']] });
    const rec = emitRecorder();
    dns({ name: SERVICE, port: 1, refreshMs: 50, resolver }).start(deps(clock, logger), rec.emit);
    await settle();
    clock.advance(50);
    expect(calls).toHaveLength(2);
    expect(logger.records).toHaveLength(1);
    expect(logger.records[0]!.obj.event).toBe('dns_lookup_failed');
    expect(logger.records[0]!.obj.err).toBeInstanceOf(TimeoutError);
    expect(await rec.next()).toStrictEqual([{ address: '10.0.0.2:1' }]);

    hung.resolve(['10.0.0.99']);
    await settle();
    expect(rec.emits).toHaveLength(1);
  });

  it('logs an emit callback that throws and keeps looking up', async () => {
    const clock = new ManualClock();
    const logger = recordingLogger();
    const { resolver } = stubResolver({ a: [['10.0.0.1']] });
    let calls = 0;
    let second: () => void = () => {};
    const sawSecond = new Promise<void>((resolve) => { second = resolve; });
    dns({ name: SERVICE, port: 1, refreshMs: 10, resolver }).start(deps(clock, logger), () => {
      calls++;
      if (calls === 1) throw new Error('node bug');
      second();
    });
    await settle();
    expect(logger.records.map((r) => [r.level, r.obj.event])).toStrictEqual([['error', 'discovery_emit_failed']]);
    clock.advance(10);
    await sawSecond;
    expect(calls).toBe(2);
  });
});

// --- start / stop -------------------------------------------------------------------------------

describe('dns() start and stop', () => {
  it('never emits a lookup that resolves after stop, and stops looking up', async () => {
    const clock = new ManualClock();
    const pending = deferred<string[]>();
    const { resolver, calls } = stubResolver({ a: [pending, ['10.0.0.5']] });
    const rec = emitRecorder();
    const discovery = dns({ name: SERVICE, port: 1, refreshMs: 10, resolver });
    discovery.start(deps(clock), rec.emit);
    expect(calls).toHaveLength(1);
    discovery.stop();
    pending.resolve(['10.0.0.1']);
    await settle();
    clock.advance(100);
    await settle();
    expect(rec.emits).toHaveLength(0);
    expect(calls).toHaveLength(1);
    expect(clock.pending).toBe(0);
  });

  it('never logs a lookup that fails after stop', async () => {
    const clock = new ManualClock();
    const logger = recordingLogger();
    const pending = deferred<string[]>();
    const { resolver } = stubResolver({ a: [pending] });
    const discovery = dns({ name: SERVICE, port: 1, resolver });
    discovery.start(deps(clock, logger), () => {});
    discovery.stop();
    pending.reject(dnsError('ESERVFAIL'));
    await settle();
    expect(logger.records).toHaveLength(0);
  });

  it('start and stop are idempotent; a restart ignores the previous run\'s late answer', async () => {
    const clock = new ManualClock();
    const late = deferred<string[]>();
    const { resolver, calls } = stubResolver({ a: [late, ['10.0.0.2']] });
    const first = emitRecorder();
    const second = emitRecorder();
    const discovery = dns({ name: SERVICE, port: 1, refreshMs: 10, resolver });
    discovery.stop();
    discovery.start(deps(clock), first.emit);
    discovery.start(deps(clock), second.emit); // ignored while running
    expect(calls).toHaveLength(1);
    expect(clock.pending).toBe(1);
    discovery.stop();
    discovery.stop();
    discovery.start(deps(clock), second.emit);
    expect(calls).toHaveLength(2);
    expect(await second.next()).toStrictEqual([{ address: '10.0.0.2:1' }]);

    late.resolve(['10.0.0.1']);
    await settle();
    expect(first.emits).toHaveLength(0);
    expect(second.emits).toHaveLength(1);
    discovery.stop();
  });

  it('runs on the real clock with a small refresh, and stop cancels the timer', async () => {
    let live = 0;
    const countingClock: Clock = {
      ...realClock,
      setInterval(fn, ms) {
        const timer = realClock.setInterval(fn, ms);
        live++;
        return { cancel: () => { live--; timer.cancel(); } };
      },
    };
    const answers: Answer<string[]>[] = [['10.0.0.1'], dnsError('ETIMEOUT'), ['10.0.0.2']];
    const { resolver, calls } = stubResolver({ a: answers });
    const logger = recordingLogger();
    const rec = emitRecorder();
    const discovery = dns({ name: SERVICE, port: 9, refreshMs: 5, resolver });
    discovery.start(deps(countingClock, logger), rec.emit);
    try {
      expect(await rec.next()).toStrictEqual([{ address: '10.0.0.1:9' }]);
      expect(await rec.next()).toStrictEqual([{ address: '10.0.0.2:9' }]);
      expect(calls.length).toBeGreaterThanOrEqual(3);
      expect(logger.records.filter((r) => r.obj.event === 'dns_lookup_failed')).toHaveLength(1);
      expect(live).toBe(1);
    } finally {
      discovery.stop();
    }
    expect(live).toBe(0);
  });
});
