import { InvalidArgumentError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { Clock, Timer } from '../time/clock.js';
import type { Random } from '../time/random.js';
import type { Conduit, ConduitHandlers, Connector, ConnectorDeps, TransportFactory } from './conduit.js';

/**
 * The in-memory network: every node lives in this OS process and talks through simulated pipes
 * whose links can be delayed, cut (both ways or one way) and whose nodes can crash. Delivery is
 * driven by the injected Clock and latency jitter by the injected Random, so with a VirtualClock
 * and a seeded Random a run is reproducible byte for byte.
 *
 * All state lives in the SimNetwork object (never in module globals), so two simulations in the
 * same process are independent.
 *
 * @example
 *   const net = new SimNetwork({ clock, random: seededRandom(7), latencyMs: { min: 1, max: 5 } });
 *   const a = await startNode({ name: 'a', transport: memory(net), clock });
 *   net.cut('a', 'b', { oneWay: true });
 */

/** One-way delay of a link in milliseconds: fixed, or uniform in [min, max]. */
export type LatencyMs = number | { min: number; max: number };

export interface SimNetworkOptions {
  readonly clock: Clock;
  readonly random: Random;
  /** Default one-way latency of every link (default 1 ms). */
  readonly latencyMs?: LatencyMs;
  /** Bytes in flight per direction beyond which `write()` returns false (default 1 MiB). */
  readonly highWaterBytes?: number;
}

/** What dial/listen reject with: a Node-style system error code (ECONNREFUSED, EADDRINUSE...). */
export class SimNetworkError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
    this.name = 'SimNetworkError';
  }
}

export class SimNetwork {
  readonly #core: NetworkCore;

  constructor(options: SimNetworkOptions) {
    if (options === null || typeof options !== 'object') {
      throw new InvalidArgumentError('SimNetwork: pass { clock, random } (and optionally latencyMs, highWaterBytes)');
    }
    const { clock, random, latencyMs = 1, highWaterBytes = 1024 * 1024 } = options;
    if (clock === undefined || typeof clock.setTimeout !== 'function') {
      throw new InvalidArgumentError('SimNetwork: options.clock must be a Clock (a VirtualClock for deterministic runs)');
    }
    if (random === undefined || typeof random.next !== 'function') {
      throw new InvalidArgumentError('SimNetwork: options.random must be a Random (seededRandom(seed) for reproducible runs)');
    }
    if (!Number.isInteger(highWaterBytes) || highWaterBytes <= 0) {
      throw new InvalidArgumentError(`SimNetwork: highWaterBytes must be a positive integer, got ${String(highWaterBytes)}`);
    }
    this.#core = new NetworkCore(clock, random, highWaterBytes, toRange('SimNetwork: latencyMs', latencyMs));
  }

  /** The transport factory for nodes on this network; a node's address is its name. */
  connector(): TransportFactory {
    const core = this.#core;
    return (deps: ConnectorDeps) => new SimConnector(core, deps.nodeName, deps.logger);
  }

  /**
   * Partition `a` from `b`. Bytes and close notifications crossing a cut direction are held, as
   * TCP keeps retransmitting during a partition: `heal` delivers them in order, and they are
   * discarded if the receiving end is destroyed first. New dials between the two are refused.
   * With `oneWay`, only a→b is cut.
   */
  cut(a: string, b: string, options: { oneWay?: boolean } = {}): void {
    checkPair('cut', a, b);
    const link = this.#core.link(a, b);
    link.setCut(a, true);
    if (options.oneWay !== true) link.setCut(b, true);
  }

  /** Heal both directions between `a` and `b`; held bytes leave after the link's latency. */
  heal(a: string, b: string): void {
    checkPair('heal', a, b);
    this.#core.links.get(linkKey(a, b))?.heal();
  }

  healAll(): void {
    for (const link of this.#core.links.values()) link.heal();
  }

  /** Whether the a→b direction is cut (ask `isCut(b, a)` for the other way). */
  isCut(a: string, b: string): boolean {
    checkPair('isCut', a, b);
    return this.#core.links.get(linkKey(a, b))?.isCut(a) ?? false;
  }

  /** Latency of the link between `a` and `b`, both directions; applies to bytes written from now on. */
  setLatency(a: string, b: string, latencyMs: LatencyMs): void {
    checkPair('setLatency', a, b);
    this.#core.link(a, b).latency = toRange('SimNetwork.setLatency: latencyMs', latencyMs);
  }

  /**
   * The node's OS process dies: its listener goes away, its conduits are destroyed without
   * telling its own handlers, and its peers see their conduits close after the link latency
   * (as a TCP RST would; held while the direction is cut). Connectors built for it stop working;
   * a new node with the same name may listen again.
   */
  crash(name: string): void {
    if (typeof name !== 'string') throw new InvalidArgumentError('SimNetwork.crash: pass the node name');
    this.#core.crash(name);
  }
}

/** The transport to pass to `startNode({ transport: memory(net) })`. */
export function memory(network: SimNetwork): TransportFactory {
  if (!(network instanceof SimNetwork)) {
    throw new InvalidArgumentError('memory(network): pass a SimNetwork, e.g. memory(new SimNetwork({ clock, random }))');
  }
  // Marked so startNode knows no cookie is needed: nothing outside this OS process can reach it.
  return Object.assign(network.connector(), { simulated: true as const });
}

interface Range {
  readonly min: number;
  readonly max: number;
}

function toRange(what: string, latency: LatencyMs): Range {
  if (typeof latency === 'number') {
    if (!Number.isFinite(latency) || latency < 0) throw new InvalidArgumentError(`${what} must be a finite number >= 0, got ${String(latency)}`);
    return { min: latency, max: latency };
  }
  if (latency === null || typeof latency !== 'object') {
    throw new InvalidArgumentError(`${what} must be a number or { min, max }`);
  }
  const { min, max } = latency;
  if (!Number.isFinite(min) || !Number.isFinite(max) || min < 0 || max < min) {
    throw new InvalidArgumentError(`${what} must satisfy 0 <= min <= max (finite), got { min: ${String(min)}, max: ${String(max)} }`);
  }
  return { min, max };
}

function checkPair(method: string, a: string, b: string): void {
  if (typeof a !== 'string' || typeof b !== 'string' || a === b) {
    throw new InvalidArgumentError(`SimNetwork.${method}: pass two different node names`);
  }
}

function linkKey(a: string, b: string): string {
  return a < b ? `${a}\u0000${b}` : `${b}\u0000${a}`;
}

/** The network state shared by the SimNetwork facade, its connectors and conduits. */
class NetworkCore {
  readonly links = new Map<string, Link>();
  readonly #listeners = new Map<string, SimConnector>();
  readonly #connectorsByNode = new Map<string, Set<SimConnector>>();
  readonly #conduitsByNode = new Map<string, Set<SimConduit>>();

  constructor(
    readonly clock: Clock,
    readonly random: Random,
    readonly highWaterBytes: number,
    readonly defaultLatency: Range,
  ) {}

  link(a: string, b: string): Link {
    const key = linkKey(a, b);
    let link = this.links.get(key);
    if (link === undefined) {
      link = new Link(a < b ? a : b);
      this.links.set(key, link);
    }
    return link;
  }

  sampleLatency(link: Link): number {
    const { min, max } = link.latency ?? this.defaultLatency;
    return min === max ? min : min + this.random.next() * (max - min);
  }

  addConnector(connector: SimConnector): void {
    addToSet(this.#connectorsByNode, connector.name, connector);
  }

  listen(connector: SimConnector): void {
    const owner = this.#listeners.get(connector.name);
    if (owner !== undefined && owner !== connector) {
      throw new SimNetworkError('EADDRINUSE', `memory: address "${connector.name}" is already taken by another node on this SimNetwork; give each node a unique name`);
    }
    this.#listeners.set(connector.name, connector);
  }

  unlisten(connector: SimConnector): void {
    if (this.#listeners.get(connector.name) === connector) this.#listeners.delete(connector.name);
  }

  open(from: string, to: string): SimConduit {
    const listener = this.#listeners.get(to);
    if (listener === undefined) {
      throw new SimNetworkError('ECONNREFUSED', `memory: connection from "${from}" to "${to}" refused: nobody listens at "${to}"`);
    }
    const link = this.link(from, to);
    if (link.isCut(from) || link.isCut(to)) {
      throw new SimNetworkError('ECONNREFUSED', `memory: connection from "${from}" to "${to}" refused: the link between them is cut`);
    }
    const dialerEnd = new SimConduit(this, from, to);
    const listenerEnd = new SimConduit(this, to, from);
    const forward = new Direction(this, link, from, dialerEnd, listenerEnd);
    const backward = new Direction(this, link, to, listenerEnd, dialerEnd);
    dialerEnd.connect(listenerEnd, forward, backward);
    listenerEnd.connect(dialerEnd, backward, forward);
    link.directions.add(forward);
    link.directions.add(backward);
    addToSet(this.#conduitsByNode, from, dialerEnd);
    addToSet(this.#conduitsByNode, to, listenerEnd);
    listener.accept(listenerEnd);
    return dialerEnd;
  }

  /** Both ends are closing: nothing either could still send matters to anyone. */
  release(end: SimConduit, peer: SimConduit): void {
    end.out.drop();
    peer.out.drop();
    end.out.link.directions.delete(end.out);
    peer.out.link.directions.delete(peer.out);
    removeFromSet(this.#conduitsByNode, end.localName, end);
    removeFromSet(this.#conduitsByNode, peer.localName, peer);
  }

  crash(name: string): void {
    const listener = this.#listeners.get(name);
    if (listener !== undefined) this.#listeners.delete(name);
    const connectors = this.#connectorsByNode.get(name);
    if (connectors !== undefined) {
      for (const connector of connectors) connector.crashed = true;
      this.#connectorsByNode.delete(name);
    }
    const conduits = this.#conduitsByNode.get(name);
    if (conduits !== undefined) {
      // Copy: each destroy removes its conduit from the set once both ends are closing.
      for (const conduit of [...conduits]) conduit.terminate(false);
    }
  }
}

function addToSet<T>(map: Map<string, Set<T>>, key: string, value: T): void {
  let set = map.get(key);
  if (set === undefined) {
    set = new Set();
    map.set(key, set);
  }
  set.add(value);
}

function removeFromSet<T>(map: Map<string, Set<T>>, key: string, value: T): void {
  const set = map.get(key);
  if (set === undefined) return;
  set.delete(value);
  if (set.size === 0) map.delete(key);
}

/** Faults and latency between two nodes; `first` is the smaller name. */
class Link {
  latency: Range | undefined;
  #cutFromFirst = false;
  #cutToFirst = false;
  /** Directions of open pipes on this link, resumed on heal. */
  readonly directions = new Set<Direction>();

  constructor(readonly first: string) {}

  isCut(from: string): boolean {
    return from === this.first ? this.#cutFromFirst : this.#cutToFirst;
  }

  setCut(from: string, cut: boolean): void {
    if (from === this.first) this.#cutFromFirst = cut;
    else this.#cutToFirst = cut;
  }

  heal(): void {
    this.#cutFromFirst = false;
    this.#cutToFirst = false;
    for (const direction of this.directions) direction.resume();
  }
}

const DATA = 0;
const FIN = 1;
const RESET = 2;

class Item {
  constructor(
    readonly kind: number,
    readonly data: Buffer | undefined,
    public deliverAt: number,
  ) {}
}

/**
 * One direction of a pipe: a FIFO of items (bytes, FIN, reset) with one clock timer for its head.
 * Each item is due at max(previous due time, now + latency), so random latency never reorders
 * writes. A head that comes due while the direction is cut is held until heal.
 */
class Direction {
  inFlight = 0;
  #items: (Item | undefined)[] = [];
  #head = 0;
  #lastDeliverAt = 0;
  #timer: Timer | undefined;
  #held = false;
  #delivering = false;
  #needDrain = false;
  /** A FIN/reset is queued, or the receiver is gone: later writes vanish. */
  #closed = false;

  constructor(
    readonly core: NetworkCore,
    readonly link: Link,
    readonly from: string,
    readonly sender: SimConduit,
    readonly receiver: SimConduit,
  ) {}

  send(data: Buffer): boolean {
    if (this.#closed) return true;
    const length = data.length;
    if (length > 0) {
      // Copy: the writer may reuse its buffer as soon as write() returns.
      const copy = Buffer.allocUnsafe(length);
      copy.set(data);
      this.inFlight += length;
      this.#enqueue(new Item(DATA, copy, 0));
    }
    if (this.inFlight > this.core.highWaterBytes) {
      this.#needDrain = true;
      return false;
    }
    return true;
  }

  sendFin(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#enqueue(new Item(FIN, undefined, 0));
  }

  /** Drop what was not delivered and tell the receiver the pipe is gone. */
  sendReset(): void {
    this.drop();
    this.#enqueue(new Item(RESET, undefined, 0));
  }

  drop(): void {
    this.#closed = true;
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#held = false;
    this.#items = [];
    this.#head = 0;
    // Nothing is left to stay ordered behind.
    this.#lastDeliverAt = 0;
    this.inFlight = 0;
    this.#needDrain = false;
  }

  resume(): void {
    if (!this.#held || this.link.isCut(this.from)) return;
    this.#held = false;
    // Held items leave together once the link is back, still in order.
    let floor = this.core.clock.now() + this.core.sampleLatency(this.link);
    const items = this.#items;
    for (let i = this.#head; i < items.length; i++) {
      const item = items[i]!;
      if (item.deliverAt < floor) item.deliverAt = floor;
      else floor = item.deliverAt;
    }
    this.#lastDeliverAt = floor;
    this.#arm();
  }

  #enqueue(item: Item): void {
    const at = Math.max(this.#lastDeliverAt, this.core.clock.now() + this.core.sampleLatency(this.link));
    item.deliverAt = at;
    this.#lastDeliverAt = at;
    this.#items.push(item);
    if (this.#timer === undefined && !this.#held && !this.#delivering) this.#arm();
  }

  #arm(): void {
    const head = this.#items[this.#head];
    if (head === undefined) return;
    this.#timer = this.core.clock.setTimeout(this.#onDue, Math.max(0, head.deliverAt - this.core.clock.now()));
  }

  readonly #onDue = (): void => {
    this.#timer = undefined;
    this.#delivering = true;
    const now = this.core.clock.now();
    let delivered = 0;
    try {
      while (this.#head < this.#items.length) {
        if (this.link.isCut(this.from)) {
          this.#held = true;
          return;
        }
        const item = this.#items[this.#head]!;
        // The head is delivered unconditionally: a real-time timer may fire a hair early.
        if (delivered > 0 && item.deliverAt > now) break;
        this.#items[this.#head++] = undefined;
        delivered++;
        this.#deliver(item);
      }
    } finally {
      this.#delivering = false;
      this.#compact();
      if (!this.#held && this.#timer === undefined) this.#arm();
    }
  };

  #deliver(item: Item): void {
    if (item.kind === DATA) {
      const data = item.data!;
      this.inFlight -= data.length;
      this.receiver.receiveData(data);
      if (this.#needDrain && this.inFlight <= this.core.highWaterBytes) {
        this.#needDrain = false;
        this.sender.receiveDrain();
      }
    } else if (item.kind === FIN) {
      this.receiver.receiveFin();
    } else {
      this.receiver.receiveReset();
    }
  }

  #compact(): void {
    const head = this.#head;
    if (head === this.#items.length) {
      this.#items.length = 0;
      this.#head = 0;
    } else if (head > 1024 && head * 2 > this.#items.length) {
      this.#items.splice(0, head);
      this.#head = 0;
    }
  }
}

function resetError(peer: string): Error {
  return new SimNetworkError('ECONNRESET', `memory: connection reset by "${peer}"`);
}

/**
 * One end of a pipe. Handler calls are serialised: bytes that arrive before `setHandlers` (or while
 * a backlog is being flushed) queue in `#backlog`, and a flush microtask hands them out in order,
 * followed by a pending drain or close.
 */
class SimConduit implements Conduit {
  readonly remoteLabel: string;
  declare out: Direction;
  declare incoming: Direction;
  #peer: SimConduit | undefined;
  #handlers: ConduitHandlers | undefined;
  #backlog: Buffer[] | undefined;
  #flushScheduled = false;
  #drainPending = false;
  /** No more writes: end(), destroy(), or the peer closed. */
  #ended = false;
  #destroyed = false;
  /** Nothing more will be received; onClose is pending or done. */
  #closing = false;
  #closePending = false;
  #closeError: Error | undefined;
  #closeNotified = false;

  constructor(
    readonly core: NetworkCore,
    readonly localName: string,
    readonly remoteName: string,
  ) {
    this.remoteLabel = `memory:${remoteName}`;
  }

  connect(peer: SimConduit, out: Direction, incoming: Direction): void {
    this.#peer = peer;
    this.out = out;
    this.incoming = incoming;
  }

  get isClosing(): boolean {
    return this.#closing;
  }

  write(data: Buffer): boolean {
    if (this.#ended) return false;
    return this.out.send(data);
  }

  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.out.sendFin();
  }

  destroy(): void {
    this.terminate(true);
  }

  setHandlers(handlers: ConduitHandlers): void {
    this.#handlers = handlers;
    if (this.#backlog !== undefined || this.#drainPending || this.#closePending) this.#scheduleFlush();
  }

  /** Destroy this end; `notify` is false for a crash, whose handlers are gone with the process. */
  terminate(notify: boolean): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#ended = true;
    this.#backlog = undefined;
    this.#drainPending = false;
    const wasClosing = this.#closing;
    this.#closing = true;
    if (!notify) {
      this.#closeNotified = true;
    } else if (!wasClosing) {
      this.#closePending = true;
      this.#scheduleFlush();
    }
    const peer = this.#peer!;
    this.incoming.drop();
    if (peer.isClosing) {
      this.core.release(this, peer);
    } else {
      this.out.sendReset();
    }
  }

  receiveData(chunk: Buffer): void {
    if (this.#closing) return;
    if (this.#canCallNow()) {
      this.#handlers!.onData(chunk);
      return;
    }
    if (this.#backlog === undefined) this.#backlog = [chunk];
    else this.#backlog.push(chunk);
    if (this.#handlers !== undefined) this.#scheduleFlush();
  }

  receiveDrain(): void {
    if (this.#closing) return;
    if (this.#canCallNow()) {
      this.#handlers!.onDrain();
      return;
    }
    this.#drainPending = true;
    if (this.#handlers !== undefined) this.#scheduleFlush();
  }

  /** The peer ended: close after what it sent, and end our side too (no half-open pipes). */
  receiveFin(): void {
    if (this.#closing) return;
    this.#closing = true;
    if (!this.#ended) {
      this.#ended = true;
      this.out.sendFin();
    }
    const peer = this.#peer!;
    if (peer.isClosing) this.core.release(this, peer);
    this.#requestClose(undefined);
  }

  receiveReset(): void {
    if (this.#closing) return;
    this.#closing = true;
    this.#ended = true;
    this.core.release(this, this.#peer!);
    this.#requestClose(resetError(this.remoteName));
  }

  #canCallNow(): boolean {
    return this.#handlers !== undefined && this.#backlog === undefined && !this.#flushScheduled;
  }

  #requestClose(error: Error | undefined): void {
    this.#closeError = error;
    if (this.#canCallNow()) {
      this.#notifyClose();
      return;
    }
    this.#closePending = true;
    if (this.#handlers !== undefined) this.#scheduleFlush();
  }

  #notifyClose(): void {
    if (this.#closeNotified) return;
    this.#closeNotified = true;
    this.#closePending = false;
    this.#handlers!.onClose(this.#closeError);
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    queueMicrotask(this.#flush);
  }

  readonly #flush = (): void => {
    this.#flushScheduled = false;
    if (this.#handlers === undefined || this.#closeNotified) return;
    const backlog = this.#backlog;
    if (backlog !== undefined) {
      // Chunks received while flushing are appended to this same array and flushed here too;
      // a destroy() from a handler clears #backlog, which stops the loop.
      for (let i = 0; i < backlog.length && this.#backlog === backlog; i++) this.#handlers.onData(backlog[i]!);
      if (this.#backlog === backlog) this.#backlog = undefined;
    }
    if (this.#drainPending && !this.#closing) {
      this.#drainPending = false;
      this.#handlers.onDrain();
    }
    if (this.#closePending) this.#notifyClose();
  };
}

class SimConnector implements Connector {
  readonly kind = 'memory';
  crashed = false;
  #onConduit: ((conduit: Conduit) => void) | undefined;

  constructor(
    readonly core: NetworkCore,
    readonly name: string,
    readonly logger: Logger,
  ) {
    if (typeof name !== 'string' || name.length === 0) {
      throw new InvalidArgumentError('memory transport: the node needs a non-empty name (it is its address)');
    }
    core.addConnector(this);
  }

  async listen(onConduit: (conduit: Conduit) => void): Promise<string> {
    this.#checkAlive('listen');
    this.core.listen(this);
    this.#onConduit = onConduit;
    return this.name;
  }

  async dial(address: string): Promise<Conduit> {
    this.#checkAlive('dial');
    if (typeof address !== 'string') throw new InvalidArgumentError('memory transport: dial(address) takes the peer node name');
    return this.core.open(this.name, address);
  }

  async close(): Promise<void> {
    this.core.unlisten(this);
    this.#onConduit = undefined;
  }

  accept(conduit: SimConduit): void {
    try {
      this.#onConduit!(conduit);
    } catch (err) {
      // The listener's bug must not surface as the dialer's failure: the dialer sees a reset.
      this.logger.error({ event: 'accept_error', peer: conduit.remoteName, err }, 'memory transport: onConduit threw');
      conduit.destroy();
    }
  }

  #checkAlive(method: string): void {
    if (this.crashed) {
      throw new SimNetworkError('ENETDOWN', `memory: ${method} on node "${this.name}" after SimNetwork.crash(); start a new node instead`);
    }
  }
}
