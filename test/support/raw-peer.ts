/**
 * A hand-driven peer for security tests: it speaks the wire protocol frame by frame (or byte by
 * byte) to a node, over a real socket or a memory-network conduit, and records what comes back.
 * It can do the handshake properly (it knows the cookie) or any part of it wrongly, then send
 * whatever it likes on an authenticated link. Not a Link: the point is to do what a Link never would.
 */
import { createHmac, randomBytes } from 'node:crypto';
import net from 'node:net';
import {
  FrameDecoder,
  FrameType,
  PROTOCOL_VERSION,
  decode,
  encode,
  encodeFrame,
  memory,
  silentLogger,
  type Clock,
  type Conduit,
  type Connector,
  type Random,
  type SimNetwork,
} from '../../src/internal.js';

export interface ReceivedFrame {
  readonly version: number;
  readonly type: number;
  /** The decoded payload, or the decode error's message when it does not decode. */
  readonly body: unknown;
}

/** Bytes both ways and a close: what a socket and a memory conduit have in common. */
interface ByteStream {
  write(bytes: Buffer): void;
  close(): void;
}

export class RawPeer {
  readonly frames: ReceivedFrame[] = [];
  closed = false;
  /** Set when the node closed the stream on us (not by `close()`). */
  closedByRemote = false;
  readonly nonce = randomBytes(32);
  private stream: ByteStream | undefined;
  private readonly watchers = new Set<() => void>();
  private readonly decoder = new FrameDecoder({
    maxFrameBytes: 64 * 1024 * 1024,
    onFrame: (version, type, payload) => this.frames.push({ version, type, body: safeDecode(payload) }),
  });

  /** A raw TCP connection to "host:port". */
  static async tcp(address: string): Promise<RawPeer> {
    const at = address.lastIndexOf(':');
    const socket = net.connect({ host: address.slice(0, at), port: Number(address.slice(at + 1)) });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const peer = new RawPeer();
    socket.on('error', () => undefined); // a reset shows as the close
    socket.on('data', (chunk: Buffer) => peer.received(chunk));
    socket.on('close', () => peer.remoteClosed());
    peer.stream = {
      write: (bytes) => {
        if (!socket.destroyed) socket.write(bytes);
      },
      close: () => socket.destroy(),
    };
    return peer;
  }

  /** A raw conduit from `from` (any name nobody listens at) to the node `to` on a SimNetwork. */
  static async memory(network: SimNetwork, from: string, to: string, deps: { clock: Clock; random: Random }): Promise<RawPeer> {
    return RawPeer.ofConduit(await memory(network)({ nodeName: from, clock: deps.clock, random: deps.random, logger: silentLogger() }).dial(to));
  }

  /**
   * Listen at `name` on a SimNetwork, as a node would; every connection made to it becomes a
   * RawPeer (the server side: it answers nothing unless told). Returns the connector, to close.
   */
  static async listen(network: SimNetwork, name: string, deps: { clock: Clock; random: Random }, onPeer: (peer: RawPeer) => void): Promise<Connector> {
    const connector = memory(network)({ nodeName: name, clock: deps.clock, random: deps.random, logger: silentLogger() });
    await connector.listen((conduit) => onPeer(RawPeer.ofConduit(conduit)));
    return connector;
  }

  static ofConduit(conduit: Conduit): RawPeer {
    const peer = new RawPeer();
    conduit.setHandlers({
      onData: (chunk) => peer.received(chunk),
      onDrain: () => undefined,
      onClose: () => peer.remoteClosed(),
    });
    peer.stream = { write: (bytes) => conduit.write(bytes), close: () => conduit.destroy() };
    return peer;
  }

  write(bytes: Buffer): void {
    if (!this.closed) this.stream!.write(bytes);
  }

  send(type: number, body: unknown, version = PROTOCOL_VERSION): void {
    this.write(encodeFrame(type, encode(body), version));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stream!.close();
    this.changed();
  }

  /**
   * Real time only (sockets): resolves once `cond()` holds, checked whenever something arrives or
   * the connection closes; rejects after `timeoutMs`. (In virtual time, move the clock instead.)
   */
  waitFor(cond: () => boolean, timeoutMs: number, what = 'condition'): Promise<void> {
    if (cond()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (!cond()) return;
        this.watchers.delete(check);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.watchers.delete(check);
        reject(new Error(`raw peer: no ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.watchers.add(check);
    });
  }

  frame(type: number): ReceivedFrame | undefined {
    return this.frames.find((f) => f.type === type);
  }

  /** HELLO as a client named `name` (a node that does not listen: address ''). */
  hello(name: string, incarnation: number, nonce: Buffer = this.nonce): void {
    this.send(FrameType.HELLO, { name, incarnation, address: '', nonce, protocol: PROTOCOL_VERSION });
  }

  private received(chunk: Buffer): void {
    this.decoder.push(chunk);
    this.changed();
  }

  private remoteClosed(): void {
    if (!this.closed) this.closedByRemote = true;
    this.closed = true;
    this.changed();
  }

  private changed(): void {
    for (const check of [...this.watchers]) check();
  }
}

export interface Identity {
  readonly name: string;
  readonly incarnation: number;
}

/** The proof of transport/link.ts: HMAC over both nonces and both identities, per side. */
export function handshakeProof(
  side: 'client' | 'server',
  cookie: string | Buffer,
  clientNonce: Buffer,
  serverNonce: Buffer,
  client: Identity,
  server: Identity,
): Buffer {
  const mac = createHmac('sha256', cookie);
  mac.update(side === 'client' ? 'rollcall-client\0' : 'rollcall-server\0');
  mac.update(clientNonce);
  mac.update(serverNonce);
  mac.update(`${client.name}\0${client.incarnation}\0${server.name}\0${server.incarnation}`);
  return mac.digest();
}

export interface Challenge extends Identity {
  readonly nonce: Buffer;
  readonly proof: Buffer;
}

/** The CHALLENGE the node answered our HELLO with, once it has arrived. */
export function challengeOf(peer: RawPeer): Challenge | undefined {
  const body = peer.frame(FrameType.CHALLENGE)?.body as Partial<Challenge> | undefined;
  if (body === undefined || !Buffer.isBuffer(body.nonce) || typeof body.name !== 'string' || typeof body.incarnation !== 'number') return undefined;
  return body as Challenge;
}

/**
 * The whole client handshake as a legitimate peer would do it. `until` waits for a condition
 * (moving virtual time, or polling real time). Resolves once WELCOME has arrived.
 */
export async function authenticate(
  peer: RawPeer,
  me: Identity,
  cookie: string | Buffer,
  until: (cond: () => boolean, what: string) => Promise<void>,
): Promise<Challenge> {
  peer.hello(me.name, me.incarnation);
  await until(() => challengeOf(peer) !== undefined || peer.closed, 'CHALLENGE');
  const challenge = challengeOf(peer);
  if (challenge === undefined) throw new Error(`no CHALLENGE: ${JSON.stringify(peer.frames.map((f) => f.body))}`);
  peer.send(FrameType.PROOF, { proof: handshakeProof('client', cookie, peer.nonce, challenge.nonce, me, challenge) });
  await until(() => peer.frame(FrameType.WELCOME) !== undefined || peer.closed, 'WELCOME');
  if (peer.frame(FrameType.WELCOME) === undefined) throw new Error(`not welcomed: ${JSON.stringify(peer.frames.map((f) => f.body))}`);
  return challenge;
}

function safeDecode(payload: Buffer): unknown {
  try {
    return decode(payload);
  } catch (error) {
    return `undecodable: ${(error as Error).message}`;
  }
}
