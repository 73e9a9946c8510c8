import { describe, expect, it } from 'vitest';
import { CallExitError, InvalidArgumentError } from '../../../src/errors.js';
import type { CallRequest } from '../../../src/process/envelopes.js';
import type { ExitReason } from '../../../src/process/host.js';
import type { Pid } from '../../../src/process/pid.js';
import { Server, isServerClass, noReply } from '../../../src/process/server.js';
import { LocalHost, deferred, waitFor } from './local-host.js';

/** Records every callback it gets, in order. */
class Recorder extends Server<{ log: string[]; initDelayMs?: number }> {
  private log: string[] = [];

  override async init(arg: { log: string[]; initDelayMs?: number }): Promise<void> {
    this.log = arg.log;
    if (arg.initDelayMs !== undefined) await new Promise((resolve) => setTimeout(resolve, arg.initDelayMs));
    this.log.push('init');
  }

  override async handleCall(request: unknown): Promise<unknown> {
    this.log.push(`call:${String(request)}`);
    if (request === 'slow') await new Promise((resolve) => setTimeout(resolve, 5));
    if (request === 'boom') throw new Error('boom in call');
    return `reply:${String(request)}`;
  }

  override async handleCast(message: unknown): Promise<void> {
    this.log.push(`cast-start:${String(message)}`);
    await new Promise((resolve) => setTimeout(resolve, 3));
    this.log.push(`cast-end:${String(message)}`);
    if (message === 'stop') this.stop('asked');
  }

  override handleInfo(message: unknown): void {
    this.log.push(`info:${String(message)}`);
  }

  override terminate(reason: ExitReason): void {
    this.log.push(`terminate:${reason instanceof Error ? reason.message : String(reason)}`);
  }
}

describe('Server', () => {
  it('handles call, cast and info one at a time, in mailbox order, after init', async () => {
    const host = new LocalHost();
    const log: string[] = [];
    const pid = host.spawn(Recorder, { log, initDelayMs: 10 });
    // Sent before init finished: queued, handled after it.
    host.cast(pid, 'a');
    host.send(pid, 'b');
    const reply = host.call(pid, 'c');
    host.cast(pid, 'd');
    expect(await reply).toBe('reply:c');
    await waitFor(() => log.includes('cast-end:d'), 'last cast handled');
    expect(log).toEqual(['init', 'cast-start:a', 'cast-end:a', 'info:b', 'call:c', 'cast-start:d', 'cast-end:d']);
  });

  it('serializes async handlers: a slow call finishes before the next message starts', async () => {
    const host = new LocalHost();
    const log: string[] = [];
    const pid = host.spawn(Recorder, { log });
    const replies = await Promise.all([host.call(pid, 'slow'), host.call(pid, 'fast')]);
    expect(replies).toEqual(['reply:slow', 'reply:fast']);
    expect(log).toEqual(['init', 'call:slow', 'call:fast']);
  });

  it('a throwing handleCall crashes the server: terminate(error) runs, the caller sees the exit', async () => {
    const host = new LocalHost();
    const log: string[] = [];
    const pid = host.spawn(Recorder, { log });
    const exit = host.exitOf(pid);
    const error = await host.call(pid, 'boom').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CallExitError);
    expect(((error as CallExitError).reason as Error).message).toBe('boom in call');
    expect(((await exit) as Error).message).toBe('boom in call');
    expect(log).toEqual(['init', 'call:boom', 'terminate:boom in call']);
    expect(host.logger.events('process_crashed').length).toBe(1);
  });

  it('stop(reason) from a handler: terminate runs, monitors get the reason, later messages are not handled', async () => {
    const host = new LocalHost();
    const log: string[] = [];
    const pid = host.spawn(Recorder, { log });
    const exit = host.exitOf(pid);
    host.cast(pid, 'stop');
    host.send(pid, 'after');
    expect(await exit).toBe('asked');
    expect(log).toEqual(['init', 'cast-start:stop', 'cast-end:stop', 'terminate:asked']);
    expect(host.logger.events('process_crashed')).toEqual([]);
  });

  it("terminate runs on exit(pid, 'shutdown') but not on exit(pid, 'kill')", async () => {
    const host = new LocalHost();
    const logA: string[] = [];
    const logB: string[] = [];
    const a = host.spawn(Recorder, { log: logA });
    const b = host.spawn(Recorder, { log: logB });
    await waitFor(() => logA.includes('init') && logB.includes('init'), 'both initialised');
    host.exit(a, 'shutdown');
    host.exit(b, 'kill');
    expect(host.isAlive(a) || host.isAlive(b)).toBe(false);
    await waitFor(() => logA.includes('terminate:shutdown'), 'terminate of a');
    // b's loop has unwound too (its receive rejected in the same turn as a's), without terminate.
    expect(logB).toEqual(['init']);
  });

  it('an exit during a handler lets the handler finish, then terminate gets the exit reason', async () => {
    const host = new LocalHost();
    const log: string[] = [];
    const pid = host.spawn(Recorder, { log });
    host.cast(pid, 'long');
    await waitFor(() => log.includes('cast-start:long'), 'cast started');
    host.exit(pid, 'outside');
    await waitFor(() => log.includes('terminate:outside'), 'terminate');
    expect(log).toEqual(['init', 'cast-start:long', 'cast-end:long', 'terminate:outside']);
  });

  it('init throwing exits the server with that reason and skips terminate', async () => {
    class BadInit extends Server<string[]> {
      private log: string[] = [];
      override init(log: string[]): void {
        this.log = log;
        throw new Error('no config');
      }
      override terminate(): void {
        this.log.push('terminate');
      }
    }
    const host = new LocalHost();
    const log: string[] = [];
    const pid = host.spawn(BadInit, log);
    expect(((await host.exitOf(pid)) as Error).message).toBe('no config');
    await new Promise((resolve) => setImmediate(resolve));
    expect(log).toEqual([]);
  });

  it('deferred reply: noReply now, this.reply(call, value) later, while other messages are handled', async () => {
    class Deferring extends Server {
      private parked: CallRequest[] = [];
      override handleCall(request: unknown, _from: Pid | undefined, call: CallRequest): unknown {
        if (request === 'wait') {
          this.parked.push(call);
          return noReply;
        }
        if (request === 'release') {
          for (const parked of this.parked) this.reply(parked, 'released');
          return this.parked.length;
        }
        if (request === 'fail') {
          this.replyError(call, new Error('refused'));
          return noReply;
        }
        return undefined;
      }
    }
    const host = new LocalHost();
    const pid = host.spawn(Deferring, undefined);
    const waiting = [host.call(pid, 'wait'), host.call(pid, 'wait')];
    expect(await host.call(pid, 'release')).toBe(2);
    expect(await Promise.all(waiting)).toEqual(['released', 'released']);
    await expect(host.call(pid, 'fail')).rejects.toThrow('refused');
    expect(await host.call(pid, 'other')).toBeUndefined();
  });

  it('stop() from outside any handler (a timer) shuts the server down', async () => {
    class SelfStopping extends Server<string[]> {
      private log: string[] = [];
      override init(log: string[]): void {
        this.log = log;
        this.clock.setTimeout(() => this.stop('timer'), 5);
      }
      override terminate(reason: ExitReason): void {
        this.log.push(`terminate:${String(reason)}`);
      }
    }
    const host = new LocalHost();
    const log: string[] = [];
    const pid = host.spawn(SelfStopping, log);
    expect(await host.exitOf(pid)).toBe('timer');
    expect(log).toEqual(['terminate:timer']);
  });

  it('errors thrown by terminate are logged', async () => {
    class BadTerminate extends Server {
      override handleCast(): void {
        this.stop();
      }
      override terminate(): void {
        throw new Error('cleanup failed');
      }
    }
    const host = new LocalHost();
    const pid = host.spawn(BadTerminate, undefined);
    const exit = host.exitOf(pid);
    host.cast(pid, 'stop');
    expect(await exit).toBe('normal');
    expect(host.logger.events('terminate_error').length).toBe(1);
  });

  it('the default handleCall rejects the call and keeps the server running', async () => {
    class Silent extends Server {}
    const host = new LocalHost();
    const pid = host.spawn(Silent, undefined);
    await expect(host.call(pid, 'anything')).rejects.toBeInstanceOf(InvalidArgumentError);
    host.cast(pid, 'ignored');
    host.send(pid, 'ignored');
    await waitFor(() => host.logger.events('unhandled_message').length === 2, 'unhandled logged');
    expect(host.isAlive(pid)).toBe(true);
  });

  it('exposes self and node to handlers, and refuses them before it runs', async () => {
    class Introspective extends Server {
      override handleCall(): unknown {
        return [this.self.key, this.node.isAlive(this.self)];
      }
      peek(): Pid {
        return this.self;
      }
    }
    const host = new LocalHost();
    const pid = host.spawn(Introspective, undefined);
    expect(await host.call(pid, 'who')).toEqual([pid.key, true]);
    expect(() => new Introspective().peek()).toThrow(/not running/);
  });

  it('isServerClass tells Server subclasses from process functions; spawnServer refuses others', () => {
    expect(isServerClass(Recorder)).toBe(true);
    expect(isServerClass(() => undefined)).toBe(false);
    expect(isServerClass(class NotAServer {})).toBe(false);
    const host = new LocalHost();
    class Plain {
      init(): void {}
    }
    expect(() => host.table.spawnServer(Plain, undefined)).toThrow(InvalidArgumentError);
  });

  it('a call to a server that dies while queued rejects with the exit', async () => {
    const host = new LocalHost();
    const log: string[] = [];
    const pid = host.spawn(Recorder, { log });
    const slow = host.call(pid, 'slow');
    const queued = host.call(pid, 'queued');
    await waitFor(() => log.includes('call:slow'), 'slow call started');
    host.exit(pid, 'gone');
    // The caller's monitor sees the exit before the running handler can reply.
    const errors = await Promise.all([slow.catch((e: unknown) => e), queued.catch((e: unknown) => e)]);
    expect(errors.map((e) => (e as CallExitError).reason)).toEqual(['gone', 'gone']);
    const done = deferred();
    setImmediate(done.resolve);
    await done.promise;
    expect(log).not.toContain('call:queued');
  });
});
