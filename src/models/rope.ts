// Rotary embedding tables with transformers' float32 arithmetic: inv_freq in float32 (with the llama3,
// linear or dynamic adjustments), angle = fround(inv_freq · position), cos/sin rounded to float32.
// Tables grow on demand: Llama 3 allows 131072 positions, and nobody should pay for them up front.

import type { RopeTable } from "../ops/index.ts";
import type { ModelConfig } from "./config.ts";

const f = Math.fround;

export function ropeInverseFrequencies(cfg: ModelConfig, seqLen = 0): Float32Array {
  const dim = cfg.headDim;
  let base = cfg.ropeTheta;
  const s = cfg.ropeScaling;
  if (s?.type === "dynamic" && seqLen > cfg.maxPositions) {
    base = base * ((s.factor * seqLen) / cfg.maxPositions - (s.factor - 1)) ** (dim / (dim - 2));
  }
  const inv = new Float32Array(dim / 2);
  for (let i = 0; i < dim / 2; i++) inv[i] = f(1 / f(f(base) ** f((2 * i) / dim)));
  if (s?.type === "linear") for (let i = 0; i < inv.length; i++) inv[i] = f(inv[i]! / s.factor);
  if (s?.type === "llama3") applyLlama3(inv, s.factor, s.lowFreqFactor, s.highFreqFactor, s.originalMaxPositions);
  return inv;
}

/** Llama 3.1's frequency-dependent scaling: long wavelengths slowed by `factor`, short kept, a smooth blend between. */
function applyLlama3(inv: Float32Array, factor: number, low: number, high: number, oldContext: number): void {
  const lowWavelen = oldContext / low;
  const highWavelen = oldContext / high;
  for (let i = 0; i < inv.length; i++) {
    const freq = inv[i]!;
    const wavelen = f((2 * Math.PI) / freq);
    const scaled = wavelen > lowWavelen ? f(freq / factor) : freq;
    if (wavelen < highWavelen || wavelen > lowWavelen) {
      inv[i] = scaled;
      continue;
    }
    const smooth = f((oldContext / wavelen - low) / (high - low));
    inv[i] = f(f(f(1 - smooth) * scaled) / factor + f(smooth * scaled));
  }
}

export class RopeTables {
  private table: RopeTable | null = null;
  private inv: Float32Array;
  private invSeqLen = 0;

  constructor(private readonly cfg: ModelConfig) {
    this.inv = ropeInverseFrequencies(cfg);
  }

  /** A table covering positions [0, needed). */
  get(needed: number): RopeTable {
    if (this.cfg.ropeScaling?.type === "dynamic" && needed > this.cfg.maxPositions && needed > this.invSeqLen) {
      this.inv = ropeInverseFrequencies(this.cfg, needed);
      this.invSeqLen = needed;
      this.table = null;
    }
    if (this.table && this.table.maxPositions >= needed) return this.table;
    const size = Math.max(needed, Math.min(2 * (this.table?.maxPositions ?? 0), Math.max(needed, this.cfg.maxPositions)), 64);
    const half = this.inv.length;
    const cos = new Float32Array(size * half);
    const sin = new Float32Array(size * half);
    for (let p = 0; p < size; p++) {
      for (let i = 0; i < half; i++) {
        const angle = f(this.inv[i]! * p);
        cos[p * half + i] = Math.cos(angle);
        sin[p * half + i] = Math.sin(angle);
      }
    }
    this.table = { cos, sin, maxPositions: size, hd: this.cfg.headDim };
    return this.table;
  }
}
