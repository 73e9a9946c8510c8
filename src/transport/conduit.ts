import type { Clock } from '../time/clock.js';
import type { Random } from '../time/random.js';
import type { Logger } from '../observability/logger.js';

/**
 * A raw, ordered, reliable byte stream between two nodes: a TCP/TLS socket, or a simulated pipe
 * of the in-memory network. Framing, the handshake, heartbeats and batching live above it
 * (transport/link.ts), so every conduit kind shares one protocol core.
 */
export interface Conduit {
  /** Queue bytes; returns false once the conduit's buffer is full: wait for `onDrain`. */
  write(data: Buffer): boolean;
  /** Close after what was written has been sent. */
  end(): void;
  /** Close at once; what was not sent is lost. */
  destroy(): void;
  /** For logs: where the other end is. */
  readonly remoteLabel: string;
  /**
   * Attach the handlers. Bytes that arrive before this is called are kept and delivered to
   * `onData` once it is set. `onClose` is called exactly once, after which no other handler runs.
   */
  setHandlers(handlers: ConduitHandlers): void;
}

export interface ConduitHandlers {
  onData(chunk: Buffer): void;
  onDrain(): void;
  onClose(error?: Error): void;
}

/** Opens and accepts conduits for one node. */
export interface Connector {
  /** 'tcp', 'tls', 'memory', ... */
  readonly kind: string;
  /** Start accepting conduits; resolves with the address peers dial (for TCP "host:port"). */
  listen(onConduit: (conduit: Conduit) => void): Promise<string>;
  /** Open a conduit to an address; rejects when it cannot be reached. */
  dial(address: string): Promise<Conduit>;
  /** Stop accepting; open conduits are closed by their links. */
  close(): Promise<void>;
}

export interface ConnectorDeps {
  readonly nodeName: string;
  readonly clock: Clock;
  readonly random: Random;
  readonly logger: Logger;
  /** Where to listen (TCP); connectors that need no address ignore it. */
  readonly listen?: { readonly host: string; readonly port: number };
  /** Connectors with a handshake of their own (TLS) bound it by this too (the node's option). */
  readonly handshakeTimeoutMs?: number;
  /** ...and refuse inbound connections beyond this many still in it. */
  readonly maxPendingHandshakes?: number;
}

/** What `startNode({transport})` takes: `tcp(...)` or `memory(network)`. */
export type TransportFactory = (deps: ConnectorDeps) => Connector;
