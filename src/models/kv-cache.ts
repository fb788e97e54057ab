// Key/value cache for generation: per layer, k and v of every past position, preallocated
// [B, maxLen, nkv, hd] so attention reads it in place (kvRowStride / kvBatchStride), plus the key mask.

import { ShapeError } from "../tensor/tensor.ts";

export class KVCache {
  readonly keys: Float32Array[];
  readonly values: Float32Array[];
  /** [B, maxLen]: 1 where a cached position is a real token. */
  readonly keyMask: Uint8Array;
  /** Positions filled so far (the same for every batch row). */
  length = 0;

  constructor(
    readonly layers: number,
    readonly B: number,
    readonly maxLen: number,
    readonly nkv: number,
    readonly hd: number,
  ) {
    const size = B * maxLen * nkv * hd;
    this.keys = Array.from({ length: layers }, () => new Float32Array(size));
    this.values = Array.from({ length: layers }, () => new Float32Array(size));
    this.keyMask = new Uint8Array(B * maxLen);
  }

  get rowStride(): number {
    return this.nkv * this.hd;
  }

  get batchStride(): number {
    return this.maxLen * this.nkv * this.hd;
  }

  /** Records the mask of T new positions (all real when mask is null); call once per forward, before the layers. */
  appendMask(T: number, mask: Uint8Array | null): void {
    if (this.length + T > this.maxLen) throw new ShapeError(`KV cache full: ${this.length} + ${T} > ${this.maxLen}`);
    for (let b = 0; b < this.B; b++) {
      for (let t = 0; t < T; t++) this.keyMask[b * this.maxLen + this.length + t] = mask ? mask[b * T + t]! : 1;
    }
  }

  /** Copies T new rows of k and v ([B, T, nkv, hd]) for one layer after the current length. */
  write(layer: number, k: Float32Array, v: Float32Array, T: number): void {
    const row = this.rowStride;
    for (let b = 0; b < this.B; b++) {
      const dst = b * this.batchStride + this.length * row;
      this.keys[layer]!.set(k.subarray(b * T * row, (b + 1) * T * row), dst);
      this.values[layer]!.set(v.subarray(b * T * row, (b + 1) * T * row), dst);
    }
  }

  /** Mask of the first S positions, [B, S]. */
  maskFor(S: number): Uint8Array {
    if (S === this.maxLen) return this.keyMask;
    const out = new Uint8Array(this.B * S);
    for (let b = 0; b < this.B; b++) out.set(this.keyMask.subarray(b * this.maxLen, b * this.maxLen + S), b * S);
    return out;
  }

  advance(T: number): void {
    this.length += T;
  }
}
