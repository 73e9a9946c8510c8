import { isDeepStrictEqual } from 'node:util';
import { describeReason } from '../errors.js';
import { assertEncodable } from '../wire/codec.js';
import type { Logger } from '../observability/logger.js';
import type { GroupCounters } from '../observability/stats.js';
import type { Node } from '../node/node.js';
import { Pid } from '../process/pid.js';
import type { Timer } from '../time/clock.js';
import type { PeerIdentity } from '../transport/link.js';
import { ClusterMembership, type ClusterName } from './clusters.js';
import { Declarations, declarationFromWire, type Declaration } from './declarations.js';
import { decideConflict, killsLoser, preferred, timeOrderOf, type NameConflictMessage, type TimeOrder } from './conflict-strategies.js';
import type { GroupEvent } from './events.js';
import type { ResolvedGroupOptions } from './options.js';
import { GroupFrame, Op, isClusterName, type OpCode, type WireRow } from './protocol.js';
import { wireExtension, wireTail, type Topics } from './memberships.js';
import { Shadows } from './shadows.js';
import { GroupTables, MemberRow, RegistryRow, type Row } from './tables.js';

/** The fields of a row, as received (not yet stored); a stored Row has them too. */
export interface RowData {
  readonly cluster: ClusterName;
  readonly key: string;
  readonly pid: Pid;
  readonly meta: unknown;
  readonly time: number;
  /** Memberships only: the topics (undefined = every message) and the join count (default 1). */
  readonly topics?: Topics;
  readonly count?: number;
}

/** What the replicator needs from the Group that owns it. */
export interface ReplicaHost {
  readonly node: Node;
  readonly name: string;
  readonly options: ResolvedGroupOptions;
  readonly tables: GroupTables;
  readonly membership: ClusterMembership;
  readonly logger: Logger;
  readonly counters: GroupCounters;
  verbose(): boolean;
  /** Deliver one batch of events to local subscribers (after any still pending from emitSoon). */
  emit(events: GroupEvent[]): void;
  /** Deliver events with the others of this turn, in one batch (at the latest in a microtask). */
  emitSoon(events: GroupEvent[]): void;
  /** Whether any subscription exists (else hot paths build no events). */
  wantsEvents(): boolean;
  /** A declared group's state flipped on this node (for monitorGroups subscribers). */
  declared(cluster: ClusterName, key: string, declaration: Declaration): void;
  /** Make an event from a row, stored or as received (applies extractMeta). */
  event(type: GroupEvent['type'], row: RowData, previousMeta: unknown, reason: unknown): GroupEvent;
}

/**
 * The peer protocol of one Group instance: handshake, snapshots, ops, named-cluster connect and
 * disconnect, node-down purges, conflict resolution and anti-entropy. Every rule here follows
 * the reference (group-durable-semantics.md §2.3-§2.5); docs/consistency.md says it in words.
 */
export class Replicator {
  private readonly host: ReplicaHost;
  /** Ops this node originated per cluster (anti-entropy). */
  private readonly ownSeq = new Map<ClusterName, number>();
  /** Last op seq applied per peer per cluster. */
  private readonly peerSeq = new Map<string, Map<ClusterName, number>>();
  /** Events of a snapshot still arriving in chunks, per "peer|cluster". */
  private readonly pendingState = new Map<string, { events: GroupEvent[]; seen: Set<Row> | undefined }>();
  private digestTimer: Timer | undefined;
  /** The Pid pidOf built last (see there). */
  private lastPid: Pid | undefined = undefined;
  /** Registrations heard of but not shown, while another registration of the key is (see shadows.ts). */
  readonly shadows: Shadows;
  /** createGroup / deleteGroup state, held whole on every node (see declarations.ts). */
  readonly declarations = new Declarations();
  /** Which of two registration times every node prefers (the conflict strategy's order). */
  readonly order: TimeOrder;

  constructor(host: ReplicaHost) {
    this.host = host;
    this.order = timeOrderOf(host.options.conflictStrategy);
    this.shadows = new Shadows(this.order);
  }

  start(): void {
    const { node } = this.host;
    this.digestTimer = node.clock.setInterval(() => this.sendDigests(), this.host.options.antiEntropyMs);
    for (const peer of node.peers()) this.send(peer, GroupFrame.HELLO, [this.myClusters()]);
  }

  stop(): void {
    this.digestTimer?.cancel();
    this.shadows.clear();
    for (const peer of this.peers()) this.send(peer, GroupFrame.BYE, []);
  }

  /** Group peers: nodes that completed the handshake for this Group (excluding self). */
  peers(): string[] {
    return this.host.membership.nodes(null).filter((n) => n !== this.host.node.name);
  }

  onNodeUp(peer: string): void {
    // Both sides see nodeup; one HELLO per pair is enough (the peer answers with its own state).
    if (this.host.node.name < peer) this.send(peer, GroupFrame.HELLO, [this.myClusters()]);
  }

  onNodeDown(peer: string): void {
    this.forgetPeer(peer, 'nodedown');
  }

  // ---- local writes ---------------------------------------------------------------------

  /**
   * Replicate one local write to every peer in the cluster. The payload is encoded by the caller
   * (`encodeOp`) before the tables change, so an unencodable meta throws with nothing changed.
   */
  broadcast(cluster: ClusterName, payload: Buffer | undefined): void {
    if (payload === undefined) return;
    const self = this.host.node.name;
    const { counters } = this.host;
    for (const peer of this.host.membership.nodeSet(cluster)) {
      if (peer === self) continue;
      this.host.node.sendRaw(peer, GroupFrame.OP, payload);
      counters.framesOut[GroupFrame.OP & 15]!++;
      counters.bytesOut += payload.length;
    }
  }

  /**
   * Encode an op (bumping this node's seq for the cluster). Throws EncodeError, changing nothing.
   * With no peer in the cluster nothing is sent, so only the meta's encodability is checked
   * (it must be sendable in a later snapshot); measured ~10% of a single-node register.
   */
  encodeOp(cluster: ClusterName, op: OpCode, key: string, pid: Pid, meta: unknown, time: number, reason: unknown, tail?: unknown[]): Buffer | undefined {
    const seq = (this.ownSeq.get(cluster) ?? 0) + 1;
    let payload: Buffer | undefined;
    if (this.hasPeersIn(cluster)) {
      const body = [this.host.name, cluster, seq, op, key, pid.id, meta, time, reason];
      // A membership's topics and join count trail the op only when not the defaults (memberships.ts).
      if (tail !== undefined) body.push(...tail);
      payload = this.host.node.encodePayload(body);
    } else {
      assertEncodable(meta);
    }
    this.ownSeq.set(cluster, seq);
    return payload;
  }

  /**
   * Replicate the deaths of local processes (`rows[i]`: the rows `pids[i]` had, canonical order,
   * so grouped by cluster; `reasons[i]`: its exit reason). Per cluster, the pids that died for the
   * same reason travel in one EXIT op of up to MAX_EXIT_PIDS pids: 10,000 processes dying
   * together cost a few ops however many names and groups they had, and the peers remove their
   * rows themselves, group by group.
   */
  broadcastExits(pids: readonly Pid[], rows: readonly (readonly Row[])[], reasons: readonly unknown[]): void {
    const batches = new Map<ClusterName, { reason: unknown; ids: number[] }[]>();
    let lastReason: unknown = NO_REASON;
    let wireReason: unknown;
    for (let i = 0; i < pids.length; i++) {
      const pidRows = rows[i]!;
      if (pidRows.length === 0) continue;
      // encodableReason encodes the reason to measure it: once per distinct reason in a row.
      if (reasons[i] !== lastReason) wireReason = this.host.node.encodableReason((lastReason = reasons[i]));
      for (let j = 0; j < pidRows.length; j++) {
        const cluster = pidRows[j]!.cluster;
        if (j > 0 && pidRows[j - 1]!.cluster === cluster) continue;
        let list = batches.get(cluster);
        if (list === undefined) batches.set(cluster, (list = []));
        const last = list[list.length - 1];
        if (last !== undefined && last.reason === wireReason && last.ids.length < MAX_EXIT_PIDS) last.ids.push(pids[i]!.id);
        else list.push({ reason: wireReason, ids: [pids[i]!.id] });
      }
    }
    for (const [cluster, list] of batches) {
      for (const batch of list) {
        const seq = (this.ownSeq.get(cluster) ?? 0) + 1;
        this.ownSeq.set(cluster, seq);
        if (this.hasPeersIn(cluster)) this.broadcast(cluster, this.host.node.encodePayload([this.host.name, cluster, seq, Op.EXIT, batch.ids, batch.reason]));
      }
    }
    // A burst goes out now, not at the end of the turn: the dead processes' own teardown (their
    // promises settling, ~2 µs each) runs after this, and the peers can purge meanwhile.
    if (pids.length >= FLUSH_EXITS_AT) for (const peer of this.peers()) this.host.node.flushTo(peer);
  }

  private hasPeersIn(cluster: ClusterName): boolean {
    return this.host.membership.nodeSet(cluster).size > 1;
  }

  // ---- named clusters ---------------------------------------------------------------------

  connect(clusters: string[]): void {
    for (const peer of this.peers()) this.send(peer, GroupFrame.CONNECT, [clusters]);
  }

  disconnect(clusters: string[]): void {
    for (const cluster of clusters) this.declarations.dropCluster(cluster);
    for (const peer of this.peers()) this.send(peer, GroupFrame.DISCONNECT, [clusters]);
  }

  // ---- inbound ----------------------------------------------------------------------------

  onFrame(type: number, peer: PeerIdentity, body: unknown[]): void {
    if (this.host.verbose()) this.host.logger.debug({ event: 'group_frame', peer: peer.name, type }, 'group frame');
    this.host.counters.framesIn[type & 15]!++;
    switch (type) {
      case GroupFrame.HELLO:
      case GroupFrame.HELLO_ACK:
        return this.onHello(peer.name, body, type === GroupFrame.HELLO);
      case GroupFrame.STATE:
        return this.onState(peer, body);
      case GroupFrame.OP:
        return body[3] === Op.EXIT ? this.onExitOp(peer, body) : this.onOp(peer, body);
      case GroupFrame.CONNECT:
        return this.onConnect(peer.name, body);
      case GroupFrame.CONNECT_ACK:
        return this.onConnectAck(peer.name, body);
      case GroupFrame.DISCONNECT:
        return this.onDisconnect(peer.name, body);
      case GroupFrame.DISPATCH:
        return this.onDispatch(body);
      case GroupFrame.DIGEST:
        return this.onDigest(peer.name, body);
      case GroupFrame.RESYNC:
        return this.onResync(peer.name, body);
      case GroupFrame.BYE:
        // The node is up but its Group instance stopped: that node is down for this Group only.
        return this.forgetPeer(peer.name, { nodedown: peer.name });
    }
  }

  private onHello(peer: string, body: unknown[], isHello: boolean): void {
    const theirs = stringList(body[1]);
    if (theirs === undefined) return;
    const { membership } = this.host;
    const self = this.host.node.name;
    membership.add(null, peer);
    const shared: ClusterName[] = [null];
    for (const cluster of theirs) {
      if (membership.has(cluster, self)) {
        membership.add(cluster, peer);
        shared.push(cluster);
      }
    }
    let viaConnect: string[] = [];
    if (isHello) {
      this.send(peer, GroupFrame.HELLO_ACK, [this.myClusters(), shared.slice(1)]);
      // The ack goes out before our snapshot is encoded (tens of ms for 10k rows), so the peer
      // encodes its own snapshot while we encode ours instead of after.
      this.host.node.flushTo(peer);
    } else {
      // Our HELLO listed our clusters as they were when we sent it, and a connect or disconnect
      // made since went to the peers of that moment, which did not include this one yet. The ack
      // says which clusters the peer put us in: tell it the difference (reference §7.3 item 7).
      const placed = stringList(body[2]) ?? [];
      viaConnect = shared.filter((c): c is string => c !== null && !placed.includes(c));
      const stale = placed.filter((c) => !membership.has(c, self));
      if (viaConnect.length > 0) this.send(peer, GroupFrame.CONNECT, [viaConnect]); // its CONNECT_ACK starts the state exchange
      if (stale.length > 0) this.send(peer, GroupFrame.DISCONNECT, [stale]);
    }
    for (const cluster of shared) if (cluster === null || !viaConnect.includes(cluster)) this.sendState(peer, cluster, false);
    this.host.logger.info({ event: 'group_peer_up', group: this.host.name, peer }, `group ${this.host.name}: ${peer} joined`);
  }

  /** Send the rows this node owns in `cluster`, in chunks; the last chunk carries `final`. */
  private sendState(peer: string, cluster: ClusterName, replace: boolean): void {
    const { tables, node, options } = this.host;
    const snapshot = tables.snapshotOwned(cluster, node.name);
    const seq = this.ownSeq.get(cluster) ?? 0;
    const chunk = options.snapshotChunkRows;
    const reg = snapshot.registry.map(toWire);
    const pg = snapshot.members.map(toWire);
    let r = 0;
    let m = 0;
    do {
      const regPart = reg.slice(r, r + chunk);
      r += regPart.length;
      const pgPart = pg.slice(m, m + Math.max(0, chunk - regPart.length));
      m += pgPart.length;
      const final = r >= reg.length && m >= pg.length;
      const declared = final ? this.declarations.toWire(cluster) : undefined;
      this.send(peer, GroupFrame.STATE, declared === undefined ? [cluster, seq, regPart, pgPart, final, replace] : [cluster, seq, regPart, pgPart, final, replace, declared]);
      this.host.counters.rowsSent += regPart.length + pgPart.length;
      // Each chunk goes out as soon as it is encoded (order kept), so the peer merges one while
      // this node encodes the next: a heal's snapshots are pipelined instead of sent at the end.
      if (!final) this.host.node.flushTo(peer);
    } while (r < reg.length || m < pg.length);
  }

  private onState(identity: PeerIdentity, body: unknown[]): void {
    const peer = identity.name;
    const [, cluster, seq, reg, pg, final, replace] = body;
    if (!isClusterName(cluster) || typeof seq !== 'number' || !Array.isArray(reg) || !Array.isArray(pg)) return;
    const self = this.host.node.name;
    if (!this.host.membership.has(cluster, self) || !this.host.membership.has(null, peer)) return;
    const key = `${peer}|${String(cluster)}`;
    let pending = this.pendingState.get(key);
    if (pending === undefined) {
      pending = { events: [], seen: replace === true ? new Set() : undefined };
      this.pendingState.set(key, pending);
      // A resync restates all the peer's rows: its shadows are set aside again as they come.
      if (replace === true) this.shadows.removeOwnedBy(peer, cluster);
    }
    this.host.counters.rowsReceived += reg.length + pg.length;
    for (const wire of reg as unknown[]) {
      const row = this.fromWire(cluster, wire, identity);
      if (row !== undefined) this.mergeRegistry(row, pending.events, pending.seen);
    }
    for (const wire of pg as unknown[]) {
      const row = this.fromWire(cluster, wire, identity);
      if (row !== undefined) this.mergeMember(row, pending.events, pending.seen);
    }
    if (final !== true) return;
    this.pendingState.delete(key);
    // Every node sends its whole declarations table: the creator of a group may be gone.
    if (Array.isArray(body[7])) this.mergeDeclarations(cluster, body[7] as unknown[], pending.events);
    if (pending.seen !== undefined) {
      // A resync replaces the peer's rows: what it no longer has goes (the peer is authoritative).
      for (const row of this.host.tables.snapshotOwned(cluster, peer).registry) {
        if (!pending.seen.has(row)) this.removeRemote(row, 'resync', pending.events);
      }
      for (const row of this.host.tables.snapshotOwned(cluster, peer).members) {
        if (!pending.seen.has(row)) this.removeRemote(row, 'resync', pending.events);
      }
    }
    this.seqsOf(peer).set(cluster, seq);
    this.host.emit(pending.events);
  }

  /** Snapshot merge of one registry row (additive; reference §2.4). */
  private mergeRegistry(incoming: RowData, events: GroupEvent[], seen: Set<Row> | undefined): void {
    const { tables } = this.host;
    const existing = tables.lookup(incoming.cluster, incoming.key);
    if (existing === undefined) {
      const row = this.insertRegistry(incoming);
      seen?.add(row);
      events.push(this.host.event('registered', row, null, null));
    } else if (existing.pid.equals(incoming.pid)) {
      // Rows of one pid come only from its owner, in order, so the snapshot's copy is the current
      // one, whatever its time (ours may carry the later time of a conflict resolved here, and a
      // resync must repair a lost update even if the owner's clock is behind ours).
      const row = this.insertRegistry(incoming);
      seen?.add(row);
      if (!isDeepStrictEqual(existing.meta, incoming.meta)) events.push(this.host.event('registered', row, existing.meta, null));
    } else if (existing.pid.node === this.host.node.name) {
      this.resolveConflict(existing, incoming, events, seen, false);
    } else if (preferred(this.order, incoming, existing)) {
      // Not `seen?.add(this.insertRegistry(...))`: optional chaining would skip the insert itself
      // whenever `seen` is undefined (every merge but a resync).
      const row = this.insertRegistry(incoming);
      this.shadows.add(existing);
      seen?.add(row);
      // Subscribers see the key change hands, as for the same rule applied to a replicated op.
      events.push(this.host.event('registered', row, null, null));
    } else {
      this.shadows.add(incoming);
    }
  }

  private mergeMember(incoming: RowData, events: GroupEvent[], seen: Set<Row> | undefined): void {
    const { tables } = this.host;
    const existing = tables.member(incoming.cluster, incoming.key, incoming.pid);
    if (existing === undefined) {
      tables.join(incoming.cluster, incoming.key, incoming.pid, incoming.meta, incoming.time, incoming.topics, incoming.count);
      const row = tables.member(incoming.cluster, incoming.key, incoming.pid)!;
      seen?.add(row);
      events.push(this.host.event('joined', row, null, null));
    } else {
      // From its owner, in order: the current copy (see mergeRegistry).
      tables.join(incoming.cluster, incoming.key, incoming.pid, incoming.meta, incoming.time, incoming.topics, incoming.count);
      const row = tables.member(incoming.cluster, incoming.key, incoming.pid)!;
      seen?.add(row);
      // A changed join count alone is no event (docs/api.md, join counting); changed topics are.
      if (!isDeepStrictEqual(existing.meta, incoming.meta) || !isDeepStrictEqual(existing.topics, row.topics)) {
        events.push(this.host.event('joined', row, existing.meta, null));
      }
    }
  }

  private insertRegistry(row: RowData): RegistryRow {
    // A pid shown for the key is not also set aside for it.
    this.shadows.remove(row.cluster, row.key, row.pid);
    this.host.tables.register(row.cluster, row.key, row.pid, row.meta, row.time);
    return this.host.tables.lookup(row.cluster, row.key)!;
  }

  private removeRemote(row: Row, reason: unknown, events: GroupEvent[]): void {
    if (row instanceof RegistryRow) {
      this.host.tables.unregister(row.cluster, row.key, row.pid);
      events.push(this.host.event('unregistered', row, null, reason));
      this.showNext(row.cluster, row.key, events);
    } else {
      this.host.tables.leave(row.cluster, row.key, row.pid);
      events.push(this.host.event('left', row, null, reason));
    }
  }

  private onOp(identity: PeerIdentity, body: unknown[]): void {
    const peer = identity.name;
    const [, cluster, seq, op, key, id, meta, time, reason] = body;
    if (!isClusterName(cluster) || typeof seq !== 'number' || typeof key !== 'string' || typeof time !== 'number') return;
    // A declaration (createGroup/deleteGroup) has no pid: it is the writing node's, and counts in its seq.
    if (id === null) return op === Op.CREATE_GROUP || op === Op.DELETE_GROUP ? this.onDeclarationOp(peer, cluster, seq, key, op === Op.CREATE_GROUP, time) : undefined;
    if (!isPidId(id) || !this.acceptOp(peer, cluster, seq)) return;
    const pid = this.pidOf(identity, id);
    const { counters } = this.host;
    // Only a fresh write's time is its creation time (removals carry the row's, re-asserts a
    // re-stamped one, a keepOldest registry update the registration's).
    const fresh = op === Op.JOIN || (op === Op.REGISTER && reason !== 'resolve_conflict' && reason !== 'update');
    if (fresh && counters.sampleLag()) counters.recordLag(this.host.node.clock.wallNow() - time);
    const events = this.host.wantsEvents() ? ([] as GroupEvent[]) : undefined;
    let row: RowData = { cluster, key, pid, meta, time };
    switch (op) {
      case Op.REGISTER:
        this.applyRegister(row, events, reason === 'resolve_conflict');
        break;
      case Op.UNREGISTER: {
        const existing = this.host.tables.lookup(cluster, key);
        if (existing !== undefined && existing.pid.equals(pid)) {
          this.host.tables.unregister(cluster, key, pid);
          events?.push(this.host.event('unregistered', row, null, reason));
          this.showNext(cluster, key, events);
        } else {
          this.shadows.remove(cluster, key, pid);
        }
        break;
      }
      case Op.JOIN: {
        const existing = this.host.tables.member(cluster, key, pid);
        if (body.length > 9) {
          const extension = wireExtension(body[9], body[10]);
          if (extension === undefined) break; // malformed trailing fields: the op is dropped
          row = { cluster, key, pid, meta, time, topics: extension.topics, count: extension.count };
          this.host.tables.join(cluster, key, pid, meta, time, extension.topics, extension.count);
        } else {
          this.host.tables.join(cluster, key, pid, meta, time);
        }
        // 'count': only the join count changed (count mode), which is no event.
        if (reason !== 'count' || existing === undefined) {
          events?.push(this.host.event('joined', row, reason === 'update' && existing !== undefined ? existing.meta : null, null));
        }
        break;
      }
      case Op.LEAVE:
        if (this.host.tables.leave(cluster, key, pid) !== undefined) events?.push(this.host.event('left', row, null, reason));
        break;
    }
    // The ops of one batch frame arrive in one turn: their events go out as one batch.
    if (events !== undefined) this.host.emitSoon(events);
  }

  /**
   * Receiver-side filtering of a process's op, then its place in the sender's sequence. Ops of
   * clusters we are not in are ignored. Ops from a node that is not (yet) our Group peer were
   * meant for this Group's predecessor on this node (stopped and started again): the peer's
   * snapshot after the handshake brings its rows, and a row applied now could outlive it.
   * (A node only writes rows of its own processes: ops name them by id, see pidOf.)
   */
  private acceptOp(peer: string, cluster: ClusterName, seq: number): boolean {
    const { membership } = this.host;
    if (!membership.has(cluster, this.host.node.name) || !membership.has(null, peer)) return false;
    const seqs = this.seqsOf(peer);
    const last = seqs.get(cluster);
    if (last !== undefined && seq !== last + 1) {
      this.host.logger.warn({ event: 'group_seq_gap', group: this.host.name, peer, cluster, expected: last + 1, got: seq }, 'replication gap: resyncing');
      this.host.counters.resyncsRequested++;
      this.send(peer, GroupFrame.RESYNC, [cluster]);
    }
    seqs.set(cluster, seq);
    this.host.counters.opsApplied++;
    return true;
  }

  /**
   * Processes of the peer exited: their rows of the cluster go together, with the exit reason.
   * They are named by id: a node only exits processes of its current incarnation, the link's.
   */
  private onExitOp(peer: PeerIdentity, body: unknown[]): void {
    const [, cluster, seq, , ids, reason] = body;
    if (!isClusterName(cluster) || typeof seq !== 'number' || !isExitIds(ids) || !this.acceptOp(peer.name, cluster, seq)) return;
    // Registrations of the pids set aside here (they lost a key to another pid) go too.
    if (!this.shadows.isEmpty()) this.shadows.removeIds(cluster, peer.name, peer.incarnation, ids);
    const removed = this.host.tables.removeIds(peer.name, peer.incarnation, ids, cluster);
    const events = this.host.wantsEvents() ? ([] as GroupEvent[]) : undefined;
    for (const rows of removed) {
      if (events !== undefined) for (const row of rows) events.push(this.host.event(row instanceof RegistryRow ? 'unregistered' : 'left', row, null, reason));
      this.showNextAfter(rows, events);
    }
    if (events !== undefined) this.host.emitSoon(events);
  }

  /**
   * A replicated register (reference §2.4): insert, same-pid update, conflict, or newer-wins.
   * `reassert`: the peer re-asserted its entry after winning a conflict (reason resolve_conflict).
   */
  private applyRegister(incoming: RowData, events: GroupEvent[] | undefined, reassert: boolean): void {
    // Not `events?.push(this.host.event(..., this.insertRegistry(...)))`: optional chaining would
    // skip the insert itself when nobody subscribes (events undefined).
    const existing = this.host.tables.lookup(incoming.cluster, incoming.key);
    if (existing === undefined) {
      const row = this.insertRegistry(incoming);
      events?.push(this.host.event('registered', row, null, null));
    } else if (existing.pid.equals(incoming.pid)) {
      const row = this.insertRegistry(incoming);
      // A re-assertion after a conflict (or a resync) may change only the time: nothing to tell.
      if (events !== undefined && !isDeepStrictEqual(existing.meta, row.meta)) events.push(this.host.event('registered', row, existing.meta, null));
    } else if (existing.pid.node === this.host.node.name) {
      this.resolveConflict(existing, incoming, events, undefined, reassert);
    } else if (preferred(this.order, incoming, existing)) {
      // Ties by pid, as the owners decide: a keepOldest winner keeps its own time, which may equal
      // the loser's, and this node must still give way to it when its re-assert comes.
      const row = this.insertRegistry(incoming);
      this.shadows.add(existing);
      events?.push(this.host.event('registered', row, null, null));
    } else {
      this.shadows.add(incoming);
    }
  }

  /**
   * The shown registration of a key went away: show the best one set aside, if any (the owners
   * of the two have not resolved their conflict yet, and will tell us when they do).
   */
  showNext(cluster: ClusterName, key: string, events: GroupEvent[] | undefined): void {
    if (this.shadows.isEmpty()) return;
    const next = this.shadows.takeBest(cluster, key);
    if (next === undefined) return;
    const row = this.insertRegistry(next);
    events?.push(this.host.event('registered', row, null, null));
  }

  /** `showNext` for every registry row of `removed` whose key is now empty. */
  showNextAfter(removed: readonly Row[], events: GroupEvent[] | undefined): void {
    if (this.shadows.isEmpty()) return;
    for (const row of removed) {
      if (row instanceof RegistryRow && this.host.tables.lookup(row.cluster, row.key) === undefined) this.showNext(row.cluster, row.key, events);
    }
  }

  /**
   * Two registrations of one key: `local` (owned here) and `remote`. The same decision is taken on
   * both nodes (the conflict strategy's rule, or the custom resolver), so at most one is kept and,
   * with a killing strategy, exactly one is killed: each node kills only its own loser.
   */
  private resolveConflict(local: RegistryRow, remote: RowData, events: GroupEvent[] | undefined, seen: Set<Row> | undefined, reassert: boolean): void {
    const { options, node, tables, logger } = this.host;
    const custom = options.resolveRegistryConflict;
    this.host.counters.conflictsResolved++;
    let winner: Pid | null | undefined;
    if (custom !== undefined) {
      try {
        winner = custom({
          group: this.host.name,
          cluster: local.cluster,
          key: local.key,
          local: { pid: local.pid, meta: local.meta, time: local.time },
          remote: { pid: remote.pid, meta: remote.meta, time: remote.time },
        });
      } catch (error) {
        logger.error({ event: 'callback_error', group: this.host.name, key: local.key, err: error }, 'resolveRegistryConflict threw: neither entry keeps the key');
        winner = undefined;
      }
    } else {
      winner = decideConflict(options.conflictStrategy, local.key, local, remote);
    }
    // The winner's time must make every node prefer it to the loser even if this wall clock is
    // behind them (a skewed node, a clock stepped back): a third node holding the loser only gives
    // way to a preferred entry, and nothing else will ever tell it the loser lost.
    const restamp = (winner: RowData, loser: RowData): number => this.order.restamp(node.clock.wallNow(), winner.time, loser.time);
    const kill = custom === undefined && killsLoser(options.conflictStrategy);
    logger.warn(
      { event: 'group_conflict', group: this.host.name, cluster: local.cluster, key: local.key, local: local.pid.key, remote: remote.pid.key, winner: winner instanceof Pid ? winner.key : null },
      `registry conflict on "${local.key}": ${winner instanceof Pid ? `${winner.key} keeps it` : 'neither keeps it'}`,
    );
    if (winner instanceof Pid && winner.equals(remote.pid)) {
      // Say so: a third node may show ours or have set it aside, and its process's exit (when it
      // is killed) will not, its row being gone by then.
      const payload = this.encodeOp(local.cluster, Op.UNREGISTER, local.key, local.pid, local.meta, local.time, 'resolve_conflict');
      tables.unregister(local.cluster, local.key, local.pid);
      // Field by field, not a spread: a stored Row keeps key, cluster and time in getters.
      const installed = this.insertRegistry({ cluster: remote.cluster, key: remote.key, pid: remote.pid, meta: remote.meta, time: restamp(remote, local) });
      seen?.add(installed);
      this.broadcast(local.cluster, payload);
      // The winner's event too, not left to its node's re-assert: that may never come (the winner's
      // node had already re-asserted a later entry, or goes down first).
      events?.push(this.host.event('unregistered', local, null, 'resolve_conflict'), this.host.event('registered', installed, null, null));
      if (kill) node.exit(local.pid, { reason: 'group_registry_conflict', key: local.key, meta: remote.meta });
    } else if (winner instanceof Pid && winner.equals(local.pid)) {
      // The peer re-asserted an entry that is older than ours: it has (or will get) ours, which
      // every node prefers, so there is nothing to re-assert. Re-stamping here would answer each
      // re-assert with one of ours, and two nodes that each judged the other's stale copy (three
      // registrations of one key at once) would out-stamp each other for ever, both keeping the key.
      if (reassert && this.order.after(local.time, remote.time)) return;
      // Re-assert ours (re-stamped, but for keepOldest), so the peer replaces its entry with it.
      const time = restamp(local, remote);
      const payload = this.encodeOp(local.cluster, Op.REGISTER, local.key, local.pid, local.meta, time, 'resolve_conflict');
      tables.register(local.cluster, local.key, local.pid, local.meta, time);
      this.broadcast(local.cluster, payload);
      // Its owner removes it once it hears of ours; until then it is still registered there.
      this.shadows.add(remote);
    } else {
      const payload = this.encodeOp(local.cluster, Op.UNREGISTER, local.key, local.pid, local.meta, local.time, 'resolve_conflict');
      tables.unregister(local.cluster, local.key, local.pid);
      this.broadcast(local.cluster, payload);
      events?.push(this.host.event('unregistered', local, null, 'resolve_conflict'));
      // The remote's owner gives its registration up as well when it hears of ours, and says so.
      // It may never hear of ours (an asymmetric link: ours is gone everywhere now); then its
      // registration stands, so it is set aside here, not dropped: shown until its owner gives it up.
      this.shadows.add(remote);
      this.showNext(local.cluster, local.key, events);
      const shown = tables.lookup(local.cluster, local.key);
      if (shown !== undefined && shown.pid.equals(remote.pid)) seen?.add(shown);
      if (custom === undefined && options.conflictStrategy === 'notifyBoth') {
        // Each owner tells its own process (the other owner takes the same decision): both hear once.
        const message: NameConflictMessage = { type: 'rollcall_name_conflict', group: this.host.name, cluster: local.cluster, key: local.key, other: remote.pid };
        node.send(local.pid, message);
      }
    }
  }

  // ---- declared groups (createGroup / deleteGroup) ------------------------------------------

  /**
   * A local createGroup (exists) or deleteGroup (a tombstone). The write is stamped after every
   * declaration of the key this node knows and, for a delete, after every member it sees, so it
   * wins here and every member it saw (whatever its node's clock) counts as joined before it.
   */
  declare(cluster: ClusterName, key: string, exists: boolean): 'ok' | 'exists' | 'not_found' {
    const current = this.declarations.get(cluster, key);
    const members = this.host.tables.members(cluster, key);
    if (exists && current?.exists === true) return 'exists';
    if (!exists && current?.exists !== true && members.length === 0) return 'not_found';
    const { node } = this.host;
    let time = Math.max(node.clock.wallNow(), current === undefined ? -Infinity : current.time + 1);
    if (!exists) for (const row of members) time = Math.max(time, row.time);
    // Sent before the leaves it causes here, which take the next seqs.
    const seq = (this.ownSeq.get(cluster) ?? 0) + 1;
    this.ownSeq.set(cluster, seq);
    if (this.host.membership.nodeSet(cluster).size > 1) {
      this.broadcast(cluster, node.encodePayload([this.host.name, cluster, seq, exists ? Op.CREATE_GROUP : Op.DELETE_GROUP, key, null, null, time, null]));
    }
    const events: GroupEvent[] = [];
    this.applyDeclaration(cluster, key, { exists, time, node: node.name }, events);
    this.host.emit(events);
    return 'ok';
  }

  private onDeclarationOp(peer: string, cluster: ClusterName, seq: number, key: string, exists: boolean, time: number): void {
    if (!this.host.membership.has(cluster, this.host.node.name) || !this.host.membership.has(null, peer) || key === '' || !Number.isFinite(time)) return;
    const seqs = this.seqsOf(peer);
    const last = seqs.get(cluster);
    if (last !== undefined && seq !== last + 1) {
      this.host.logger.warn({ event: 'group_seq_gap', group: this.host.name, peer, cluster, expected: last + 1, got: seq }, 'replication gap: resyncing');
      this.send(peer, GroupFrame.RESYNC, [cluster]);
    }
    seqs.set(cluster, seq);
    const events: GroupEvent[] = [];
    this.applyDeclaration(cluster, key, { exists, time, node: peer }, events);
    this.host.emitSoon(events);
  }

  private mergeDeclarations(cluster: ClusterName, wire: unknown[], events: GroupEvent[]): void {
    for (const entry of wire) {
      const parsed = declarationFromWire(entry);
      if (parsed !== undefined) this.applyDeclaration(cluster, parsed.key, parsed.declaration, events);
    }
  }

  /**
   * Merge one declaration; when a tombstone wins, this node's own members of the key that joined
   * at or before it leave through the normal path (replicated LEAVE, reason 'group_deleted'):
   * each node removes only its own, so a member joined across a partition goes on heal.
   */
  private applyDeclaration(cluster: ClusterName, key: string, incoming: Declaration, events: GroupEvent[]): void {
    // An expired tombstone (still held by a node whose clock is behind) is not taken back.
    if (!incoming.exists && incoming.time <= this.host.node.clock.wallNow() - this.host.options.groupTombstoneMs) return;
    const previous = this.declarations.get(cluster, key);
    if (!this.declarations.merge(cluster, key, incoming)) return;
    if (previous?.exists !== incoming.exists) this.host.declared(cluster, key, incoming);
    if (incoming.exists) return;
    const { tables } = this.host;
    const wireReason = 'group_deleted';
    for (const row of tables.membersOnNode(cluster, key, this.host.node.name)) {
      if (row.time > incoming.time) continue; // joined after the delete: it recreates the group
      this.broadcast(cluster, this.encodeOp(cluster, Op.LEAVE, key, row.pid, row.meta, row.time, wireReason));
      tables.leave(cluster, key, row.pid);
      events.push(this.host.event('left', row, null, wireReason));
    }
  }

  private onConnect(peer: string, body: unknown[]): void {
    const clusters = stringList(body[1]);
    if (clusters === undefined || !this.host.membership.has(null, peer)) return;
    const self = this.host.node.name;
    const shared = clusters.filter((c) => this.host.membership.has(c, self));
    if (shared.length === 0) return;
    for (const cluster of shared) this.host.membership.add(cluster, peer);
    this.send(peer, GroupFrame.CONNECT_ACK, [shared]);
    for (const cluster of shared) this.sendState(peer, cluster, false);
  }

  private onConnectAck(peer: string, body: unknown[]): void {
    const clusters = stringList(body[1]);
    // Guards (reference §7.3 item 7): an ack from a node no longer a peer, or for a cluster we
    // have left meanwhile, is ignored.
    if (clusters === undefined || !this.host.membership.has(null, peer)) return;
    const self = this.host.node.name;
    for (const cluster of clusters) {
      if (!this.host.membership.has(cluster, self)) continue;
      this.host.membership.add(cluster, peer);
      this.sendState(peer, cluster, false);
    }
  }

  private onDisconnect(peer: string, body: unknown[]): void {
    const clusters = stringList(body[1]);
    if (clusters === undefined) return;
    const events: GroupEvent[] = [];
    for (const cluster of clusters) {
      this.host.membership.remove(cluster, peer);
      this.seqsOf(peer).delete(cluster);
      this.shadows.removeOwnedBy(peer, cluster);
      const purged = this.host.tables.purgeClusterOwnedBy(cluster, peer);
      this.host.counters.purgedClusterDisconnect += purged.length;
      for (const row of purged) events.push(this.removedEvent(row, 'cluster_disconnect'));
      this.showNextAfter(purged, events);
    }
    this.host.emit(events);
  }

  private onDispatch(body: unknown[]): void {
    const [, pids, message] = body;
    if (!Array.isArray(pids)) return;
    // Only to processes of this node: a peer cannot use us to relay messages to a third node.
    const self = this.host.node.name;
    for (const pid of pids as unknown[]) if (pid instanceof Pid && pid.node === self) this.host.node.send(pid, message);
  }

  private sendDigests(): void {
    const self = this.host.node.name;
    this.declarations.expire(this.host.node.clock.wallNow() - this.host.options.groupTombstoneMs);
    // A connected node that is not a Group peer: its HELLO or our answer was lost (or it runs no
    // such Group; then it drops this). Say hello again rather than stay apart while connected.
    for (const peer of this.host.node.peers()) {
      if (!this.host.membership.has(null, peer)) this.send(peer, GroupFrame.HELLO, [this.myClusters()]);
    }
    for (const peer of this.peers()) {
      const digest: Array<[ClusterName, number]> = [];
      for (const cluster of this.host.membership.clustersOf(peer)) {
        if (this.host.membership.has(cluster, self)) digest.push([cluster, this.ownSeq.get(cluster) ?? 0]);
      }
      // Our named clusters too: a peer that missed a CONNECT or DISCONNECT of ours repairs its view.
      this.send(peer, GroupFrame.DIGEST, [digest, this.myClusters()]);
    }
  }

  private onDigest(peer: string, body: unknown[]): void {
    const digest = body[1];
    if (!Array.isArray(digest) || !this.host.membership.has(null, peer)) return;
    const self = this.host.node.name;
    const theirs = stringList(body[2]);
    if (theirs !== undefined) this.repairClusters(peer, theirs);
    const seqs = this.seqsOf(peer);
    for (const entry of digest as unknown[]) {
      if (!Array.isArray(entry) || !isClusterName(entry[0]) || typeof entry[1] !== 'number') continue;
      const cluster = entry[0];
      if (!this.host.membership.has(cluster, self) || !this.host.membership.has(cluster, peer)) continue;
      if (this.pendingState.has(`${peer}|${String(cluster)}`)) continue;
      if ((seqs.get(cluster) ?? 0) !== entry[1]) {
        this.host.logger.warn({ event: 'group_diverged', group: this.host.name, peer, cluster, ours: seqs.get(cluster) ?? 0, theirs: entry[1] }, 'anti-entropy: views differ, resyncing');
        this.host.counters.resyncsRequested++;
        this.send(peer, GroupFrame.RESYNC, [cluster]);
      }
    }
  }

  /**
   * Anti-entropy of cluster membership: `theirs` is every named cluster the peer is in, sent after
   * every CONNECT or DISCONNECT of its own on this ordered link. A cluster of ours it is in but we
   * do not count it in, or one we count it in that it has left, means one of those frames was lost
   * (TCP loses none on a live link; a dropped batch would): act as if it had arrived.
   */
  private repairClusters(peer: string, theirs: string[]): void {
    const { membership } = this.host;
    const self = this.host.node.name;
    const missed = theirs.filter((c) => membership.has(c, self) && !membership.has(c, peer));
    const left = membership.clustersOf(peer).filter((c): c is string => c !== null && !theirs.includes(c));
    if (missed.length === 0 && left.length === 0) return;
    this.host.logger.warn({ event: 'group_clusters_diverged', group: this.host.name, peer, missed, left }, 'anti-entropy: cluster membership differs, repairing');
    if (left.length > 0) this.onDisconnect(peer, [this.host.name, left]);
    if (missed.length > 0) this.onConnect(peer, [this.host.name, missed]);
  }

  private onResync(peer: string, body: unknown[]): void {
    const cluster = body[1];
    if (!isClusterName(cluster) || !this.host.membership.has(cluster, this.host.node.name)) return;
    this.host.counters.resyncsServed++;
    this.sendState(peer, cluster, true);
  }

  /** A peer left this Group (nodedown or BYE): purge its rows and memberships, one event batch. */
  private forgetPeer(peer: string, reason: unknown): void {
    this.host.membership.removeNode(peer);
    this.peerSeq.delete(peer);
    for (const key of [...this.pendingState.keys()]) if (key.startsWith(`${peer}|`)) this.pendingState.delete(key);
    this.shadows.removeOwnedBy(peer);
    const purged = this.host.tables.purgeNode(peer);
    this.host.counters.purgedNodeDown += purged.length;
    if (purged.length > 0) {
      this.host.logger.info({ event: 'group_purge', group: this.host.name, peer, rows: purged.length }, `group ${this.host.name}: purged ${purged.length} entries of ${peer}`);
    }
    const events = this.host.wantsEvents() ? purged.map((row) => this.removedEvent(row, reason)) : undefined;
    this.showNextAfter(purged, events);
    if (events !== undefined) this.host.emit(events);
  }

  private removedEvent(row: Row, reason: unknown): GroupEvent {
    return this.host.event(row instanceof RegistryRow ? 'unregistered' : 'left', row, null, reason);
  }

  private seqsOf(peer: string): Map<ClusterName, number> {
    let seqs = this.peerSeq.get(peer);
    if (seqs === undefined) this.peerSeq.set(peer, (seqs = new Map()));
    return seqs;
  }

  private myClusters(): string[] {
    return this.host.membership.clustersOf(this.host.node.name).filter((c): c is string => c !== null);
  }

  /**
   * The Pid a peer's op or snapshot row names by `id`. Ops and snapshots carry only the rows of
   * the sender's own processes, of its current incarnation (the link's), so a pid travels as its
   * id: 1-5 bytes instead of a ~20-byte Pid, and no node name to decode (node authority holds by
   * construction: a peer cannot name another node's process). One-entry cache: a process's
   * registration and memberships usually arrive together.
   */
  private pidOf(peer: PeerIdentity, id: number): Pid {
    const last = this.lastPid;
    if (last !== undefined && last.id === id && last.node === peer.name && last.incarnation === peer.incarnation) return last;
    return (this.lastPid = new Pid(peer.name, peer.incarnation, id));
  }

  /** A snapshot row of `peer` (`[key, id, meta, time, topics?, count?]`), or undefined if malformed. */
  private fromWire(cluster: ClusterName, wire: unknown, peer: PeerIdentity): RowData | undefined {
    if (!Array.isArray(wire) || typeof wire[0] !== 'string' || !isPidId(wire[1]) || typeof wire[3] !== 'number') return undefined;
    const pid = this.pidOf(peer, wire[1]);
    if (wire.length <= 4) return { cluster, key: wire[0], pid, meta: wire[2], time: wire[3] };
    const extension = wireExtension(wire[4], wire[5]);
    if (extension === undefined) return undefined;
    return { cluster, key: wire[0], pid, meta: wire[2], time: wire[3], topics: extension.topics, count: extension.count };
  }

  /** Send one group frame ([group, ...rest]) to a peer (for the Group's other modules, e.g. locks). */
  sendFrame(peer: string, type: number, rest: unknown[]): void {
    this.send(peer, type, rest);
  }

  private send(peer: string, type: number, rest: unknown[]): void {
    try {
      const payload = this.host.node.encodePayload([this.host.name, ...rest]);
      this.host.node.sendRaw(peer, type, payload);
      this.host.counters.framesOut[type & 15]!++;
      this.host.counters.bytesOut += payload.length;
    } catch (error) {
      this.host.logger.error({ event: 'group_send_failed', group: this.host.name, peer, type, err: describeReason(error) }, 'could not send a group frame');
    }
  }
}

function toWire(row: Row): WireRow {
  const wire: WireRow = [row.key, row.pid.id, row.meta, row.time];
  if (row instanceof MemberRow) {
    const tail = wireTail(row.topics, row.count);
    if (tail !== undefined) wire.push(...tail);
  }
  return wire;
}


function stringList(value: unknown): string[] | undefined {
  if (!Array.isArray(value)) return undefined;
  return (value as unknown[]).every((c) => typeof c === 'string') ? (value as string[]) : undefined;
}

/** A cleanup of this many exits or more writes its ops at once (see broadcastExits). */
const FLUSH_EXITS_AT = 256;

/** No exit reason seen yet (any real reason, undefined included, differs from it). */
const NO_REASON = Symbol('no reason');

/** Most pids in one EXIT op (at most ~40 KB of ids on the wire, far below the frame limit). */
const MAX_EXIT_PIDS = 4_096;

/** A pid id on the wire: a safe non-negative integer. */
function isPidId(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/**
 * The pid ids of an EXIT op: at most MAX_EXIT_PIDS distinct safe non-negative integers (a
 * duplicate would remove rows twice). They name the sender's own pids: no other can be named.
 */
function isExitIds(value: unknown): value is number[] {
  if (!Array.isArray(value) || value.length > MAX_EXIT_PIDS) return false;
  const sorted = new Float64Array(value.length);
  for (let i = 0; i < value.length; i++) {
    const id: unknown = value[i];
    if (!isPidId(id)) return false;
    sorted[i] = id;
  }
  sorted.sort();
  for (let i = 1; i < sorted.length; i++) if (sorted[i] === sorted[i - 1]) return false;
  return true;
}
