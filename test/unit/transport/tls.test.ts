/**
 * TLS and mutual TLS over real TCP on 127.0.0.1. A CA, node certificates it signs, and a second
 * CA with a certificate of its own are made with the openssl CLI at setup, in a temp dir.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CallRequest, startNode, tcp, type Logger, type Node, type NodeOptions, type TlsOptions } from '../../../src/index.js';
import { silentLogger } from '../../../src/internal.js';
import { waitFor } from '../../support/wait.js';

const OPENSSL = findOpenssl();

function findOpenssl(): string | undefined {
  for (const candidate of ['/usr/bin/openssl', 'openssl']) {
    try {
      execFileSync(candidate, ['version'], { stdio: 'ignore' });
      return candidate;
    } catch {
      // try the next one
    }
  }
  return undefined;
}

interface Pem {
  key: string;
  cert: string;
}

interface Pki {
  ca: string;
  otherCa: string;
  nodes: Record<'a' | 'b' | 'c', Pem>;
  /** Signed by the other CA. */
  intruder: Pem;
}

/** Make a CA (EC P-256: fast) and certificates it signs for `names`. */
function makePki(dir: string): Pki {
  const run = (...args: string[]): void => {
    execFileSync(OPENSSL!, args, { cwd: dir, stdio: 'pipe' });
  };
  const read = (file: string): string => readFileSync(join(dir, file), 'utf8');
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  writeFileSync(
    join(dir, 'leaf.ext'),
    'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n',
  );
  const makeCa = (name: string): string => {
    run('req', '-x509', ...ec, '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=${name}`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
    return read(`${name}.crt`);
  };
  const makeLeaf = (name: string, ca: string): Pem => {
    run('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
    run('x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial',
      '-out', `${name}.crt`, '-days', '2', '-extfile', 'leaf.ext');
    return { key: read(`${name}.key`), cert: read(`${name}.crt`) };
  };
  const ca = makeCa('cluster-ca');
  const otherCa = makeCa('other-ca');
  return {
    ca,
    otherCa,
    nodes: { a: makeLeaf('a', 'cluster-ca'), b: makeLeaf('b', 'cluster-ca'), c: makeLeaf('c', 'cluster-ca') },
    intruder: makeLeaf('intruder', 'other-ca'),
  };
}

interface LogRecord {
  level: string;
  event: unknown;
  text: string;
}

/** A Logger that keeps every record, to wait for (and check) what the transport reported. */
function capturingLogger(records: LogRecord[]): Logger {
  const at =
    (level: string) =>
    (obj: object, msg?: string): void => {
      records.push({ level, event: (obj as { event?: unknown }).event, text: `${msg ?? ''} ${JSON.stringify(obj)}` });
    };
  const logger: Logger = {
    level: 'debug',
    error: at('error'),
    warn: at('warn'),
    info: at('info'),
    debug: at('debug'),
    child: () => logger,
  };
  return logger;
}

const title = OPENSSL === undefined ? 'tcp transport with TLS (SKIPPED: the openssl CLI was not found, it makes the test certificates)' : 'tcp transport with TLS';

describe.skipIf(OPENSSL === undefined)(title, () => {
  let dir: string;
  let pki: Pki;
  const nodes: Node[] = [];

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'rollcall-tls-'));
    pki = makePki(dir);
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  afterEach(async () => {
    await Promise.all(nodes.splice(0).map((n) => n.stop()));
  });

  async function start(name: string, tls: TlsOptions | undefined, options: Partial<NodeOptions> = {}): Promise<Node> {
    const node = await startNode({
      name,
      cookie: 'tls-test',
      transport: tcp(tls === undefined ? {} : { tls }),
      heartbeat: { intervalMs: 100, timeoutMs: 1000 },
      reconnect: { initialMs: 50, maxMs: 300 },
      logger: silentLogger(),
      ...options,
    });
    nodes.push(node);
    return node;
  }

  const tlsOf = (name: 'a' | 'b' | 'c', extra: Partial<TlsOptions> = {}): TlsOptions => ({ ...pki.nodes[name], ca: pki.ca, ...extra });

  function echo(node: Node): void {
    const pid = node.spawn(async (ctx) => {
      for (;;) {
        const message = await ctx.receive();
        if (message instanceof CallRequest) message.reply({ echoed: message.request, by: node.name });
      }
    });
    node.register('echo', pid);
  }

  const connected = (x: Node, y: Node): boolean => x.peers().includes(y.name) && y.peers().includes(x.name);

  it('two nodes with certificates of the cluster CA connect and exchange a call', async () => {
    const a = await start('a', tlsOf('a'));
    const b = await start('b', tlsOf('b'), { seeds: [a.seed] });
    await waitFor(() => connected(a, b), { what: 'a and b connected over TLS' });
    echo(b);
    expect(await a.call({ name: 'echo', node: 'b' }, 'over tls')).toEqual({ echoed: 'over tls', by: 'b' });
    echo(a);
    expect(await b.call({ name: 'echo', node: 'a' }, Buffer.from('bytes'))).toEqual({ echoed: Buffer.from('bytes'), by: 'a' });
  });

  it('a node whose certificate another CA signed cannot connect; both survive and a keeps serving others', async () => {
    const logA: LogRecord[] = [];
    const a = await start('a', tlsOf('a'), { logger: capturingLogger(logA) });
    const b = await start('b', tlsOf('b'), { seeds: [a.seed] });
    await waitFor(() => connected(a, b), { what: 'a and b connected' });
    echo(a);

    // The intruder trusts the cluster CA (so it accepts a's certificate): only a's check of the
    // intruder's certificate stands in the way.
    const logIntruder: LogRecord[] = [];
    const intruder = await start('intruder', { ...pki.intruder, ca: [pki.ca, pki.otherCa] }, { seeds: [a.seed], logger: capturingLogger(logIntruder) });
    await waitFor(() => logA.some((r) => r.event === 'tls_client_error'), { what: 'a refuses the intruder certificate' });
    // The log says why (Node itself reports only "socket hang up").
    expect(logA.find((r) => r.event === 'tls_client_error')!.text).toMatch(/client certificate rejected/);
    // And a dialling the intruder fails too: a does not trust the intruder's server certificate.
    a.connect(intruder.seed);
    await waitFor(() => logA.some((r) => r.event === 'dial_failed' && r.text.includes(intruder.address)), { what: 'a cannot dial the intruder' });

    expect(intruder.peers()).toEqual([]);
    expect(a.peers()).toEqual(['b']);
    expect(a.running && intruder.running).toBe(true);
    expect(logIntruder.some((r) => r.event === 'nodeup')).toBe(false);

    // a still serves its cluster: the existing peer and a newcomer with a good certificate.
    expect(await b.call({ name: 'echo', node: 'a' }, 1)).toEqual({ echoed: 1, by: 'a' });
    const c = await start('c', tlsOf('c'), { seeds: [a.seed] });
    await waitFor(() => connected(a, c), { what: 'c connected to a' });
    expect(await c.call({ name: 'echo', node: 'a' }, 2)).toEqual({ echoed: 2, by: 'a' });
    expect(intruder.peers()).toEqual([]);
  });

  it('a plain TCP node cannot connect to a TLS node', async () => {
    const logA: LogRecord[] = [];
    const a = await start('a', tlsOf('a'), { logger: capturingLogger(logA) });
    const b = await start('b', tlsOf('b'), { seeds: [a.seed] });
    await waitFor(() => connected(a, b), { what: 'a and b connected' });
    const plain = await start('plain', undefined, { seeds: [a.seed] });
    await waitFor(() => logA.some((r) => r.event === 'tls_client_error'), { what: 'a rejects the plaintext connection' });
    expect(plain.peers()).toEqual([]);
    expect(a.peers()).toEqual(['b']);
    expect(plain.running && a.running).toBe(true);
    echo(a);
    expect(await b.call({ name: 'echo', node: 'a' }, 'still here')).toEqual({ echoed: 'still here', by: 'a' });
  });

  it('mutual TLS: a client without a certificate is refused (and accepted when a does not require one)', async () => {
    const noCertificate = { ca: pki.ca } as unknown as TlsOptions;

    const logStrict: LogRecord[] = [];
    const strict = await start('a', tlsOf('a'), { logger: capturingLogger(logStrict) });
    const anonymous = await start('anon', noCertificate, { seeds: [strict.seed] });
    await waitFor(() => logStrict.some((r) => r.event === 'tls_client_error'), { what: 'a refuses the client without a certificate' });
    expect(logStrict.find((r) => r.event === 'tls_client_error')!.text).toMatch(/certificate/i);
    expect(anonymous.peers()).toEqual([]);
    expect(strict.peers()).toEqual([]);

    // Control: the same client is welcome where client certificates are not required, so the
    // refusal above is the mTLS check and nothing else.
    const lenient = await start('b', tlsOf('b', { requestCert: false }));
    anonymous.connect(lenient.seed);
    await waitFor(() => connected(lenient, anonymous), { what: 'the anonymous client connects to a lenient node' });
    expect(anonymous.peers()).toEqual(['b']);
  });
});
