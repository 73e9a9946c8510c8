import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../../src/errors.js';
import type { ExitReason, ProcessHost } from '../../../src/process/host.js';
import type { Pid } from '../../../src/process/pid.js';
import { Server } from '../../../src/process/server.js';
import {
  Supervisor,
  deleteChild,
  restartChild,
  startChild,
  terminateChild,
  whichChildren,
  type ChildSpec,
  type RestartType,
} from '../../../src/process/supervisor.js';
import { LocalHost, SteppedClock, waitFor } from './local-host.js';

/** A child that waits for ever; its start() counts how often it was started. */
function worker(id: string, restart?: RestartType): ChildSpec & { starts: number } {
  const spec = {
    id,
    restart,
    starts: 0,
    start: (host: ProcessHost): Pid => {
      spec.starts++;
      return host.spawn((ctx) => ctx.receive());
    },
  };
  return spec;
}

async function childPid(host: LocalHost, sup: Pid, id: string): Promise<Pid | undefined> {
  return (await whichChildren(host, sup)).find((child) => child.id === id)?.pid;
}

/** Waits until the supervisor reports child `id` with a pid different from `old`. */
async function restartedPid(host: LocalHost, sup: Pid, id: string, old: Pid): Promise<Pid> {
  let pid: Pid | undefined;
  const deadline = Date.now() + 2000;
  while (pid === undefined || pid.equals(old)) {
    if (Date.now() > deadline) throw new Error(`child ${id} was not restarted`);
    pid = await childPid(host, sup, id);
  }
  return pid;
}

describe('Supervisor', () => {
  it('starts its children in order and reports them', async () => {
    const host = new LocalHost();
    const specs = [worker('a'), worker('b', 'transient'), worker('c', 'temporary')];
    const sup = host.spawn(Supervisor, { children: specs });
    const children = await whichChildren(host, sup);
    expect(children.map((c) => [c.id, c.restart])).toEqual([
      ['a', 'permanent'],
      ['b', 'transient'],
      ['c', 'temporary'],
    ]);
    expect(children.every((c) => c.pid !== undefined && host.isAlive(c.pid))).toBe(true);
    expect(children.map((c) => c.pid!.id)).toEqual([...children.map((c) => c.pid!.id)].sort((x, y) => x - y));
  });

  it('restarts a permanent child whatever its exit reason', async () => {
    const host = new LocalHost();
    const spec = worker('p', 'permanent');
    const sup = host.spawn(Supervisor, { children: [spec] });
    let pid = (await childPid(host, sup, 'p'))!;
    for (const reason of ['crash', 'normal', 'shutdown']) {
      host.exit(pid, reason);
      pid = await restartedPid(host, sup, 'p', pid);
      expect(host.isAlive(pid)).toBe(true);
    }
    expect(spec.starts).toBe(4);
  });

  it("restarts a transient child on a crash, not on 'normal' or 'shutdown'", async () => {
    const host = new LocalHost();
    const spec = worker('t', 'transient');
    const sup = host.spawn(Supervisor, { children: [spec] });
    const first = (await childPid(host, sup, 't'))!;
    host.exit(first, new Error('crash'));
    const second = await restartedPid(host, sup, 't', first);
    host.exit(second, 'normal');
    await waitFor(() => !host.isAlive(second), 'second exited');
    await expect(whichChildren(host, sup)).resolves.toEqual([{ id: 't', pid: undefined, restart: 'transient' }]);
    expect(spec.starts).toBe(2);
  });

  it('never restarts a temporary child and forgets it', async () => {
    const host = new LocalHost();
    const spec = worker('tmp', 'temporary');
    const sup = host.spawn(Supervisor, { children: [spec, worker('keep')] });
    const pid = (await childPid(host, sup, 'tmp'))!;
    host.exit(pid, 'crash');
    let ids: string[] = [];
    const deadline = Date.now() + 2000;
    do {
      ids = (await whichChildren(host, sup)).map((c) => c.id);
    } while (ids.includes('tmp') && Date.now() < deadline);
    expect(ids).toEqual(['keep']);
    expect(spec.starts).toBe(1);
  });

  it('more than `intensity` restarts within the period: children shut down in reverse, supervisor exits with shutdown', async () => {
    const host = new LocalHost();
    const specs = [worker('first'), worker('flappy'), worker('last')];
    const sup = host.spawn(Supervisor, { children: specs, intensity: 2, periodMs: 60_000 });
    const supExit = host.exitOf(sup);
    const initial = await whichChildren(host, sup);
    let flappy = initial[1]!.pid!;
    for (let i = 0; i < 2; i++) {
      host.exit(flappy, 'crash');
      flappy = await restartedPid(host, sup, 'flappy', flappy);
    }
    const names = new Map([
      [initial[0]!.pid!.key, 'first'],
      [flappy.key, 'flappy'],
      [initial[2]!.pid!.key, 'last'],
      [sup.key, 'sup'],
    ]);
    const exits: Array<[string | undefined, ExitReason]> = [];
    host.table.onExit((pid, reason) => exits.push([names.get(pid.key), reason]));
    host.exit(flappy, 'crash');
    expect(await supExit).toBe('shutdown');
    expect(specs[1]!.starts).toBe(3);
    expect(exits).toEqual([
      ['flappy', 'crash'],
      ['last', 'shutdown'],
      ['first', 'shutdown'],
      ['sup', 'shutdown'],
    ]);
    expect(host.logger.events('supervisor_intensity_exceeded').length).toBe(1);
    expect(host.table.count()).toBe(0);
  });

  it('restarts older than periodMs do not count toward the intensity', async () => {
    const clock = new SteppedClock();
    const host = new LocalHost({ clock });
    const sup = host.spawn(Supervisor, { children: [worker('w')], intensity: 1, periodMs: 1000 });
    let pid = (await childPid(host, sup, 'w'))!;
    for (let i = 0; i < 4; i++) {
      clock.advance(1500);
      host.exit(pid, 'crash');
      pid = await restartedPid(host, sup, 'w', pid);
    }
    expect(host.isAlive(sup)).toBe(true);
    // Two crashes inside one window exceed intensity 1.
    const supExit = host.exitOf(sup);
    host.exit(pid, 'crash');
    expect(await supExit).toBe('shutdown');
  });

  it("exit(sup, 'shutdown') and exit(sup, 'kill') both shut the children down in reverse order", async () => {
    for (const reason of ['shutdown', 'kill']) {
      const host = new LocalHost();
      const sup = host.spawn(Supervisor, { children: [worker('a'), worker('b'), worker('c')] });
      const children = await whichChildren(host, sup);
      const order: Array<[number, ExitReason]> = [];
      host.table.onExit((pid, why) => order.push([pid.id, why]));
      host.exit(sup, reason);
      await waitFor(() => host.table.count() === 0, 'all children exited');
      expect(order).toEqual([
        [sup.id, reason],
        [children[2]!.pid!.id, 'shutdown'],
        [children[1]!.pid!.id, 'shutdown'],
        [children[0]!.pid!.id, 'shutdown'],
      ]);
    }
  });

  it('dynamic children: start, terminate, restart, delete', async () => {
    const host = new LocalHost();
    const sup = host.spawn(Supervisor, { children: [worker('static')] });
    const dyn = worker('dyn');
    const pid = await startChild(host, sup, dyn);
    expect(host.isAlive(pid)).toBe(true);
    await expect(startChild(host, sup, worker('dyn'))).rejects.toBeInstanceOf(InvalidArgumentError);
    expect((await whichChildren(host, sup)).map((c) => c.id)).toEqual(['static', 'dyn']);

    const exit = host.exitOf(pid);
    expect(await terminateChild(host, sup, 'dyn')).toBe(true);
    expect(await exit).toBe('shutdown');
    expect(await childPid(host, sup, 'dyn')).toBeUndefined();
    expect(await terminateChild(host, sup, 'missing')).toBe(false);
    expect(dyn.starts).toBe(1);

    const again = await restartChild(host, sup, 'dyn');
    expect(host.isAlive(again)).toBe(true);
    await expect(restartChild(host, sup, 'dyn')).rejects.toThrow(/running/);
    await expect(deleteChild(host, sup, 'dyn')).rejects.toThrow(/running/);
    await terminateChild(host, sup, 'dyn');
    expect(await deleteChild(host, sup, 'dyn')).toBe(true);
    expect(await deleteChild(host, sup, 'dyn')).toBe(false);
    expect((await whichChildren(host, sup)).map((c) => c.id)).toEqual(['static']);
    expect(host.isAlive(sup)).toBe(true);
  });

  it('a terminated temporary child is forgotten', async () => {
    const host = new LocalHost();
    const sup = host.spawn(Supervisor, { children: [] });
    await startChild(host, sup, worker('once', 'temporary'));
    expect(await terminateChild(host, sup, 'once')).toBe(true);
    expect(await whichChildren(host, sup)).toEqual([]);
  });

  it('startChild rejects with the error start() threw and keeps supervising', async () => {
    const host = new LocalHost();
    const sup = host.spawn(Supervisor, { children: [] });
    const failing: ChildSpec = {
      id: 'bad',
      start: () => {
        throw new Error('cannot start');
      },
    };
    await expect(startChild(host, sup, failing)).rejects.toThrow('cannot start');
    await expect(startChild(host, sup, { id: 'bad', start: () => 'not a pid' as unknown as Pid })).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(await whichChildren(host, sup)).toEqual([]);
  });

  it('a child whose restart fails is retried, each attempt counting toward the intensity', async () => {
    const host = new LocalHost();
    let allowStart = true;
    let attempts = 0;
    const spec: ChildSpec = {
      id: 'fragile',
      start: (h) => {
        attempts++;
        if (!allowStart) throw new Error('dependency down');
        return h.spawn((ctx) => ctx.receive());
      },
    };
    const sup = host.spawn(Supervisor, { children: [spec], intensity: 3, periodMs: 60_000 });
    const pid = (await childPid(host, sup, 'fragile'))!;
    const supExit = host.exitOf(sup);
    allowStart = false;
    host.exit(pid, 'crash');
    expect(await supExit).toBe('shutdown');
    expect(attempts).toBe(1 + 3);
    expect(host.logger.events('child_start_failed').length).toBe(3);
  });

  it('a Server child gets terminate(shutdown) when the supervisor shuts down', async () => {
    const terminated: ExitReason[] = [];
    class Child extends Server {
      override terminate(reason: ExitReason): void {
        terminated.push(reason);
      }
    }
    const host = new LocalHost();
    const sup = host.spawn(Supervisor, { children: [{ id: 'srv', start: (h) => h.spawn(Child, undefined) }] });
    await whichChildren(host, sup);
    host.exit(sup, 'shutdown');
    await waitFor(() => terminated.length === 1, 'child terminate');
    expect(terminated).toEqual(['shutdown']);
  });

  it('invalid options make the supervisor exit with an InvalidArgumentError', async () => {
    const host = new LocalHost();
    const cases: unknown[] = [
      { children: 'nope' },
      { children: [], intensity: -1 },
      { children: [], periodMs: 0 },
      { children: [worker('x'), worker('x')] },
      { children: [{ id: 'x', start: () => undefined, restart: 'sometimes' }] },
    ];
    for (const options of cases) {
      const sup = host.spawn(Supervisor, options as never);
      expect(await host.exitOf(sup)).toBeInstanceOf(InvalidArgumentError);
    }
    expect(host.table.count()).toBe(0);
  });
});
