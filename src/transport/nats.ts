import { readFile } from 'node:fs/promises';
import { InvalidArgumentError } from '../errors.js';
import type { Timer } from '../time/clock.js';
import type { Conduit, Connector, ConnectorDeps, TransportFactory } from './conduit.js';
import { loadNatsClient, type NatsClientModule, type NatsConnection, type NatsMessage, type NatsStatus } from './nats-client.js';
import { HEADER_BYTES, Kind, NatsConduit, bodyOf, decodeHeader, encodeMessage, type ConduitPort } from './nats-conduit.js';
import { DirectoryDiscovery, PeerDirectory, type NatsDiscovery } from './nats-discovery.js';
import { Throttle } from './throttle.js';

/** TLS to the NATS server, passed to the client as is (its Node TLS options). */
export interface NatsTlsOptions {
  readonly caFile?: string;
  readonly certFile?: string;
  readonly keyFile?: string;
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
  readonly handshakeFirst?: boolean;
  readonly rejectUnauthorized?: boolean;
}

export interface NatsOptions {
  /** NATS server URL(s). Default "nats://127.0.0.1:4222". */
  readonly servers?: string | readonly string[];
  /**
   * The Rollcall cluster's name on this NATS account: its nodes' subjects all start with
   * `<subjectPrefix>.<cluster>.`, so several clusters can share a server without seeing each
   * other. Letters, digits, `_`, `-`. Default "default".
   */
  readonly cluster?: string;
  /** First token(s) of every subject. Default "rollcall". */
  readonly subjectPrefix?: string;
  /** User and password, or a token, for servers that require them. */
  readonly user?: string;
  readonly pass?: string;
  readonly token?: string;
  /** Path of a `.creds` file (JWT + NKey seed, decentralized auth); read when the node starts. */
  readonly credsFile?: string;
  /**
   * Any authenticator of the client, e.g. `nkeyAuthenticator(seed)` or `credsAuthenticator(bytes)`
   * from `@nats-io/transport-node` (or an array of them). Not with `credsFile`.
   */
  readonly authenticator?: unknown;
  /** TLS to the server: `{}` to require it, or CA / client certificate files. */
  readonly tls?: NatsTlsOptions | null;
  /** Give up opening a connection to a peer after this long. Default 5000 ms. */
  readonly connectTimeoutMs?: number;
  /**
   * Bytes sent to one peer and not yet acknowledged by it beyond which the link waits (the
   * flow-control window, like a TCP window). Default 4 MiB.
   */
  readonly windowBytes?: number;
  /** Re-announce this node on the cluster subject this often (discovery). Default 5000 ms. */
  readonly announceMs?: number;
  /**
   * More options for the client's `connect()` (e.g. `{pingInterval, reconnectTimeWait, inboxPrefix}`),
   * passed through. The options above take precedence.
   */
  readonly connection?: Readonly<Record<string, unknown>>;
  /** @internal Tests: the module loaded instead of `@nats-io/transport-node`. */
  readonly clientModule?: string;
}

/** What `nats()` returns: the node's `transport`, and the source of its `discovery`. */
export interface NatsTransport extends TransportFactory {
  /** The cluster name (the subjects' second part). */
  readonly cluster: string;
  /**
   * A discovery that proposes the nodes announced on this transport's cluster subject. One per
   * node: `startNode({transport: t, discovery: [t.discovery()]})`.
   */
  discovery(options?: { refreshMs?: number }): NatsDiscovery;
}

interface NatsConfig {
  readonly servers: string[];
  readonly cluster: string;
  readonly base: string;
  readonly auth: Readonly<Record<string, unknown>>;
  readonly credsFile: string | undefined;
  readonly tls: NatsTlsOptions | null | undefined;
  readonly connectTimeoutMs: number;
  readonly windowBytes: number;
  readonly announceMs: number;
  readonly connection: Readonly<Record<string, unknown>>;
  readonly clientModule: string | undefined;
}

const KNOWN = new Set([
  'servers', 'cluster', 'subjectPrefix', 'user', 'pass', 'token', 'credsFile', 'authenticator', 'tls',
  'connectTimeoutMs', 'windowBytes', 'announceMs', 'connection', 'clientModule',
]);
const TOKEN = /^[A-Za-z0-9_-]{1,64}$/;
const PREFIX = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;
const NODE_NAME = /^[A-Za-z0-9_.-]{1,255}$/;
/** A message body larger than this is split even when the server allows more. */
const MAX_CHUNK_BYTES = 1024 * 1024;
/** The server's default max_payload, used until the first connect tells the real one. */
const DEFAULT_MAX_PAYLOAD = 1024 * 1024;
const LINGER_MS = 2000;
const CLOSE_GRACE_MS = 500;

/**
 * Run the cluster over NATS: every node is a NATS client, links are virtual connections on
 * subjects of the cluster (`<prefix>.<cluster>.node.<name>` to open one, a per-node inbox for the
 * bytes), and nodes find each other on `<prefix>.<cluster>.announce`. The cookie handshake,
 * heartbeats, batching and everything above the transport are unchanged.
 *
 * ```ts
 * const transport = nats({ servers: 'nats://10.0.0.2:4222', cluster: 'prod' });
 * await startNode({ name: 'a', cookie, transport, discovery: [transport.discovery()] });
 * ```
 *
 * Needs the optional peer dependency `@nats-io/transport-node` (loaded when the node starts).
 */
export function nats(options: NatsOptions = {}): NatsTransport {
  const config = resolveNatsOptions(options);
  const directory = new PeerDirectory();
  const discovery: NatsTransport['discovery'] = (discoveryOptions = {}) => {
    const refreshMs = discoveryOptions.refreshMs ?? config.announceMs;
    positive('discovery({refreshMs})', refreshMs);
    return new DirectoryDiscovery(directory, refreshMs);
  };
  const factory = (deps: ConnectorDeps): Connector => new NatsConnector(config, deps, directory);
  return Object.assign(factory, { cluster: config.cluster, discovery });
}

function resolveNatsOptions(options: NatsOptions): NatsConfig {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError('nats(options) takes an options object, e.g. nats({ servers: "nats://127.0.0.1:4222", cluster: "prod" })');
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key)) throw new InvalidArgumentError(`nats: unknown option "${key}" (known: ${[...KNOWN].filter((k) => k !== 'clientModule').join(', ')})`);
  }
  const servers = options.servers ?? 'nats://127.0.0.1:4222';
  const list = typeof servers === 'string' ? [servers] : Array.isArray(servers) ? [...(servers as string[])] : [];
  if (list.length === 0 || list.some((s) => typeof s !== 'string' || s.trim() === '')) {
    throw new InvalidArgumentError(`nats: servers must be a URL or a non-empty array of URLs, e.g. "nats://127.0.0.1:4222", got ${JSON.stringify(servers)}`);
  }
  const cluster = options.cluster ?? 'default';
  if (typeof cluster !== 'string' || !TOKEN.test(cluster)) {
    throw new InvalidArgumentError(`nats: cluster must be 1 to 64 letters, digits, "_" or "-" (it becomes a subject token), got ${JSON.stringify(cluster)}`);
  }
  const prefix = options.subjectPrefix ?? 'rollcall';
  if (typeof prefix !== 'string' || !PREFIX.test(prefix)) {
    throw new InvalidArgumentError(`nats: subjectPrefix must be subject tokens of letters, digits, "_" or "-" separated by ".", e.g. "rollcall" or "apps.rollcall", got ${JSON.stringify(prefix)}`);
  }
  for (const key of ['user', 'pass', 'token', 'credsFile'] as const) {
    if (options[key] !== undefined && (typeof options[key] !== 'string' || options[key] === '')) {
      throw new InvalidArgumentError(`nats: ${key} must be a non-empty string`);
    }
  }
  if (options.credsFile !== undefined && options.authenticator !== undefined) {
    throw new InvalidArgumentError('nats: give either credsFile or authenticator, not both (credsFile is credsAuthenticator(<the file>))');
  }
  if (options.authenticator !== undefined && typeof options.authenticator !== 'function' && !Array.isArray(options.authenticator)) {
    throw new InvalidArgumentError('nats: authenticator must be an authenticator function of @nats-io/transport-node (e.g. nkeyAuthenticator(seed)) or an array of them');
  }
  if (options.tls !== undefined && options.tls !== null && typeof options.tls !== 'object') {
    throw new InvalidArgumentError('nats: tls must be an object ({} to require TLS, or {caFile, certFile, keyFile, ...}) or null');
  }
  if (options.connection !== undefined && (typeof options.connection !== 'object' || options.connection === null)) {
    throw new InvalidArgumentError('nats: connection must be an object of @nats-io/transport-node connect() options');
  }
  const connectTimeoutMs = options.connectTimeoutMs ?? 5000;
  positive('connectTimeoutMs', connectTimeoutMs);
  const windowBytes = options.windowBytes ?? 4 * 1024 * 1024;
  if (!Number.isInteger(windowBytes) || windowBytes < 64 * 1024) {
    throw new InvalidArgumentError(`nats: windowBytes must be an integer of at least 65536, got ${String(windowBytes)}`);
  }
  const announceMs = options.announceMs ?? 5000;
  positive('announceMs', announceMs);
  const auth: Record<string, unknown> = {};
  for (const key of ['user', 'pass', 'token', 'authenticator'] as const) if (options[key] !== undefined) auth[key] = options[key];
  return {
    servers: list,
    cluster,
    base: `${prefix}.${cluster}`,
    auth,
    credsFile: options.credsFile,
    tls: options.tls,
    connectTimeoutMs,
    windowBytes,
    announceMs,
    connection: options.connection ?? {},
    clientModule: options.clientModule,
  };
}

function positive(name: string, value: unknown): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new InvalidArgumentError(`nats: ${name} must be a positive number of milliseconds, got ${String(value)}`);
  }
}

/** The client options: reconnect for ever, notice a dead server within seconds; the user's on top. */
async function connectOptions(config: NatsConfig, client: NatsClientModule, nodeName: string): Promise<Record<string, unknown>> {
  const options: Record<string, unknown> = {
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    pingInterval: 5000,
    maxPingOut: 3,
    name: `rollcall ${config.cluster}/${nodeName}`,
    ...config.connection,
    servers: config.servers,
    ...config.auth,
  };
  if (config.tls !== undefined) options['tls'] = config.tls;
  if (config.credsFile !== undefined) {
    let creds: Buffer;
    try {
      creds = await readFile(config.credsFile);
    } catch (error) {
      throw new InvalidArgumentError(`nats: cannot read credsFile ${JSON.stringify(config.credsFile)}: ${(error as Error).message}`);
    }
    options['authenticator'] = client.credsAuthenticator(new Uint8Array(creds));
  }
  return options;
}

interface Announcement {
  readonly t: 'here' | 'query' | 'bye';
  readonly name: string;
  readonly uid: string;
}

class NatsConnector implements Connector, ConduitPort {
  readonly kind = 'nats';
  readonly clock: ConnectorDeps['clock'];
  readonly windowBytes: number;
  readonly ackBytes: number;
  readonly lingerMs = LINGER_MS;
  private readonly config: NatsConfig;
  private readonly deps: ConnectorDeps;
  private readonly directory: PeerDirectory;
  private readonly uid: string;
  private readonly dataSubject: string;
  private readonly announceSubject: string;
  private readonly conduits = new Map<number, NatsConduit>();
  private nc: NatsConnection | undefined;
  private onConduit: ((conduit: Conduit) => void) | undefined;
  private announceTimer: Timer | undefined;
  private maxPayload = DEFAULT_MAX_PAYLOAD;
  private closing = false;
  private listening = false;
  /** Between a 'disconnect' and the next 'reconnect' of the client. */
  private disconnected = false;
  /** Dials waiting for their answer: failed at once when the client loses its server. */
  private readonly pendingDials = new Set<(error: Error) => void>();
  private quiet: (() => void) | undefined;
  private readonly dropped: Throttle;
  private readonly duplicateName: Throttle;

  constructor(config: NatsConfig, deps: ConnectorDeps, directory: PeerDirectory) {
    this.config = config;
    this.deps = deps;
    this.directory = directory;
    this.clock = deps.clock;
    this.windowBytes = config.windowBytes;
    this.ackBytes = Math.max(16 * 1024, Math.floor(config.windowBytes / 4));
    this.uid = deps.random.bytes(9).toString('hex');
    this.dataSubject = `${config.base}.conn.${this.uid}`;
    this.announceSubject = `${config.base}.announce`;
    this.dropped = new Throttle(deps.clock);
    this.duplicateName = new Throttle(deps.clock);
  }

  async listen(onConduit: (conduit: Conduit) => void): Promise<string> {
    if (this.nc !== undefined || this.closing) throw new InvalidArgumentError('nats transport: listen() was already called');
    const client = await loadNatsClient(this.config.clientModule);
    const options = await connectOptions(this.config, client, this.deps.nodeName);
    let nc: NatsConnection;
    try {
      nc = await client.connect(options);
    } catch (error) {
      throw new InvalidArgumentError(`nats transport: cannot connect to NATS at ${this.config.servers.join(', ')}: ${(error as Error).message}`);
    }
    this.nc = nc;
    this.onConduit = onConduit;
    this.rememberMaxPayload();
    nc.subscribe(this.openSubject(this.deps.nodeName), { callback: (error, message) => this.guard(error, () => this.onOpen(message)) });
    nc.subscribe(this.dataSubject, { callback: (error, message) => this.guard(error, () => this.onMessage(message)) });
    nc.subscribe(this.announceSubject, { callback: (error, message) => this.guard(error, () => this.onAnnounce(message)) });
    try {
      // Peers learn of us only once the server has our subscriptions.
      await nc.flush();
    } catch (error) {
      await nc.close().catch(() => undefined);
      throw new InvalidArgumentError(`nats transport: NATS at ${this.config.servers.join(', ')} did not confirm the subscriptions: ${(error as Error).message}`);
    }
    this.listening = true;
    this.directory.listening++;
    this.watch(nc);
    this.announce('here');
    this.announce('query');
    this.announceTimer = this.clock.setInterval(() => this.announce('here'), this.config.announceMs);
    this.deps.logger.info(
      { event: 'nats_connected', server: nc.getServer(), cluster: this.config.cluster, maxPayload: this.maxPayload },
      `connected to NATS at ${nc.getServer()} (cluster "${this.config.cluster}")`,
    );
    // The address a peer dials is the node name: the subject follows from it.
    return this.deps.nodeName;
  }

  async dial(address: string): Promise<Conduit> {
    const nc = this.nc;
    if (nc === undefined || this.closing) throw new Error('nats transport: not connected to NATS (the node is not running)');
    if (typeof address !== 'string' || !NODE_NAME.test(address)) {
      throw new InvalidArgumentError(`nats transport: ${JSON.stringify(address)} is not a node name (over NATS a node's address is its name)`);
    }
    // The request could not get through, and would hold the dial (and the peer's reconnection
    // after the outage) for the whole connect timeout.
    if (this.disconnected) throw new Error(`cannot reach ${address}: this node has lost its NATS server (reconnecting)`);
    const conduit = this.newConduit(address);
    const open = encodeMessage(Kind.OPEN, 0, conduit.id, 0, Buffer.from(JSON.stringify({ subject: this.dataSubject, from: this.deps.nodeName })));
    let reply: NatsMessage;
    let abort: ((error: Error) => void) | undefined;
    try {
      reply = await Promise.race([
        nc.request(this.openSubject(address), open, { timeout: this.config.connectTimeoutMs }),
        new Promise<never>((_, reject) => {
          abort = reject;
          this.pendingDials.add(reject);
        }),
      ]);
    } catch (error) {
      this.conduits.delete(conduit.id);
      throw new Error(dialFailure(address, this.config.cluster, error));
    } finally {
      if (abort !== undefined) this.pendingDials.delete(abort);
    }
    const header = decodeHeader(reply.data);
    const accepted = header?.kind === Kind.ACCEPT && header.dst === conduit.id ? readJson(bodyOf(reply.data)) : undefined;
    const subject = accepted?.['subject'];
    if (header === undefined || typeof subject !== 'string' || !this.isDataSubject(subject) || conduit.isClosed) {
      this.conduits.delete(conduit.id);
      conduit.fail(new Error('closed'));
      throw new Error(header?.kind === Kind.REFUSE ? `${address} refused the connection: it is stopping` : `${address} answered the connection request with a malformed reply`);
    }
    conduit.connect(header.src, subject);
    return conduit;
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.announceTimer?.cancel();
    const stopping = new Error('the node is stopping');
    for (const abort of [...this.pendingDials]) abort(stopping);
    const nc = this.nc;
    if (nc === undefined) return;
    if (this.listening) {
      this.directory.listening--;
      this.announce('bye');
    }
    // Ended conduits wait for their END to be acknowledged (the peers then see a clean close).
    if (this.conduits.size > 0) {
      await new Promise<void>((resolve) => {
        const timer = this.clock.setTimeout(resolve, CLOSE_GRACE_MS);
        this.quiet = () => {
          timer.cancel();
          resolve();
        };
      });
    }
    for (const conduit of [...this.conduits.values()]) conduit.destroy();
    if (!nc.isClosed()) {
      // What was published must reach the server before the socket closes.
      await Promise.race([nc.flush().catch(() => undefined), new Promise<void>((resolve) => this.clock.setTimeout(resolve, 1000))]);
      await nc.close().catch(() => undefined);
    }
  }

  // ---- ConduitPort ------------------------------------------------------------------------

  maxChunk(): number {
    return Math.min(MAX_CHUNK_BYTES, this.maxPayload - HEADER_BYTES);
  }

  publish(subject: string, message: Uint8Array, conduit: NatsConduit): void {
    const nc = this.nc;
    if (nc === undefined) return;
    try {
      nc.publish(subject, message);
    } catch (error) {
      conduit.fail(new Error(`NATS publish failed: ${(error as Error).message}`));
    }
  }

  forget(conduit: NatsConduit): void {
    if (this.conduits.get(conduit.id) === conduit) this.conduits.delete(conduit.id);
    if (this.conduits.size === 0) this.quiet?.();
  }

  // ---- inbound ----------------------------------------------------------------------------

  private onOpen(message: NatsMessage): void {
    const header = decodeHeader(message.data);
    const request = header?.kind === Kind.OPEN ? readJson(bodyOf(message.data)) : undefined;
    const subject = request?.['subject'];
    const from = request?.['from'];
    if (header === undefined || message.reply === undefined || typeof subject !== 'string' || typeof from !== 'string' || !NODE_NAME.test(from) || !this.isDataSubject(subject)) {
      this.drop('malformed connection request', message.subject);
      return;
    }
    if (this.closing || this.onConduit === undefined) {
      message.respond(encodeMessage(Kind.REFUSE, header.src, 0, 0));
      return;
    }
    const conduit = this.newConduit(from);
    conduit.connect(header.src, subject);
    message.respond(encodeMessage(Kind.ACCEPT, header.src, conduit.id, 0, Buffer.from(JSON.stringify({ subject: this.dataSubject, name: this.deps.nodeName }))));
    try {
      this.onConduit(conduit);
    } catch (err) {
      this.deps.logger.error({ event: 'accept_error', peer: from, err }, 'nats transport: onConduit threw');
      conduit.destroy();
    }
  }

  private onMessage(message: NatsMessage): void {
    const header = decodeHeader(message.data);
    if (header === undefined) {
      this.drop('message shorter than the header', message.subject);
      return;
    }
    const conduit = this.conduits.get(header.dst);
    // Unknown or stale: a conduit closed here, a peer's old incarnation. Its link is gone already.
    if (conduit === undefined || !conduit.isFrom(header.src)) return;
    conduit.receive(header.kind, header.seq, message.data);
  }

  private onAnnounce(message: NatsMessage): void {
    const body = readJson(message.data);
    const t = body?.['t'];
    const name = body?.['name'];
    const uid = body?.['uid'];
    if ((t !== 'here' && t !== 'query' && t !== 'bye') || typeof name !== 'string' || !NODE_NAME.test(name) || typeof uid !== 'string') {
      this.drop('malformed announcement', message.subject);
      return;
    }
    if (uid === this.uid) return;
    const announcement: Announcement = { t, name, uid };
    if (announcement.t === 'query') return this.announce('here');
    if (announcement.t === 'bye') return this.directory.gone(name, uid);
    if (name === this.deps.nodeName) {
      const count = this.duplicateName.hit();
      if (count > 0) {
        this.deps.logger.error(
          { event: 'name_in_use', peer: name, cluster: this.config.cluster },
          `another node named ${name} announces itself on NATS cluster "${this.config.cluster}": node names must be unique`,
        );
      }
      return;
    }
    this.directory.seen(name, uid, this.clock.now());
  }

  // ---- internals --------------------------------------------------------------------------

  private newConduit(peer: string): NatsConduit {
    let id: number;
    do id = this.deps.random.int(0x1_0000_0000);
    while (id === 0 || this.conduits.has(id));
    const conduit = new NatsConduit(this, id, `nats:${peer}`);
    this.conduits.set(id, conduit);
    return conduit;
  }

  private openSubject(node: string): string {
    return `${this.config.base}.node.${node}`;
  }

  /** Only our cluster's inboxes: a connection request must not make us publish anywhere else. */
  private isDataSubject(subject: string): boolean {
    const prefix = `${this.config.base}.conn.`;
    return subject.startsWith(prefix) && /^[0-9a-f]{1,64}$/.test(subject.slice(prefix.length));
  }

  private announce(t: Announcement['t']): void {
    const nc = this.nc;
    if (nc === undefined || nc.isClosed()) return;
    try {
      nc.publish(this.announceSubject, Buffer.from(JSON.stringify({ t, name: this.deps.nodeName, uid: this.uid })));
    } catch (err) {
      this.deps.logger.debug({ event: 'nats_announce_failed', err }, 'nats transport: announcement not sent');
    }
  }

  private rememberMaxPayload(): void {
    const max = this.nc?.info?.max_payload;
    if (typeof max === 'number' && max > HEADER_BYTES) this.maxPayload = max;
  }

  /** Subscription callbacks run inside the client: nothing may throw into it. */
  private guard(error: Error | null, handle: () => void): void {
    if (error !== null) {
      this.deps.logger.warn({ event: 'nats_subscription_error', err: error.message }, `nats transport: subscription error: ${error.message}`);
      return;
    }
    try {
      handle();
    } catch (err) {
      this.deps.logger.error({ event: 'nats_handler_error', err }, 'nats transport: a message handler threw');
    }
  }

  private drop(what: string, subject: string): void {
    const count = this.dropped.hit();
    if (count > 0) {
      this.deps.logger.warn(
        { event: 'nats_bad_message', subject, count, total: this.dropped.total },
        `nats transport: dropped ${count} bad message(s) (latest: ${what} on ${subject})`,
      );
    }
  }

  private watch(nc: NatsConnection): void {
    void (async () => {
      for await (const status of nc.status()) this.onStatus(status);
    })().catch((err: unknown) => this.deps.logger.debug({ event: 'nats_status_ended', err }, 'nats transport: status stream ended'));
    void nc.closed().then((error) => {
      if (this.closing) return;
      const why = error instanceof Error ? error.message : 'closed';
      this.deps.logger.error(
        { event: 'nats_closed', err: why },
        `the NATS connection closed for good (${why}): this node reaches no peer until it is restarted`,
      );
      if (this.listening) {
        this.listening = false;
        this.directory.listening--;
      }
      for (const conduit of [...this.conduits.values()]) conduit.fail(new Error(`NATS connection closed: ${why}`));
    });
  }

  private onStatus(status: NatsStatus): void {
    const logger = this.deps.logger;
    switch (status.type) {
      case 'disconnect': {
        this.disconnected = true;
        logger.warn({ event: 'nats_disconnected', server: status.server }, `lost the NATS server ${status.server ?? ''}; reconnecting`);
        const lost = new Error('the NATS server was lost');
        for (const abort of [...this.pendingDials]) abort(lost);
        return;
      }
      case 'reconnect':
        this.disconnected = false;
        this.rememberMaxPayload();
        logger.warn({ event: 'nats_reconnected', server: status.server }, `reconnected to NATS at ${status.server ?? '?'}`);
        // Anything in flight during the outage may be lost: each conduit resends from where its peer is.
        for (const conduit of [...this.conduits.values()]) conduit.resync();
        this.announce('here');
        this.announce('query');
        return;
      case 'error':
        logger.warn({ event: 'nats_error', err: errorText(status.error) }, `NATS error: ${errorText(status.error)}`);
        return;
      case 'ldm':
      case 'staleConnection':
      case 'slowConsumer':
        logger.warn({ event: `nats_${status.type}`, server: status.server }, `NATS: ${status.type}`);
        return;
    }
  }
}

function dialFailure(address: string, cluster: string, error: unknown): string {
  const e = error as { message?: string; cause?: unknown; isNoResponders?: () => boolean };
  if (e.isNoResponders?.() === true || /no responders/i.test(`${e.message ?? ''} ${errorText(e.cause)}`)) {
    return `no node named ${address} is listening on NATS cluster "${cluster}"`;
  }
  return `connect to ${address} over NATS failed: ${e.message ?? String(error)}`;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : error === undefined ? '' : String(error);
}

function readJson(data: Uint8Array): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.length).toString('utf8'));
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
