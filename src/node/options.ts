import { InvalidArgumentError } from '../errors.js';
import type { Clock } from '../time/clock.js';
import { realClock } from '../time/clock.js';
import type { Random } from '../time/random.js';
import { cryptoRandom } from '../time/random.js';
import type { Logger, LogLevel } from '../observability/logger.js';
import { defaultLogger } from '../observability/logger.js';
import type { TransportFactory } from '../transport/conduit.js';
import { tcp } from '../transport/tcp.js';
import { DEFAULT_MAX_PENDING_HANDSHAKES, type HeartbeatOptions, type ReconnectOptions } from '../transport/mesh.js';
import type { Discovery } from '../discovery/types.js';
import { seeds as seedDiscovery, validateNodeName } from '../discovery/seeds.js';
import { DEFAULT_MAX_FRAME_BYTES } from '../wire/frame.js';

export interface NodeOptions {
  /** This node's name, unique in the cluster: letters, digits, `_`, `-`, `.`. Required. */
  name: string;
  /** Shared secret every node of the cluster must have. Required for TCP. */
  cookie?: string | Buffer;
  /** Where to listen (TCP). Default 127.0.0.1 with an ephemeral port (0). */
  listen?: { host?: string; port?: number };
  /** The "host:port" peers should dial, when it differs from the bound address (NAT, 0.0.0.0). */
  advertise?: string;
  /** Nodes to join: "name@host:port" (or "host:port"); knowing one member is enough. */
  seeds?: string[];
  /** More discovery strategies (e.g. `dns({name})`). */
  discovery?: Discovery[];
  heartbeat?: Partial<HeartbeatOptions>;
  reconnect?: Partial<ReconnectOptions>;
  /** `tcp()` (default) or `memory(network)`. */
  transport?: TransportFactory;
  /** A pino-compatible logger. Default: pino to stdout at `logLevel`. */
  logger?: Logger;
  /** Level of the default logger. Default 'warn'. */
  logLevel?: LogLevel;
  /** Default timeout of `call()`. Default 5000 ms. */
  callTimeoutMs?: number;
  /** Largest frame accepted or sent. Default 8 MiB. */
  maxFrameBytes?: number;
  /** Bytes queued to one peer beyond which its link is dropped as overloaded. Default 64 MiB. */
  maxQueueBytes?: number;
  /**
   * An inbound connection must complete its handshake (authenticate with the cookie) within this
   * long, or it is closed. With TLS it also bounds the TLS handshake. Default 5000 ms.
   */
  handshakeTimeoutMs?: number;
  /**
   * Inbound connections still in their handshake (not yet authenticated) beyond which new ones are
   * closed at once, logged as `handshake_limit` (at most one line per 10 s). Bounds what a flood of
   * connections that never authenticate can hold; connected peers are not affected, and a refused
   * peer retries with backoff. With TLS the same bound applies, separately, to connections still
   * in the TLS handshake. Default 64.
   */
  maxPendingHandshakes?: number;
  /**
   * Default true: a process's pid follows its async call tree, so `self()` / `node.self()` work
   * anywhere in it and Group writes default to the calling process. On Node 20 that takes
   * AsyncLocalStorage, whose promise hooks every promise of the OS process then pays (local
   * delivery measured 2.1 M → 5.4 M messages/s without them). false: no such context; use
   * `ctx.self`, pass `{pid}` to Group writes; `self()` is undefined.
   */
  implicitSelf?: boolean;
  /** Time source (the simulation injects a virtual clock). */
  clock?: Clock;
  /** Randomness source (the simulation injects a seeded one). */
  random?: Random;
  /** @internal Tests only: the protocol version this node speaks (to test version mismatch). */
  protocolVersion?: number;
}

export interface ResolvedNodeOptions {
  readonly name: string;
  readonly cookie: Buffer;
  readonly listen: { readonly host: string; readonly port: number };
  readonly advertise: string | undefined;
  readonly discovery: Discovery[];
  readonly heartbeat: HeartbeatOptions;
  readonly reconnect: ReconnectOptions;
  readonly transport: TransportFactory;
  readonly logger: Logger;
  readonly callTimeoutMs: number;
  readonly maxFrameBytes: number;
  readonly maxQueueBytes: number;
  readonly handshakeTimeoutMs: number;
  readonly maxPendingHandshakes: number;
  readonly implicitSelf: boolean;
  readonly clock: Clock;
  readonly random: Random;
  readonly protocolVersion: number | undefined;
}

export const DEFAULTS = {
  heartbeat: { intervalMs: 500, timeoutMs: 2500 },
  reconnect: { initialMs: 100, maxMs: 2000, forgetAfterMs: 60 * 60 * 1000 },
  callTimeoutMs: 5000,
  maxFrameBytes: DEFAULT_MAX_FRAME_BYTES,
  maxQueueBytes: 64 * 1024 * 1024,
  handshakeTimeoutMs: 5000,
  maxPendingHandshakes: DEFAULT_MAX_PENDING_HANDSHAKES,
} as const;

const KNOWN = new Set([
  'name', 'cookie', 'listen', 'advertise', 'seeds', 'discovery', 'heartbeat', 'reconnect', 'transport', 'logger',
  'logLevel', 'callTimeoutMs', 'maxFrameBytes', 'maxQueueBytes', 'handshakeTimeoutMs', 'maxPendingHandshakes', 'implicitSelf', 'clock', 'random', 'protocolVersion',
]);

/** Validate every option with a message that says what to pass, and fill in the defaults. */
export function resolveNodeOptions(options: NodeOptions): ResolvedNodeOptions {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError('startNode(options) needs an options object, e.g. {name: "a", cookie: "secret"}');
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key)) throw new InvalidArgumentError(`unknown option "${key}" for startNode (known: ${[...KNOWN].join(', ')})`);
  }
  if (typeof options.name !== 'string') throw new InvalidArgumentError('startNode: "name" is required, e.g. {name: "a"}');
  validateNodeName(options.name);
  const transport = options.transport ?? tcp();
  if (typeof transport !== 'function') {
    throw new InvalidArgumentError('startNode: "transport" must be a transport factory such as tcp() or memory(network)');
  }
  // Every transport that leaves this OS process needs the cookie (TCP, TLS, NATS); only the
  // simulated network does not.
  const cookie = resolveCookie(options.cookie, (transport as { simulated?: boolean }).simulated !== true);
  const host = options.listen?.host ?? '127.0.0.1';
  const port = options.listen?.port ?? 0;
  if (typeof host !== 'string' || host === '') throw new InvalidArgumentError('startNode: listen.host must be a host name or IP, e.g. "127.0.0.1"');
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new InvalidArgumentError(`startNode: listen.port must be an integer 0..65535 (0 = ephemeral), got ${String(port)}`);
  }
  if (options.advertise !== undefined && (typeof options.advertise !== 'string' || options.advertise === '')) {
    throw new InvalidArgumentError('startNode: advertise must be "host:port"');
  }
  if (options.seeds !== undefined && !Array.isArray(options.seeds)) {
    throw new InvalidArgumentError('startNode: seeds must be an array of "name@host:port" strings');
  }
  const heartbeat = { ...DEFAULTS.heartbeat, ...options.heartbeat };
  positive('heartbeat.intervalMs', heartbeat.intervalMs);
  positive('heartbeat.timeoutMs', heartbeat.timeoutMs);
  if (heartbeat.timeoutMs <= heartbeat.intervalMs) {
    throw new InvalidArgumentError(
      `startNode: heartbeat.timeoutMs (${heartbeat.timeoutMs}) must be larger than heartbeat.intervalMs (${heartbeat.intervalMs}); a few intervals is usual`,
    );
  }
  const reconnect = { ...DEFAULTS.reconnect, ...options.reconnect };
  positive('reconnect.initialMs', reconnect.initialMs);
  positive('reconnect.maxMs', reconnect.maxMs);
  positive('reconnect.forgetAfterMs', reconnect.forgetAfterMs);
  const callTimeoutMs = options.callTimeoutMs ?? DEFAULTS.callTimeoutMs;
  positive('callTimeoutMs', callTimeoutMs);
  const maxFrameBytes = options.maxFrameBytes ?? DEFAULTS.maxFrameBytes;
  if (!Number.isInteger(maxFrameBytes) || maxFrameBytes < 1024 || maxFrameBytes > 2 ** 31) {
    throw new InvalidArgumentError('startNode: maxFrameBytes must be an integer between 1 KiB and 2 GiB');
  }
  const maxQueueBytes = options.maxQueueBytes ?? DEFAULTS.maxQueueBytes;
  if (!Number.isInteger(maxQueueBytes) || maxQueueBytes < maxFrameBytes) {
    throw new InvalidArgumentError('startNode: maxQueueBytes must be an integer at least as large as maxFrameBytes');
  }
  const handshakeTimeoutMs = options.handshakeTimeoutMs ?? DEFAULTS.handshakeTimeoutMs;
  positive('handshakeTimeoutMs', handshakeTimeoutMs);
  const maxPendingHandshakes = options.maxPendingHandshakes ?? DEFAULTS.maxPendingHandshakes;
  if (typeof maxPendingHandshakes !== 'number' || !Number.isInteger(maxPendingHandshakes) || maxPendingHandshakes < 1) {
    throw new InvalidArgumentError(`startNode: maxPendingHandshakes must be an integer >= 1 (default ${DEFAULTS.maxPendingHandshakes}), got ${String(maxPendingHandshakes)}`);
  }
  const implicitSelf = options.implicitSelf ?? true;
  if (typeof implicitSelf !== 'boolean') throw new InvalidArgumentError('startNode: implicitSelf must be true or false');
  // A transport with its own discovery (nats) proposes its nodes unless the caller chose.
  const ownDiscovery = (transport as { discovery?: () => Discovery }).discovery;
  const discovery = options.discovery !== undefined ? [...options.discovery] : typeof ownDiscovery === 'function' ? [ownDiscovery()] : [];
  if (options.seeds !== undefined && options.seeds.length > 0) discovery.unshift(seedDiscovery(options.seeds));
  return {
    name: options.name,
    cookie,
    listen: { host, port },
    advertise: options.advertise,
    discovery,
    heartbeat,
    reconnect,
    transport,
    logger: options.logger ?? defaultLogger(options.name, options.logLevel ?? 'warn'),
    callTimeoutMs,
    maxFrameBytes,
    maxQueueBytes,
    handshakeTimeoutMs,
    maxPendingHandshakes,
    implicitSelf,
    clock: options.clock ?? realClock,
    random: options.random ?? cryptoRandom,
    protocolVersion: options.protocolVersion,
  };
}

function resolveCookie(cookie: string | Buffer | undefined, required: boolean): Buffer {
  if (cookie === undefined) {
    if (required) {
      throw new InvalidArgumentError(
        'startNode: "cookie" is required for TCP, TLS and NATS: every node of a cluster must share the same secret (e.g. from ROLLCALL_COOKIE)',
      );
    }
    return Buffer.alloc(0);
  }
  if (typeof cookie === 'string') {
    if (cookie === '') throw new InvalidArgumentError('startNode: "cookie" must not be empty');
    return Buffer.from(cookie, 'utf8');
  }
  if (Buffer.isBuffer(cookie) && cookie.length > 0) return cookie;
  throw new InvalidArgumentError('startNode: "cookie" must be a non-empty string or Buffer');
}

function positive(name: string, value: unknown): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new InvalidArgumentError(`startNode: ${name} must be a positive number of milliseconds, got ${String(value)}`);
  }
}
