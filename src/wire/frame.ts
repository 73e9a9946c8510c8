/**
 * Frames: the unit every link carries.
 *
 *   [u32 BE length L][u8 version][u8 type][payload: L - 2 bytes]
 *
 * L counts version + type + payload, so L >= 2. The decoder validates L from the 4-byte prefix
 * before it keeps any of the body, so a peer cannot make us buffer an oversized frame. Which
 * versions and types are acceptable is the link's business, not the decoder's.
 */
import { BadFrameError, InvalidArgumentError } from '../errors.js';

/**
 * 2: G_OP and G_STATE name the sender's pids by id, EXIT ops carry ids (docs/protocol.md). A node
 * of version 1 would drop those rows without a word, so the versions refuse each other instead.
 */
export const PROTOCOL_VERSION = 2;
/** Length prefix (4) + version (1) + type (1). */
export const FRAME_HEADER_BYTES = 6;
export const DEFAULT_MAX_FRAME_BYTES = 8 * 1024 * 1024;

const LENGTH_BYTES = 4;
/** The length prefix counts version + type, so the smallest valid L is 2. */
const MIN_DECLARED_LENGTH = 2;
const MAX_DECLARED_LENGTH = 0xffffffff;

/**
 * Write a frame header at `target[offset .. offset + 6)` for a payload of `payloadLength`
 * bytes (the payload itself is the caller's to place right after).
 */
export function writeFrameHeader(
  target: Buffer,
  offset: number,
  payloadLength: number,
  type: number,
  version: number = PROTOCOL_VERSION,
): void {
  const declared = payloadLength + MIN_DECLARED_LENGTH;
  if (!(declared >= MIN_DECLARED_LENGTH && declared <= MAX_DECLARED_LENGTH) || !Number.isInteger(payloadLength)) {
    throw new InvalidArgumentError(`frame payload length must be an integer from 0 to 2^32-3, got ${payloadLength}`);
  }
  if ((type & 0xff) !== type) throw new InvalidArgumentError(`frame type must be an integer from 0 to 255, got ${type}`);
  if ((version & 0xff) !== version) {
    throw new InvalidArgumentError(`frame version must be an integer from 0 to 255, got ${version}`);
  }
  target.writeUInt32BE(declared, offset);
  target[offset + 4] = version;
  target[offset + 5] = type;
}

/** One complete frame in a new Buffer (for tests, raw clients and one-off control frames). */
export function encodeFrame(type: number, payload: Buffer, version: number = PROTOCOL_VERSION): Buffer {
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
  writeFrameHeader(frame, 0, payload.length, type, version);
  payload.copy(frame, FRAME_HEADER_BYTES);
  return frame;
}

export interface FrameDecoderOptions {
  /** Largest accepted declared length L (version + type + payload). */
  readonly maxFrameBytes: number;
  /**
   * Called once per complete frame, in order. `payload` may be a view into a received chunk:
   * copy it to keep it beyond the call if the chunk's memory matters.
   */
  readonly onFrame: (version: number, type: number, payload: Buffer) => void;
}

/** Chunks shorter than this are copied together (see `append`). */
const SMALL_CHUNK_BYTES = 512;
const COALESCE_BYTES = 16 * 1024;

/**
 * Streaming frame decoder: a pure state machine over bytes (it owns no socket, so it can be fed
 * anything by tests and fuzzers).
 *
 * Received chunks are kept in a list with a read offset into the first; nothing is concatenated
 * on arrival. A frame that lies inside one chunk is delivered as a zero-copy view; a frame split
 * across chunks is copied out once, when its last byte has arrived. So the work is linear in the
 * bytes received however the stream is split.
 *
 * `push` returns a BadFrameError (it does not throw) when the stream cannot be valid; the
 * decoder is then dead: its buffers are released and every later `push` returns the same error.
 * If `onFrame` throws, the error propagates out of `push`; the frame it was given counts as
 * delivered, and frames after it stay buffered until the next `push` (an empty chunk will do).
 */
export class FrameDecoder {
  private maxFrameBytes: number;
  private readonly onFrame: FrameDecoderOptions['onFrame'];
  /** Unconsumed chunks; `chunks[head]` is read from `offset`. Entries before `head` are spent. */
  private chunks: Buffer[] = [];
  private head = 0;
  private offset = 0;
  private buffered = 0;
  private error: BadFrameError | undefined;
  /**
   * Tiny chunks are copied into this buffer so that a peer trickling bytes one at a time costs
   * bytes, not a Buffer object per byte. `coalesceIndex` is the list entry that views
   * `coalesce[coalesceStart, coalesceUsed)` and may still grow (-1: none).
   */
  private coalesce: Buffer | undefined;
  private coalesceUsed = 0;
  private coalesceStart = 0;
  private coalesceIndex = -1;

  constructor(options: FrameDecoderOptions) {
    const maxFrameBytes = validMaxFrameBytes(options?.maxFrameBytes);
    const onFrame = options?.onFrame;
    if (typeof onFrame !== 'function') throw new InvalidArgumentError('onFrame must be a function (version, type, payload) => void');
    this.maxFrameBytes = maxFrameBytes;
    this.onFrame = onFrame;
  }

  /**
   * Change the largest accepted declared length, from the next frame on (also for a frame whose
   * header has arrived but not its body). A link keeps the limit small until its peer has
   * authenticated, so an unauthenticated client cannot make it buffer a large frame.
   */
  setMaxFrameBytes(maxFrameBytes: number): void {
    this.maxFrameBytes = validMaxFrameBytes(maxFrameBytes);
  }

  /**
   * Bytes received and not yet delivered: the incomplete frame at the end of the stream (always
   * under 4 + maxFrameBytes), plus any frames left waiting by an `onFrame` that threw.
   */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /**
   * Feed received bytes. Delivers every frame they complete, then returns undefined, or a
   * BadFrameError when the stream is invalid (frames before the bad one are still delivered).
   */
  push(chunk: Buffer): BadFrameError | undefined {
    if (this.error !== undefined) return this.error;
    if (chunk.length > 0) this.append(chunk);
    while (this.buffered >= LENGTH_BYTES) {
      const declared = this.peekLength();
      if (declared < MIN_DECLARED_LENGTH || declared > this.maxFrameBytes) return this.fail(declared);
      if (this.buffered < LENGTH_BYTES + declared) break;
      const first = this.chunks[this.head]!;
      const at = this.offset;
      if (first.length - at >= LENGTH_BYTES + declared) {
        // The common case: the whole frame is inside the head chunk.
        const version = first[at + 4]!;
        const type = first[at + 5]!;
        const payload = first.subarray(at + FRAME_HEADER_BYTES, at + LENGTH_BYTES + declared);
        this.advance(first, LENGTH_BYTES + declared);
        this.onFrame(version, type, payload);
        continue;
      }
      this.skip(LENGTH_BYTES);
      const version = this.takeByte();
      const type = this.takeByte();
      const payload = this.take(declared - 2);
      this.onFrame(version, type, payload);
    }
    return undefined;
  }

  private append(chunk: Buffer): void {
    this.buffered += chunk.length;
    if (chunk.length >= SMALL_CHUNK_BYTES || this.head === this.chunks.length) {
      this.chunks.push(chunk);
      this.coalesceIndex = -1;
      return;
    }
    let target = this.coalesce;
    if (target === undefined || target.length - this.coalesceUsed < chunk.length) {
      // Views handed out earlier keep the old buffer alive; it is never written again.
      target = this.coalesce = Buffer.allocUnsafeSlow(COALESCE_BYTES);
      this.coalesceUsed = 0;
      this.coalesceIndex = -1;
    }
    chunk.copy(target, this.coalesceUsed);
    this.coalesceUsed += chunk.length;
    if (this.coalesceIndex >= this.head && this.coalesceIndex === this.chunks.length - 1) {
      // Extend the open view; the read offset into it (if it is the head) stays valid.
      this.chunks[this.coalesceIndex] = target.subarray(this.coalesceStart, this.coalesceUsed);
    } else {
      this.coalesceStart = this.coalesceUsed - chunk.length;
      this.coalesceIndex = this.chunks.length;
      this.chunks.push(target.subarray(this.coalesceStart, this.coalesceUsed));
    }
  }

  /** The 4-byte length prefix at the read position, without consuming it (buffered >= 4). */
  private peekLength(): number {
    const first = this.chunks[this.head]!;
    const at = this.offset;
    if (first.length - at >= LENGTH_BYTES) {
      return first[at]! * 0x1000000 + ((first[at + 1]! << 16) | (first[at + 2]! << 8) | first[at + 3]!);
    }
    let value = 0;
    let index = this.head;
    let position = at;
    for (let i = 0; i < LENGTH_BYTES; i++) {
      let chunk = this.chunks[index]!;
      while (position >= chunk.length) {
        chunk = this.chunks[++index]!;
        position = 0;
      }
      value = value * 0x100 + chunk[position++]!;
    }
    return value;
  }

  private takeByte(): number {
    const chunk = this.chunks[this.head]!;
    const byte = chunk[this.offset]!;
    this.advance(chunk, 1);
    return byte;
  }

  private skip(count: number): void {
    while (count > 0) {
      const chunk = this.chunks[this.head]!;
      const step = Math.min(count, chunk.length - this.offset);
      this.advance(chunk, step);
      count -= step;
    }
  }

  /** Consume `count` bytes (all buffered): a view when they lie in one chunk, else one copy. */
  private take(count: number): Buffer {
    if (count === 0) return EMPTY;
    const first = this.chunks[this.head]!;
    if (first.length - this.offset >= count) {
      const view = first.subarray(this.offset, this.offset + count);
      this.advance(first, count);
      return view;
    }
    const assembled = Buffer.allocUnsafe(count);
    let filled = 0;
    while (filled < count) {
      const chunk = this.chunks[this.head]!;
      const step = Math.min(count - filled, chunk.length - this.offset);
      chunk.copy(assembled, filled, this.offset, this.offset + step);
      filled += step;
      this.advance(chunk, step);
    }
    return assembled;
  }

  private advance(chunk: Buffer, count: number): void {
    this.buffered -= count;
    this.offset += count;
    if (this.offset < chunk.length) return;
    // The head chunk is spent: drop our reference so its memory can go.
    this.chunks[this.head] = EMPTY;
    this.head++;
    this.offset = 0;
    if (this.head === this.chunks.length) {
      this.chunks.length = 0;
      this.head = 0;
      this.coalesceIndex = -1;
    } else if (this.head >= 1024 && this.head * 2 >= this.chunks.length) {
      this.chunks = this.chunks.slice(this.head);
      this.coalesceIndex = this.coalesceIndex >= this.head ? this.coalesceIndex - this.head : -1;
      this.head = 0;
    }
  }

  private fail(declared: number): BadFrameError {
    this.error = new BadFrameError(
      declared < MIN_DECLARED_LENGTH
        ? `frame declares length ${declared}; the smallest valid frame is ${MIN_DECLARED_LENGTH} (version + type)`
        : `frame declares length ${declared}, over the limit of ${this.maxFrameBytes} bytes`,
    );
    this.chunks = [];
    this.head = 0;
    this.offset = 0;
    this.buffered = 0;
    this.coalesce = undefined;
    this.coalesceIndex = -1;
    return this.error;
  }
}

const EMPTY = Buffer.alloc(0);

function validMaxFrameBytes(maxFrameBytes: unknown): number {
  if (typeof maxFrameBytes !== 'number' || !Number.isInteger(maxFrameBytes) || maxFrameBytes < MIN_DECLARED_LENGTH || maxFrameBytes > MAX_DECLARED_LENGTH) {
    throw new InvalidArgumentError(
      `maxFrameBytes must be an integer from ${MIN_DECLARED_LENGTH} to ${MAX_DECLARED_LENGTH}, got ${String(maxFrameBytes)}`,
    );
  }
  return maxFrameBytes;
}
