import net from 'node:net';
import tls from 'node:tls';
import { InvalidArgumentError } from '../errors.js';
import type { Conduit, ConduitHandlers, Connector, ConnectorDeps, TransportFactory } from './conduit.js';
import { Throttle } from './throttle.js';

export interface TlsOptions {
  /** PEM private key and certificate of this node. */
  readonly key: string | Buffer;
  readonly cert: string | Buffer;
  /** PEM CA certificate(s) that signed the peers' certificates. */
  readonly ca: string | Buffer | Array<string | Buffer>;
  /** Require and verify a client certificate on inbound connections (mTLS). Default true. */
  readonly requestCert?: boolean;
  /** Check that the peer's certificate names the host dialled. Default false: cluster certificates
   *  often name the node, not its IP; the CA check and the cookie still apply. */
  readonly verifyHostname?: boolean;
}

export interface TcpOptions {
  /** Encrypt links with TLS (and mutual authentication with `requestCert`). */
  readonly tls?: TlsOptions;
  /** Give up on a dial after this long. Default 5000 ms. */
  readonly connectTimeoutMs?: number;
}

/** The default transport: a full mesh of TCP (or TLS) connections. */
export function tcp(options: TcpOptions = {}): TransportFactory {
  return (deps) => new TcpConnector(options, deps);
}

/** Parse "host:port" or "[v6]:port". */
export function parseHostPort(address: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(address);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port < 1 || port > 65535) {
    throw new InvalidArgumentError(`not a TCP address: ${JSON.stringify(address)} (expected "host:port", e.g. "127.0.0.1:4370")`);
  }
  return { host: (m[1] ?? m[2])!, port };
}

class TcpConnector implements Connector {
  readonly kind: string;
  private readonly options: TcpOptions;
  private readonly deps: ConnectorDeps;
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();

  constructor(options: TcpOptions, deps: ConnectorDeps) {
    this.options = options;
    this.deps = deps;
    this.kind = options.tls ? 'tls' : 'tcp';
  }

  listen(onConduit: (conduit: Conduit) => void): Promise<string> {
    const { host, port } = this.deps.listen ?? { host: '127.0.0.1', port: 0 };
    const onSocket = (socket: net.Socket): void => {
      socket.setNoDelay(true);
      socket.setKeepAlive(true, 10_000);
      onConduit(this.wrap(socket));
    };
    const t = this.options.tls;
    const tlsPending = new TlsPending(this.deps.maxPendingHandshakes ?? DEFAULT_MAX_PENDING_TLS);
    const refused = new Throttle(this.deps.clock);
    const server = t
      ? tls.createServer(
          {
            key: t.key,
            cert: t.cert,
            ca: t.ca,
            requestCert: t.requestCert ?? true,
            rejectUnauthorized: true,
            // Node's default is 120 s: a client that connects and says nothing would hold a socket that long.
            handshakeTimeout: this.deps.handshakeTimeoutMs ?? DEFAULT_TLS_HANDSHAKE_MS,
          },
          (socket) => {
            tlsPending.secured(socket);
            onSocket(socket);
          },
        )
      : net.createServer({ noDelay: true }, onSocket);
    if (t) {
      // Connections still in the TLS handshake come before any link exists, so the mesh's bound on
      // pending handshakes cannot see them: the same bound applies here.
      server.on('connection', (socket: net.Socket) => {
        if (tlsPending.admit(socket)) return;
        socket.destroy();
        const count = refused.hit();
        if (count > 0) {
          const remote = remoteKey(socket);
          this.deps.logger.warn(
            { event: 'handshake_limit', remote, limit: tlsPending.limit, refused: count, total: refused.total },
            `refused ${count} connection(s) (latest from ${remote}): ${tlsPending.limit} TLS handshakes already pending (maxPendingHandshakes)`,
          );
        }
      });
    }
    // A TLS handshake failure (bad certificate, timeout) must not take the node down.
    server.on('tlsClientError', (error: Error, socket: tls.TLSSocket) => {
      // With a listener, Node leaves the socket open (measured: a client that never starts TLS
      // stays connected after ERR_TLS_HANDSHAKE_TIMEOUT): close it.
      socket.destroy();
      // Node destroys a socket whose client certificate fails verification and reports only
      // "socket hang up" (and no address): the verification error is what the operator needs.
      const rejected = socket.authorizationError as unknown;
      const why = rejected !== undefined && rejected !== null ? `client certificate rejected (${String(rejected)})` : error.message;
      const remote = socket.remoteAddress === undefined ? 'a client' : `${socket.remoteAddress}:${socket.remotePort}`;
      this.deps.logger.warn({ event: 'tls_client_error', remote, err: why }, `TLS handshake with ${remote} failed: ${why}`);
    });
    this.server = server;
    return new Promise((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException): void => {
        const message = error.code === 'EADDRINUSE' ? 'the port is in use. Choose another port, or 0 for an ephemeral one.' : error.message;
        // The cause keeps the errno code (EADDRINUSE, EADDRNOTAVAIL, EACCES) for callers such as the CLI.
        reject(Object.assign(new InvalidArgumentError(`cannot listen on ${host}:${port}: ${message}`), { cause: error }));
      };
      server.once('error', onError);
      server.listen(port, host, () => {
        server.off('error', onError);
        server.on('error', (error) => this.deps.logger.error({ event: 'listener_error', err: error.message }, 'listener error'));
        const bound = server.address() as net.AddressInfo;
        resolve(formatAddress(host, bound.port));
      });
    });
  }

  dial(address: string): Promise<Conduit> {
    const { host, port } = parseHostPort(address);
    const t = this.options.tls;
    return new Promise((resolve, reject) => {
      const socket = t
        ? tls.connect({
            host,
            port,
            key: t.key,
            cert: t.cert,
            ca: t.ca,
            rejectUnauthorized: true,
            ...(t.verifyHostname === true ? {} : { checkServerIdentity: () => undefined }),
          })
        : net.connect({ host, port, noDelay: true });
      const timer = this.deps.clock.setTimeout(() => {
        socket.destroy();
        reject(new Error(`connect to ${address} timed out`));
      }, this.options.connectTimeoutMs ?? 5000);
      const onError = (error: Error): void => {
        timer.cancel();
        socket.destroy();
        reject(error);
      };
      socket.once('error', onError);
      socket.once(t ? 'secureConnect' : 'connect', () => {
        timer.cancel();
        socket.off('error', onError);
        socket.setNoDelay(true);
        socket.setKeepAlive(true, 10_000);
        resolve(this.wrap(socket));
      });
    });
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    // Give graceful ends (LEAVE frames) a moment to flush, then make sure nothing keeps the
    // process alive.
    for (const socket of this.sockets) socket.end();
    if (this.sockets.size > 0) {
      await new Promise<void>((resolve) => {
        const timer = this.deps.clock.setTimeout(resolve, 500);
        let open = this.sockets.size;
        for (const socket of this.sockets) {
          socket.once('close', () => {
            if (--open === 0) {
              timer.cancel();
              resolve();
            }
          });
        }
      });
    }
    for (const socket of this.sockets) socket.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private wrap(socket: net.Socket): Conduit {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    return new SocketConduit(socket);
  }
}

const DEFAULT_TLS_HANDSHAKE_MS = 5000;
const DEFAULT_MAX_PENDING_TLS = 64;

/** Raw connections of a TLS listener whose TLS handshake has not completed (nor failed) yet. */
class TlsPending {
  private readonly sockets = new Map<string, net.Socket>();

  constructor(readonly limit: number) {}

  /** Track a new raw connection; false when the limit is reached (the caller closes it). */
  admit(socket: net.Socket): boolean {
    if (this.sockets.size >= this.limit) return false;
    const key = remoteKey(socket);
    this.sockets.set(key, socket);
    socket.once('close', () => {
      if (this.sockets.get(key) === socket) this.sockets.delete(key);
    });
    return true;
  }

  /** Its handshake completed: it is the mesh's to bound now. */
  secured(socket: tls.TLSSocket): void {
    this.sockets.delete(remoteKey(socket));
  }
}

/** The remote end of a connection: the TLS socket of a handshake reports the same as its raw socket. */
function remoteKey(socket: net.Socket): string {
  return `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
}

class SocketConduit implements Conduit {
  readonly remoteLabel: string;
  private readonly socket: net.Socket;
  private lastError: Error | undefined;

  constructor(socket: net.Socket) {
    this.socket = socket;
    this.remoteLabel = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    // Errors are reported through onClose; an 'error' event without a listener would crash.
    socket.on('error', (error) => {
      this.lastError = error;
    });
  }

  write(data: Buffer): boolean {
    return this.socket.write(data);
  }

  end(): void {
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  setHandlers(handlers: ConduitHandlers): void {
    this.socket.on('data', (chunk: Buffer) => handlers.onData(chunk));
    this.socket.on('drain', () => handlers.onDrain());
    this.socket.once('close', () => handlers.onClose(this.lastError));
  }
}

function formatAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
