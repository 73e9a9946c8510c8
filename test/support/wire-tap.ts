/** Connectors that also decode every frame their conduits write: to see the frames on the wire. */
import { FrameDecoder, type Conduit, type Connector, type Node } from '../../src/internal.js';
import { GroupFrame } from '../../src/group/protocol.js';
import { decode } from '../../src/wire/codec.js';

/** Wrap a connector: `onFrame(type)` for each frame written; `onConduit` for each conduit made. */
export function tapWrites(connector: Connector, onFrame: (type: number) => void, onConduit?: (conduit: Conduit) => void): Connector {
  const tap = (conduit: Conduit): Conduit => {
    const decoder = new FrameDecoder({ maxFrameBytes: 1 << 24, onFrame: (_v, type) => onFrame(type) });
    onConduit?.(conduit);
    return {
      remoteLabel: conduit.remoteLabel,
      write: (data) => {
        decoder.push(Buffer.from(data));
        return conduit.write(data);
      },
      end: () => conduit.end(),
      destroy: () => conduit.destroy(),
      setHandlers: (h) => conduit.setHandlers(h),
    };
  };
  return {
    kind: connector.kind,
    listen: (onConduit) => connector.listen((c) => onConduit(tap(c))),
    dial: async (address) => tap(await connector.dial(address)),
    close: () => connector.close(),
  };
}

/** Record the Group OP payloads `node` sends (decoded, one per peer sent to), to look at their shape. */
export function recordOps(node: Node): unknown[][] {
  const ops: unknown[][] = [];
  const send = node.sendRaw.bind(node);
  node.sendRaw = (peer, type, payload) => {
    if (type === GroupFrame.OP) ops.push(decode(payload) as unknown[]);
    return send(peer, type, payload);
  };
  return ops;
}
