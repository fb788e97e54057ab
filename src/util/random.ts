// Seeded randomness that every backend reproduces bit for bit.
//
// `hash32` is a counter-based generator (the murmur3 finaliser over seed and counter): dropout masks are a
// pure function of (seed, element index), so backward regenerates the mask instead of storing it, and the
// native kernels compute the same bits. `Rng` is a small stateful generator (xoshiro128**) for weight
// initialisation and data shuffling; its state is four uint32 words, saved in checkpoints for resume.

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export function hash32(seed: number, counter: number): number {
  return fmix32((seed ^ fmix32(Math.imul(counter >>> 0, 0x9e3779b9) ^ 0x5bd1e995)) >>> 0);
}

/** Uniform in [0, 1) with 24 bits, exactly representable in float32. */
export function uniform01(seed: number, counter: number): number {
  return (hash32(seed, counter) >>> 8) / 16777216;
}

export class Rng {
  private s: Uint32Array;

  constructor(seed: number | Uint32Array = 0) {
    if (seed instanceof Uint32Array) {
      this.s = Uint32Array.from(seed);
    } else {
      this.s = new Uint32Array(4);
      for (let i = 0; i < 4; i++) this.s[i] = hash32(seed >>> 0, i);
      if (this.s.every((w) => w === 0)) this.s[0] = 1;
    }
  }

  get state(): Uint32Array {
    return Uint32Array.from(this.s);
  }

  nextUint32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1]!, 5), 7), 9) >>> 0;
    const t = s[1]! << 9;
    s[2]! ^= s[0]!;
    s[3]! ^= s[1]!;
    s[1]! ^= s[2]!;
    s[0]! ^= s[3]!;
    s[2]! ^= t;
    s[3] = rotl(s[3]!, 11);
    return result;
  }

  /** Uniform in [0, 1) with 53 bits. */
  next(): number {
    const hi = this.nextUint32() >>> 5;
    const lo = this.nextUint32() >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  uniform(low: number, high: number): number {
    return low + (high - low) * this.next();
  }

  /** Standard normal (Box–Muller). */
  normal(): number {
    let u = 0;
    while (u === 0) u = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [items[i], items[j]] = [items[j]!, items[i]!];
    }
    return items;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/**
 * Seeds for dropout masks, drawn in forward order. Gradient checkpointing rewinds this stream before it
 * recomputes a layer, so the recomputed masks equal the original ones.
 */
export class DropoutSeeds {
  private counter = 0;
  constructor(private seed = 0) {}

  next(): number {
    return hash32(this.seed, this.counter++);
  }

  get position(): number {
    return this.counter;
  }

  set position(p: number) {
    this.counter = p;
  }

  reseed(seed: number): void {
    this.seed = seed >>> 0;
    this.counter = 0;
  }
}

export const dropoutSeeds = new DropoutSeeds();
