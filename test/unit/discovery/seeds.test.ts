import { describe, it, expect } from 'vitest';
import { InvalidArgumentError, RollcallError } from '../../../src/errors.js';
import { realClock, type Clock, type Timer } from '../../../src/time/clock.js';
import { seededRandom } from '../../../src/time/random.js';
import type { Logger } from '../../../src/observability/logger.js';
import { isValidNodeName, parseSeed, seeds, validateNodeName, type Candidate } from '../../../src/discovery/index.js';

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
function recordingLogger(records: LogRecord[] = []): Logger & { records: LogRecord[] } {
  const at = (level: string) => (obj: object): void => { records.push({ level, obj: obj as Record<string, unknown> }); };
  const logger = {
    level: 'debug', records,
    error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug'),
    child: () => logger,
  };
  return logger;
}

/** Collects emits; `next()` resolves at the next one (or at once if one is already unread). */
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

function deps(clock: Clock = new ManualClock(), logger: Logger = recordingLogger()) {
  return { clock, random: seededRandom(1), logger };
}

function expectInvalid(fn: () => unknown, ...fragments: string[]): InvalidArgumentError {
  let caught: unknown;
  try { fn(); } catch (err) { caught = err; }
  expect(caught).toBeInstanceOf(InvalidArgumentError);
  const error = caught as InvalidArgumentError;
  expect(RollcallError.is(error)).toBe(true);
  expect(error.code).toBe('ERR_ROLLCALL_INVALID_ARGUMENT');
  for (const fragment of fragments) expect(error.message).toContain(fragment);
  return error;
}

// --- parsing ------------------------------------------------------------------------------------

describe('parseSeed', () => {
  it.each([
    ['worker-1@10.0.0.5:4370', { address: '10.0.0.5:4370', name: 'worker-1' }],
    ['a_b.c-D9@node-0.rollcall.default.svc.cluster.local:1', { address: 'node-0.rollcall.default.svc.cluster.local:1', name: 'a_b.c-D9' }],
    ['n@localhost:65535', { address: 'localhost:65535', name: 'n' }],
    ['n@[::1]:4370', { address: '[::1]:4370', name: 'n' }],
    ['n@[fe80::1%eth0]:4370', { address: '[fe80::1%eth0]:4370', name: 'n' }],
    ['[2001:db8::7]:80', { address: '[2001:db8::7]:80' }],
    ['  n@h:9  ', { address: 'h:9', name: 'n' }],
    ['worker-1', { address: 'worker-1', name: 'worker-1' }],
    ['worker-1@worker-1', { address: 'worker-1', name: 'worker-1' }],
  ])('parses %j', (text, expected) => {
    expect(parseSeed(text)).toStrictEqual(expected);
  });

  it('leaves the name out (not undefined) for "host:port"', () => {
    const candidate = parseSeed('10.0.0.5:4370');
    expect(candidate).toStrictEqual({ address: '10.0.0.5:4370' });
    expect('name' in candidate).toBe(false);
  });

  it.each([
    ['', 'it is empty'],
    ['   ', 'it is empty'],
    ['n@', 'address after "@" is empty'],
    ['@h:4370', 'node name "": it is empty'],
    ['bad name@h:4370', 'contains " "'],
    ['a@b@h:4370', 'the host "b@h" contains'],
    [`${'x'.repeat(256)}@h:1`, 'it is 256 characters long'],
    ['n@:4370', 'the host is empty'],
    ['n@h:', 'the port "" is not an integer from 1 to 65535'],
    ['n@h:0', 'the port "0"'],
    ['n@h:65536', 'the port "65536"'],
    ['n@h:12ab', 'the port "12ab"'],
    ['n@h:-1', 'the port "-1"'],
    ['n@h:1.5', 'the port "1.5"'],
    ['n@h:0004370', 'the port "0004370"'],
    ['n@::1:4370', 'must be written in brackets'],
    ['n@[::1:4370', 'no closing "]"'],
    ['n@[::1]4370', 'must be followed by ":port"'],
    ['n@[not-v6]:4370', '"not-v6" in brackets is not an IPv6 address'],
    ['n@h st:1', 'contains a space'],
    ['worker-1@10.0.0.5', 'the host "10.0.0.5" has no port'],
    ['worker-1@db', '"db" has no ":port"; a TCP seed needs one'],
    ['worker-1@other', 'both halves equal'],
    ['10.0.0.5', 'has no port: add ":port", e.g. "10.0.0.5:4370"'],
    ['localhost', 'has no port'],
    ['bad!name', 'read as a memory-network node name', 'contains "!"'],
  ])('rejects %j', (text, ...fragments) => {
    expectInvalid(() => parseSeed(text), JSON.stringify(text), 'expected "name@host:port"', ...fragments);
  });

  it('rejects a non-string with the expected form', () => {
    expectInvalid(() => parseSeed(42 as unknown as string), 'invalid seed 42', 'it must be a string');
  });
});

describe('node names', () => {
  it('accepts letters, digits, "_", "-", "." from 1 to 255 characters', () => {
    for (const name of ['a', 'A-z_0.9', 'x'.repeat(255), '...']) {
      expect(isValidNodeName(name)).toBe(true);
      expect(() => validateNodeName(name)).not.toThrow();
    }
  });

  it.each([
    ['', 'it is empty'],
    ['x'.repeat(256), 'is 256 characters long'],
    ['a b', 'contains " "'],
    ['a@b', 'contains "@"'],
    ['a:b', 'contains ":"'],
    ['é', 'contains "é"'],
  ])('rejects %j with a helpful message', (name, fragment) => {
    expect(isValidNodeName(name)).toBe(false);
    expectInvalid(() => validateNodeName(name), `invalid node name ${JSON.stringify(name)}`, fragment,
      'use 1 to 255 letters, digits, "_", "-" or "."');
  });

  it('rejects non-strings', () => {
    expect(isValidNodeName(undefined)).toBe(false);
    expect(isValidNodeName(7)).toBe(false);
    expectInvalid(() => validateNodeName(null), 'invalid node name null', 'must be a string');
  });
});

// --- the strategy -------------------------------------------------------------------------------

describe('seeds()', () => {
  it('parses eagerly: a bad seed throws when seeds() is called', () => {
    expectInvalid(() => seeds(['a@h:1', 'b@h:99999']), '"b@h:99999"', 'port');
    expectInvalid(() => seeds('a@h:1' as unknown as string[]), 'needs an array');
  });

  it('validates refreshMs', () => {
    for (const refreshMs of [0, -5, Number.NaN, Infinity, '100' as unknown as number]) {
      expectInvalid(() => seeds(['a@h:1'], { refreshMs }), 'refreshMs', 'positive number of milliseconds');
    }
  });

  it('drops repeated seeds, keeps a name learnt from a later duplicate, and refuses two names for one address', async () => {
    const clock = new ManualClock();
    const rec = emitRecorder();
    seeds(['h:1', 'a@h:1', 'a@h:1', 'b@h:2']).start(deps(clock), rec.emit);
    expect(await rec.next()).toStrictEqual([{ address: 'h:1', name: 'a' }, { address: 'h:2', name: 'b' }]);
    expectInvalid(() => seeds(['a@h:1', 'b@h:1']), 'h:1 twice', '"a"', '"b"');
  });

  it('emits every seed once after start returns, then again every refreshMs', async () => {
    const clock = new ManualClock();
    const rec = emitRecorder();
    const discovery = seeds(['a@10.0.0.1:4370', '10.0.0.2:4370', 'c'], { refreshMs: 1000 });
    expect(discovery.kind).toBe('seeds');
    discovery.start(deps(clock), rec.emit);
    expect(rec.emits).toHaveLength(0); // not synchronously inside start()
    const expected = [{ address: '10.0.0.1:4370', name: 'a' }, { address: '10.0.0.2:4370' }, { address: 'c', name: 'c' }];
    expect(await rec.next()).toStrictEqual(expected);

    clock.advance(999);
    expect(rec.emits).toHaveLength(1);
    clock.advance(1);
    expect(rec.emits).toHaveLength(2);
    expect(await rec.next()).toStrictEqual(expected);
    clock.advance(3000);
    expect(rec.emits).toHaveLength(5);
    discovery.stop();
  });

  it('uses a default refresh of 5000 ms', async () => {
    const clock = new ManualClock();
    const rec = emitRecorder();
    seeds(['a@h:1']).start(deps(clock), rec.emit);
    await rec.next();
    clock.advance(4999);
    expect(rec.emits).toHaveLength(1);
    clock.advance(1);
    expect(rec.emits).toHaveLength(2);
  });

  it('hands each emit its own array', async () => {
    const clock = new ManualClock();
    const rec = emitRecorder();
    seeds(['a@h:1', 'b@h:2'], { refreshMs: 10 }).start(deps(clock), rec.emit);
    const first = await rec.next();
    first.length = 0;
    clock.advance(10);
    expect(await rec.next()).toHaveLength(2);
  });

  it('stop halts emits, including the pending first one', async () => {
    const clock = new ManualClock();
    const rec = emitRecorder();
    const discovery = seeds(['a@h:1'], { refreshMs: 10 });
    discovery.start(deps(clock), rec.emit);
    discovery.stop();
    await settle();
    clock.advance(100);
    await settle();
    expect(rec.emits).toHaveLength(0);
    expect(clock.pending).toBe(0);
  });

  it('stop after some emits halts the refresh', async () => {
    const clock = new ManualClock();
    const rec = emitRecorder();
    const discovery = seeds(['a@h:1'], { refreshMs: 10 });
    discovery.start(deps(clock), rec.emit);
    await rec.next();
    clock.advance(10);
    expect(rec.emits).toHaveLength(2);
    discovery.stop();
    clock.advance(100);
    expect(rec.emits).toHaveLength(2);
  });

  it('start and stop are idempotent, and start after stop runs again with the new callback', async () => {
    const clock = new ManualClock();
    const first = emitRecorder();
    const second = emitRecorder();
    const discovery = seeds(['a@h:1'], { refreshMs: 10 });
    discovery.stop(); // before any start: harmless
    discovery.start(deps(clock), first.emit);
    discovery.start(deps(clock), second.emit); // ignored while running
    await first.next();
    expect(clock.pending).toBe(1);
    clock.advance(10);
    expect(first.emits).toHaveLength(2);
    expect(second.emits).toHaveLength(0);

    discovery.stop();
    discovery.stop();
    discovery.start(deps(clock), second.emit);
    await second.next();
    clock.advance(10);
    expect(second.emits).toHaveLength(2);
    expect(first.emits).toHaveLength(2);
    expect(clock.pending).toBe(1);
  });

  it('a stop/start within one turn does not deliver the stopped run\'s first emit to the new callback twice', async () => {
    const clock = new ManualClock();
    const first = emitRecorder();
    const second = emitRecorder();
    const discovery = seeds(['a@h:1'], { refreshMs: 10 });
    discovery.start(deps(clock), first.emit);
    discovery.stop();
    discovery.start(deps(clock), second.emit);
    await second.next();
    await settle();
    expect(first.emits).toHaveLength(0);
    expect(second.emits).toHaveLength(1);
  });

  it('an empty list is valid, emits nothing and sets no timer', async () => {
    const clock = new ManualClock();
    const rec = emitRecorder();
    const discovery = seeds([]);
    discovery.start(deps(clock), rec.emit);
    await settle();
    clock.advance(60_000);
    expect(rec.emits).toHaveLength(0);
    expect(clock.pending).toBe(0);
    discovery.stop();
  });

  it('logs an emit callback that throws and keeps refreshing', async () => {
    const clock = new ManualClock();
    const logger = recordingLogger();
    let calls = 0;
    let sawSecond: () => void = () => {};
    const second = new Promise<void>((resolve) => { sawSecond = resolve; });
    seeds(['a@h:1'], { refreshMs: 10 }).start(deps(clock, logger), () => {
      calls++;
      if (calls === 1) throw new Error('node bug');
      sawSecond();
    });
    await settle();
    expect(calls).toBe(1);
    expect(logger.records).toHaveLength(1);
    expect(logger.records[0]!.level).toBe('error');
    expect(logger.records[0]!.obj).toMatchObject({ event: 'discovery_emit_failed', kind: 'seeds' });
    expect((logger.records[0]!.obj.err as Error).message).toBe('node bug');
    clock.advance(10);
    await second;
    expect(calls).toBe(2);
  });

  it('refreshes on the real clock, and stop cancels the real timer', async () => {
    let live = 0;
    const countingClock: Clock = {
      ...realClock,
      setInterval(fn, ms) {
        const timer = realClock.setInterval(fn, ms);
        live++;
        return { cancel: () => { live--; timer.cancel(); } };
      },
    };
    const rec = emitRecorder();
    const discovery = seeds(['a@h:1'], { refreshMs: 5 });
    discovery.start(deps(countingClock), rec.emit);
    try {
      for (let i = 0; i < 3; i++) expect(await rec.next()).toStrictEqual([{ address: 'h:1', name: 'a' }]);
      expect(live).toBe(1);
    } finally {
      discovery.stop();
    }
    expect(live).toBe(0);
  });
});
