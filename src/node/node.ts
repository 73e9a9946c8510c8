import { EventEmitter } from 'node:events';
import {
  BadFrameError,
  CallExitError,
  EncodeError,
  InvalidArgumentError,
  NodeDownError,
  NoProcError,
  NotRunningError,
  TimeoutError,
  describeReason,
} from '../errors.js';
import { LOG_LEVELS, type Logger, type LogLevel } from '../observability/logger.js';
import { EventLoopDelayMonitor, type NodeStats } from '../observability/stats.js';
import { realClock, type Clock } from '../time/clock.js';
import type { Random } from '../time/random.js';
import { Pid, Ref } from '../process/pid.js';
import type {
  CallOptions,
  Destination,
  DownInfo,
  ExitReason,
  MonitorWatcher,
  ProcessFunction,
  ProcessHost,
  ServerClass,
} from '../process/host.js';
import { ProcessTable, currentProcess } from '../process/table.js';
import { CallRequest } from '../process/envelopes.js';
import { isServerClass } from '../process/server.js';
import { encode } from '../wire/codec.js';
import { FrameType } from '../wire/types.js';
import { Mesh } from '../transport/mesh.js';
import type { PeerIdentity } from '../transport/link.js';
import type { Discovery } from '../discovery/types.js';
import { parseSeed } from '../discovery/seeds.js';
import { resolveNodeOptions, type NodeOptions, type ResolvedNodeOptions } from './options.js';
import { PendingCalls } from './calls.js';
import { RemoteMonitors } from './remote-monitors.js';

/** Characters kept of the description of an exit reason too large to send as it is. */
const MAX_REASON_TEXT = 256;

/** Reply status codes in REPLY frames. */
const enum ReplyStatus {
  Ok = 0,
  Error = 1,
  NoProc = 2,
  Exited = 3,
}

export interface NodeUpEvent {
  readonly node: string;
  readonly incarnation: number;
  readonly address: string;
}

export interface NodeDownEvent {
  readonly node: string;
  readonly incarnation: number;
  /** 'left' (graceful stop), 'heartbeat_timeout', 'connection_closed', 'restarted', 'overload', ... */
  readonly reason: string;
  readonly detail: string | undefined;
}

export interface NodeEvents {
  nodeup: [NodeUpEvent];
  nodedown: [NodeDownEvent];
}

/** Handler of a frame type registered by a layer above the node (group replication). */
export type PeerFrameHandler = (peer: PeerIdentity, body: unknown) => void;

/**
 * A node: one OS process in the cluster. Owns the process table, the mesh of links to peers,
 * discovery, and the protocol that makes send / call / exit / monitor work for remote pids.
 */
export class Node extends EventEmitter<NodeEvents> implements ProcessHost {
  readonly name: string;
  readonly incarnation: number;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly random: Random;

  private readonly options: ResolvedNodeOptions;
  private readonly table: ProcessTable;
  private readonly mesh: Mesh;
  private readonly calls: PendingCalls;
  private readonly remoteMonitors = new RemoteMonitors();
  /** Monitors peers hold on our processes, by peer name → ref key → ref (to clean up on nodedown). */
  private readonly inboundMonitors = new Map<string, Map<string, Ref>>();
  private readonly discovery: Discovery[];
  private gossipTimer: { cancel(): void } | undefined;
  private refCounter = 0;
  private state: 'starting' | 'running' | 'stopped' = 'starting';
  private readonly loopDelay = new EventLoopDelayMonitor();
  private startedAt = 0;

  /** Use `startNode(options)`. */
  constructor(options: ResolvedNodeOptions) {
    super();
    this.options = options;
    this.name = options.name;
    this.clock = options.clock;
    this.random = options.random;
    this.logger = options.logger;
    // Per-boot identity: wall time keeps later boots larger; the random low bits separate two
    // boots in the same millisecond (and the simulation's restarts at one virtual instant).
    this.incarnation = Math.floor(options.clock.wallNow()) * 1024 + options.random.int(1024);
    this.discovery = options.discovery;
    this.calls = new PendingCalls(options.clock);
    this.table = new ProcessTable({
      host: this,
      node: this.name,
      incarnation: this.incarnation,
      clock: this.clock,
      logger: this.logger,
      implicitSelf: options.implicitSelf,
    });
    this.table.onExit((pid) => this.onLocalExit(pid));
    const connector = options.transport({
      nodeName: this.name,
      clock: this.clock,
      random: this.random,
      logger: this.logger,
      listen: options.listen,
      handshakeTimeoutMs: options.handshakeTimeoutMs,
      maxPendingHandshakes: options.maxPendingHandshakes,
    });
    this.mesh = new Mesh(
      connector,
      { name: this.name, incarnation: this.incarnation, address: '' },
      {
        cookie: options.cookie,
        heartbeat: options.heartbeat,
        reconnect: options.reconnect,
        maxFrameBytes: options.maxFrameBytes,
        maxQueueBytes: options.maxQueueBytes,
        handshakeTimeoutMs: options.handshakeTimeoutMs,
        maxPendingHandshakes: options.maxPendingHandshakes,
        ...(options.protocolVersion === undefined ? {} : { protocolVersion: options.protocolVersion }),
      },
      { peerUp: (peer) => this.onPeerUp(peer), peerDown: (peer, reason, detail) => this.onPeerDown(peer, reason, detail) },
      {
        clock: this.clock,
        random: this.random,
        logger: this.logger,
        // Heartbeats carry this process's event-loop delay to the peers; not under a virtual clock,
        // where it would measure the whole simulation and make its bytes depend on the machine.
        ...(this.clock === realClock ? { loadReport: () => encode({ eld: Math.round(this.loopDelay.read().p99 * 10) / 10 }) } : {}),
      },
    );
    this.registerProtocol();
  }

  /** @internal Started by startNode. */
  async start(): Promise<void> {
    const bound = await this.mesh.start();
    this.startedAt = this.clock.now();
    // Under a virtual clock every node of the simulation shares one event loop: nothing to measure per node.
    if (this.clock === realClock) this.loopDelay.start();
    if (this.options.advertise !== undefined) this.mesh.local = { ...this.mesh.local, address: this.options.advertise };
    this.state = 'running';
    this.logger.info({ event: 'node_started', address: this.address, bound, incarnation: this.incarnation }, `node ${this.name} listening on ${bound}`);
    for (const strategy of this.discovery) {
      strategy.start({ clock: this.clock, random: this.random, logger: this.logger }, (candidates) => {
        for (const c of candidates) this.mesh.connect(c.address, c.name);
      });
    }
    // Anti-entropy for membership: now and then tell one random peer who we know.
    this.gossipTimer = this.clock.setInterval(() => this.gossip(), 5000);
  }

  /** The address peers dial to reach this node ("host:port" for TCP). */
  get address(): string {
    return this.mesh.local.address;
  }

  /** `name@address`, usable as a seed by other nodes. */
  get seed(): string {
    return `${this.name}@${this.address}`;
  }

  get running(): boolean {
    return this.state === 'running';
  }

  /** Names of the connected peer nodes. */
  peers(): string[] {
    return this.mesh.peers().map((p) => p.name);
  }

  /** Connected peers with their incarnation and address. */
  peerInfo(): PeerIdentity[] {
    return this.mesh.peers();
  }

  /** Dial a node now ("host:port" or "name@host:port"), skipping any reconnect backoff. */
  connect(seed: string): void {
    // The forms of the `seeds` option; a malformed one throws InvalidArgumentError saying which.
    const { address, name } = parseSeed(seed);
    this.mesh.connect(address, name);
  }

  /** Drop the connection to a peer (it may reconnect: use for tests and operations). */
  disconnect(node: string): void {
    if (typeof node !== 'string') throw new InvalidArgumentError('disconnect(node): node must be a node name');
    this.mesh.disconnect(node);
  }

  // ---- processes ------------------------------------------------------------------------

  spawn(fn: ProcessFunction): Pid;
  spawn<A>(server: ServerClass<A>, arg: A): Pid;
  spawn(fnOrServer: ProcessFunction | ServerClass<unknown>, arg?: unknown): Pid {
    this.assertRunning('spawn');
    if (typeof fnOrServer !== 'function') {
      throw new InvalidArgumentError('spawn(fn) takes an async function (ctx) => {...} or a Server subclass and its argument');
    }
    if (isServerClass(fnOrServer)) return this.table.spawnServer(fnOrServer as ServerClass<unknown>, arg);
    return this.table.spawn(fnOrServer as ProcessFunction);
  }

  /** Asynchronous, location-transparent send. Unknown or dead destinations drop the message, as in Erlang. */
  send(to: Destination, message: unknown): void {
    if (to instanceof Pid) {
      if (to.node === this.name) {
        if (to.incarnation === this.incarnation) this.table.deliver(to, message);
        return;
      }
      if (this.isCurrent(to)) this.sendFrame(to.node, FrameType.SEND, [to, message]);
      return;
    }
    const { name, node } = this.destination(to);
    if (node === this.name) {
      const pid = this.table.whereis(name);
      if (pid !== undefined) this.table.deliver(pid, message);
    } else if (this.mesh.peer(node) !== undefined) {
      this.sendFrame(node, FrameType.SEND_NAMED, [name, message]);
    }
  }

  /** Send to a Server's `handleCast` (other processes receive a Cast envelope). */
  cast(to: Destination, message: unknown): void {
    const target = to instanceof Pid ? to : this.destination(to);
    const node = target.node;
    if (node === this.name) {
      const pid = this.localTarget(target instanceof Pid ? target : target.name);
      if (pid !== undefined) this.table.deliverCast(pid, message);
      return;
    }
    if (target instanceof Pid ? this.isCurrent(target) : this.mesh.peer(node) !== undefined) {
      this.sendFrame(node, FrameType.CAST, [target instanceof Pid ? target : target.name, message]);
    }
  }

  /**
   * Request/reply. Rejects with TimeoutError, NoProcError (no such process), NodeDownError (its
   * node is not connected or went down) or CallExitError (it exited before replying).
   */
  call<R = unknown>(to: Destination, request: unknown, options: CallOptions = {}): Promise<R> {
    if (this.state !== 'running') return Promise.reject(new NotRunningError(`node ${this.name} is not running`));
    if (typeof options !== 'object' || options === null) return Promise.reject(new InvalidArgumentError('call: options must be an object, e.g. {timeoutMs: 1000}'));
    const timeoutMs = options.timeoutMs ?? this.options.callTimeoutMs;
    if (typeof timeoutMs !== 'number' || !(timeoutMs > 0)) {
      return Promise.reject(new InvalidArgumentError('call: timeoutMs must be a positive number of milliseconds'));
    }
    let target: Pid | { name: string; node: string };
    try {
      target = to instanceof Pid ? to : this.destination(to);
    } catch (error) {
      // A function that returns a promise reports bad arguments through it, like every other failure.
      return Promise.reject(error as Error);
    }
    const from = this.currentLocalProcess();
    const ref = this.makeRef();
    const timeout = (): Error => new TimeoutError(`call to ${describeDestination(to)} timed out after ${timeoutMs} ms`);
    if (target.node === this.name) return this.callLocal<R>(to, target, request, from, ref, timeoutMs, timeout);

    const peer = this.mesh.peer(target.node);
    if (peer === undefined) return Promise.reject(new NodeDownError(`call to ${describeDestination(to)}: node ${target.node} is not connected`));
    if (target instanceof Pid && target.incarnation !== peer.incarnation) {
      return Promise.reject(new NoProcError(`call to ${target.key}: that process belonged to an earlier incarnation of ${target.node}`));
    }
    let payload: Buffer;
    try {
      payload = this.encodePayload([ref, target instanceof Pid ? target : target.name, from ?? null, request]);
    } catch (error) {
      return Promise.reject(error as Error);
    }
    const promise = this.calls.start<R>(ref, target.node, timeoutMs, timeout);
    this.mesh.send(target.node, FrameType.CALL, payload);
    return promise;
  }

  exit(pid: Pid, reason: ExitReason): void {
    if (!(pid instanceof Pid)) throw new InvalidArgumentError('exit(pid, reason): pid must be a Pid');
    if (pid.node === this.name) {
      if (pid.incarnation === this.incarnation) this.table.exit(pid, reason);
    } else if (this.isCurrent(pid)) {
      this.sendFrame(pid.node, FrameType.EXIT, [pid, this.encodableReason(reason)]);
    }
  }

  /** Is the process alive? For a remote pid: as far as this node knows (its node is connected). */
  isAlive(pid: Pid): boolean {
    if (!(pid instanceof Pid)) throw new InvalidArgumentError('isAlive(pid): pid must be a Pid');
    if (pid.node === this.name) return pid.incarnation === this.incarnation && this.table.isAlive(pid);
    return this.isCurrent(pid);
  }

  /**
   * Watch a process: `watcher` (a callback, or a process that receives {type: 'DOWN', ...}) is told
   * once when it ends. A pid on a node that goes down fires 'noconnection'; an already dead or
   * unknown pid fires 'noproc' at once.
   */
  monitor(pid: Pid, watcher: MonitorWatcher): Ref {
    if (!(pid instanceof Pid)) throw new InvalidArgumentError('monitor(pid, watcher): pid must be a Pid');
    if (typeof watcher !== 'function' && !(watcher instanceof Pid)) {
      throw new InvalidArgumentError('monitor(pid, watcher): watcher must be a callback ({pid, reason, ref}) => void or a Pid');
    }
    const ref = this.makeRef();
    if (pid.node === this.name) {
      this.table.monitor(pid, watcher, ref);
      return ref;
    }
    // A dead local watcher could never receive the DOWN, and no exit would ever remove its
    // monitor (as in the process table): keep nothing, here or on the target's node.
    if (watcher instanceof Pid && watcher.node === this.name && !this.isAlive(watcher)) return ref;
    const peer = this.mesh.peer(pid.node);
    if (peer === undefined || peer.incarnation !== pid.incarnation) {
      const reason = peer === undefined ? 'noconnection' : 'noproc';
      queueMicrotask(() => this.notifyDown(watcher, { ref, pid, reason }));
      return ref;
    }
    this.remoteMonitors.add({ ref, target: pid, watcher });
    this.sendFrame(pid.node, FrameType.MONITOR, [ref, pid]);
    return ref;
  }

  demonitor(ref: Ref): boolean {
    if (!(ref instanceof Ref)) throw new InvalidArgumentError('demonitor(ref): ref must be the Ref that monitor() returned');
    if (this.table.demonitor(ref)) return true;
    const monitor = this.remoteMonitors.take(ref.key);
    if (monitor === undefined) return false;
    this.mesh.send(monitor.target.node, FrameType.DEMONITOR, encode([ref]));
    return true;
  }

  /** Give a local process a node-local name (for system processes of later layers). */
  register(name: string, pid: Pid): void {
    this.table.register(name, pid);
  }

  unregister(name: string): boolean {
    if (typeof name !== 'string') throw new InvalidArgumentError('unregister(name): name must be a string');
    return this.table.unregister(name);
  }

  whereis(name: string): Pid | undefined {
    if (typeof name !== 'string') throw new InvalidArgumentError('whereis(name): name must be a string');
    return this.table.whereis(name);
  }

  /** The pid of the calling process (inside a process's async call tree), else undefined. */
  self(): Pid | undefined {
    return this.currentLocalProcess();
  }

  /** Number of live local processes. */
  processCount(): number {
    return this.table.count();
  }

  /**
   * Counters and gauges of this node: uptime, event-loop delay (last completed window of >= 10 s),
   * per-peer traffic and heartbeat age, process count. Cheap: reads counters, builds one object.
   */
  stats(): NodeStats {
    return {
      name: this.name,
      incarnation: this.incarnation,
      uptimeMs: this.state === 'starting' ? 0 : this.clock.now() - this.startedAt,
      eventLoopDelay: this.loopDelay.read(),
      peers: this.mesh.peerStats(),
      processes: this.table.count(),
      links: this.mesh.trafficTotals(),
    };
  }

  /**
   * The level of this node's logger (node, transport, processes), changeable at runtime: 'fatal',
   * 'error', 'warn', 'info', 'debug', 'trace' or 'silent'. Group loggers keep their own level
   * (`group.logLevel()`). Returns the level now in force.
   */
  logLevel(level?: LogLevel): string {
    if (level !== undefined) {
      if (!LOG_LEVELS.includes(level)) throw new InvalidArgumentError(`logLevel: one of ${LOG_LEVELS.join(', ')}, got ${String(level)}`);
      this.logger.level = level;
    }
    return this.logger.level;
  }

  /** Graceful stop: local processes exit ('shutdown'), peers see a clean leave ('left'). */
  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    this.gossipTimer?.cancel();
    for (const strategy of this.discovery) strategy.stop();
    this.table.shutdown('shutdown');
    this.calls.rejectAll(() => new NotRunningError(`node ${this.name} stopped`));
    // Monitors fire in a microtask: let the DOWN frames ('shutdown') be queued before LEAVE.
    await new Promise<void>((resolve) => setImmediate(resolve));
    await this.mesh.stop();
    this.loopDelay.stop();
    this.logger.info({ event: 'node_stopped' }, `node ${this.name} stopped`);
  }

  // ---- for the layers above (group replication) ----------------------------------------

  /**
   * @internal Register the handler of a frame type of a layer above the node. With `batch`,
   * consecutive frames of the type are coalesced into batch frames (one decode set-up each).
   */
  handleFrames(type: number, handler: PeerFrameHandler, options: { batch?: boolean } = {}): void {
    this.mesh.handle(type, handler, options);
  }

  /** @internal */
  unhandleFrames(type: number): void {
    this.mesh.unhandle(type);
  }

  /**
   * @internal Be told synchronously of every local process exit, after the process table is
   * updated. The listener must not run user code (queue the work instead). Returns the remover.
   * One listener per layer costs nothing per process, where a monitor per process costs a ref,
   * a record and three index entries.
   */
  onProcessExit(listener: (pid: Pid, reason: unknown) => void): () => void {
    return this.table.onExit(listener);
  }

  /** @internal Send an already encoded frame to a peer; false if it is not connected. */
  sendRaw(peer: string, type: number, payload: Buffer): boolean {
    return this.mesh.send(peer, type, payload);
  }

  /** @internal Write the frames queued to a peer now (they keep their order with later ones). */
  flushTo(peer: string): void {
    this.mesh.flush(peer);
  }

  /** @internal Bytes queued to a peer. */
  queuedBytes(peer: string): number {
    return this.mesh.queuedBytes(peer);
  }

  /** @internal Milliseconds since anything (a heartbeat at least) arrived from a connected peer; undefined when not connected. */
  heartbeatAge(peer: string): number | undefined {
    const at = this.mesh.lastReceivedAt(peer);
    return at === undefined ? undefined : Math.max(0, this.clock.now() - at);
  }

  /** @internal Fault injection for tests: lose frames to/from a peer as in a partition. */
  block(peer: string, options?: { in?: boolean; out?: boolean; closeNow?: boolean }): void {
    this.mesh.block(peer, options);
  }

  /** @internal */
  unblock(peer?: string): void {
    this.mesh.unblock(peer);
  }

  makeRef(): Ref {
    return new Ref(this.name, this.incarnation, ++this.refCounter);
  }

  // ---- internals ------------------------------------------------------------------------

  private currentLocalProcess(): Pid | undefined {
    const pid = currentProcess();
    return pid !== undefined && pid.node === this.name ? pid : undefined;
  }

  private assertRunning(what: string): void {
    if (this.state === 'stopped') throw new NotRunningError(`${what}: node ${this.name} has stopped`);
  }

  private destination(to: Exclude<Destination, Pid>): { name: string; node: string } {
    if (typeof to === 'string') return { name: to, node: this.name };
    if (typeof to === 'object' && to !== null && typeof to.name === 'string' && typeof to.node === 'string') return to;
    throw new InvalidArgumentError('destination must be a Pid, a local name, or {name, node}');
  }

  /** Is `pid` on a connected peer of the same incarnation? */
  private isCurrent(pid: Pid): boolean {
    const peer = this.mesh.peer(pid.node);
    return peer !== undefined && peer.incarnation === pid.incarnation;
  }

  private sendFrame(peer: string, type: number, body: unknown): void {
    this.mesh.send(peer, type, this.encodePayload(body));
  }

  /**
   * @internal Encode a frame payload, refusing at the call what cannot cross the wire (EncodeError,
   * also for a payload over maxFrameBytes). Layers above encode once and send to many peers.
   */
  encodePayload(body: unknown): Buffer {
    const payload = encode(body);
    if (payload.length + 2 > this.options.maxFrameBytes) {
      throw new EncodeError(
        `message of ${payload.length} bytes exceeds maxFrameBytes (${this.options.maxFrameBytes}); send large data in pieces or raise maxFrameBytes on every node`,
      );
    }
    return payload;
  }

  /**
   * An exit reason that fits in a frame (DOWN, REPLY, EXIT). An unencodable or oversized one
   * travels as its description, cut short: otherwise the frame could not be sent and the remote
   * monitor would never fire.
   */
  /** @internal An exit reason that can be sent in a frame (else its description, cut short). */
  encodableReason(reason: ExitReason): ExitReason {
    try {
      if (encode(reason).length <= this.options.maxFrameBytes / 2) return reason;
    } catch {
      // described below
    }
    const text = describeReason(reason);
    return text.length > MAX_REASON_TEXT ? `${text.slice(0, MAX_REASON_TEXT)}...` : text;
  }

  private callLocal<R>(
    to: Destination,
    target: Pid | { name: string; node: string },
    request: unknown,
    from: Pid | undefined,
    ref: Ref,
    timeoutMs: number,
    timeout: () => Error,
  ): Promise<R> {
    const pid = this.localTarget(target instanceof Pid ? target : target.name);
    if (pid === undefined || !this.table.isAlive(pid)) {
      return Promise.reject(new NoProcError(`call to ${describeDestination(to)}: no such process`));
    }
    const monitorRef = this.makeRef();
    const promise = this.calls.start<R>(ref, this.name, timeoutMs, timeout, () => this.table.demonitor(monitorRef));
    this.table.monitor(pid, (down) => this.calls.reject(ref.key, exitError(to, down.reason)), monitorRef);
    this.table.deliverCall(
      pid,
      new CallRequest(
        request,
        from,
        (value) => this.calls.resolve(ref.key, value),
        (error) => this.calls.reject(ref.key, error instanceof Error ? error : new Error(describeReason(error))),
      ),
    );
    return promise;
  }

  private notifyDown(watcher: MonitorWatcher, down: DownInfo): void {
    if (typeof watcher === 'function') {
      try {
        watcher(down);
      } catch (error) {
        this.logger.error({ event: 'callback_error', err: error }, 'monitor callback threw');
      }
    } else {
      this.send(watcher, { type: 'DOWN', ref: down.ref, pid: down.pid, reason: down.reason });
    }
  }

  private onLocalExit(pid: Pid): void {
    // Monitors this process held on remote processes die with it.
    for (const monitor of this.remoteMonitors.takeWatcher(pid)) {
      this.mesh.send(monitor.target.node, FrameType.DEMONITOR, encode([monitor.ref]));
    }
  }

  private onPeerUp(peer: PeerIdentity): void {
    this.emit('nodeup', { node: peer.name, incarnation: peer.incarnation, address: peer.address });
    this.sendPeers(peer.name);
  }

  private onPeerDown(peer: PeerIdentity, reason: string, detail: string | undefined): void {
    // Calls and monitors on the lost node fail before anyone hears of the nodedown, so that a
    // handler of 'nodedown' sees a consistent world.
    this.calls.rejectNode(peer.name, () => new NodeDownError(`node ${peer.name} went down (${reason}) during the call`));
    for (const monitor of this.remoteMonitors.takeNode(peer.name)) {
      this.notifyDown(monitor.watcher, { ref: monitor.ref, pid: monitor.target, reason: 'noconnection' });
    }
    const inbound = this.inboundMonitors.get(peer.name);
    if (inbound !== undefined) {
      this.inboundMonitors.delete(peer.name);
      for (const ref of inbound.values()) this.table.demonitor(ref);
    }
    this.emit('nodedown', { node: peer.name, incarnation: peer.incarnation, reason, detail });
  }

  private gossip(): void {
    const peers = this.mesh.peers();
    if (peers.length === 0) return;
    this.sendPeers(peers[this.random.int(peers.length)]!.name);
  }

  private sendPeers(to: string): void {
    const list: Array<[string, string]> = [];
    for (const p of this.mesh.peers()) if (p.name !== to && p.address !== '') list.push([p.name, p.address]);
    if (list.length > 0) this.sendFrame(to, FrameType.PEERS, list);
  }

  private registerProtocol(): void {
    // Every node frame carries one self-contained message, so consecutive ones may be batched.
    const on = (type: number, handler: PeerFrameHandler): void => this.mesh.handle(type, handler, { batch: true });
    // A payload of the wrong shape throws BadFrameError: the mesh closes that peer's link.
    on(FrameType.SEND, (_peer, body) => {
      const [to, message] = fields(body, 2);
      if (!(to instanceof Pid)) throw malformed('the destination is not a pid');
      if (to.node === this.name && to.incarnation === this.incarnation) this.table.deliver(to, message);
    });
    on(FrameType.SEND_NAMED, (_peer, body) => {
      const [name, message] = fields(body, 2);
      if (typeof name !== 'string') throw malformed('the destination is not a name');
      const pid = this.table.whereis(name);
      if (pid !== undefined) this.table.deliver(pid, message);
    });
    on(FrameType.CAST, (_peer, body) => {
      const [to, message] = fields(body, 2);
      if (!(to instanceof Pid) && typeof to !== 'string') throw malformed('the destination is neither a pid nor a name');
      const pid = this.localTarget(to);
      if (pid !== undefined) this.table.deliverCast(pid, message);
    });
    on(FrameType.CALL, (peer, body) => this.onRemoteCall(peer, body));
    on(FrameType.REPLY, (_peer, body) => {
      const [ref, status, value] = fields(body, 3);
      if (!(ref instanceof Ref)) throw malformed('no call ref');
      switch (status) {
        case ReplyStatus.Ok:
          return this.calls.resolve(ref.key, value);
        case ReplyStatus.NoProc:
          return this.calls.reject(ref.key, new NoProcError(`call: no such process (${describeReason(value)})`));
        case ReplyStatus.Exited:
          return this.calls.reject(ref.key, new CallExitError(`call: the process exited (${describeReason(value)}) before replying`, value));
        default:
          return this.calls.reject(ref.key, value instanceof Error ? value : new Error(describeReason(value)));
      }
    });
    on(FrameType.EXIT, (_peer, body) => {
      const [pid, reason] = fields(body, 2);
      if (!(pid instanceof Pid)) throw malformed('the target is not a pid');
      if (pid.node === this.name && pid.incarnation === this.incarnation) this.table.exit(pid, reason);
    });
    on(FrameType.MONITOR, (peer, body) => {
      const [ref, target] = fields(body, 2);
      if (!(ref instanceof Ref) || !(target instanceof Pid)) throw malformed('not [ref, pid]');
      const down = (reason: unknown): void => {
        this.inboundMonitors.get(peer.name)?.delete(ref.key);
        this.sendFrame(peer.name, FrameType.DOWN, [ref, target, this.encodableReason(reason)]);
      };
      if (target.node !== this.name || target.incarnation !== this.incarnation || !this.table.isAlive(target)) {
        down('noproc');
        return;
      }
      let refs = this.inboundMonitors.get(peer.name);
      if (refs === undefined) this.inboundMonitors.set(peer.name, (refs = new Map()));
      refs.set(ref.key, ref);
      this.table.monitor(target, (info) => down(info.reason), ref);
    });
    on(FrameType.DEMONITOR, (peer, body) => {
      const [ref] = fields(body, 1);
      if (!(ref instanceof Ref)) throw malformed('no monitor ref');
      this.inboundMonitors.get(peer.name)?.delete(ref.key);
      this.table.demonitor(ref);
    });
    on(FrameType.DOWN, (_peer, body) => {
      const [ref, , reason] = fields(body, 3);
      if (!(ref instanceof Ref)) throw malformed('no monitor ref');
      // The pid reported is the one we asked about (kept on our side), not whatever the frame says.
      const monitor = this.remoteMonitors.take(ref.key);
      if (monitor !== undefined) this.notifyDown(monitor.watcher, { ref, pid: monitor.target, reason });
    });
    on(FrameType.PEERS, (_peer, body) => {
      if (!Array.isArray(body)) throw malformed('not a list of peers');
      for (const entry of body as unknown[]) {
        if (Array.isArray(entry) && typeof entry[0] === 'string' && typeof entry[1] === 'string') {
          this.mesh.connect(entry[1], entry[0]);
        }
      }
    });
  }

  private localTarget(to: Pid | string): Pid | undefined {
    if (typeof to === 'string') return this.table.whereis(to);
    if (to instanceof Pid && to.node === this.name && to.incarnation === this.incarnation) return to;
    return undefined;
  }

  private onRemoteCall(peer: PeerIdentity, body: unknown): void {
    const [ref, to, from, request] = fields(body, 4);
    if (!(ref instanceof Ref)) throw malformed('no call ref');
    if (!(to instanceof Pid) && typeof to !== 'string') throw malformed('the destination is neither a pid nor a name');
    if (from !== null && !(from instanceof Pid)) throw malformed('the caller is neither a pid nor null');
    const reply = (status: ReplyStatus, value: unknown): void => {
      let payload: Buffer;
      try {
        // Size-checked like any send: a reply over maxFrameBytes would make the caller's node
        // drop the whole link as a bad frame; the caller gets the EncodeError instead.
        payload = this.encodePayload([ref, status, value]);
      } catch (error) {
        payload = encode([ref, ReplyStatus.Error, new EncodeError(`the reply could not be encoded: ${(error as Error).message}`)]);
      }
      this.mesh.send(peer.name, FrameType.REPLY, payload);
    };
    const pid = this.localTarget(to);
    if (pid === undefined || !this.table.isAlive(pid)) {
      reply(ReplyStatus.NoProc, typeof to === 'string' ? to : to.key);
      return;
    }
    // Watch the target for the duration of the call, so the caller hears of its exit at once
    // instead of waiting for the timeout.
    const monitorRef = this.makeRef();
    let done = false;
    const answer = (status: ReplyStatus, value: unknown): void => {
      if (done) return;
      done = true;
      this.table.demonitor(monitorRef);
      reply(status, value);
    };
    this.table.monitor(
      pid,
      (down) => {
        if (done) return;
        done = true;
        reply(ReplyStatus.Exited, this.encodableReason(down.reason));
      },
      monitorRef,
    );
    this.table.deliverCall(
      pid,
      new CallRequest(
        request,
        from ?? undefined,
        (value) => answer(ReplyStatus.Ok, value),
        (error) => answer(ReplyStatus.Error, error),
      ),
    );
  }
}

/** The fields of a node frame's payload: an array of at least `count` values. */
function fields(body: unknown, count: number): unknown[] {
  if (!Array.isArray(body) || body.length < count) throw malformed(`the payload is not an array of ${count} fields`);
  return body;
}

function malformed(what: string): BadFrameError {
  return new BadFrameError(`malformed payload: ${what}`);
}

function exitError(to: Destination, reason: unknown): Error {
  if (reason === 'noproc') return new NoProcError(`call to ${describeDestination(to)}: no such process`);
  return new CallExitError(`call to ${describeDestination(to)}: the process exited (${describeReason(reason)}) before replying`, reason);
}

function describeDestination(to: Destination): string {
  if (to instanceof Pid) return to.key;
  if (typeof to === 'string') return `"${to}"`;
  return `"${to.name}" on ${to.node}`;
}

/** Start a node: validate options, listen, and join the cluster through the seeds / discovery. */
export async function startNode(options: NodeOptions): Promise<Node> {
  const node = new Node(resolveNodeOptions(options));
  await node.start();
  return node;
}
