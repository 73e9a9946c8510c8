import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CallRequest, Group, Pid, Server, self, type Node } from '../../../src/index.js';
import { collector, createSim, type Sim } from './sim-helpers.js';

class Recorder extends Server<string[]> {
  private seen: string[] = [];
  override init(seen: string[]): void {
    this.seen = seen;
  }
  override handleCast(message: unknown): void {
    this.seen.push(`cast:${String(message)}`);
  }
  override handleInfo(message: unknown): void {
    this.seen.push(`info:${String(message)}`);
  }
  override handleCall(request: unknown): unknown {
    this.seen.push(`call:${String(request)}`);
    return this.seen.length;
  }
}

describe('Node: send and cast', () => {
  let sim: Sim;
  let a: Node;
  let b: Node;
  beforeEach(async () => {
    sim = createSim(11);
    [a, b] = await sim.cluster('a', 'b');
  });
  afterEach(async () => {
    await sim.teardown();
  });

  it('send to a remote pid delivers the message as sent', async () => {
    const target = collector(b);
    const message = { text: 'hello', n: 42, nested: [1, 'two', { three: 3n }], at: new Date(5), blob: Buffer.from([1, 2, 3]) };
    a.send(target.pid, message);
    await sim.until(() => target.messages.length === 1, 'message on b');
    expect(target.messages[0]).toEqual(message);
    expect(target.messages[0]).not.toBe(message); // it crossed the wire
  });

  it('send to a local name and to {name, node} on a remote node', async () => {
    const local = collector(a, 'inbox');
    const remote = collector(b, 'inbox');
    a.send('inbox', 'local');
    a.send({ name: 'inbox', node: 'b' }, 'remote');
    a.send({ name: 'inbox', node: 'a' }, 'local again');
    await sim.until(() => remote.messages.length === 1 && local.messages.length === 2, 'both inboxes');
    expect(local.messages).toEqual(['local', 'local again']);
    expect(remote.messages).toEqual(['remote']);
  });

  it('unknown names, dead pids and pids of unknown nodes drop the message silently', async () => {
    const target = collector(b);
    const dead = b.spawn(() => undefined);
    await sim.until(() => !b.isAlive(dead), 'short-lived process ends');
    expect(() => {
      a.send(dead, 'to the dead');
      a.send(new Pid('b', b.incarnation, 99_999), 'to nobody');
      a.send(new Pid('zz', 1, 1), 'to an unknown node');
      a.send({ name: 'nobody', node: 'b' }, 'to no name');
      a.send({ name: 'inbox', node: 'zz' }, 'to no node');
      a.send('nobody', 'to no local name');
    }).not.toThrow();
    // The link survives: a later message still arrives, and it is the only one.
    a.send(target.pid, 'after');
    await sim.until(() => target.messages.length === 1, 'message after the dropped ones');
    await sim.run(50);
    expect(target.messages).toEqual(['after']);
    expect(a.peers()).toEqual(['b']);
  });

  it('messages from one process to a remote process keep their order, interleaved with calls', async () => {
    const seen: string[] = [];
    const target = b.spawn(async (ctx) => {
      for (;;) {
        const message = await ctx.receive();
        if (message instanceof CallRequest) {
          seen.push(`call:${String(message.request)}`);
          message.reply(seen.length);
        } else {
          seen.push(`send:${String(message)}`);
        }
      }
    });
    const expected: string[] = [];
    let replies: unknown[] = [];
    const sender = a.spawn(async () => {
      const pending: Array<Promise<unknown>> = [];
      for (let i = 0; i < 200; i++) {
        if (i % 7 === 3) {
          pending.push(a.call(target, i));
          expected.push(`call:${i}`);
        } else {
          a.send(target, i);
          expected.push(`send:${i}`);
        }
      }
      replies = await Promise.all(pending);
    });
    await sim.until(() => !a.isAlive(sender), 'sender done');
    expect(seen).toEqual(expected);
    // Each call was answered with its position in the stream the target saw.
    expect(replies).toEqual(expected.flatMap((entry, index) => (entry.startsWith('call:') ? [index + 1] : [])));
  });

  it('cast to a remote Server reaches handleCast; a plain send reaches handleInfo', async () => {
    const seen: string[] = [];
    const server = b.spawn(Recorder, seen);
    b.register('recorder', server);
    a.cast(server, 'by-pid');
    a.cast({ name: 'recorder', node: 'b' }, 'by-name');
    a.send(server, 'plain');
    await sim.until(() => seen.length === 3, 'three messages on the server');
    expect(seen).toEqual(['cast:by-pid', 'cast:by-name', 'info:plain']);
  });

  it('cast to a local Server, by pid and by name', async () => {
    const seen: string[] = [];
    const server = a.spawn(Recorder, seen);
    a.register('local-recorder', server);
    a.cast(server, 1);
    a.cast('local-recorder', 2);
    await sim.until(() => seen.length === 2, 'two casts');
    expect(seen).toEqual(['cast:1', 'cast:2']);
  });

  it('self() inside a process is its pid, across awaits (timers and remote calls); node.self() too', async () => {
    const echo = b.spawn(async (ctx) => {
      for (;;) {
        const message = await ctx.receive();
        if (message instanceof CallRequest) message.reply(message.request);
      }
    });
    const seenSelf: Array<Pid | undefined> = [];
    const pid = a.spawn(async (ctx) => {
      seenSelf.push(self(), a.self());
      await a.call(echo, 'ping');
      seenSelf.push(self(), a.self());
      await ctx.receive({ timeoutMs: 20 }).catch(() => undefined);
      seenSelf.push(self(), a.self());
    });
    await sim.until(() => seenSelf.length === 6, 'process ran to the end');
    expect(seenSelf.every((p) => p !== undefined && p.equals(pid))).toBe(true);
    expect(self()).toBeUndefined();
    expect(a.self()).toBeUndefined();
    // Another node's self() does not claim a process of this node.
    let onB: Pid | undefined = new Pid('x', 1, 1);
    a.spawn(() => {
      onB = b.self();
    });
    await sim.until(() => onB === undefined, 'b.self() inside a process of a');
  });

  it('with implicitSelf: false a process has no implicit pid: ctx.self only, Group writes need {pid}', async () => {
    const c = await sim.start('c', { implicitSelf: false });
    const group = await Group.start(c, { name: 'g', log: false });
    const seen: Array<Pid | undefined> = [];
    const errors: string[] = [];
    let done = false;
    const pid = a.spawn(async () => {
      // A process of a node with implicit self spawns on c: its pid must not leak into c's process.
      c.spawn(async (ctx) => {
        seen.push(self(), c.self(), ctx.self);
        try {
          group.register('k', {});
        } catch (error) {
          errors.push((error as Error).message);
        }
        expect(group.register('k', { by: 'ctx' }, { pid: ctx.self })).toBe('ok');
        await ctx.receive({ timeoutMs: 5 }).catch(() => undefined);
        seen.push(self(), c.self());
        done = true;
        await ctx.receive();
      });
    });
    await sim.until(() => done, 'the process on c ran');
    expect(seen[0]).toBeUndefined();
    expect(seen[1]).toBeUndefined();
    expect(seen[2]).toBeInstanceOf(Pid);
    expect(seen.slice(3)).toEqual([undefined, undefined]);
    expect(errors).toEqual([expect.stringMatching(/pass \{pid\}/)]);
    expect(group.lookup('k')?.pid.equals(seen[2]!)).toBe(true);
    expect(pid.node).toBe('a');
    await group.stop();
  });

  it('implicitSelf must be a boolean', async () => {
    await expect(sim.start('d', { implicitSelf: 'no' as unknown as boolean })).rejects.toThrow(/implicitSelf must be true or false/);
  });
});
