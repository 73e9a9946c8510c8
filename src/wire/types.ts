/**
 * Frame types: the one byte after the version in every frame header. Part of the wire protocol
 * (docs/protocol.md); never renumber, only add.
 *
 * 0x01-0x0f transport (handshake, heartbeat, leave), 0x10-0x2f node (messages, calls, monitors,
 * gossip), 0x30 and up for the layers above (group replication).
 */
export const FrameType = {
  // transport: handshake, heartbeat, leave
  HELLO: 0x01,
  CHALLENGE: 0x02,
  PROOF: 0x03,
  WELCOME: 0x04,
  REFUSE: 0x05,
  PING: 0x06,
  LEAVE: 0x07,
  // node: processes and gossip
  SEND: 0x10,
  SEND_NAMED: 0x11,
  CAST: 0x12,
  CALL: 0x13,
  REPLY: 0x14,
  EXIT: 0x15,
  MONITOR: 0x16,
  DEMONITOR: 0x17,
  DOWN: 0x18,
  PEERS: 0x19,
} as const;

export type FrameTypeName = keyof typeof FrameType;

/**
 * A frame whose type has this bit set carries a *batch*: several msgpack values of the base type
 * (`type & ~BATCH_BIT`) back to back. The sending link coalesces consecutive frames of a batchable
 * type into one (order kept); the receiver decodes them with one decoder set-up.
 */
export const BATCH_BIT = 0x80;

const names = new Map<number, string>(Object.entries(FrameType).map(([k, v]) => [v, k]));

export function frameTypeName(type: number): string {
  if ((type & BATCH_BIT) !== 0) return `${frameTypeName(type & ~BATCH_BIT)}[batch]`;
  return names.get(type) ?? `0x${type.toString(16).padStart(2, '0')}`;
}

/** Types a peer may send before the handshake has completed. Anything else closes the link. */
export function isHandshakeType(type: number): boolean {
  return type >= FrameType.HELLO && type <= FrameType.REFUSE;
}
