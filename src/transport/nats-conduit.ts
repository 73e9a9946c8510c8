import type { Clock, Timer } from '../time/clock.js';
import type { Conduit, ConduitHandlers } from './conduit.js';

/**
 * A virtual connection over NATS subjects: what the nats transport hands the Link as its Conduit.
 *
 * NATS core delivers the messages of one publisher to one subscriber in order, but at most once:
 * what is in flight when a client loses its server is gone, and what the client publishes while
 * disconnected is dropped too. A Link needs an ordered *reliable* byte stream, so each direction
 * carries a sequence number, the receiver acknowledges cumulatively, and the sender keeps what is
 * not acknowledged yet and sends it again when the receiver reports a gap (NACK) or after its
 * own client reconnects (go-back-N). The unacknowledged bytes are also the flow-control window:
 * `write` returns false beyond `windowBytes` and `onDrain` fires when acknowledgements bring it
 * back under, so a slow receiver holds its sender back end to end, as TCP's window does.
 *
 * Acknowledgements go out every `ackBytes` received and at most ACK_DELAY_MS after the last
 * message; a sender whose oldest unacknowledged message sees no progress for RETRANSMIT_MS sends
 * again (covering a lost tail or acknowledgement, which no gap reveals).
 *
 * Every message starts with a 13-byte header: kind, the receiver's conduit id, the sender's
 * conduit id, a sequence number (DATA, END) or the next sequence number expected (ACK, NACK).
 */
export const Kind = {
  /** Dialer → the node's subject (a request): [header(dst 0)] + JSON {subject, from}. */
  OPEN: 1,
  /** Its reply: [header] + JSON {subject, name}. */
  ACCEPT: 2,
  /** Its reply when the listener is closing. */
  REFUSE: 3,
  DATA: 4,
  /** Sequenced like DATA: everything before it was delivered; close cleanly. */
  END: 5,
  ACK: 6,
  /** "I have everything before seq; send the rest again" (also an ACK). */
  NACK: 7,
  /** Abort: the conduit was destroyed at the other end. */
  RESET: 8,
} as const;

export const HEADER_BYTES = 13;

export interface Header {
  readonly kind: number;
  readonly dst: number;
  readonly src: number;
  readonly seq: number;
}

export function encodeMessage(kind: number, dst: number, src: number, seq: number, body?: Uint8Array): Buffer {
  const message = Buffer.allocUnsafe(HEADER_BYTES + (body?.length ?? 0));
  message[0] = kind;
  message.writeUInt32BE(dst, 1);
  message.writeUInt32BE(src, 5);
  message.writeUInt32BE(seq, 9);
  if (body !== undefined) message.set(body, HEADER_BYTES);
  return message;
}

/** The header of a message, or undefined when it is too short to have one. */
export function decodeHeader(data: Uint8Array): Header | undefined {
  if (data.length < HEADER_BYTES) return undefined;
  const view = Buffer.from(data.buffer, data.byteOffset, data.length);
  return { kind: view[0]!, dst: view.readUInt32BE(1), src: view.readUInt32BE(5), seq: view.readUInt32BE(9) };
}

/** The body after the header, without copying. */
export function bodyOf(data: Uint8Array): Buffer {
  return Buffer.from(data.buffer, data.byteOffset + HEADER_BYTES, data.length - HEADER_BYTES);
}

/** What a conduit needs from the connector that owns it. */
export interface ConduitPort {
  readonly clock: Clock;
  /** Unacknowledged bytes beyond which `write` returns false. */
  readonly windowBytes: number;
  /** The receiver acknowledges after this many bytes. */
  readonly ackBytes: number;
  /** How long an ended conduit waits for the acknowledgement of its END before closing anyway. */
  readonly lingerMs: number;
  /** Largest body of one message (the server's max_payload less the header). */
  maxChunk(): number;
  /** Publish; a failure (connection closed, payload too large) fails the conduit. */
  publish(subject: string, message: Uint8Array, conduit: NatsConduit): void;
  /** The conduit closed: stop routing messages to it. */
  forget(conduit: NatsConduit): void;
}

interface Unacked {
  readonly seq: number;
  readonly message: Buffer;
  readonly bytes: number;
}

/** A repeated NACK (or duplicate ACK) for the same position waits this long: one per round trip is plenty. */
const RESEND_REQUEST_MS = 250;
/** The receiver acknowledges what it got at the latest this long after it arrived (delayed ACK). */
const ACK_DELAY_MS = 100;
/** Unacknowledged messages with no progress for this long are sent again; doubles while nothing moves. */
const RETRANSMIT_MS = 1000;
const MAX_RETRANSMIT_MS = 8000;
const EMPTY = new Uint8Array(0);

export class NatsConduit implements Conduit {
  readonly id: number;
  readonly remoteLabel: string;
  private remoteId = 0;
  private remoteSubject = '';
  private state: 'connecting' | 'open' | 'ending' | 'closed' = 'connecting';
  private readonly port: ConduitPort;

  // Sending.
  private nextSeq = 0;
  private unacked: Unacked[] = [];
  private unackedHead = 0;
  private unackedBytes = 0;
  private drainWanted = false;
  private linger: Timer | undefined;
  private retransmit: Timer | undefined;
  private retransmitMs = RETRANSMIT_MS;
  private lastProgressAt = 0;

  // Receiving.
  private expected = 0;
  private receivedSinceAck = 0;
  private delayedAck: Timer | undefined;
  private lastResendRequest = { seq: -1, at: -Infinity };
  private lastDuplicateAck = -Infinity;

  private handlers: ConduitHandlers | undefined;
  private early: Buffer[] = [];
  private closeError: Error | undefined;
  private closeNotified = false;

  constructor(port: ConduitPort, id: number, remoteLabel: string) {
    this.port = port;
    this.id = id;
    this.remoteLabel = remoteLabel;
  }

  get isClosed(): boolean {
    return this.state === 'closed';
  }

  /** Bytes sent and not acknowledged yet (also what would be sent again after a loss). */
  get inFlightBytes(): number {
    return this.unackedBytes;
  }

  /** The other end is known (dialer: after ACCEPT; listener: from the OPEN): the conduit is usable. */
  connect(remoteId: number, remoteSubject: string): void {
    if (this.state !== 'connecting') return;
    this.remoteId = remoteId;
    this.remoteSubject = remoteSubject;
    this.state = 'open';
  }

  /** Is this message from our peer (and not from a stale conduit that reused our id)? */
  isFrom(src: number): boolean {
    return this.state !== 'connecting' && src === this.remoteId;
  }

  // ---- Conduit --------------------------------------------------------------------------

  write(data: Buffer): boolean {
    if (this.state !== 'open') return false;
    const chunk = this.port.maxChunk();
    for (let offset = 0; offset < data.length && this.state === 'open'; offset += chunk) {
      this.sendSequenced(Kind.DATA, data.subarray(offset, Math.min(data.length, offset + chunk)));
    }
    if (this.unackedBytes < this.port.windowBytes) return true;
    this.drainWanted = true;
    return false;
  }

  end(): void {
    if (this.state === 'connecting') return this.destroy();
    if (this.state !== 'open') return;
    this.sendSequenced(Kind.END, EMPTY);
    if (this.state !== 'open') return;
    this.state = 'ending';
    this.linger = this.port.clock.setTimeout(() => this.finish(undefined), this.port.lingerMs);
  }

  destroy(): void {
    if (this.state === 'closed') return;
    if (this.state !== 'connecting') this.sendControl(Kind.RESET, 0);
    this.finish(undefined);
  }

  setHandlers(handlers: ConduitHandlers): void {
    this.handlers = handlers;
    const early = this.early;
    this.early = [];
    for (const chunk of early) handlers.onData(chunk);
    if (this.state === 'closed') this.notifyClose();
  }

  // ---- from the connector -----------------------------------------------------------------

  /** A message for this conduit (already checked with `isFrom`). */
  receive(kind: number, seq: number, data: Uint8Array): void {
    if (this.state === 'closed') return;
    switch (kind) {
      case Kind.DATA:
      case Kind.END:
        return this.onSequenced(kind, seq, data);
      case Kind.ACK:
        return this.acknowledged(seq);
      case Kind.NACK:
        this.acknowledged(seq);
        return this.resend();
      case Kind.RESET:
        return this.finish(new Error(`connection reset by ${this.remoteLabel}`));
    }
  }

  /**
   * Our NATS client reconnected: what we sent while it was away, and what was in flight, may be
   * lost. Tell the peer where we are (it resends what we miss) and resend what it has not acknowledged.
   */
  resync(): void {
    if (this.state !== 'open' && this.state !== 'ending') return;
    this.sendControl(Kind.NACK, this.expected);
    this.resend();
  }

  /** Close with an error (the NATS connection is gone, a publish failed). Asynchronous, like a socket's. */
  fail(error: Error): void {
    if (this.state === 'closed') return;
    this.finish(error);
  }

  // ---- receiving ----------------------------------------------------------------------------

  private onSequenced(kind: number, seq: number, data: Uint8Array): void {
    const ahead = (seq - this.expected) | 0;
    if (ahead > 0) return this.requestResend();
    if (ahead < 0) return this.acknowledgeDuplicate();
    this.expected = (this.expected + 1) >>> 0;
    if (kind === Kind.END) {
      this.sendControl(Kind.ACK, this.expected);
      return this.finish(undefined);
    }
    const body = bodyOf(data);
    this.receivedSinceAck += body.length;
    if (this.handlers !== undefined) this.handlers.onData(body);
    else this.early.push(body);
    if ((this.state as string) === 'closed') return;
    if (this.receivedSinceAck >= this.port.ackBytes) this.sendAck();
    else this.delayedAck ??= this.port.clock.setTimeout(() => this.sendAck(), ACK_DELAY_MS);
  }

  private sendAck(): void {
    this.delayedAck?.cancel();
    this.delayedAck = undefined;
    this.receivedSinceAck = 0;
    if (this.state !== 'closed') this.sendControl(Kind.ACK, this.expected);
  }

  /** A gap: something before `seq` was lost. Ask for everything from the first missing message. */
  private requestResend(): void {
    const now = this.port.clock.now();
    const last = this.lastResendRequest;
    if (last.seq === this.expected && now - last.at < RESEND_REQUEST_MS) return;
    this.lastResendRequest = { seq: this.expected, at: now };
    this.sendControl(Kind.NACK, this.expected);
  }

  /** A message we already have: the sender resends because our acknowledgement was lost. */
  private acknowledgeDuplicate(): void {
    const now = this.port.clock.now();
    if (now - this.lastDuplicateAck < RESEND_REQUEST_MS) return;
    this.lastDuplicateAck = now;
    this.sendControl(Kind.ACK, this.expected);
  }

  // ---- sending ------------------------------------------------------------------------------

  /** The peer has everything before `next`: let it go. */
  private acknowledged(next: number): void {
    const unacked = this.unacked;
    let head = this.unackedHead;
    while (head < unacked.length && ((next - unacked[head]!.seq) | 0) > 0) {
      this.unackedBytes -= unacked[head]!.bytes;
      head++;
    }
    if (head !== this.unackedHead) {
      this.lastProgressAt = this.port.clock.now();
      this.retransmitMs = RETRANSMIT_MS;
    }
    if (head === unacked.length) {
      this.unacked = [];
      head = 0;
      this.retransmit?.cancel();
      this.retransmit = undefined;
    } else if (head > 1024 && head * 2 > unacked.length) {
      this.unacked = unacked.slice(head);
      head = 0;
    }
    this.unackedHead = head;
    if (this.state === 'ending' && this.unacked.length === 0) return this.finish(undefined);
    if (this.drainWanted && this.unackedBytes < this.port.windowBytes && this.state === 'open') {
      this.drainWanted = false;
      this.handlers?.onDrain();
    }
  }

  /** Go-back-N: everything not acknowledged, in order (the receiver drops what it already has). */
  private resend(): void {
    // The list as it is now: a publish failure inside the loop closes the conduit and clears it.
    const pending = this.unacked;
    for (let i = this.unackedHead; i < pending.length && this.state !== 'closed'; i++) {
      this.port.publish(this.remoteSubject, pending[i]!.message, this);
    }
  }

  /**
   * The last resort when neither a gap (NACK) nor a reconnect (resync) reveals a loss: a lost tail,
   * a lost acknowledgement (inside a NATS cluster, with no client disconnecting). Nothing acknowledged
   * for a while: send it all again, backing off while the peer stays silent (it may be dead; its
   * link then dies of heartbeat timeout).
   */
  private checkProgress(): void {
    this.retransmit = undefined;
    if (this.state === 'closed' || this.unackedHead === this.unacked.length) return;
    const now = this.port.clock.now();
    if (now - this.lastProgressAt >= this.retransmitMs) {
      this.resend();
      this.lastProgressAt = now;
      this.retransmitMs = Math.min(MAX_RETRANSMIT_MS, this.retransmitMs * 2);
    }
    if ((this.state as string) !== 'closed') this.retransmit = this.port.clock.setTimeout(() => this.checkProgress(), this.retransmitMs);
  }

  private sendSequenced(kind: number, body: Uint8Array): void {
    const seq = this.nextSeq;
    this.nextSeq = (seq + 1) >>> 0;
    const message = encodeMessage(kind, this.remoteId, this.id, seq, body);
    if (this.unackedHead === this.unacked.length) this.lastProgressAt = this.port.clock.now();
    this.unacked.push({ seq, message, bytes: body.length });
    this.unackedBytes += body.length;
    this.retransmit ??= this.port.clock.setTimeout(() => this.checkProgress(), this.retransmitMs);
    this.port.publish(this.remoteSubject, message, this);
  }

  private sendControl(kind: number, seq: number): void {
    this.port.publish(this.remoteSubject, encodeMessage(kind, this.remoteId, this.id, seq), this);
  }

  private finish(error: Error | undefined): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.closeError = error;
    for (const timer of [this.linger, this.retransmit, this.delayedAck]) timer?.cancel();
    this.linger = this.retransmit = this.delayedAck = undefined;
    this.unacked = [];
    this.unackedHead = 0;
    this.unackedBytes = 0;
    this.port.forget(this);
    this.notifyClose();
  }

  private notifyClose(): void {
    const handlers = this.handlers;
    if (handlers === undefined || this.closeNotified) return;
    this.closeNotified = true;
    // Never from inside destroy(): the Link closes with its own reason right after it (as with a
    // socket, whose 'close' event comes later).
    queueMicrotask(() => handlers.onClose(this.closeError));
  }
}
