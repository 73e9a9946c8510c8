/**
 * Payload codec: MessagePack via msgpackr in plain mode, plus three Rollcall extension types.
 *
 * msgpackr options, and why:
 * - `useRecords: false`: plain msgpack maps. Records would make a payload depend on structures
 *   sent earlier on the same stream, which a frame-by-frame protocol cannot allow.
 * - `mapsAsObjects: true`: msgpack maps decode to plain objects (the JSON-like shape users send).
 * - `moreTypes: true`: Set, RegExp, non-Buffer typed arrays, ArrayBuffer and bigints beyond 64
 *   bits round-trip through msgpackr's own extension types instead of degrading to arrays/bytes.
 * - `int64AsType: 'bigint'`: msgpackr writes every JS number as int32/uint32 or float64 and only a
 *   bigint as int64/uint64, so decoding 64-bit integers as bigint makes bigint round-trip exactly.
 * - `copyBuffers: true`: decoded Buffers own their bytes, so a Buffer kept from a message does not
 *   pin the whole socket chunk it arrived in (and cannot see those bytes reused).
 * - `structuredClone: false`: no reference/cycle extensions (0x69/0x70), so a peer cannot send them.
 * - `variableMapSize: true`: objects with more than 65535 keys encode instead of throwing, and
 *   small objects get the compact fixmap header.
 *
 * What each kind of value round-trips to (decode(encode(v))):
 * - string, boolean, null, finite and non-finite numbers: themselves (-0 arrives as 0).
 * - undefined: undefined, at the top level, as a field (the key is kept) and in arrays (msgpackr's
 *   fixext 0 convention).
 * - bigint: bigint, any size.
 * - Date: Date with the same millisecond time (an invalid Date stays invalid).
 * - Buffer: Buffer; Uint8Array and the other typed arrays: the same typed array class; ArrayBuffer:
 *   ArrayBuffer.
 * - Map: a plain object (keys must be strings or numbers; numbers become string keys). Set: Set.
 * - RegExp: RegExp.
 * - Pid / Ref: Pid / Ref instances (extension types below).
 * - Error (any subclass): an Error with the same `name`, `message`, `code` (string or number) and
 *   the sender's `stack`; standard classes (TypeError, RangeError...) come back as that class,
 *   anything else (RollcallError subclasses included) as a plain Error. `cause` is not sent.
 * - Other class instances: a plain object of their own enumerable properties, or what their
 *   `toJSON()` returns.
 * - Objects nested deeper than MAX_ENCODE_DEPTH, cycles, functions, symbols, Promise, WeakMap,
 *   WeakSet, WeakRef, FinalizationRegistry, SharedArrayBuffer, Map subclasses and Maps with other
 *   keys: refused by `encode` with an EncodeError naming the path. Symbol-keyed properties are
 *   skipped, as JSON does.
 * - A key named `__proto__` arrives as `__proto_` (msgpackr's prototype-pollution guard).
 */
import { Packr, addExtension } from 'msgpackr';
import { BadFrameError, EncodeError } from '../errors.js';
import { Pid, Ref } from '../process/pid.js';

/**
 * msgpack extension type numbers. Part of the wire protocol: never renumber, only add.
 * 0x30-0x3f is Rollcall's block; msgpackr itself uses 0x00, 0x42, 0x62, 0x65, 0x69, 0x70, 0x72,
 * 0x73, 0x74, 0x78 and -1 (timestamp). Encoding: fixext1 tag (0xd4, type, 0x00) followed by one
 * msgpack value: Pid and Ref `[node: str, incarnation: uint, id: uint]`, Error a map
 * `{name, message, code?, stack?}`.
 */
export const PID_EXTENSION_TYPE = 0x30;
export const REF_EXTENSION_TYPE = 0x31;
export const ERROR_EXTENSION_TYPE = 0x32;

/** Deeper values are refused: the decoder on the other side recurses once per level. */
export const MAX_ENCODE_DEPTH = 1000;

const packr = new Packr({
  useRecords: false,
  mapsAsObjects: true,
  moreTypes: true,
  int64AsType: 'bigint',
  copyBuffers: true,
  structuredClone: false,
  variableMapSize: true,
  // The pre-encode check refuses functions; this is the backstop for one hidden behind toJSON().
  writeFunction: () => {
    throw new EncodeError('cannot encode a function (returned by a toJSON method)');
  },
});

// ---- extension types ----------------------------------------------------------------------

/** msgpackr's calling convention for an extension's `pack`, which its typings do not describe. */
type AllocateForWrite = (size: number) => { target: Buffer; position: number };
type PackNested = (value: unknown) => void;
interface PackerContext {
  readonly moreTypes?: boolean;
  readonly useToJSON?: boolean;
}

/*
 * msgpackr keeps extensions in one process-wide list. Another library in the same process may
 * share this msgpackr copy, so every encoder here checks `this === packr` and, for any other
 * Packr, writes what msgpackr would have written without Rollcall, so their bytes do not change.
 */

function registerIdentityExtension(Class: typeof Pid | typeof Ref, type: number): void {
  const prefixes = new Map<string, { incarnation: number; bytes: Buffer }>();
  // A stream of messages usually names the same pid again and again: hand back the previous
  // (immutable) instance instead of building a new one (measured: ~4% of receive CPU).
  let last: Pid | Ref | undefined;
  addExtension({
    Class,
    type,
    pack(this: PackerContext, value: Pid | Ref, allocateForWrite: AllocateForWrite, pack: PackNested): void {
      if (this !== packr) {
        allocateForWrite(0);
        pack(this.useToJSON === false ? { ...value } : value.toJSON());
        return;
      }
      // Every pid of one node incarnation shares the bytes up to its id: those are built once
      // per (node, incarnation) and copied, then the id is written. No per-pid cache, so a pid
      // encoded once (a registration replicated) costs no allocation (measured: a per-pid cached
      // buffer was ~9% of a replicated registration's CPU on its writer).
      let prefix = prefixes.get(value.node);
      if (prefix === undefined || prefix.incarnation !== value.incarnation) {
        if (prefixes.size >= MAX_PREFIXES) prefixes.clear();
        prefix = { incarnation: value.incarnation, bytes: identityPrefix(type, value) };
        prefixes.set(value.node, prefix);
      }
      const head = prefix.bytes;
      const { target, position } = allocateForWrite(head.length + identityNumberSize(value.id));
      // A loop, not head.copy(): Buffer#copy is a native call costing more than these ~15 bytes.
      for (let i = 0; i < head.length; i++) target[position + i] = head[i]!;
      writeIdentityNumber(target, position + head.length, value.id);
    },
    read(datum: unknown): Pid | Ref {
      if (
        !Array.isArray(datum) ||
        datum.length !== 3 ||
        typeof datum[0] !== 'string' ||
        !isIdentityNumber(datum[1]) ||
        !isIdentityNumber(datum[2])
      ) {
        throw new Error(`malformed ${Class.name} extension`);
      }
      if (last !== undefined && last.id === datum[2] && last.incarnation === datum[1] && last.node === datum[0]) return last;
      last = new Class(datum[0], datum[1] as number, datum[2] as number);
      return last;
    },
  } as unknown as Parameters<typeof addExtension>[0]);
}

/** Distinct (node) prefixes kept per extension type before the cache starts over. */
const MAX_PREFIXES = 4096;

/**
 * The bytes of an identity up to its id: fixext1 tag (0xd4, type, 0x00), then the start of the
 * msgpack array `[node, incarnation, id]`, written by hand: strings as str8/16/32, integers below
 * 2^32 as uint, larger ones as float64 (exact for safe integers, and decoded as a number, not a
 * bigint). The id follows (writeIdentityNumber).
 */
function identityPrefix(type: number, value: Pid | Ref): Buffer {
  const name = Buffer.from(value.node, 'utf8');
  const out = Buffer.alloc(4 + 5 + name.length + 9);
  out[0] = 0xd4;
  out[1] = type;
  out[2] = 0;
  out[3] = 0x93;
  let at = 4;
  const n = name.length;
  if (n < 32) out[at++] = 0xa0 | n;
  else if (n < 0x100) {
    out[at++] = 0xd9;
    out[at++] = n;
  } else if (n < 0x10000) {
    out[at++] = 0xda;
    out.writeUInt16BE(n, at);
    at += 2;
  } else {
    out[at++] = 0xdb;
    out.writeUInt32BE(n, at);
    at += 4;
  }
  at += name.copy(out, at);
  at = writeIdentityNumber(out, at, value.incarnation);
  return out.subarray(0, at);
}

/** The bytes writeIdentityNumber writes for `n`. */
function identityNumberSize(n: number): number {
  return n < 0x80 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : n < 0x100000000 ? 5 : 9;
}

function writeIdentityNumber(out: Buffer, at: number, n: number): number {
  if (n < 0x80) {
    out[at] = n;
    return at + 1;
  }
  if (n < 0x100) {
    out[at] = 0xcc;
    out[at + 1] = n;
    return at + 2;
  }
  if (n < 0x10000) {
    out[at] = 0xcd;
    out[at + 1] = n >>> 8;
    out[at + 2] = n & 0xff;
    return at + 3;
  }
  if (n < 0x100000000) {
    out[at] = 0xce;
    out.writeUInt32BE(n, at + 1);
    return at + 5;
  }
  out[at] = 0xcb;
  out.writeDoubleBE(n, at + 1);
  return at + 9;
}

function isIdentityNumber(value: unknown): boolean {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

registerIdentityExtension(Pid, PID_EXTENSION_TYPE);
registerIdentityExtension(Ref, REF_EXTENSION_TYPE);

interface ErrorWireForm {
  name: string;
  message: string;
  code?: string | number;
  stack?: string;
}

const STANDARD_ERRORS: Record<string, ErrorConstructor> = {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
};

addExtension({
  Class: Error,
  type: ERROR_EXTENSION_TYPE,
  pack(this: PackerContext, error: Error, allocateForWrite: AllocateForWrite, pack: PackNested): void {
    if (this !== packr) {
      packLikeMsgpackr(this, error, allocateForWrite, pack);
      return;
    }
    const { target, position } = allocateForWrite(3);
    target[position] = 0xd4;
    target[position + 1] = ERROR_EXTENSION_TYPE;
    target[position + 2] = 0;
    const wire: ErrorWireForm = { name: String(error.name), message: String(error.message) };
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' || typeof code === 'number') wire.code = code;
    if (typeof error.stack === 'string') wire.stack = error.stack;
    pack(wire);
  },
  read(datum: unknown): Error {
    if (typeof datum !== 'object' || datum === null) throw new Error('malformed Error extension');
    const { name, message, code, stack } = datum as Partial<Record<keyof ErrorWireForm, unknown>>;
    if (typeof name !== 'string' || typeof message !== 'string') throw new Error('malformed Error extension');
    const Standard = Object.hasOwn(STANDARD_ERRORS, name) ? STANDARD_ERRORS[name]! : Error;
    // The local construction stack would point into this codec; the sender's stack replaces it.
    const savedLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    let error: Error;
    try {
      error = new Standard(message);
    } finally {
      Error.stackTraceLimit = savedLimit;
    }
    if (error.name !== name) error.name = name;
    if (typeof code === 'string' || typeof code === 'number') (error as Error & { code: unknown }).code = code;
    error.stack = typeof stack === 'string' ? stack : `${name}: ${message}`;
    return error;
  },
} as unknown as Parameters<typeof addExtension>[0]);

/** What msgpackr's built-in Error handling writes, for Packr instances that are not ours. */
function packLikeMsgpackr(ctx: PackerContext, error: Error, allocateForWrite: AllocateForWrite, pack: PackNested): void {
  const toJSON = (error as { toJSON?: unknown }).toJSON;
  if (error.constructor !== Error && ctx.useToJSON !== false && typeof toJSON === 'function') {
    const json: unknown = toJSON.call(error);
    if (json !== error) {
      allocateForWrite(0);
      pack(json);
      return;
    }
  }
  const { target, position } = allocateForWrite(ctx.moreTypes ? 3 : 0);
  if (ctx.moreTypes) {
    target[position] = 0xd4;
    target[position + 1] = 0x65;
    target[position + 2] = 0;
  }
  pack([error.name, error.message, error.cause]);
}

// ---- encode -------------------------------------------------------------------------------

/*
 * Output buffers. msgpackr packs into one process-wide buffer and returns a subarray of it;
 * other code sharing this msgpackr copy may point that buffer at its own memory (`useBuffer`)
 * and overwrite it later. So each encode points msgpackr at a slab owned here, past every byte
 * msgpackr may have written into it (ours, and any other Packr's that appended since: hence the
 * max with msgpackr's position). Slab bytes are never written twice, so results may be kept.
 * Measured on Node 20, 3-field object: +12% over a bare pack; copying the result instead: +31%.
 */
const SLAB_BYTES = 64 * 1024;
/** msgpackr abandons a buffer with less than 2 KiB left; leave it that plus alignment. */
const SLAB_MIN_ROOM = 0x800 + 64;
let slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
let slabUsed = 0;

/**
 * Encode a value for the wire. The returned Buffer belongs to the caller (it may keep it).
 * Throws EncodeError, naming what and where, for values that cannot cross the wire (see the
 * module comment): `cannot encode a function (handler) at .handler`.
 */
/**
 * Throw the EncodeError `encode` would throw, without encoding: for values that must be
 * sendable later (a registration's meta on a node that has no peers yet).
 */
export function assertEncodable(value: unknown): void {
  let encodable: boolean;
  try {
    encodable = isEncodable(value, 0);
  } catch (error) {
    // A getter or toJSON of the value threw.
    throw new EncodeError(`cannot encode value: reading it threw ${messageOf(error)}`, { cause: error });
  }
  if (!encodable) throw unencodableError(value);
}

export function encode(value: unknown): Buffer {
  assertEncodable(value);
  let start = Math.max(slabUsed, packr.position);
  if (SLAB_BYTES - start < SLAB_MIN_ROOM) {
    slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
    start = 0;
  }
  packr.useBuffer(slab);
  packr.position = start;
  let bytes: Buffer;
  try {
    bytes = packr.pack(value);
  } catch (error) {
    if (error instanceof EncodeError) throw error;
    throw new EncodeError(`cannot encode value: ${messageOf(error)}`, { cause: error });
  }
  // `offset` is where msgpackr stopped: in the slab, or (for a value too large for the slab's
  // room) in a fresh buffer of its own, in which case the max merely skips some slab space.
  slabUsed = Math.max(start, packr.offset);
  return bytes;
}

/**
 * Decode one payload (the whole buffer must be exactly one value). Throws BadFrameError for
 * bytes that are not valid msgpack or a malformed Rollcall extension: the link closes.
 */
export function decode(bytes: Buffer): unknown {
  try {
    return packr.unpack(bytes);
  } catch (error) {
    throw new BadFrameError(`cannot decode payload: ${messageOf(error)}`);
  }
}

/**
 * Decode a payload holding several msgpack values back to back (a batched frame), calling
 * `each` for every value in order. One decoder set-up for the whole batch is what makes batched
 * frames cheap to receive (measured: the per-call set-up was ~40% of receive CPU for 100-byte
 * messages). Throws BadFrameError on bad bytes; values before the bad one were already handed out.
 */
export function decodeEach(bytes: Buffer, each: (value: unknown) => void): void {
  try {
    packr.unpackMultiple(bytes, (value: unknown) => {
      try {
        each(value);
      } catch (error) {
        throw new HandlerError('decodeEach callback threw', { cause: error });
      }
    });
  } catch (error) {
    if (error instanceof HandlerError) throw error.cause;
    throw new BadFrameError(`cannot decode payload: ${messageOf(error)}`);
  }
}

/** Marks an error thrown by a decodeEach callback, so it is not mistaken for bad bytes. */
class HandlerError extends Error {}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

// ---- what can be encoded ------------------------------------------------------------------

/*
 * Checked before packing because msgpackr cannot refuse on its own: it writes functions as
 * undefined, Promises and WeakMaps as {}, and Maps with object keys that the other side cannot
 * decode. This walk mirrors how msgpackr traverses a value; it only answers yes/no, and on "no"
 * the slower `findUnencodable` walks again to say what and where.
 * Measured on Node 20: ~10% of the encode time of a 3-field object.
 */
function isEncodable(value: unknown, depth: number): boolean {
  switch (typeof value) {
    case 'string':
    case 'number':
    case 'boolean':
    case 'undefined':
    case 'bigint':
      return true;
    case 'object':
      return value === null || isEncodableObject(value, depth);
    default:
      return false;
  }
}

function isEncodableObject(object: object, depth: number): boolean {
  if (depth >= MAX_ENCODE_DEPTH) return false;
  const next = depth + 1;
  const constructor = object.constructor;
  if (constructor === Object) {
    // Own keys only is what msgpackr writes; a plain object has no inherited enumerable keys
    // unless Object.prototype was polluted, so the hasOwn check is left to other objects.
    for (const key in object) if (!isEncodable((object as Record<string, unknown>)[key], next)) return false;
    return true;
  }
  if (constructor === Array) {
    const array = object as unknown[];
    for (let i = 0; i < array.length; i++) if (!isEncodable(array[i], next)) return false;
    return true;
  }
  switch (classify(object)) {
    case 'leaf':
      return true;
    case 'refused':
      return false;
    case 'array': {
      const array = object as unknown[];
      for (let i = 0; i < array.length; i++) if (!isEncodable(array[i], next)) return false;
      return true;
    }
    case 'map':
      for (const [key, entry] of object as Map<unknown, unknown>) {
        if ((typeof key !== 'string' && typeof key !== 'number') || !isEncodable(entry, next)) return false;
      }
      return true;
    case 'set':
      for (const member of object as Set<unknown>) if (!isEncodable(member, next)) return false;
      return true;
    case 'json':
      return isEncodable((object as { toJSON(): unknown }).toJSON(), next);
    case 'fields':
      return areFieldsEncodable(object, next);
  }
}

function areFieldsEncodable(object: object, depth: number): boolean {
  for (const key in object) {
    if (Object.hasOwn(object, key) && !isEncodable((object as Record<string, unknown>)[key], depth)) return false;
  }
  return true;
}

type ObjectKind = 'leaf' | 'refused' | 'array' | 'map' | 'set' | 'json' | 'fields';

/** How msgpackr (with the extensions above) treats an object that is not a plain object/array. */
function classify(object: object): ObjectKind {
  if (
    object instanceof Pid ||
    object instanceof Ref ||
    object instanceof Error ||
    object instanceof Date ||
    object instanceof RegExp ||
    object instanceof ArrayBuffer ||
    ArrayBuffer.isView(object)
  ) {
    return 'leaf';
  }
  if (refusedClassName(object) !== undefined) return 'refused';
  if (object instanceof Map) return object.constructor === Map ? 'map' : 'refused';
  if (object instanceof Set) return 'set';
  if (Array.isArray(object)) return 'array';
  if (typeof (object as { toJSON?: unknown }).toJSON === 'function') return 'json';
  return 'fields';
}

const REFUSED_CLASSES: ReadonlyArray<readonly [string, new (...args: never[]) => object, string]> = [
  ['a Promise', Promise, ' (await it and send the result)'],
  ['a WeakMap', WeakMap, ''],
  ['a WeakSet', WeakSet, ''],
  ['a WeakRef', WeakRef, ''],
  ['a FinalizationRegistry', FinalizationRegistry, ''],
  ['a SharedArrayBuffer', SharedArrayBuffer, ' (copy it into a Buffer)'],
];

function refusedClassName(object: object): string | undefined {
  for (const [name, Class, hint] of REFUSED_CLASSES) if (object instanceof Class) return name + hint;
  return undefined;
}

/** The slow path: walk again, keeping the path and the enclosing objects, to explain the refusal. */
function unencodableError(value: unknown): EncodeError {
  let found: Unencodable | undefined;
  try {
    found = findUnencodable(value, '', [], 0);
  } catch {
    found = undefined; // a getter that threw the second time round: say less, but say it
  }
  const what = found?.what ?? 'a value';
  const where = found === undefined || found.path === '' ? 'at the top level' : `at ${shortened(found.path)}`;
  return new EncodeError(`cannot encode ${what} ${where}`);
}

interface Unencodable {
  readonly what: string;
  readonly path: string;
}

function findUnencodable(value: unknown, path: string, enclosing: object[], depth: number): Unencodable | undefined {
  switch (typeof value) {
    case 'function':
      return { what: value.name ? `a function (${value.name})` : 'a function', path };
    case 'symbol':
      return { what: `a symbol (${value.toString()})`, path };
    case 'object':
      break;
    default:
      return undefined;
  }
  if (value === null) return undefined;
  if (enclosing.includes(value)) return { what: 'a cycle (the value contains itself)', path };
  if (depth >= MAX_ENCODE_DEPTH) return { what: `a value nested deeper than ${MAX_ENCODE_DEPTH} levels`, path };
  enclosing.push(value);
  try {
    return findInObject(value, path, enclosing, depth + 1);
  } finally {
    enclosing.pop();
  }
}

function findInObject(object: object, path: string, enclosing: object[], depth: number): Unencodable | undefined {
  const kind = object.constructor === Object ? 'fields' : classify(object);
  switch (kind) {
    case 'leaf':
      return undefined;
    case 'refused':
      return { what: refusedClassName(object) ?? 'a Map subclass (send a Map or a plain object)', path };
    case 'array': {
      const array = object as unknown[];
      for (let i = 0; i < array.length; i++) {
        const found = findUnencodable(array[i], `${path}[${i}]`, enclosing, depth);
        if (found !== undefined) return found;
      }
      return undefined;
    }
    case 'map':
      for (const [key, entry] of object as Map<unknown, unknown>) {
        if (typeof key !== 'string' && typeof key !== 'number') {
          return { what: `a Map with a key of type ${describeType(key)} (Map keys must be strings or numbers)`, path };
        }
        const found = findUnencodable(entry, `${path}.get(${JSON.stringify(key)})`, enclosing, depth);
        if (found !== undefined) return found;
      }
      return undefined;
    case 'set':
      for (const member of object as Set<unknown>) {
        const found = findUnencodable(member, `${path}<Set member>`, enclosing, depth);
        if (found !== undefined) return found;
      }
      return undefined;
    case 'json':
      return findUnencodable((object as { toJSON(): unknown }).toJSON(), `${path}.toJSON()`, enclosing, depth);
    case 'fields':
      for (const key in object) {
        if (!Object.hasOwn(object, key)) continue;
        const found = findUnencodable((object as Record<string, unknown>)[key], pathTo(path, key), enclosing, depth);
        if (found !== undefined) return found;
      }
      return undefined;
  }
}

/** Keep messages readable for very deep values: the end of the path says the most. */
function shortened(path: string): string {
  return path.length <= MAX_PATH_CHARS ? path : `…${path.slice(-MAX_PATH_CHARS)}`;
}
const MAX_PATH_CHARS = 120;

function pathTo(path: string, key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value !== 'object') return typeof value;
  return value.constructor?.name ?? 'object';
}
