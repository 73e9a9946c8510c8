/** What Pid and Ref share: a node, its incarnation, a serial id, a cached key, a total order. */
abstract class Identity {
  readonly node: string;
  readonly incarnation: number;
  readonly id: number;
  /** Cached string form, also the key for Maps. */
  readonly key: string;

  protected constructor(node: string, incarnation: number, id: number, key: string) {
    this.node = node;
    this.incarnation = incarnation;
    this.id = id;
    this.key = key;
    Object.freeze(this);
  }

  equals(other: this): boolean {
    return (
      this === other ||
      (this.id === other.id && this.incarnation === other.incarnation && this.node === other.node && this.constructor === other.constructor)
    );
  }

  /** Total order: node name, then incarnation, then id. */
  compare(other: this): number {
    return compareIdentity(this, other);
  }

  toString(): string {
    return this.key;
  }

  toJSON(): string {
    return this.key;
  }
}

/**
 * A Pid names one process anywhere in the cluster: the node's name, the node's incarnation
 * (a per-boot number, so a restarted node's old pids stay dead) and a per-node serial id.
 * Immutable; compare with `equals`/`compare`, key maps with `pid.key` (`<node.incarnation.id>`)
 * or PidMap.
 */
export class Pid extends Identity {
  constructor(node: string, incarnation: number, id: number) {
    super(node, incarnation, id, identityKey(PID_PREFIXES, '<', node, incarnation, id));
  }

  /** Parse the string form produced by `toString()`. */
  static parse(text: string): Pid {
    const parts = parseIdentity(text, 'Pid');
    return new Pid(parts.node, parts.incarnation, parts.id);
  }

  static isPid(value: unknown): value is Pid {
    return value instanceof Pid;
  }
}

/** A unique reference (monitor refs, call refs): same shape and order as a Pid, never a process. */
export class Ref extends Identity {
  constructor(node: string, incarnation: number, id: number) {
    super(node, incarnation, id, identityKey(REF_PREFIXES, '#Ref<', node, incarnation, id));
  }
}

/** Per node name: its last incarnation seen and the key text up to the id (`<node.incarnation.`). */
type Prefixes = Map<string, { incarnation: number; text: string }>;
const PID_PREFIXES: Prefixes = new Map();
const REF_PREFIXES: Prefixes = new Map();
/** Distinct node names kept before a prefix cache starts over. */
const MAX_PREFIXES = 4096;

/**
 * `<opener><node>.<incarnation>.<id>>` as one flat string. A template literal or a `+` chain
 * makes a tree of cons strings (4 nodes of 32 B here) that stays until the key is first hashed,
 * and a replica row's Pid often never is: measured ~40 B more per Pid, which is per replicated
 * row. `join` writes one sequential string, and the prefix is shared by every pid of a node.
 */
function identityKey(prefixes: Prefixes, opener: string, node: string, incarnation: number, id: number): string {
  let prefix = prefixes.get(node);
  if (prefix === undefined || prefix.incarnation !== incarnation) {
    if (prefixes.size >= MAX_PREFIXES) prefixes.clear();
    prefix = { incarnation, text: `${opener}${node}.${incarnation}.` };
    prefixes.set(node, prefix);
  }
  return [prefix.text, id, '>'].join('');
}

function compareIdentity(a: Identity, b: Identity): number {
  if (a.node !== b.node) return a.node < b.node ? -1 : 1;
  if (a.incarnation !== b.incarnation) return a.incarnation < b.incarnation ? -1 : 1;
  if (a.id !== b.id) return a.id < b.id ? -1 : 1;
  return 0;
}

function parseIdentity(text: string, what: string): { node: string; incarnation: number; id: number } {
  const m = /^<(.+)\.(\d+)\.(\d+)>$/.exec(text);
  if (!m) throw new TypeError(`not a ${what} string: ${JSON.stringify(text)} (expected "<node.incarnation.id>")`);
  return { node: m[1]!, incarnation: Number(m[2]), id: Number(m[3]) };
}

/** A Map keyed by Pid value (not object identity). */
export class PidMap<V> implements Iterable<[Pid, V]> {
  private readonly entries = new Map<string, [Pid, V]>();

  get size(): number {
    return this.entries.size;
  }
  get(pid: Pid): V | undefined {
    return this.entries.get(pid.key)?.[1];
  }
  has(pid: Pid): boolean {
    return this.entries.has(pid.key);
  }
  set(pid: Pid, value: V): this {
    this.entries.set(pid.key, [pid, value]);
    return this;
  }
  delete(pid: Pid): boolean {
    return this.entries.delete(pid.key);
  }
  clear(): void {
    this.entries.clear();
  }
  *keys(): IterableIterator<Pid> {
    for (const [pid] of this.entries.values()) yield pid;
  }
  *values(): IterableIterator<V> {
    for (const [, v] of this.entries.values()) yield v;
  }
  [Symbol.iterator](): IterableIterator<[Pid, V]> {
    return this.entries.values();
  }
}
