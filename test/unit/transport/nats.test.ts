/**
 * What the nats transport adds to the conformance suite: option checks and their messages, the
 * missing optional peer dependency, discovery without seeds, clusters sharing a server, messages
 * above the server's max_payload, hostile messages on the cluster's subjects, and NATS server
 * outages (a short one is invisible to the nodes; a long one makes peers down, and they come back).
 * Outages use a nats-server of the test's own on a free port.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { connect } from '@nats-io/transport-node';
import { InvalidArgumentError, nats, startNode, type Node, type NodeOptions } from '../../../src/index.js';
import { cryptoRandom, realClock, silentLogger } from '../../../src/internal.js';
import { capturingLogger, eventsNamed, type LogRecord } from '../../support/log-capture.js';
import { freePort, natsAvailable, natsServerBinary, NATS_URL, PrivateNatsServer, startNatsNode } from '../../support/nats.js';
import { waitFor } from '../../support/wait.js';

const available = await natsAvailable('nats transport tests');
let run = 0;
const uniqueCluster = (label: string): string => `${label}-${process.pid}-${++run}`;

describe('nats(): options', () => {
  it('rejects bad options with a message that says what to pass', () => {
    expect(() => nats({ clustr: 'x' } as never)).toThrow(/unknown option "clustr"/);
    expect(() => nats({ cluster: 'a.b' })).toThrow(/cluster must be 1 to 64 letters/);
    expect(() => nats({ servers: [] })).toThrow(/servers must be a URL/);
    expect(() => nats({ subjectPrefix: 'a..b' })).toThrow(/subjectPrefix/);
    expect(() => nats({ credsFile: '/x.creds', authenticator: () => ({}) })).toThrow(/either credsFile or authenticator/);
    expect(() => nats({ windowBytes: 10 })).toThrow(/windowBytes/);
    expect(() => nats({ connectTimeoutMs: -1 })).toThrow(InvalidArgumentError);
    expect(() => nats().discovery({ refreshMs: 0 })).toThrow(/refreshMs/);
  });

  it('a missing @nats-io/transport-node fails the node start with the npm install to run', async () => {
    const transport = nats({ clientModule: '@nats-io/no-such-package' });
    const start = startNode({ name: 'a', cookie: 'c', transport, logger: silentLogger() });
    await expect(start).rejects.toThrow(InvalidArgumentError);
    await expect(start).rejects.toThrow(/npm install @nats-io\/transport-node/);
  });

  it('an unreachable server fails the node start, naming the server', async () => {
    const port = await freePort();
    const transport = nats({ servers: `nats://127.0.0.1:${port}` });
    await expect(startNode({ name: 'a', cookie: 'c', transport, logger: silentLogger() })).rejects.toThrow(
      new RegExp(`cannot connect to NATS at nats://127.0.0.1:${port}`),
    );
  });
});

describe.skipIf(!available)('nats transport on the server at 127.0.0.1:4222', () => {
  const nodes: Node[] = [];
  afterEach(async () => {
    await Promise.all(nodes.splice(0).map((n) => n.stop()));
  });

  async function natsNode(name: string, cluster: string, options: Partial<NodeOptions> = {}): Promise<Node> {
    const node = await startNatsNode(name, { servers: NATS_URL, cluster }, { heartbeat: { intervalMs: 100, timeoutMs: 600 }, reconnect: { initialMs: 50, maxMs: 300 }, ...options });
    nodes.push(node);
    return node;
  }

  it('nodes find each other through the cluster subject, with no seeds: three nodes form a full mesh', async () => {
    const cluster = uniqueCluster('discovery');
    const [a, b, c] = [await natsNode('a', cluster), await natsNode('b', cluster), await natsNode('c', cluster)];
    await waitFor(() => [a, b, c].every((n) => n.peers().length === 2), { what: 'full mesh of a, b, c' });
    expect(a.peers().sort()).toEqual(['b', 'c']);
    expect(a.address).toBe('a');
  });

  it('with no discovery option a node uses the transport\'s own; with no cookie it is refused', async () => {
    const cluster = uniqueCluster('auto');
    const start = (name: string): Promise<Node> =>
      startNode({ name, cookie: 'nats-test', transport: nats({ servers: NATS_URL, cluster }), logger: silentLogger(), heartbeat: { intervalMs: 100, timeoutMs: 600 } });
    const [a, b] = [await start('a'), await start('b')];
    nodes.push(a, b);
    await waitFor(() => a.peers().length === 1 && b.peers().length === 1, { what: 'a and b find each other with no discovery option' });
    await expect(startNode({ name: 'c', transport: nats({ servers: NATS_URL, cluster }), logger: silentLogger() })).rejects.toThrow(/"cookie" is required/);
  });

  it('two clusters on one server, with the same node names and cookie, never see each other', async () => {
    const x = uniqueCluster('x');
    const y = uniqueCluster('y');
    const [xa, xb, ya, yb] = [await natsNode('a', x), await natsNode('b', x), await natsNode('a', y), await natsNode('b', y)];
    await waitFor(() => [xa, xb, ya, yb].every((n) => n.peers().length === 1), { what: 'a-b in each cluster' });
    expect(xa.peerInfo()[0]!.incarnation).toBe(xb.incarnation);
    expect(ya.peerInfo()[0]!.incarnation).toBe(yb.incarnation);
  });

  it('a second node with a name already announced in the cluster is reported (name_in_use)', async () => {
    const cluster = uniqueCluster('same-name');
    const records: LogRecord[] = [];
    await natsNode('a', cluster, { logger: capturingLogger(records, { which: 'first' }) });
    await natsNode('a', cluster, { logger: capturingLogger(records, { which: 'second' }) });
    await waitFor(() => eventsNamed(records, 'name_in_use').length >= 2, { what: 'both nodes named a report the other' });
    expect(eventsNamed(records, 'name_in_use').map((r) => r['which']).sort()).toEqual(['first', 'second']);
  });

  it('a dial to a name nobody has fails at once, saying so; a bad address is refused', async () => {
    const records: LogRecord[] = [];
    const connector = nats({ servers: NATS_URL, cluster: uniqueCluster('dial') })({
      nodeName: 'a',
      clock: realClock,
      random: cryptoRandom,
      logger: capturingLogger(records),
    });
    await connector.listen(() => undefined);
    try {
      const started = performance.now();
      await expect(connector.dial('nobody')).rejects.toThrow(/no node named nobody is listening on NATS cluster/);
      expect(performance.now() - started).toBeLessThan(2000); // no responders, not the 5 s connect timeout
      await expect(connector.dial('no*wildcards')).rejects.toThrow(InvalidArgumentError);
    } finally {
      await connector.close();
    }
  });

  it('hostile messages on the cluster subjects are dropped and logged; the node keeps working', async () => {
    const cluster = uniqueCluster('hostile');
    const records: LogRecord[] = [];
    const a = await natsNode('a', cluster, { logger: capturingLogger(records) });
    const nc = await connect({ servers: NATS_URL });
    try {
      // A connection request that would make the node publish outside the cluster's subjects.
      const open = Buffer.alloc(13);
      open[0] = 1;
      const reply = nc.request(`rollcall.${cluster}.node.a`, Buffer.concat([open, Buffer.from(JSON.stringify({ subject: '$SYS.x', from: 'm' }))]), { timeout: 500 });
      await expect(reply).rejects.toThrow();
      nc.publish(`rollcall.${cluster}.announce`, Buffer.from('not json'));
      nc.publish(`rollcall.${cluster}.node.a`, Buffer.from([1, 2, 3]));
      await nc.flush();
      await waitFor(() => eventsNamed(records, 'nats_bad_message').length > 0, { what: 'nats_bad_message logged' });
      const b = await natsNode('b', cluster);
      await waitFor(() => a.peers().includes('b') && b.peers().includes('a'), { what: 'a and b connected after the garbage' });
    } finally {
      await nc.close();
    }
  });
});

const serverBinary = natsServerBinary();
if (available && serverBinary === undefined && process.env['CI'] === 'true') throw new Error('CI=true: nats-server is not installed');

describe.skipIf(!available || serverBinary === undefined)('nats transport on a private nats-server', () => {
  const nodes: Node[] = [];
  const servers: PrivateNatsServer[] = [];
  afterEach(async () => {
    await Promise.all(nodes.splice(0).map((n) => n.stop()));
    await Promise.all(servers.splice(0).map((s) => s.kill()));
  });

  async function server(extraArgs: string[] = []): Promise<PrivateNatsServer> {
    const s = new PrivateNatsServer(await freePort(), extraArgs);
    servers.push(s);
    await s.start();
    return s;
  }

  async function pair(s: PrivateNatsServer, heartbeat: { intervalMs: number; timeoutMs: number }, records: LogRecord[] = []): Promise<[Node, Node]> {
    const cluster = uniqueCluster('private');
    const started: Node[] = [];
    for (const name of ['a', 'b']) {
      const node = await startNatsNode(name, { servers: s.url, cluster }, { heartbeat, reconnect: { initialMs: 50, maxMs: 300 }, logger: capturingLogger(records, { node: name }) });
      nodes.push(node);
      started.push(node);
    }
    const [a, b] = started as [Node, Node];
    await waitFor(() => a.peers().includes('b') && b.peers().includes('a'), { what: 'a and b connected' });
    return [a, b];
  }

  function collector(node: Node, into: unknown[]) {
    return node.spawn(async (ctx) => {
      for (;;) into.push(await ctx.receive());
    });
  }

  it('messages larger than the server max_payload (8 KiB here) are chunked and arrive intact', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rollcall-nats-'));
    const config = join(dir, 'small-payload.conf');
    writeFileSync(config, 'max_payload: 8192\n');
    const s = await server(['-c', config]);
    const [a, b] = await pair(s, { intervalMs: 100, timeoutMs: 2000 });
    const got: unknown[] = [];
    const target = collector(b, got);
    const big = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
    a.send(target, { i: 0 });
    a.send(target, { i: 1, big });
    a.send(target, { i: 2 });
    await waitFor(() => got.length === 3, { what: 'three messages' });
    const seen = got as Array<{ i: number; big?: Buffer }>;
    expect(seen.map((m) => m.i)).toEqual([0, 1, 2]);
    expect(Buffer.compare(seen[1]!.big!, big)).toBe(0);
    expect(a.peers()).toEqual(['b']);
  });

  it('a short server outage is invisible: no nodedown, every message exactly once and in order', async () => {
    const s = await server();
    const records: LogRecord[] = [];
    const [a, b] = await pair(s, { intervalMs: 200, timeoutMs: 20_000 }, records);
    const downs: string[] = [];
    for (const n of [a, b]) n.on('nodedown', (e) => downs.push(`${n.name}: ${e.node} ${e.reason}`));
    const got: number[] = [];
    const target = b.spawn(async (ctx) => {
      for (;;) got.push((await ctx.receive()) as number);
    });
    for (let i = 0; i < 2000; i++) a.send(target, i);
    await s.kill(); // some of these are still in flight
    for (let i = 2000; i < 3000; i++) a.send(target, i); // published while the server is away
    await waitFor(() => eventsNamed(records, 'nats_disconnected').length >= 2, { what: 'both clients notice the outage' });
    await s.start();
    await waitFor(() => eventsNamed(records, 'nats_reconnected').length >= 2, { what: 'both clients reconnect', timeoutMs: 15_000 });
    for (let i = 3000; i < 3500; i++) a.send(target, i);
    await waitFor(() => got.length >= 3500, { what: '3,500 messages', timeoutMs: 15_000 });
    expect(got).toEqual([...Array(3500).keys()]);
    expect(downs).toEqual([]);
  });

  it('an outage longer than the heartbeat timeout makes peers down; when the server returns they reconnect by themselves', async () => {
    const s = await server();
    const [a, b] = await pair(s, { intervalMs: 100, timeoutMs: 600 });
    const downs: string[] = [];
    const ups: string[] = [];
    for (const n of [a, b]) {
      n.on('nodedown', (e) => downs.push(`${n.name}: ${e.node} ${e.reason}`));
      n.on('nodeup', (e) => ups.push(`${n.name}: ${e.node}`));
    }
    await s.kill();
    await waitFor(() => downs.length === 2, { what: 'both sides see the peer down', timeoutMs: 5000 });
    expect(downs.sort()).toEqual(['a: b heartbeat_timeout', 'b: a heartbeat_timeout']);
    await s.start();
    await waitFor(() => a.peers().includes('b') && b.peers().includes('a'), { what: 'reconnected after the outage', timeoutMs: 15_000 });
    expect(ups.sort()).toEqual(['a: b', 'b: a']);
    const got: unknown[] = [];
    const target = collector(b, got);
    for (let i = 0; i < 100; i++) a.send(target, i);
    await waitFor(() => got.length === 100, { what: 'messages after the outage' });
    expect(got).toEqual([...Array(100).keys()]);
  });
});
