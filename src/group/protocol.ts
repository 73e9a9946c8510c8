import type { Node } from '../node/node.js';
import type { PeerIdentity } from '../transport/link.js';
import type { ClusterName } from './clusters.js';

/**
 * Frame types of the group layer (0x30-0x3f). Every payload is an array whose first element is
 * the Group instance's name, so several Groups share one link per node pair and each only sees
 * its own traffic. See docs/protocol.md.
 */
export const GroupFrame = {
  /** [group, clusters] — "I run this Group": sent on Group start and on nodeup. */
  HELLO: 0x30,
  /**
   * [group, clusters, placed] — reply to HELLO; `placed`: the named clusters the responder put the
   * sender in (from its HELLO), so the sender can correct a connect/disconnect made meanwhile.
   */
  HELLO_ACK: 0x31,
  /**
   * [group, cluster, seq, registry[], members[], final, replace, declarations?] — rows owned by
   * the sender; the final chunk may add the sender's whole table of declared groups.
   */
  STATE: 0x32,
  /**
   * [group, cluster, seq, op, key, id, meta, time, reason, topics?, count?] — one local write
   * (`id`: the serial id of the sender's own pid; the receiver adds the link's node and incarnation)
   * (batchable); the two optional trailing fields of a JOIN only when not the defaults. An EXIT
   * op has its own shape: [group, cluster, seq, Op.EXIT, ids, reason] (ids of the sender's pids).
   */
  OP: 0x33,
  /** [group, clusters] — the sender connected to these named clusters. */
  CONNECT: 0x34,
  /** [group, clusters] — reply to CONNECT for the clusters both are in (states follow). */
  CONNECT_ACK: 0x35,
  /** [group, clusters] — the sender left these named clusters. */
  DISCONNECT: 0x36,
  /** [group, pids, message] — deliver to these local pids (batchable). */
  DISPATCH: 0x37,
  /** [group, [[cluster, seq], ...]] — anti-entropy: the sender's op counters per cluster. */
  DIGEST: 0x38,
  /** [group, cluster] — please send me your rows of this cluster again (replace=true). */
  RESYNC: 0x39,
  /** [group] — the sender stopped this Group: purge its rows. */
  BYE: 0x3a,
  /** [group, cluster, key, id, pid] — lock (cluster, key) for the sender's request id (locks.ts). */
  LOCK: 0x3b,
  /** [group, id, status] — 0 granted (held for the requester), 1 taken (the key is registered here). */
  LOCK_REPLY: 0x3c,
  /** [group, cluster, key, id] — release the lock held or queued for request id. */
  UNLOCK: 0x3d,
} as const;

/** Op codes inside OP frames. */
export const Op = {
  REGISTER: 0,
  UNREGISTER: 1,
  JOIN: 2,
  LEAVE: 3,
  /** createGroup: [.., key, id=null, meta=null, time, null]; the writer is the sending node. */
  CREATE_GROUP: 4,
  /** deleteGroup (a tombstone), same shape as CREATE_GROUP. */
  DELETE_GROUP: 5,
  /**
   * Local processes exited: [group, cluster, seq, 6, ids, reason] (no key, meta or time): up to
   * 4,096 pids that died in one turn for one reason. The receiver removes every row of those pids
   * in the cluster, so a death costs one op however many names and groups the process had.
   */
  EXIT: 6,
} as const;
export type OpCode = (typeof Op)[keyof typeof Op];

/**
 * A row on the wire: [key, id, meta, time] (id: of the sender's own pid, as in OP), then for a membership with topics or a join count
 * above 1 the optional [topics | nil, count] (omitted when the defaults: see memberships.ts).
 */
export type WireRow = [string, unknown, unknown, number, ...unknown[]];

/** What a Group instance handles; the router passes it the frames of its name. */
export interface GroupEndpoint {
  onFrame(type: number, peer: PeerIdentity, body: unknown[]): void;
}

/** Encode a cluster for the wire: null stays null (msgpack nil). */
export function isClusterName(value: unknown): value is ClusterName {
  return value === null || typeof value === 'string';
}

/**
 * One router per node: registers the group frame types once and hands each frame to the Group
 * instance named in its first element. Frames for a Group not running here are dropped (the peer
 * will hear our HELLO when we start it).
 */
class GroupRouter {
  readonly groups = new Map<string, GroupEndpoint>();

  constructor(node: Node) {
    for (const type of Object.values(GroupFrame)) {
      const batch = type === GroupFrame.OP || type === GroupFrame.DISPATCH;
      node.handleFrames(type, (peer, body) => this.route(type, peer, body), { batch });
    }
  }

  private route(type: number, peer: PeerIdentity, body: unknown): void {
    if (!Array.isArray(body) || typeof body[0] !== 'string') return;
    this.groups.get(body[0])?.onFrame(type, peer, body);
  }
}

const routers = new WeakMap<Node, GroupRouter>();

/** Attach a Group endpoint to a node; throws if a Group of that name already runs there. */
export function attachGroup(node: Node, name: string, endpoint: GroupEndpoint): void {
  let router = routers.get(node);
  if (router === undefined) routers.set(node, (router = new GroupRouter(node)));
  if (router.groups.has(name)) throw new Error(`a Group named "${name}" is already running on node ${node.name}`);
  router.groups.set(name, endpoint);
}

/** The Group instances running on a node now (the dashboard shows them when not given a list). */
export function attachedGroups(node: Node): GroupEndpoint[] {
  const router = routers.get(node);
  return router === undefined ? [] : [...router.groups.values()];
}

export function detachGroup(node: Node, name: string): void {
  routers.get(node)?.groups.delete(name);
}
