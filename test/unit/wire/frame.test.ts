import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { BadFrameError, InvalidArgumentError } from '../../../src/errors.js';
import {
  DEFAULT_MAX_FRAME_BYTES,
  FRAME_HEADER_BYTES,
  FrameDecoder,
  PROTOCOL_VERSION,
  encodeFrame,
  writeFrameHeader,
} from '../../../src/wire/frame.js';

interface Frame {
  version: number;
  type: number;
  payload: Buffer;
}

/** A decoder that records what it delivers; payloads are kept as delivered (not copied). */
function recorder(maxFrameBytes = DEFAULT_MAX_FRAME_BYTES): { decoder: FrameDecoder; frames: Frame[] } {
  const frames: Frame[] = [];
  const decoder = new FrameDecoder({
    maxFrameBytes,
    onFrame: (version, type, payload) => frames.push({ version, type, payload }),
  });
  return { decoder, frames };
}

function patterned(length: number, seed: number): Buffer {
  const bytes = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 31 + seed * 17) & 0xff;
  return bytes;
}

/** A varied set of frames: empty payloads, one byte, payloads around the chunking thresholds. */
const SAMPLE: Frame[] = [
  { version: PROTOCOL_VERSION, type: 0x10, payload: Buffer.from('hello') },
  { version: PROTOCOL_VERSION, type: 0x06, payload: Buffer.alloc(0) },
  { version: 2, type: 0xff, payload: Buffer.from([0]) },
  { version: 0, type: 0, payload: patterned(300, 1) },
  { version: PROTOCOL_VERSION, type: 0x13, payload: patterned(700, 2) },
  { version: PROTOCOL_VERSION, type: 0x14, payload: Buffer.alloc(0) },
  { version: PROTOCOL_VERSION, type: 0x11, payload: patterned(3, 3) },
];

function streamOf(frames: Frame[]): Buffer {
  return Buffer.concat(frames.map((f) => encodeFrame(f.type, f.payload, f.version)));
}

function expectFrames(actual: Frame[], expected: Frame[]): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    expect(actual[i]!.version).toBe(expected[i]!.version);
    expect(actual[i]!.type).toBe(expected[i]!.type);
    expect(actual[i]!.payload.equals(expected[i]!.payload)).toBe(true);
  }
}

function pushAll(decoder: FrameDecoder, stream: Buffer, sizes: number[]): void {
  let at = 0;
  let i = 0;
  while (at < stream.length) {
    const size = Math.max(1, sizes[i++ % sizes.length]!);
    const error = decoder.push(stream.subarray(at, at + size));
    if (error !== undefined) throw error;
    at += size;
  }
}

describe('frame header', () => {
  it('writes [u32 BE length][version][type] with length = payload + 2', () => {
    const target = Buffer.alloc(10, 0xaa);
    writeFrameHeader(target, 2, 0x010203, 0x42, 7);
    expect([...target]).toEqual([0xaa, 0xaa, 0x00, 0x01, 0x02, 0x05, 7, 0x42, 0xaa, 0xaa]);
  });

  it('defaults to the protocol version', () => {
    const frame = encodeFrame(9, Buffer.from('ab'));
    expect([...frame]).toEqual([0, 0, 0, 4, PROTOCOL_VERSION, 9, 0x61, 0x62]);
    expect(frame.length).toBe(FRAME_HEADER_BYTES + 2);
  });

  it('refuses a type, version or length that does not fit the header', () => {
    const target = Buffer.alloc(FRAME_HEADER_BYTES);
    expect(() => writeFrameHeader(target, 0, 1, 256)).toThrow(InvalidArgumentError);
    expect(() => writeFrameHeader(target, 0, 1, -1)).toThrow(/frame type/);
    expect(() => writeFrameHeader(target, 0, 1, 1, 300)).toThrow(/frame version/);
    expect(() => writeFrameHeader(target, 0, -5, 1)).toThrow(/payload length/);
    expect(() => writeFrameHeader(target, 0, 1.5, 1)).toThrow(/payload length/);
    expect(() => writeFrameHeader(target, 0, 0xffffffff, 1)).toThrow(/payload length/);
  });
});

describe('FrameDecoder', () => {
  it('validates its options', () => {
    const onFrame = (): void => {};
    expect(() => new FrameDecoder({ maxFrameBytes: 1, onFrame })).toThrow(InvalidArgumentError);
    expect(() => new FrameDecoder({ maxFrameBytes: 1.5, onFrame })).toThrow(/maxFrameBytes/);
    expect(() => new FrameDecoder({ maxFrameBytes: 2 ** 32, onFrame })).toThrow(/maxFrameBytes/);
    expect(() => new FrameDecoder({ maxFrameBytes: 100, onFrame: undefined as never })).toThrow(/onFrame/);
  });

  it('round-trips single frames', () => {
    for (const frame of SAMPLE) {
      const { decoder, frames } = recorder();
      expect(decoder.push(encodeFrame(frame.type, frame.payload, frame.version))).toBeUndefined();
      expectFrames(frames, [frame]);
      expect(decoder.bufferedBytes).toBe(0);
    }
  });

  it('delivers every frame of one chunk, in order', () => {
    const { decoder, frames } = recorder();
    expect(decoder.push(streamOf(SAMPLE))).toBeUndefined();
    expectFrames(frames, SAMPLE);
  });

  it('gives the same frames when the stream is split at any offset', () => {
    const stream = streamOf(SAMPLE);
    for (let cut = 0; cut <= stream.length; cut++) {
      const { decoder, frames } = recorder();
      expect(decoder.push(stream.subarray(0, cut))).toBeUndefined();
      expect(decoder.push(stream.subarray(cut))).toBeUndefined();
      expectFrames(frames, SAMPLE);
      expect(decoder.bufferedBytes).toBe(0);
    }
  });

  it('gives the same frames when the stream is split at any two offsets', () => {
    const stream = streamOf(SAMPLE.slice(0, 4));
    for (let a = 0; a <= stream.length; a += 3) {
      for (let b = a; b <= stream.length; b += 5) {
        const { decoder, frames } = recorder();
        decoder.push(stream.subarray(0, a));
        decoder.push(stream.subarray(a, b));
        expect(decoder.push(stream.subarray(b))).toBeUndefined();
        expectFrames(frames, SAMPLE.slice(0, 4));
      }
    }
  });

  it('gives the same frames when fed one byte at a time', () => {
    const { decoder, frames } = recorder();
    pushAll(decoder, streamOf(SAMPLE), [1]);
    expectFrames(frames, SAMPLE);
    expect(decoder.bufferedBytes).toBe(0);
  });

  it('gives the same frames for any chunking (property)', () => {
    const frameArb = fc.record({
      version: fc.integer({ min: 0, max: 255 }),
      type: fc.integer({ min: 0, max: 255 }),
      payload: fc.oneof(
        fc.uint8Array({ maxLength: 40 }),
        fc.uint8Array({ minLength: 400, maxLength: 2000 }),
      ).map((bytes) => Buffer.from(bytes)),
    });
    fc.assert(
      fc.property(
        fc.array(frameArb, { minLength: 1, maxLength: 12 }),
        fc.array(fc.integer({ min: 1, max: 1500 }), { minLength: 1, maxLength: 30 }),
        (expected, sizes) => {
          const { decoder, frames } = recorder();
          pushAll(decoder, streamOf(expected), sizes);
          expectFrames(frames, expected);
          expect(decoder.bufferedBytes).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('keeps payloads it delivered intact while more bytes arrive', () => {
    // Tiny chunks are copied together internally; views handed out must never be overwritten.
    const expected = Array.from({ length: 3000 }, (_, i) => ({ version: 1, type: i & 0xff, payload: patterned(i % 37, i) }));
    const { decoder, frames } = recorder();
    pushAll(decoder, streamOf(expected), [1, 2, 3, 5, 64, 200, 1, 700]);
    expectFrames(frames, expected);
  });

  it('delivers a frame inside one chunk as a view of that chunk, without copying', () => {
    const { decoder, frames } = recorder();
    const chunk = streamOf(SAMPLE.slice(0, 2));
    decoder.push(chunk);
    expect(frames[0]!.payload.buffer).toBe(chunk.buffer);
    expect(frames[0]!.payload.byteOffset).toBe(chunk.byteOffset + FRAME_HEADER_BYTES);
  });

  it('waits on a truncated frame: no frame, no error, until the rest arrives', () => {
    const { decoder, frames } = recorder();
    const frame = encodeFrame(5, patterned(100, 9));
    expect(decoder.push(frame.subarray(0, 3))).toBeUndefined();
    expect(decoder.push(frame.subarray(3, 50))).toBeUndefined();
    expect(frames).toHaveLength(0);
    expect(decoder.bufferedBytes).toBe(50);
    expect(decoder.push(frame.subarray(50))).toBeUndefined();
    expectFrames(frames, [{ version: PROTOCOL_VERSION, type: 5, payload: patterned(100, 9) }]);
    expect(decoder.bufferedBytes).toBe(0);
  });

  it('reports junk after valid frames as an error, after delivering those frames', () => {
    for (const junk of [[0xff, 0xff, 0xff, 0xff, 1, 2], [0, 0, 0, 0], [0, 0, 0, 1, 7, 7, 7]]) {
      const { decoder, frames } = recorder(1024);
      const error = decoder.push(Buffer.concat([streamOf(SAMPLE.slice(0, 3)), Buffer.from(junk)]));
      expect(error).toBeInstanceOf(BadFrameError);
      expectFrames(frames, SAMPLE.slice(0, 3));
    }
  });

  it('is dead after an error: later pushes return the same error and deliver nothing', () => {
    const { decoder, frames } = recorder();
    const error = decoder.push(Buffer.from([0, 0, 0, 1, 1]));
    expect(error).toBeInstanceOf(BadFrameError);
    expect(decoder.push(encodeFrame(1, Buffer.from('x')))).toBe(error);
    expect(decoder.push(Buffer.alloc(0))).toBe(error);
    expect(frames).toHaveLength(0);
    expect(decoder.bufferedBytes).toBe(0);
  });

  it('refuses declared lengths 0 and 1 as soon as the prefix is complete', () => {
    for (const declared of [0, 1]) {
      const { decoder } = recorder();
      expect(decoder.push(Buffer.from([0, 0]))).toBeUndefined();
      const error = decoder.push(Buffer.from([0, declared]));
      expect(error).toBeInstanceOf(BadFrameError);
      expect(error!.code).toBe('ERR_ROLLCALL_BAD_FRAME');
      expect(error!.message).toMatch(new RegExp(`length ${declared}`));
    }
  });

  it('refuses an oversized declared length from the prefix alone, buffering nothing more', () => {
    const { decoder, frames } = recorder(1000);
    const header = Buffer.alloc(FRAME_HEADER_BYTES);
    writeFrameHeader(header, 0, 999, 1); // L = 1001
    expect(decoder.push(header.subarray(0, 3))).toBeUndefined();
    expect(decoder.bufferedBytes).toBe(3);
    const error = decoder.push(header.subarray(3, 4));
    expect(error).toBeInstanceOf(BadFrameError);
    expect(error!.message).toMatch(/1001.*limit of 1000/);
    expect(decoder.bufferedBytes).toBe(0);
    // The body that follows is not kept either.
    expect(decoder.push(Buffer.alloc(64 * 1024))).toBe(error);
    expect(decoder.bufferedBytes).toBe(0);
    expect(frames).toHaveLength(0);
  });

  it('refuses a header claiming 4 GiB even when it arrives with body bytes', () => {
    const { decoder } = recorder();
    const chunk = Buffer.concat([Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 1]), Buffer.alloc(60 * 1024)]);
    expect(decoder.push(chunk)).toBeInstanceOf(BadFrameError);
    expect(decoder.bufferedBytes).toBe(0);
  });

  it('accepts a frame of exactly maxFrameBytes', () => {
    const { decoder, frames } = recorder(100);
    expect(decoder.push(encodeFrame(1, patterned(98, 4)))).toBeUndefined();
    expect(frames).toHaveLength(1);
    expect(decoder.push(encodeFrame(1, patterned(99, 4)))).toBeInstanceOf(BadFrameError);
  });

  it('handles a 64 KiB and a 5 MiB frame in socket-sized chunks', () => {
    const expected: Frame[] = [
      { version: 1, type: 0x10, payload: patterned(64 * 1024, 5) },
      { version: 1, type: 0x11, payload: Buffer.from('between') },
      { version: 1, type: 0x12, payload: patterned(5 * 1024 * 1024, 6) },
      { version: 1, type: 0x13, payload: Buffer.from('after') },
    ];
    const { decoder, frames } = recorder();
    pushAll(decoder, streamOf(expected), [64 * 1024, 1000, 65_537]);
    expectFrames(frames, expected);
    expect(decoder.bufferedBytes).toBe(0);
  });

  it('assembles a 5 MiB frame from 1 KiB chunks and a 64 KiB frame from 1-byte chunks', () => {
    // Re-concatenating on every chunk would copy ~13 GB here and time the test out.
    const big = { version: 1, type: 1, payload: patterned(5 * 1024 * 1024, 8) };
    const first = recorder();
    pushAll(first.decoder, streamOf([big]), [1024]);
    expectFrames(first.frames, [big]);
    const medium = { version: 1, type: 2, payload: patterned(64 * 1024, 9) };
    const second = recorder();
    pushAll(second.decoder, streamOf([medium, medium]), [1]);
    expectFrames(second.frames, [medium, medium]);
  });

  it('accounts buffered bytes exactly: received minus delivered', () => {
    const { decoder, frames } = recorder();
    const expected = Array.from({ length: 10 }, (_, i) => ({ version: 1, type: i, payload: patterned(10_000, i) }));
    const stream = streamOf(expected);
    const frameBytes = FRAME_HEADER_BYTES + 10_000;
    for (let at = 0; at < stream.length; at += 16 * 1024) {
      decoder.push(stream.subarray(at, at + 16 * 1024));
      const received = Math.min(at + 16 * 1024, stream.length);
      expect(frames.length).toBe(Math.floor(received / frameBytes));
      expect(decoder.bufferedBytes).toBe(received - frames.length * frameBytes);
    }
    expectFrames(frames, expected);
  });

  it('lets an onFrame error propagate, then resumes with the frames after it', () => {
    const seen: number[] = [];
    const decoder = new FrameDecoder({
      maxFrameBytes: 1000,
      onFrame: (_version, type) => {
        seen.push(type);
        if (type === 2) throw new Error('handler failed');
      },
    });
    const stream = Buffer.concat([1, 2, 3, 4].map((type) => encodeFrame(type, Buffer.from([type]))));
    expect(() => decoder.push(stream)).toThrow('handler failed');
    expect(seen).toEqual([1, 2]);
    expect(decoder.bufferedBytes).toBe(2 * (FRAME_HEADER_BYTES + 1));
    expect(decoder.push(Buffer.alloc(0))).toBeUndefined();
    expect(seen).toEqual([1, 2, 3, 4]);
  });

  it('never throws on arbitrary bytes (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 20 }),
        fc.integer({ min: 2, max: 512 }),
        (chunks, maxFrameBytes) => {
          const { decoder } = recorder(maxFrameBytes);
          for (const chunk of chunks) {
            const result = decoder.push(Buffer.from(chunk));
            expect(result === undefined || result instanceof BadFrameError).toBe(true);
            expect(decoder.bufferedBytes).toBeLessThan(4 + maxFrameBytes);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('after valid frames, arbitrary bytes never throw and never lose those frames (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 200 }), fc.integer({ min: 1, max: 50 }), (junk, size) => {
        const { decoder, frames } = recorder(256);
        const stream = Buffer.concat([streamOf(SAMPLE.slice(0, 3)), Buffer.from(junk)]);
        for (let at = 0; at < stream.length; at += size) {
          const result = decoder.push(stream.subarray(at, at + size));
          expect(result === undefined || result instanceof BadFrameError).toBe(true);
        }
        expectFrames(frames.slice(0, 3), SAMPLE.slice(0, 3));
      }),
      { numRuns: 1000 },
    );
  });
});
