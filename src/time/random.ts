import { randomBytes, randomInt } from 'node:crypto';

/** Every random choice (jitter, nonces' seeds, gossip targets, incarnations) goes through a Random. */
export interface Random {
  /** Uniform float in [0, 1). */
  next(): number;
  /** Uniform integer in [0, maxExclusive). */
  int(maxExclusive: number): number;
  /** `n` random bytes. Security-relevant uses (handshake nonces) must get them from cryptoRandom. */
  bytes(n: number): Buffer;
}

export const cryptoRandom: Random = {
  next: () => randomBytes(6).readUIntBE(0, 6) / 2 ** 48,
  int: (maxExclusive) => randomInt(0, maxExclusive),
  bytes: (n) => randomBytes(n),
};

/**
 * A small, fast, seedable generator (sfc32) for the simulation: the same seed gives the same run.
 * Not for anything security-relevant.
 */
export function seededRandom(seed: number): Random {
  let a = 0x9e3779b9;
  let b = 0x243f6a88;
  let c = 0xb7e15162;
  let d = seed >>> 0;
  const next32 = (): number => {
    a >>>= 0; b >>>= 0; c >>>= 0; d >>>= 0;
    let t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    t = (t + d) | 0;
    c = (c + t) | 0;
    return t >>> 0;
  };
  for (let i = 0; i < 15; i++) next32();
  const random: Random = {
    next: () => next32() / 4294967296,
    int: (maxExclusive) => Math.floor(random.next() * maxExclusive),
    bytes: (n) => {
      const out = Buffer.allocUnsafe(n);
      for (let i = 0; i < n; i++) out[i] = next32() & 0xff;
      return out;
    },
  };
  return random;
}
