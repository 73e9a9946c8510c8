/**
 * Byte counters for a bench node process (enabled by `countBytes` in its BenchNodeConfig), for
 * the replication bytes per operation (bench/workloads/wire.ts and the curves).
 *
 * src/ has no byte counter a bench node can read (the Link only knows what is still queued), so
 * two hooks are installed from outside, both in the node's own process:
 *
 * - wire: the TCP transport is wrapped, and every `Conduit.write` adds its length to its conduit's
 *   counter. These are the exact bytes handed to the socket: frame headers, batch frames (one
 *   header for many ops), handshakes and heartbeats included; TCP/IP headers excluded. A conduit
 *   does not know which peer it carries (A's links may be inbound, from ephemeral ports), so the
 *   counters are per conduit, and the bytes "to one peer" are the total over a measured phase
 *   divided by the number of peers: replication sends the same ops to every peer.
 * - payload: `node.sendRaw` (the only way the Group sends: its ops, syncs and dispatches) is
 *   wrapped on this Node instance and counts the encoded payload bytes and frames per peer, before
 *   framing and batching.
 */
import { tcp, type Conduit, type Node, type TransportFactory } from '../../src/internal.js';

export interface WireCounts {
  /** Bytes written to each conduit ever opened by this node (closed ones keep their count). */
  readonly conduitBytes: number[];
  /** Group payload bytes and frames passed to `node.sendRaw`, by peer name. */
  readonly payloadByPeer: Record<string, { bytes: number; frames: number }>;
}

export class WireCounter {
  private readonly conduitBytes: number[] = [];
  private readonly payloadByPeer = new Map<string, { bytes: number; frames: number }>();

  /** A TCP transport (default options) whose conduits count what they write. */
  transport(): TransportFactory {
    const inner = tcp();
    return (deps) => {
      const connector = inner(deps);
      const count = (conduit: Conduit): Conduit => this.counted(conduit);
      return {
        kind: connector.kind,
        listen: (onConduit) => connector.listen((conduit) => onConduit(count(conduit))),
        dial: async (address) => count(await connector.dial(address)),
        close: () => connector.close(),
      };
    };
  }

  /** Count what the node's upper layers send, per peer (shadows the prototype method on this instance). */
  watchSends(node: Node): void {
    const sendRaw = node.sendRaw.bind(node);
    node.sendRaw = (peer: string, type: number, payload: Buffer): boolean => {
      let counts = this.payloadByPeer.get(peer);
      if (counts === undefined) this.payloadByPeer.set(peer, (counts = { bytes: 0, frames: 0 }));
      counts.bytes += payload.length;
      counts.frames++;
      return sendRaw(peer, type, payload);
    };
  }

  snapshot(): WireCounts {
    return {
      conduitBytes: [...this.conduitBytes],
      payloadByPeer: Object.fromEntries([...this.payloadByPeer].map(([peer, counts]) => [peer, { ...counts }])),
    };
  }

  private counted(conduit: Conduit): Conduit {
    const index = this.conduitBytes.push(0) - 1;
    const bytes = this.conduitBytes;
    return {
      remoteLabel: conduit.remoteLabel,
      write(data: Buffer): boolean {
        bytes[index]! += data.length;
        return conduit.write(data);
      },
      end: () => conduit.end(),
      destroy: () => conduit.destroy(),
      setHandlers: (handlers) => conduit.setHandlers(handlers),
    };
  }
}

/** What one node sent between two snapshots, per peer: wire bytes (averaged over `peers`) and payload. */
export function sentBetween(before: WireCounts, after: WireCounts, peers: readonly string[]): { wireBytesPerPeer: number; payloadBytes: number[]; frames: number[] } {
  let wire = 0;
  for (let i = 0; i < after.conduitBytes.length; i++) wire += after.conduitBytes[i]! - (before.conduitBytes[i] ?? 0);
  const delta = (peer: string, field: 'bytes' | 'frames'): number => (after.payloadByPeer[peer]?.[field] ?? 0) - (before.payloadByPeer[peer]?.[field] ?? 0);
  return {
    wireBytesPerPeer: wire / peers.length,
    payloadBytes: peers.map((peer) => delta(peer, 'bytes')),
    frames: peers.map((peer) => delta(peer, 'frames')),
  };
}
