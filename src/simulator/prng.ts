/**
 * A small seeded pseudo-random generator (mulberry32): fast, 32-bit state, and
 * the same sequence on every platform, which is all a simulator needs. Not for
 * cryptography.
 */
export interface Rng {
  /** A float in [0, 1). */
  next(): number;
  /** A standard normal draw (Box–Muller). */
  normal(): number;
  /** An integer in [0, n). */
  int(n: number): number;
  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T;
}

/** A generator seeded from any number of numbers and strings, mixed together. */
export function createRng(...seedParts: (number | string)[]): Rng {
  let state = mixSeed(...seedParts);
  const next = (): number => {
    state = (state + 0x6d2b79f5) | 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    normal: () => {
      // 1 - next() is in (0, 1], so the logarithm is finite.
      const u = 1 - next();
      const v = next();
      return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    },
    int: (n) => Math.floor(next() * n),
    pick: (items) => items[Math.floor(next() * items.length)]!,
  };
}

/** A 32-bit seed from numbers and strings (FNV-1a over their text, then an avalanche step). */
export function mixSeed(...parts: (number | string)[]): number {
  let hash = 0x811c9dc5;
  for (const part of parts) {
    const text = `${typeof part}:${String(part)}|`;
    for (let i = 0; i < text.length; i++) {
      hash ^= text.charCodeAt(i);
      hash = Math.imul(hash, 0x01000193);
    }
  }
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}

/** Eight hex digits that identify a string (for deterministic ids). */
export function hashHex(...parts: (number | string)[]): string {
  return mixSeed(...parts).toString(16).padStart(8, '0');
}
