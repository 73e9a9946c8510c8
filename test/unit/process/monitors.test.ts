import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../../src/errors.js';
import type { DownInfo, DownMessage } from '../../../src/process/host.js';
import { Pid } from '../../../src/process/pid.js';
import { LocalHost, deferred, waitFor } from './local-host.js';

const forever = (ctx: { receive(): Promise<unknown> }): Promise<unknown> => ctx.receive();

describe('ProcessTable: monitors', () => {
  it('a callback monitor gets {ref, pid, reason}, asynchronously', async () => {
    const host = new LocalHost();
    const target = host.spawn(forever);
    const downs: DownInfo[] = [];
    const ref = host.monitor(target, (down) => downs.push(down));
    host.exit(target, 'why');
    expect(downs).toEqual([]);
    await waitFor(() => downs.length === 1, 'DOWN callback');
    expect(downs[0]!.ref.equals(ref)).toBe(true);
    expect(downs[0]!.pid.equals(target)).toBe(true);
    expect(downs[0]!.reason).toBe('why');
  });

  it('a Pid watcher receives a DOWN message after the messages the target sent before dying', async () => {
    const host = new LocalHost();
    const got = deferred<unknown[]>();
    const watcher = host.spawn(async (ctx) => {
      const messages = [await ctx.receive(), await ctx.receive()];
      got.resolve(messages);
    });
    const target = host.spawn(async (ctx) => {
      await ctx.receive();
      host.send(watcher, 'last words');
      throw new Error('crash');
    });
    const ref = host.monitor(target, watcher);
    host.send(target, 'go');
    const [first, second] = await got.promise;
    expect(first).toBe('last words');
    const down = second as DownMessage;
    expect(down.type).toBe('DOWN');
    expect(down.ref.equals(ref)).toBe(true);
    expect(down.pid.equals(target)).toBe(true);
    expect((down.reason as Error).message).toBe('crash');
  });

  it("monitoring a dead, unknown or old-incarnation pid fires 'noproc'", async () => {
    const host = new LocalHost();
    const dead = host.spawn(() => undefined);
    await host.exitOf(dead);
    const reasons = await Promise.all([dead, new Pid('test', 1, 12345), new Pid('test', 0, dead.id)].map((pid) => host.exitOf(pid)));
    expect(reasons).toEqual(['noproc', 'noproc', 'noproc']);
  });

  it('refuses a pid of another node (the Node routes those)', () => {
    const host = new LocalHost();
    expect(() => host.monitor(new Pid('other', 1, 1), () => undefined)).toThrow(InvalidArgumentError);
  });

  it('demonitor removes the monitor: no notification, true then false', async () => {
    const host = new LocalHost();
    const target = host.spawn(forever);
    let fired = 0;
    const ref = host.monitor(target, () => fired++);
    const control = host.exitOf(target);
    expect(host.demonitor(ref)).toBe(true);
    expect(host.demonitor(ref)).toBe(false);
    host.exit(target, 'x');
    await control;
    expect(fired).toBe(0);
  });

  it('demonitor between the death and the notification still cancels it', async () => {
    const host = new LocalHost();
    const target = host.spawn(forever);
    let fired = 0;
    const ref = host.monitor(target, () => fired++);
    const control = host.exitOf(target);
    host.exit(target, 'x');
    expect(host.demonitor(ref)).toBe(true);
    await control;
    expect(fired).toBe(0);
  });

  it('demonitor cancels a pending noproc', async () => {
    const host = new LocalHost();
    let fired = 0;
    const ref = host.monitor(new Pid('test', 1, 777), () => fired++);
    expect(host.demonitor(ref)).toBe(true);
    await host.exitOf(new Pid('test', 1, 778));
    expect(fired).toBe(0);
  });

  it('when a local watcher dies, the monitors it holds are removed', async () => {
    const host = new LocalHost();
    const target = host.spawn(forever);
    const watcher = host.spawn(forever);
    const refs = [host.monitor(target, watcher), host.monitor(target, watcher)];
    const other = host.monitor(target, () => undefined);
    host.exit(watcher, 'gone');
    expect(refs.map((ref) => host.demonitor(ref))).toEqual([false, false]);
    expect(host.demonitor(other)).toBe(true);
  });

  it('a throwing callback is logged as callback_error and does not stop the other monitors', async () => {
    const host = new LocalHost();
    const target = host.spawn(forever);
    host.monitor(target, () => {
      throw new Error('bad callback');
    });
    const second = host.exitOf(target);
    host.exit(target, 'x');
    expect(await second).toBe('x');
    expect(host.logger.events('callback_error').length).toBe(1);
  });

  it('a process with thousands of monitors notifies them all', async () => {
    const host = new LocalHost();
    const target = host.spawn(forever);
    let fired = 0;
    const refs = [];
    for (let i = 0; i < 5000; i++) refs.push(host.monitor(target, () => fired++));
    for (let i = 0; i < 5000; i += 2) host.demonitor(refs[i]!);
    host.exit(target, 'x');
    await waitFor(() => fired === 2500, 'all remaining monitors fired');
    expect(refs.some((ref) => host.demonitor(ref))).toBe(false);
  });
});
