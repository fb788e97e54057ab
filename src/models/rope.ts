// Rotary embedding tables with transformers' float32 arithmetic: inv_freq in float32 (with the llama3,
// linear, dynamic or longrope adjustments), angle = fround(inv_freq · position), cos/sin rounded to float32
// (longrope: then times its attention factor, in float32). Tables grow on demand: Llama 3 allows 131072
// positions, and nobody should pay for them up front. A model with local and global layers (Gemma 3)
// holds one RopeTables per RoPE; a partial rotary model (Phi-4-mini) rotates the first `dim` dims of a head.

import type { RopeTable } from "../ops/index.ts";
import { rotaryDim, type LayerType, type ModelConfig, type RopeScaling } from "./config.ts";

const f = Math.fround;

/** One RoPE: rotated dimensions, base, scaling, and the context length dynamic scaling refers to. */
export interface RopeSpec {
  /** Dimensions rotated per head (head_dim · partial_rotary_factor). */
  dim: number;
  /** The head dimension the table is applied to. */
  headDim: number;
  theta: number;
  scaling: RopeScaling | null;
  maxPositions: number;
}

/** The RoPE of a layer type: Gemma 3's sliding layers have their own base and no scaling. */
export function ropeSpec(cfg: ModelConfig, layerType: LayerType = "full_attention"): RopeSpec {
  const local = layerType === "sliding_attention" ? cfg.localRope : null;
  return {
    dim: rotaryDim(cfg),
    headDim: cfg.headDim,
    theta: local ? local.theta : cfg.ropeTheta,
    scaling: local ? local.scaling : cfg.ropeScaling,
    maxPositions: cfg.maxPositions,
  };
}

/** Inverse frequencies for a forward whose positions reach seqLen − 1 (dynamic and longrope depend on it). */
export function ropeInverseFrequencies(spec: RopeSpec, seqLen = 0): Float32Array {
  const dim = spec.dim;
  let base = spec.theta;
  const s = spec.scaling;
  if (s?.type === "dynamic" && seqLen > spec.maxPositions) {
    base = base * ((s.factor * seqLen) / spec.maxPositions - (s.factor - 1)) ** (dim / (dim - 2));
  }
  const inv = new Float32Array(dim / 2);
  for (let i = 0; i < dim / 2; i++) inv[i] = f(1 / f(f(base) ** f((2 * i) / dim)));
  if (s?.type === "linear") for (let i = 0; i < inv.length; i++) inv[i] = f(inv[i]! / s.factor);
  if (s?.type === "llama3") applyLlama3(inv, s.factor, s.lowFreqFactor, s.highFreqFactor, s.originalMaxPositions);
  if (s?.type === "longrope") {
    // 1 / (ext · base^(2i/dim)): the long factors once the forward reaches past the original context.
    const ext = seqLen > s.originalMaxPositions ? s.longFactor! : s.shortFactor!;
    for (let i = 0; i < dim / 2; i++) inv[i] = f(1 / f(f(ext[i]!) * f(f(base) ** f((2 * i) / dim))));
  }
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
  private readonly spec: RopeSpec;

  constructor(cfgOrSpec: ModelConfig | RopeSpec) {
    this.spec = "dim" in cfgOrSpec ? cfgOrSpec : ropeSpec(cfgOrSpec);
    this.inv = ropeInverseFrequencies(this.spec);
  }

  /** A table covering positions [0, needed) for a forward whose positions reach needed − 1. */
  get(needed: number): RopeTable {
    const s = this.spec.scaling;
    if (s?.type === "dynamic" && needed > this.spec.maxPositions && needed > this.invSeqLen) {
      this.inv = ropeInverseFrequencies(this.spec, needed);
      this.invSeqLen = needed;
      this.table = null;
    }
    if (s?.type === "longrope" && needed > s.originalMaxPositions !== this.invSeqLen > s.originalMaxPositions) {
      // transformers switches between short and long factors per forward, by its largest position.
      this.invSeqLen = needed > s.originalMaxPositions ? needed : 0;
      this.inv = ropeInverseFrequencies(this.spec, this.invSeqLen);
      this.table = null;
    }
    if (this.table && this.table.maxPositions >= needed) return this.table;
    const size = Math.max(needed, Math.min(2 * (this.table?.maxPositions ?? 0), Math.max(needed, this.spec.maxPositions)), 64);
    const half = this.inv.length;
    const scale = s?.type === "longrope" ? f(s.attentionFactor!) : 1;
    const cos = new Float32Array(size * half);
    const sin = new Float32Array(size * half);
    for (let p = 0; p < size; p++) {
      for (let i = 0; i < half; i++) {
        const angle = f(this.inv[i]! * p);
        cos[p * half + i] = f(Math.cos(angle)) * scale;
        sin[p * half + i] = f(Math.sin(angle)) * scale;
      }
    }
    this.table = { cos, sin, maxPositions: size, hd: this.spec.headDim, rotary: this.spec.dim };
    return this.table;
  }
}
