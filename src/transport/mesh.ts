import type { Clock, Timer } from '../time/clock.js';
import type { Random } from '../time/random.js';
import type { Logger } from '../observability/logger.js';
import type { Conduit, Connector } from './conduit.js';
import { BadFrameError } from '../errors.js';
import { BATCH_BIT, frameTypeName } from '../wire/types.js';
import { Throttle } from './throttle.js';
import type { PeerStats } from '../observability/stats.js';
import {
  Link,
  type AdmitDecision,
  type LinkCloseReason,
  type LinkOptions,
  type LinkOwner,
  type LocalIdentity,
  type PeerIdentity,
} from './link.js';

export interface HeartbeatOptions {
  /** Send a heartbeat on a link that has been idle this long. Default 500 ms. */
  readonly intervalMs: number;
  /** Declare a peer down when nothing arrived from it for this long. Default 2500 ms. */
  readonly timeoutMs: number;
}

export interface ReconnectOptions {
  /** First retry delay after a lost link; doubles per failed attempt. Default 100 ms. */
  readonly initialMs: number;
  /** Cap of the retry delay. Default 2000 ms. */
  readonly maxMs: number;
  /** Stop retrying a peer that has been unreachable this long (seeds are retried by discovery). Default 1 h. */
  readonly forgetAfterMs: number;
}

export interface MeshOptions extends LinkOptions {
  readonly cookie: Buffer;
  readonly heartbeat: HeartbeatOptions;
  readonly reconnect: ReconnectOptions;
  /** Inbound connections still in their handshake beyond which new ones are closed at once. Default 64. */
  readonly maxPendingHandshakes?: number;
}

export const DEFAULT_MAX_PENDING_HANDSHAKES = 64;

/** What the mesh tells its owner (the Node). */
export interface MeshEvents {
  peerUp(peer: PeerIdentity): void;
  peerDown(peer: PeerIdentity, reason: string, detail: string | undefined): void;
}

export type FrameHandler = (peer: PeerIdentity, body: unknown) => void;

/** Heartbeats carry a load report at least this often, even on links busy enough to need no PING. */
const LOAD_REPORT_MS = 5000;

/** Traffic totals of the links that have closed (node.stats() adds the live ones). */
interface TrafficTotals {
  bytesIn: number;
  bytesOut: number;
  framesIn: number;
  framesOut: number;
}

interface BookEntry {
  address: string;
  attempt: number;
  downSince: number | undefined;
  retry: Timer | undefined;
}

interface Dial {
  readonly name: string | undefined;
  link: Link | undefined;
  /** Set when an inbound connection from the same peer won the race: do not retry on failure. */
  superseded: boolean;
}

interface Block {
  in: boolean;
  out: boolean;
}

/**
 * The full mesh: one link per peer node, kept up. Dials candidates, resolves simultaneous dials
 * (the connection initiated by the node with the smaller name wins), replaces links of restarted
 * peers, runs heartbeats, and reconnects lost peers with backoff and jitter.
 */
export class Mesh implements LinkOwner {
  readonly cookie: Buffer;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly options: MeshOptions;
  local: LocalIdentity;

  private readonly connector: Connector;
  private readonly random: Random;
  private readonly events: MeshEvents;
  private readonly handlers = new Map<number, FrameHandler>();
  private readonly batchable = new Set<number>();
  /** Up links by peer name. */
  private readonly links = new Map<string, Link>();
  /** Inbound links still in their handshake. */
  private readonly accepting = new Set<Link>();
  /** Outbound dials in progress, by address. */
  private readonly dials = new Map<string, Dial>();
  /** Peers we keep connected to, by name. */
  private readonly book = new Map<string, BookEntry>();
  private readonly blocks = new Map<string, Block>();
  private heartbeatTimer: Timer | undefined;
  private lastTickAt = 0;
  private stopped = false;
  private readonly refusedConnections: Throttle;
  private readonly droppedFrames: Throttle;
  private readonly closedTraffic: TrafficTotals = { bytesIn: 0, bytesOut: 0, framesIn: 0, framesOut: 0 };
  /** The payload of heartbeats (an encoded load report), or undefined to send the empty map. */
  private readonly loadReport: (() => Buffer) | undefined;

  constructor(
    connector: Connector,
    local: LocalIdentity,
    options: MeshOptions,
    events: MeshEvents,
    deps: { clock: Clock; random: Random; logger: Logger; loadReport?: () => Buffer },
  ) {
    this.connector = connector;
    this.local = local;
    this.options = options;
    this.cookie = options.cookie;
    this.events = events;
    this.clock = deps.clock;
    this.random = deps.random;
    this.logger = deps.logger;
    this.refusedConnections = new Throttle(deps.clock);
    this.droppedFrames = new Throttle(deps.clock);
    this.loadReport = deps.loadReport;
  }

  /** Listen, start heartbeats; resolves with the address peers dial. */
  async start(): Promise<string> {
    const address = await this.connector.listen((conduit) => this.accept(conduit));
    this.local = { ...this.local, address };
    const tickMs = Math.max(1, Math.min(this.options.heartbeat.intervalMs, this.options.heartbeat.timeoutMs / 4) / 2);
    this.lastTickAt = this.clock.now();
    this.heartbeatTimer = this.clock.setInterval(() => this.tick(tickMs), tickMs);
    return address;
  }

  /**
   * Register the handler of a frame type (node and group layers). Unknown types close the link.
   * With `batch`, consecutive frames of the type to one peer are coalesced into batch frames:
   * only for types whose handler takes one message per value (not handshake-like exchanges).
   */
  handle(type: number, handler: FrameHandler, options: { batch?: boolean } = {}): void {
    if ((type & BATCH_BIT) !== 0 || type < 0 || type > 0xff) throw new RangeError(`frame type must be 0x00..0x7f, got ${type}`);
    if (this.handlers.has(type)) throw new Error(`frame type 0x${type.toString(16)} already has a handler`);
    this.handlers.set(type, handler);
    if (options.batch === true) this.batchable.add(type);
  }

  unhandle(type: number): void {
    this.handlers.delete(type);
    this.batchable.delete(type);
  }

  /** Queue a frame to a connected peer; false when the peer is not connected (the frame is dropped). */
  send(peer: string, type: number, payload: Buffer): boolean {
    const link = this.links.get(peer);
    return link !== undefined && link.send(type, payload);
  }

  peers(): PeerIdentity[] {
    const out: PeerIdentity[] = [];
    for (const link of this.links.values()) out.push(link.peer!);
    return out;
  }

  peer(name: string): PeerIdentity | undefined {
    return this.links.get(name)?.peer;
  }

  /** Write the frames queued to a peer now rather than at the end of the turn. */
  flush(peer: string): void {
    this.links.get(peer)?.flushImmediately();
  }

  /** Bytes queued to a peer and not yet written (0 when not connected). */
  queuedBytes(peer: string): number {
    return this.links.get(peer)?.queuedBytes ?? 0;
  }

  /** When (clock.now()) anything last arrived from a connected peer; undefined when not connected. */
  lastReceivedAt(peer: string): number | undefined {
    return this.links.get(peer)?.lastReceivedAt;
  }

  /** Traffic and liveness of each connected peer (node.stats()). */
  peerStats(): PeerStats[] {
    const now = this.clock.now();
    const out: PeerStats[] = [];
    for (const link of this.links.values()) {
      const peer = link.peer!;
      out.push({
        node: peer.name,
        incarnation: peer.incarnation,
        address: peer.address,
        state: 'up',
        bytesIn: link.bytesIn,
        bytesOut: link.bytesOut,
        framesIn: link.framesIn,
        framesOut: link.framesOut,
        queueBytes: link.queuedBytes,
        heartbeatAgeMs: Math.max(0, now - link.lastReceivedAt),
        connectedSinceMs: Math.max(0, now - link.upAt),
        eventLoopDelayP99Ms: link.peerLoopDelayMs ?? null,
      });
    }
    return out;
  }

  /** Traffic totals over every link, closed ones included. */
  trafficTotals(): TrafficTotals {
    const totals = { ...this.closedTraffic };
    for (const link of this.links.values()) addTraffic(totals, link);
    return totals;
  }

  /**
   * Make sure we are connected (or connecting) to a candidate. Cheap to call repeatedly: known,
   * connected and in-progress peers are skipped. `name` is optional (DNS gives only addresses).
   */
  connect(address: string, name?: string): void {
    // '' is the address of a peer that does not listen (it dialled us): nothing to dial.
    if (this.stopped || address === '' || address === this.local.address || name === this.local.name) return;
    if (name !== undefined) {
      if (this.links.has(name) || this.isBlocked(name, 'out')) return;
      const entry = this.book.get(name);
      if (entry !== undefined) {
        entry.retry?.cancel();
        entry.retry = undefined;
        entry.address = address;
      }
      // An inbound connection that claims to be `name` is no reason to wait: until its proof,
      // it may be anyone. If it is them, the dial race is settled like any other (admit).
    }
    if (this.dials.has(address)) return;
    const dial: Dial = { name, link: undefined, superseded: false };
    this.dials.set(address, dial);
    // A connector may throw at once for an address it cannot parse (one a peer advertised or
    // gossiped): that is a failed dial like any other, not an exception out of a timer.
    dialSafely(this.connector, address).then(
      (conduit) => {
        if (this.stopped || this.dials.get(address) !== dial || dial.superseded) {
          if (this.dials.get(address) === dial) this.dials.delete(address);
          conduit.destroy();
          return;
        }
        dial.link = new Link(this, conduit, 'client', address);
      },
      (error: Error) => {
        if (this.dials.get(address) === dial) this.dials.delete(address);
        this.logger.debug({ event: 'dial_failed', address, peer: name, err: error.message }, `cannot reach ${name ?? address}: ${error.message}`);
        if (name !== undefined && !dial.superseded) this.scheduleRetry(name);
      },
    );
  }

  /** Drop the link to a peer now (the peer may reconnect). */
  disconnect(name: string, reason: LinkCloseReason = 'connection_closed'): void {
    this.links.get(name)?.fail(reason);
  }

  /**
   * Fault injection (tests): lose every frame to and/or from a peer, and refuse to connect to it,
   * as a network partition would. With `closeNow` the current link is dropped at once instead of
   * waiting for the heartbeat timeout.
   */
  block(name: string, options: { in?: boolean; out?: boolean; closeNow?: boolean } = {}): void {
    this.blocks.set(name, { in: options.in ?? true, out: options.out ?? true });
    if (options.closeNow === true) this.links.get(name)?.fail('blocked');
  }

  unblock(name?: string): void {
    if (name === undefined) this.blocks.clear();
    else this.blocks.delete(name);
  }

  /** Graceful stop: every peer gets LEAVE (a clean nodedown), then links and the listener close. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.heartbeatTimer?.cancel();
    for (const entry of this.book.values()) entry.retry?.cancel();
    for (const link of [...this.links.values(), ...this.accepting]) link.leave();
    for (const dial of this.dials.values()) dial.link?.fail('stopped');
    this.dials.clear();
    await this.connector.close();
  }

  // ---- LinkOwner ------------------------------------------------------------------------

  isKnownType(type: number): boolean {
    return this.handlers.has(type);
  }

  isBatchable(type: number): boolean {
    return this.batchable.has(type);
  }

  isBlocked(peer: string, direction: 'in' | 'out'): boolean {
    if (this.blocks.size === 0) return false;
    const block = this.blocks.get(peer);
    return block !== undefined && block[direction];
  }

  admit(link: Link, hello: PeerIdentity, authenticated: boolean): AdmitDecision {
    if (this.stopped) return refuse('stopping', `${this.local.name} is stopping`);
    if (hello.name === this.local.name) {
      return refuse('name_in_use', `a node named ${hello.name} is already running at ${this.local.address}; node names must be unique`);
    }
    if (this.isBlocked(hello.name, 'in')) return refuse('blocked', 'blocked by fault injection');
    const existing = this.links.get(hello.name);
    if (existing !== undefined && existing !== link) {
      const current = existing.peer!;
      if (hello.incarnation < current.incarnation) {
        return refuse('stale_incarnation', `${hello.name} incarnation ${hello.incarnation} is older than the connected ${current.incarnation}`);
      }
      // Same incarnation: two connections between the same pair. The one initiated by the
      // smaller name wins on both sides; a peer re-dialling after losing its link (its new
      // connection and the old one both initiated by it) gets the new one.
      if (hello.incarnation === current.incarnation && existing.role === 'client' && this.local.name < hello.name) {
        return refuse('duplicate_connection', `already connected to ${hello.name}`);
      }
    }
    for (const [address, dial] of this.dials) {
      const pendingName = dial.link?.peer?.name ?? dial.name;
      if (pendingName !== hello.name && address !== hello.address) continue;
      if (this.local.name < hello.name) return refuse('duplicate_connection', `${this.local.name} is dialling ${hello.name}`);
      // Their connection wins, once it has proved who it is: abandon ours. Before the proof it
      // may be anyone claiming their name, who must not be able to cancel our dial.
      if (!authenticated) continue;
      dial.superseded = true;
      this.dials.delete(address);
      dial.link?.fail('refused', 'superseded by the inbound connection');
    }
    if (authenticated) {
      for (const other of this.accepting) {
        if (other !== link && other.peer?.name === hello.name) other.fail('replaced', 'a newer connection from the same peer arrived');
      }
    }
    return ACCEPT;
  }

  confirmDialled(link: Link, peer: PeerIdentity): AdmitDecision {
    if (this.stopped) return refuse('stopping', `${this.local.name} is stopping`);
    if (peer.name === this.local.name) return refuse('self', 'dialled ourselves');
    if (this.isBlocked(peer.name, 'out')) return refuse('blocked', 'blocked by fault injection');
    const existing = this.links.get(peer.name);
    if (existing !== undefined && existing !== link) {
      if (peer.incarnation < existing.peer!.incarnation) return refuse('stale_incarnation', 'an older incarnation');
      if (peer.incarnation === existing.peer!.incarnation && this.local.name > peer.name) {
        return refuse('duplicate_connection', `already connected to ${peer.name}`);
      }
    }
    return ACCEPT;
  }

  linkUp(link: Link): void {
    const peer = link.peer!;
    this.accepting.delete(link);
    if (link.dialledAddress !== undefined && this.dials.get(link.dialledAddress)?.link === link) this.dials.delete(link.dialledAddress);
    const existing = this.links.get(peer.name);
    if (existing !== undefined) {
      // Emit the old link's down before the new link's up, so the layers above purge the old
      // incarnation (or session) before they resync with the new one.
      this.links.delete(peer.name);
      const reason = existing.peer!.incarnation !== peer.incarnation ? 'restarted' : 'replaced';
      existing.fail(reason);
      this.events.peerDown(existing.peer!, reason, undefined);
    }
    this.links.set(peer.name, link);
    const address = peer.address !== '' ? peer.address : (link.dialledAddress ?? '');
    const entry = this.book.get(peer.name);
    if (entry === undefined) this.book.set(peer.name, { address, attempt: 0, downSince: undefined, retry: undefined });
    else {
      entry.retry?.cancel();
      Object.assign(entry, { address: address !== '' ? address : entry.address, attempt: 0, downSince: undefined, retry: undefined });
    }
    this.logger.info({ event: 'nodeup', peer: peer.name, incarnation: peer.incarnation, address }, `connected to ${peer.name}`);
    this.events.peerUp(peer);
  }

  linkDown(link: Link, reason: LinkCloseReason, detail?: string): void {
    this.accepting.delete(link);
    addTraffic(this.closedTraffic, link);
    if (reason === 'handshake_timeout') {
      this.logger.debug({ event: 'handshake_timeout', remote: link.remoteLabel, peer: link.peer?.name }, `closed ${link.remoteLabel}: ${detail ?? 'no handshake in time'}`);
    }
    if (link.dialledAddress !== undefined) {
      const dial = this.dials.get(link.dialledAddress);
      if (dial?.link === link) this.dials.delete(link.dialledAddress);
    }
    const peer = link.peer;
    if (peer === undefined) return;
    if (this.links.get(peer.name) === link) {
      this.links.delete(peer.name);
      const level = reason === 'left' || reason === 'stopped' ? 'info' : 'warn';
      this.logger[level]({ event: 'nodedown', peer: peer.name, reason, detail }, `lost ${peer.name} (${reason}${detail ? `: ${detail}` : ''})`);
      this.events.peerDown(peer, reason, detail);
      if (reason === 'left') {
        this.forget(peer.name);
        return;
      }
    }
    if (reason === 'refused' && detail?.startsWith('duplicate_connection') === true) return;
    if (!this.links.has(peer.name) && reason !== 'stopped' && reason !== 'replaced') this.scheduleRetry(peer.name);
  }

  frame(link: Link, type: number, body: unknown): void {
    const handler = this.handlers.get(type)!;
    try {
      handler(link.peer!, body);
    } catch (error) {
      if (error instanceof BadFrameError) {
        // The handler found the payload malformed (a wrong shape): the peer's fault, as bad bytes are.
        const message = `${frameTypeName(type)}: ${error.message}`;
        this.logger.warn({ event: 'bad_frame', peer: link.peer!.name, remote: link.remoteLabel, err: message }, `closing link to ${link.peer!.name}: ${message}`);
        link.fail('bad_frame', message);
        return;
      }
      this.logger.error({ event: 'handler_error', peer: link.peer!.name, type, err: error }, 'frame handler threw');
    }
  }

  unhandledFrame(link: Link, type: number): void {
    const count = this.droppedFrames.hit();
    if (count === 0) return;
    this.logger.debug(
      { event: 'unhandled_frames', peer: link.peer?.name, type: frameTypeName(type), count, total: this.droppedFrames.total },
      `dropped ${count} frame(s) of types no layer here handles (latest ${frameTypeName(type)} from ${link.peer?.name ?? link.remoteLabel}), e.g. a peer's Group this node does not run`,
    );
  }

  // ---- internals ------------------------------------------------------------------------

  private accept(conduit: Conduit): void {
    if (this.stopped) {
      conduit.destroy();
      return;
    }
    const limit = this.options.maxPendingHandshakes ?? DEFAULT_MAX_PENDING_HANDSHAKES;
    if (this.accepting.size >= limit) {
      // A flood of connections that never authenticate: each would hold a link until its
      // handshake timeout. Refuse the excess at once; peers retry with backoff.
      conduit.destroy();
      const count = this.refusedConnections.hit();
      if (count > 0) {
        this.logger.warn(
          { event: 'handshake_limit', remote: conduit.remoteLabel, limit, refused: count, total: this.refusedConnections.total },
          `refused ${count} connection(s) (latest from ${conduit.remoteLabel}): ${limit} handshakes already pending (maxPendingHandshakes)`,
        );
      }
      return;
    }
    this.accepting.add(new Link(this, conduit, 'server'));
  }

  private forget(name: string): void {
    const entry = this.book.get(name);
    entry?.retry?.cancel();
    this.book.delete(name);
  }

  private scheduleRetry(name: string): void {
    const entry = this.book.get(name);
    if (entry === undefined || this.stopped || this.links.has(name) || entry.retry !== undefined) return;
    if (entry.address === '') {
      // It does not listen (it dialled us): only it can reconnect, so there is nothing to keep.
      this.forget(name);
      return;
    }
    const now = this.clock.now();
    entry.downSince ??= now;
    if (now - entry.downSince > this.options.reconnect.forgetAfterMs) {
      this.logger.info({ event: 'peer_forgotten', peer: name }, `giving up on ${name}`);
      this.forget(name);
      return;
    }
    const { initialMs, maxMs } = this.options.reconnect;
    const base = Math.min(maxMs, initialMs * 2 ** Math.min(entry.attempt, 20));
    const delay = base * (0.5 + this.random.next()); // jitter: peers that lost each other do not redial in lockstep
    entry.attempt++;
    entry.retry = this.clock.setTimeout(() => {
      entry.retry = undefined;
      if (this.book.get(name) === entry) this.connect(entry.address, name);
    }, delay);
  }

  private tick(tickMs: number): void {
    const now = this.clock.now();
    // After an event-loop stall the timers phase runs before pending socket reads are
    // processed: do not judge peers on this tick, give the backlog a chance to be read first.
    const stalled = now - this.lastTickAt > tickMs * 3;
    this.lastTickAt = now;
    const { intervalMs, timeoutMs } = this.options.heartbeat;
    const reporting = this.loadReport !== undefined;
    let report: Buffer | undefined;
    for (const link of this.links.values()) {
      if (!stalled && now - link.lastReceivedAt > timeoutMs) {
        link.fail('heartbeat_timeout', `nothing received for ${Math.round(now - link.lastReceivedAt)} ms`);
      } else if (now - link.lastSentAt >= intervalMs || (reporting && now - link.lastPingAt >= LOAD_REPORT_MS)) {
        // One report per tick, shared by every link that needs a heartbeat.
        if (reporting) report ??= this.loadReport!();
        link.ping(report, now);
      }
    }
  }
}

const ACCEPT: AdmitDecision = { ok: true };

function dialSafely(connector: Connector, address: string): Promise<Conduit> {
  try {
    return connector.dial(address);
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
}


function addTraffic(totals: TrafficTotals, link: Link): void {
  totals.bytesIn += link.bytesIn;
  totals.bytesOut += link.bytesOut;
  totals.framesIn += link.framesIn;
  totals.framesOut += link.framesOut;
}

function refuse(reason: string, message: string): AdmitDecision {
  return { ok: false, reason, message };
}
