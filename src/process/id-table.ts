/**
 * A map from non-negative integer ids to values, for ids handed out in increasing order (process
 * and pid serials). A Map hashes integer keys to scattered buckets, so walking a run of
 * neighbouring ids costs a cache miss or two per id once the Map outgrows the caches (measured:
 * the process-table and owner-index lookups were ~40% of a registration with 100,000 processes).
 * Here ids are grouped in chunks of 64 consecutive slots found through a small Map: neighbouring
 * ids share a chunk and its cache lines. A chunk is dropped when its last value goes, so a table
 * holding few long-lived ids among many dead ones keeps at most one 64-slot chunk per live id.
 */
const CHUNK_BITS = 6;
const CHUNK_SIZE = 1 << CHUNK_BITS;
/** Ids below this are split with shifts; larger (still safe) integers with division. */
const SHIFT_LIMIT = 2 ** 32;

interface Chunk<V> {
  readonly slots: Array<V | undefined>;
  used: number;
}

export class IdTable<V> {
  private readonly chunks = new Map<number, Chunk<V>>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  get(id: number): V | undefined {
    if (!isId(id)) return undefined;
    const chunk = this.chunks.get(chunkOf(id));
    return chunk === undefined ? undefined : chunk.slots[slotOf(id)];
  }

  set(id: number, value: V): void {
    if (!isId(id)) throw new TypeError(`IdTable: ids are non-negative safe integers, got ${String(id)}`);
    if (value === undefined) throw new TypeError('IdTable: undefined is not a storable value (use delete)');
    const index = chunkOf(id);
    let chunk = this.chunks.get(index);
    if (chunk === undefined) {
      chunk = { slots: new Array<V | undefined>(CHUNK_SIZE).fill(undefined), used: 0 };
      this.chunks.set(index, chunk);
    }
    const slot = slotOf(id);
    if (chunk.slots[slot] === undefined) {
      chunk.used++;
      this.count++;
    }
    chunk.slots[slot] = value;
  }

  /** Remove the value of `id`; returns whether there was one. */
  delete(id: number): boolean {
    if (!isId(id)) return false;
    const index = chunkOf(id);
    const chunk = this.chunks.get(index);
    if (chunk === undefined) return false;
    const slot = slotOf(id);
    if (chunk.slots[slot] === undefined) return false;
    chunk.slots[slot] = undefined;
    this.count--;
    if (--chunk.used === 0) this.chunks.delete(index);
    return true;
  }

  /** Every value, chunk by chunk (chunks in creation order, ids ascending within a chunk). */
  forEach(fn: (value: V, id: number) => void): void {
    for (const [index, chunk] of this.chunks) {
      const base = index * CHUNK_SIZE;
      for (let slot = 0; slot < CHUNK_SIZE; slot++) {
        const value = chunk.slots[slot];
        if (value !== undefined) fn(value, base + slot);
      }
    }
  }

  values(): V[] {
    const out: V[] = [];
    this.forEach((value) => out.push(value));
    return out;
  }

  entries(): Array<[number, V]> {
    const out: Array<[number, V]> = [];
    this.forEach((value, id) => out.push([id, value]));
    return out;
  }
}

/** A non-negative safe integer (the first test is the common case: below 2^32). */
function isId(id: number): boolean {
  return id >>> 0 === id || (Number.isSafeInteger(id) && id > 0);
}

function chunkOf(id: number): number {
  return id < SHIFT_LIMIT ? id >>> CHUNK_BITS : Math.floor(id / CHUNK_SIZE);
}

function slotOf(id: number): number {
  return id < SHIFT_LIMIT ? id & (CHUNK_SIZE - 1) : id % CHUNK_SIZE;
}
