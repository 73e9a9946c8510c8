/**
 * Foundation behaviour on real clusters: every node is a separate OS process on 127.0.0.1.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { TestCluster, TestNode, startCluster } from '../support/cluster.js';
import { waitFor } from '../support/wait.js';
import { encodeFrame } from '../../src/internal.js';

const heartbeat = { intervalMs: 200, timeoutMs: 1000 };

let cluster: TestCluster | undefined;
const extraNodes: TestNode[] = [];

afterEach(async () => {
  await cluster?.stopAll();
  cluster = undefined;
  await Promise.all(extraNodes.splice(0).map((n) => n.kill()));
});

/** Spawn an echo Server registered as "echo" and a collector registered as "inbox" on a node. */
async function installServices(node: TestNode): Promise<void> {
  await node.rpc(({ node, api, state }) => {
    class Echo extends api.Server {
      handleCall(request: unknown, from: unknown) {
        return { echo: request, from: from === undefined ? null : String(from), at: node.name };
      }
    }
    const echo = node.spawn(Echo, null);
    node.register('echo', echo);
    const received: unknown[] = [];
    state['received'] = received;
    const inbox = node.spawn(async (ctx: { receive(): Promise<unknown> }) => {
      for (;;) received.push(await ctx.receive());
    });
    node.register('inbox', inbox);
  });
}

describe('cluster (OS processes): mesh and messaging', () => {
  it('three nodes form a full mesh from one seed', async () => {
    cluster = await startCluster(['a', 'b', 'c'], { heartbeat });
    expect(await cluster.node('a').peers()).toEqual(['b', 'c']);
    expect(await cluster.node('b').peers()).toEqual(['a', 'c']);
    expect(await cluster.node('c').peers()).toEqual(['a', 'b']);
    // b and c only knew a: their link came from gossip, and each saw nodeup for the other.
    await cluster.node('b').waitForEvent('nodeup', (e) => e['node'] === 'c');
    await cluster.node('c').waitForEvent('nodeup', (e) => e['node'] === 'b');
  });

  it('three nodes: sends across nodes arrive in order and calls reply across nodes', async () => {
    cluster = await startCluster(['a', 'b', 'c'], { heartbeat });
    for (const n of cluster.nodes) await installServices(n);
    await cluster.node('a').rpc(async ({ node }) => {
      // One process sends 5,000 messages to c's inbox, interleaved with calls to b and c.
      const sender = node.spawn(async () => {
        for (let i = 0; i < 5000; i++) {
          node.send({ name: 'inbox', node: 'c' }, { i });
          if (i % 1000 === 0) await node.call({ name: 'echo', node: 'b' }, i);
        }
      });
      return String(sender);
    });
    await waitFor(() => cluster!.node('c').rpc(({ state }) => (state['received'] as unknown[]).length === 5000), { what: '5000 messages on c' });
    const inOrder = await cluster.node('c').rpc(({ state }) => (state['received'] as Array<{ i: number }>).every((m, i) => m.i === i));
    expect(inOrder).toBe(true);

    const replies = await cluster.node('a').rpc(async ({ node }) => {
      const fromOutside = await node.call({ name: 'echo', node: 'b' }, 'hi b');
      let fromInside: unknown;
      let caller = '';
      await new Promise<void>((resolve) => {
        const pid = node.spawn(async () => {
          fromInside = await node.call({ name: 'echo', node: 'c' }, 'hi c');
          resolve();
        });
        caller = String(pid);
      });
      return { fromOutside, fromInside, caller };
    });
    expect(replies.fromOutside).toEqual({ echo: 'hi b', from: null, at: 'b' });
    expect(replies.fromInside).toEqual({ echo: 'hi c', from: replies.caller, at: 'c' });
  });

  it('three nodes: call errors are typed (noproc, timeout, exit)', async () => {
    cluster = await startCluster(['a', 'b', 'c'], { heartbeat });
    await installServices(cluster.node('b'));
    const codes = await cluster.node('a').rpc(async ({ node, api }) => {
      const code = (p: Promise<unknown>) => p.then(() => 'ok', (e: { code: string }) => e.code);
      await node.call({ name: 'echo', node: 'b' }, 'warm-up');
      return {
        noName: await code(node.call({ name: 'nobody', node: 'b' }, 1)),
        deadPid: await code(node.call(api.Pid.parse(`<b.${node.peerInfo().find((p: { name: string }) => p.name === 'b').incarnation}.999999>`), 1)),
      };
    });
    expect(codes).toEqual({ noName: 'ERR_ROLLCALL_NOPROC', deadPid: 'ERR_ROLLCALL_NOPROC' });

    // A process on b that never answers: the call times out; one that exits mid-call: CallExitError.
    const pids = await cluster.node('b').rpc(({ node }) => {
      const mute = node.spawn(async (ctx: { receive(): Promise<unknown> }) => {
        for (;;) await ctx.receive();
      });
      const quitter = node.spawn(async (ctx: { receive(): Promise<unknown> }) => {
        await ctx.receive();
        throw new Error('quitting instead of replying');
      });
      return { mute: String(mute), quitter: String(quitter) };
    });
    const outcomes = await cluster.node('a').rpc(async ({ node, api }, arg: { mute: string; quitter: string }) => {
      const outcome = (p: Promise<unknown>) => p.then(() => 'ok', (e: { code: string; reason?: { message?: string } }) => `${e.code}${e.reason?.message ? `: ${e.reason.message}` : ''}`);
      return {
        timeout: await outcome(node.call(api.Pid.parse(arg.mute), 1, { timeoutMs: 300 })),
        exited: await outcome(node.call(api.Pid.parse(arg.quitter), 1)),
      };
    }, pids);
    expect(outcomes).toEqual({ timeout: 'ERR_ROLLCALL_TIMEOUT', exited: 'ERR_ROLLCALL_CALL_EXIT: quitting instead of replying' });
  });
});

describe('cluster (OS processes): failures', () => {
  it('a remote monitor fires on process death, and on SIGKILL of its node within the heartbeat timeout', async () => {
    cluster = await startCluster(['a', 'b', 'c'], { heartbeat });
    const targets = await cluster.node('b').rpc(({ node }) => {
      const short = node.spawn(async (ctx: { receive(): Promise<unknown> }) => {
        await ctx.receive();
        throw new Error('boom');
      });
      const long = node.spawn(async (ctx: { receive(): Promise<unknown> }) => {
        for (;;) await ctx.receive();
      });
      return { short: String(short), long: String(long) };
    });
    await cluster.node('a').rpc(({ node, api, emit }, arg: { short: string; long: string }) => {
      for (const key of [arg.short, arg.long]) {
        node.monitor(api.Pid.parse(key), (down: { pid: unknown; reason: unknown }) =>
          emit('down', { pid: String(down.pid), reason: down.reason instanceof Error ? `error: ${down.reason.message}` : down.reason }),
        );
      }
      node.send(api.Pid.parse(arg.short), 'die');
    }, targets);
    const first = await cluster.node('a').waitForEvent('down', (e) => e['pid'] === targets.short);
    expect(first.data['reason']).toBe('error: boom');

    const killedAt = performance.now();
    await cluster.node('b').kill('SIGKILL');
    const second = await cluster.node('a').waitForEvent('down', (e) => e['pid'] === targets.long);
    expect(second.data['reason']).toBe('noconnection');
    expect(second.at - killedAt).toBeLessThan(heartbeat.timeoutMs + 500);
    const down = await cluster.node('c').waitForEvent('nodedown', (e) => e['node'] === 'b');
    expect(down.at - killedAt).toBeLessThan(heartbeat.timeoutMs + 500);
  });

  it('a hung node (SIGSTOP) is declared down by heartbeat timeout', async () => {
    cluster = await startCluster(['a', 'b'], { heartbeat });
    const stoppedAt = performance.now();
    cluster.node('b').signal('SIGSTOP');
    try {
      const down = await cluster.node('a').waitForEvent('nodedown', (e) => e['node'] === 'b');
      expect(down.data['reason']).toBe('heartbeat_timeout');
      expect(down.at - stoppedAt).toBeGreaterThanOrEqual(heartbeat.timeoutMs - 300);
      expect(down.at - stoppedAt).toBeLessThan(heartbeat.timeoutMs * 2 + 500);
    } finally {
      cluster.node('b').signal('SIGCONT');
    }
  });

  it('a restarted node comes back with a new incarnation and its old pids stay dead', async () => {
    cluster = await startCluster(['a', 'b', 'c'], { heartbeat });
    const old = await cluster.node('b').rpc(({ node }) => {
      const pid = node.spawn(async (ctx: { receive(): Promise<unknown> }) => {
        for (;;) await ctx.receive();
      });
      return { pid: String(pid), incarnation: node.incarnation as number };
    });
    await cluster.node('b').kill('SIGKILL');
    await cluster.node('a').waitForEvent('nodedown', (e) => e['node'] === 'b');
    const since = performance.now();
    await cluster.restart('b');
    await cluster.node('a').waitForEvent('nodeup', (e) => e['node'] === 'b', { since });
    await cluster.waitForMesh();
    const fresh = await cluster.node('b').rpc(({ node }) => node.incarnation as number);
    expect(fresh).not.toBe(old.incarnation);
    const seen = await cluster.node('a').rpc(async ({ node, api }, key: string) => {
      const pid = api.Pid.parse(key);
      const monitorReason = await new Promise((resolve) => node.monitor(pid, (d: { reason: unknown }) => resolve(d.reason)));
      const callCode = await node.call(pid, 'x').then(() => 'ok', (e: { code: string }) => e.code);
      const incarnation = node.peerInfo().find((p: { name: string }) => p.name === 'b').incarnation as number;
      return { alive: node.isAlive(pid) as boolean, monitorReason, callCode, incarnation };
    }, old.pid);
    expect(seen).toEqual({ alive: false, monitorReason: 'noproc', callCode: 'ERR_ROLLCALL_NOPROC', incarnation: fresh });
  });

  it('a node with the wrong cookie is refused, with a clear log line on both sides', async () => {
    cluster = await startCluster(['a'], { heartbeat });
    const intruder = await new TestNode({ name: 'intruder', cookie: 'wrong-cookie', seeds: [cluster.node('a').seed], heartbeat }).start();
    extraNodes.push(intruder);
    const onA = await cluster.node('a').waitForLog((r) => ['auth_failed', 'handshake_refused', 'handshake_refused_peer'].includes(String(r['event'])));
    const onIntruder = await intruder.waitForLog((r) => r['event'] === 'auth_failed' || r['event'] === 'handshake_refused');
    expect(String(onA['msg'])).toMatch(/cookie/);
    expect(String(onIntruder['msg'])).toMatch(/cookie/);
    expect(await cluster.node('a').peers()).toEqual([]);
    expect(await intruder.peers()).toEqual([]);
  });
});

describe('cluster (OS processes): bad bytes at the port', () => {
  async function rawConnect(address: string): Promise<net.Socket> {
    const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1))];
    const socket = net.connect({ host, port });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return socket;
  }

  function closed(socket: net.Socket): Promise<void> {
    return new Promise((resolve) => {
      if (socket.destroyed) resolve();
      socket.once('close', () => resolve());
      socket.on('error', () => undefined);
      socket.resume(); // read (and drop) whatever the node answers, so its FIN is seen
    });
  }

  it.each([
    ['garbage bytes', () => Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n\x00\xff\xfe garbage')],
    ['an oversized frame header', () => Buffer.from([0x7f, 0xff, 0xff, 0xff, 1, 1])],
    ['a truncated frame then close', () => encodeFrame(0x01, Buffer.alloc(100)).subarray(0, 40)],
    ['a non-handshake frame before the handshake', () => encodeFrame(0x10, Buffer.from([0x90]))],
    ['an unknown protocol version', () => encodeFrame(0x01, Buffer.from([0x80]), 99)],
  ])('%s closes only that connection; the node keeps serving its peers', async (_label, bytes) => {
    cluster = await startCluster(['a', 'b'], { heartbeat });
    await installServices(cluster.node('b'));
    const socket = await rawConnect(cluster.node('a').address);
    const wasClosed = closed(socket);
    socket.write(bytes());
    if (_label.startsWith('a truncated')) socket.end();
    await wasClosed;
    // a is still up, still connected to b, and still serves calls.
    const reply = await cluster.node('a').rpc(({ node }) => node.call({ name: 'echo', node: 'b' }, 'still here'));
    expect(reply).toMatchObject({ echo: 'still here', at: 'b' });
    expect(await cluster.node('a').peers()).toEqual(['b']);
    expect(cluster.node('a').alive).toBe(true);
  });
});
