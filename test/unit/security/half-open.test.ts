/**
 * Half-open connections on real sockets, where the point is the socket: TCP and TLS nodes on
 * 127.0.0.1 bound what connections that never authenticate can hold (maxPendingHandshakes) and
 * close them after handshakeTimeoutMs, including a TLS client that never starts TLS; and an
 * address a peer advertises that cannot be dialled is a failed dial, not a crash. The same logic
 * in virtual time, with every handshake variant: test/unit/transport/handshake.test.ts.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Server, startNode, tcp, type Node, type NodeOptions, type TlsOptions } from '../../../src/index.js';
import { capturingLogger, eventsNamed, type LogRecord } from '../../support/log-capture.js';
import { RawPeer } from '../../support/raw-peer.js';
import { waitFor } from '../../support/wait.js';

const HANDSHAKE_TIMEOUT_MS = 1000;

const nodes: Node[] = [];
const raws: RawPeer[] = [];
afterEach(async () => {
  for (const raw of raws.splice(0)) raw.close();
  await Promise.all(nodes.splice(0).map((n) => n.stop()));
});

class Echo extends Server<void> {
  override handleCall(request: unknown): unknown {
    return request;
  }
}

async function start(name: string, options: Partial<NodeOptions> = {}): Promise<{ node: Node; logs: LogRecord[] }> {
  const logs: LogRecord[] = [];
  const node = await startNode({
    name,
    cookie: 'half-open',
    heartbeat: { intervalMs: 200, timeoutMs: 5000 },
    reconnect: { initialMs: 50, maxMs: 300 },
    handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS,
    logger: capturingLogger(logs),
    ...options,
  });
  nodes.push(node);
  return { node, logs };
}

async function expectCallWorks(from: Node, to: Node): Promise<void> {
  const echo = to.spawn(Echo, undefined);
  expect(await from.call(echo, 'hello')).toBe('hello');
}

/** Open `count` connections to `address` that say nothing. */
async function silent(address: string, count: number): Promise<RawPeer[]> {
  const opened = await Promise.all(Array.from({ length: count }, () => RawPeer.tcp(address)));
  raws.push(...opened);
  return opened;
}

/** The limit test, for a node made by `startA` and its peer made by `startPeer`. */
async function floodAndRecover(startA: (limit: number) => Promise<{ node: Node; logs: LogRecord[] }>, startPeer: (name: string, seed: string) => Promise<Node>): Promise<void> {
  const LIMIT = 8;
  const a = await startA(LIMIT);
  const b = await startPeer('b', a.node.seed);
  await waitFor(() => a.node.peers().includes('b'), { what: 'a and b connected' });
  const openedAt = performance.now();
  const flood = await silent(a.node.address, 40);
  // Everything beyond the limit is closed at once, long before the handshake timeout.
  await waitFor(() => flood.filter((r) => r.closedByRemote).length >= 40 - LIMIT, { timeoutMs: 5000, what: 'the excess connections closed' });
  const early = flood.filter((r) => r.closedByRemote).length;
  expect(early).toBeLessThanOrEqual(40 - LIMIT + 2); // +2: a connection or two may already have timed out on a slow machine
  expect(eventsNamed(a.logs, 'handshake_limit').length).toBeGreaterThanOrEqual(1);
  expect(eventsNamed(a.logs, 'handshake_limit')[0]).toMatchObject({ level: 'warn', limit: LIMIT });
  await expectCallWorks(a.node, b);
  // The held ones go at the handshake timeout (generous bound: a loaded 2-core machine).
  await waitFor(() => flood.every((r) => r.closedByRemote), { timeoutMs: HANDSHAKE_TIMEOUT_MS + 4000, what: 'the held connections timed out' });
  expect(performance.now() - openedAt).toBeGreaterThanOrEqual(HANDSHAKE_TIMEOUT_MS - 50);
  // And a legitimate newcomer gets in.
  const c = await startPeer('c', a.node.seed);
  await waitFor(() => a.node.peers().includes('c') && c.peers().includes('a'), { timeoutMs: 10_000, what: 'c connected to a' });
  expect(a.node.peers()).toContain('b');
}

describe('TCP', () => {
  it('beyond maxPendingHandshakes connections are closed at once; the rest at handshakeTimeoutMs; peers keep working; a newcomer gets in', async () => {
    await floodAndRecover(
      (limit) => start('a', { maxPendingHandshakes: limit }),
      async (name, seed) => (await start(name, { seeds: [seed] })).node,
    );
  });

  it('a peer advertising an address that cannot be dialled: when its link drops, the retry is a failed dial, not a crash', async () => {
    const a = await start('a');
    const b = await start('b', { seeds: [a.node.seed], advertise: 'not-an-address' });
    await waitFor(() => a.node.peers().includes('b'), { what: 'a and b connected' });
    b.node.block('a', { in: false, out: true }); // b does not redial a: a's own redial is what happens
    a.node.disconnect('b');
    await waitFor(() => eventsNamed(a.logs, 'dial_failed').filter((r) => r['address'] === 'not-an-address').length >= 2, { what: 'failed redials' });
    expect(eventsNamed(a.logs, 'dial_failed')[0]?.['err']).toMatch(/not a TCP address/);
    // b redials a itself (it knows a's real address): the pair is whole again.
    b.node.unblock('a');
    b.node.connect(a.node.seed);
    await waitFor(() => a.node.peers().includes('b') && b.node.peers().includes('a'), { timeoutMs: 10_000, what: 'b reconnected' });
    await expectCallWorks(a.node, b.node);
  });
});

const OPENSSL = ['/usr/bin/openssl', 'openssl'].find((candidate) => {
  try {
    execFileSync(candidate, ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
});

describe.skipIf(OPENSSL === undefined)('TLS (certificates made with the openssl CLI; skipped without it)', () => {
  let dir: string;
  let tls: TlsOptions;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'rollcall-half-open-'));
    // One self-signed certificate that is its own CA: every node presents it and trusts it.
    execFileSync(OPENSSL!, [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'node.key', '-out', 'node.crt',
      '-days', '2', '-subj', '/CN=node', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'subjectAltName=IP:127.0.0.1',
      '-addext', 'keyUsage=critical,digitalSignature,keyCertSign', '-addext', 'extendedKeyUsage=serverAuth,clientAuth',
    ], { cwd: dir, stdio: 'pipe' });
    const cert = readFileSync(join(dir, 'node.crt'), 'utf8');
    tls = { key: readFileSync(join(dir, 'node.key'), 'utf8'), cert, ca: cert };
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('a client that connects and never starts TLS is closed at handshakeTimeoutMs (Node would keep it open)', async () => {
    const a = await start('a', { transport: tcp({ tls }) });
    const [raw] = await silent(a.node.address, 1);
    const openedAt = performance.now();
    await waitFor(() => raw!.closedByRemote, { timeoutMs: HANDSHAKE_TIMEOUT_MS + 4000, what: 'the silent TLS client closed' });
    expect(performance.now() - openedAt).toBeGreaterThanOrEqual(HANDSHAKE_TIMEOUT_MS - 50);
    expect(eventsNamed(a.logs, 'tls_client_error')[0]?.['err']).toMatch(/handshake timeout/i);
  });

  it('connections still in the TLS handshake are bounded by maxPendingHandshakes too', async () => {
    await floodAndRecover(
      (limit) => start('a', { transport: tcp({ tls }), maxPendingHandshakes: limit }),
      async (name, seed) => (await start(name, { transport: tcp({ tls }), seeds: [seed] })).node,
    );
  });
});
