import { describe, expect, it } from 'vitest';
import { ExitSignal, InvalidArgumentError, NotRunningError } from '../../../src/errors.js';
import type { ExitReason, ProcessContext } from '../../../src/process/host.js';
import { Pid } from '../../../src/process/pid.js';
import { currentProcess } from '../../../src/process/table.js';
import { LocalHost, deferred, waitFor } from './local-host.js';

describe('ProcessTable: spawn and exit reasons', () => {
  it('gives pids of this node with ids counting from 1', () => {
    const host = new LocalHost({ name: 'alpha', incarnation: 7 });
    const a = host.spawn(() => new Promise(() => {}));
    const b = host.spawn(() => new Promise(() => {}));
    expect([a.node, a.incarnation, a.id]).toEqual(['alpha', 7, 1]);
    expect(b.id).toBe(2);
    expect(host.table.count()).toBe(2);
    expect(host.table.pids().map((p) => p.key)).toEqual([a.key, b.key]);
  });

  it('a process receives its messages in send order', async () => {
    const host = new LocalHost();
    const done = deferred<unknown[]>();
    const pid = host.spawn(async (ctx) => {
      const got = [];
      for (let i = 0; i < 4; i++) got.push(await ctx.receive());
      done.resolve(got);
    });
    host.send(pid, 'a');
    host.send(pid, 'b');
    host.send(pid, { c: 1 });
    host.send(pid, 4);
    expect(await done.promise).toEqual(['a', 'b', { c: 1 }, 4]);
  });

  it('receive with timeoutMs rejects with TimeoutError inside a process', async () => {
    const host = new LocalHost();
    const outcome = deferred<unknown>();
    host.spawn(async (ctx) => {
      outcome.resolve(await ctx.receive({ timeoutMs: 10 }).catch((e: unknown) => e));
    });
    expect(((await outcome.promise) as { code: string }).code).toBe('ERR_ROLLCALL_TIMEOUT');
  });

  it('returning ends with reason normal; throwing ends with the thrown value and is logged', async () => {
    const host = new LocalHost();
    const ok = host.spawn(() => 42);
    const boom = new Error('boom');
    const sync = host.spawn(() => {
      throw boom;
    });
    const async = host.spawn(async () => {
      await Promise.resolve();
      throw 'plain string';
    });
    const [r1, r2, r3] = await Promise.all([host.exitOf(ok), host.exitOf(sync), host.exitOf(async)]);
    expect(r1).toBe('normal');
    expect(r2).toBe(boom);
    expect(r3).toBe('plain string');
    const crashes = host.logger.events('process_crashed');
    expect(crashes.map((r) => r.pid).sort()).toEqual([sync.key, async.key].sort());
    expect(crashes.every((r) => r.level === 'warn')).toBe(true);
    expect(host.table.count()).toBe(0);
  });

  it('exit while receiving: dead at once, receive rejects with ExitSignal, signal aborts, monitors get the reason', async () => {
    const host = new LocalHost();
    const caught = deferred<unknown>();
    let signal: AbortSignal | undefined;
    const pid = host.spawn(async (ctx) => {
      signal = ctx.signal;
      try {
        await ctx.receive();
      } catch (error) {
        caught.resolve(error);
      }
    });
    const reason = host.exitOf(pid);
    await waitFor(() => signal !== undefined, 'process started');
    host.exit(pid, 'custom');
    expect(host.isAlive(pid)).toBe(false);
    expect(host.table.deliver(pid, 'too late')).toBe(false);
    expect(signal!.aborted).toBe(true);
    expect(signal!.reason).toBeInstanceOf(ExitSignal);
    const error = await caught.promise;
    expect(error).toBeInstanceOf(ExitSignal);
    expect((error as ExitSignal).reason).toBe('custom');
    expect(await reason).toBe('custom');
    // The function unwinding after its exit must not count as a crash.
    expect(host.logger.events('process_crashed')).toEqual([]);
  });

  it("exit(pid, 'normal') kills too, and exiting a dead or unknown pid is a no-op", async () => {
    const host = new LocalHost();
    const pid = host.spawn((ctx) => ctx.receive());
    const reason = host.exitOf(pid);
    host.exit(pid, 'normal');
    expect(await reason).toBe('normal');
    const exits: unknown[] = [];
    host.table.onExit((_pid, why) => exits.push(why));
    host.exit(pid, 'again');
    host.exit(new Pid('test', 1, 999), 'x');
    host.exit(new Pid('test', 2, pid.id), 'x');
    expect(exits).toEqual([]);
  });

  it('a process exited before it started never runs', async () => {
    const host = new LocalHost();
    let ran = false;
    const pid = host.spawn(() => {
      ran = true;
    });
    host.exit(pid, 'kill');
    await host.exitOf(pid);
    await new Promise((resolve) => setImmediate(resolve));
    expect(ran).toBe(false);
  });

  it('signal read after the exit is already aborted', async () => {
    const host = new LocalHost();
    const ctxSeen = deferred<ProcessContext>();
    const pid = host.spawn((ctx) => {
      ctxSeen.resolve(ctx);
      return ctx.receive().catch(() => undefined);
    });
    const ctx = await ctxSeen.promise;
    host.exit(pid, 'late');
    expect(ctx.signal.aborted).toBe(true);
    expect((ctx.signal.reason as ExitSignal).reason).toBe('late');
  });

  it('onExit listeners see every death with its reason, after the table is updated', async () => {
    const host = new LocalHost();
    const seen: Array<[string, ExitReason, boolean]> = [];
    const off = host.table.onExit((pid, reason) => seen.push([pid.key, reason, host.isAlive(pid)]));
    const a = host.spawn(() => undefined);
    const b = host.spawn((ctx) => ctx.receive());
    await host.exitOf(a);
    host.exit(b, 'bye');
    expect(seen).toEqual([
      [a.key, 'normal', false],
      [b.key, 'bye', false],
    ]);
    off();
    const c = host.spawn(() => undefined);
    await host.exitOf(c);
    expect(seen.length).toBe(2);
  });

  it('shutdown exits every process newest first and refuses later spawns', () => {
    const host = new LocalHost();
    const pids = [1, 2, 3].map(() => host.spawn((ctx) => ctx.receive()));
    const order: string[] = [];
    host.table.onExit((pid, reason) => order.push(`${pid.id}:${String(reason)}`));
    host.table.shutdown('node_stop');
    expect(order).toEqual(['3:node_stop', '2:node_stop', '1:node_stop']);
    expect(pids.some((pid) => host.isAlive(pid))).toBe(false);
    expect(() => host.spawn(() => undefined)).toThrow(NotRunningError);
  });

  it('spawn rejects a non-function', () => {
    const host = new LocalHost();
    expect(() => host.table.spawn('nope' as never)).toThrow(InvalidArgumentError);
  });
});

describe('ProcessTable: currentProcess()', () => {
  it('is the calling process across awaits, nested async calls and timers, and undefined outside', async () => {
    const host = new LocalHost();
    expect(currentProcess()).toBeUndefined();
    const seen = deferred<Array<Pid | undefined>>();
    async function nested(): Promise<Pid | undefined> {
      await new Promise((resolve) => setTimeout(resolve, 1));
      return currentProcess();
    }
    const pids: Pid[] = [];
    for (let i = 0; i < 2; i++) {
      pids.push(
        host.spawn(async (ctx) => {
          const got: Array<Pid | undefined> = [currentProcess()];
          await ctx.receive();
          got.push(currentProcess());
          got.push(await nested());
          got.push(await new Promise<Pid | undefined>((resolve) => setTimeout(() => resolve(currentProcess()), 1)));
          if (ctx.self.id === 2) seen.resolve(got);
          else host.send(pids[1]!, 'go');
        }),
      );
    }
    host.send(pids[0]!, 'go');
    const got = await seen.promise;
    expect(got.map((p) => p?.key)).toEqual([pids[1]!.key, pids[1]!.key, pids[1]!.key, pids[1]!.key]);
    expect(currentProcess()).toBeUndefined();
  });

  it('a call made from a process carries its pid as `from`', async () => {
    const host = new LocalHost();
    const server = host.spawn(async (ctx) => {
      const call = (await ctx.receive()) as import('../../../src/process/envelopes.js').CallRequest;
      call.reply(call.from?.key);
    });
    const result = deferred<unknown>();
    const client = host.spawn(async () => {
      result.resolve(await host.call(server, 'who am i'));
    });
    expect(await result.promise).toBe(client.key);
  });
});

describe('ProcessTable: local names', () => {
  it('register, whereis, unregister, and release on death', async () => {
    const host = new LocalHost();
    const pid = host.spawn((ctx) => ctx.receive());
    host.register('svc', pid);
    expect(host.whereis('svc')?.equals(pid)).toBe(true);
    host.send('svc', 'via name');
    await waitFor(() => !host.isAlive(pid), 'process got the named message and returned');
    expect(host.whereis('svc')).toBeUndefined();
    const other = host.spawn((ctx) => ctx.receive());
    host.register('svc', other);
    expect(host.unregister('svc')).toBe(true);
    expect(host.unregister('svc')).toBe(false);
    expect(host.whereis('svc')).toBeUndefined();
  });

  it('refuses a taken name, a dead pid, a second name, and an empty name', async () => {
    const host = new LocalHost();
    const a = host.spawn((ctx) => ctx.receive());
    const b = host.spawn((ctx) => ctx.receive());
    host.register('a', a);
    expect(() => host.register('a', b)).toThrow(/taken/);
    expect(() => host.register('again', a)).toThrow(/already registered/);
    expect(() => host.register('', b)).toThrow(InvalidArgumentError);
    const dead = host.spawn(() => undefined);
    await host.exitOf(dead);
    expect(() => host.register('dead', dead)).toThrow(/not a live process/);
    expect(() => host.register('remote', new Pid('elsewhere', 1, b.id))).toThrow(InvalidArgumentError);
    expect(host.whereis('a')?.equals(a)).toBe(true);
  });
});
