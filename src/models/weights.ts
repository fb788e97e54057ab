// Where a model's weights come from while it is built: a checkpoint (by name) or random initialisation
// (benchmarks, pretraining from scratch). The model files ask for each tensor by its checkpoint name and
// the shape the config implies; the source checks the shape and applies the storage policy: float32 or
// bfloat16 for frozen weights, quantization of linear layers, trainable or frozen.
//
// Every weight goes straight into the form it is held in. A checkpoint tensor that is quantized is read a
// run of elements at a time (positioned reads into one scratch buffer) and encoded as it arrives; one kept
// in its stored dtype is read into its storage; random weights are generated the same way, a run at a time
// into bf16 storage or the quantizer. So building a model never holds a float32 copy of it, nor of any
// quantized matrix: the peak is the model as held plus a small constant.

import { Tensor, fmtShape } from "../tensor/tensor.ts";
import { bf16ArrayToF32, f16ArrayToF32, f32ArrayToBf16, type DType } from "../tensor/dtype.ts";
import { quantizeFill, quantizeTensor, type QuantizedTensor, type QuantizeOptions } from "../quant/index.ts";
import type { WeightLayout } from "../ops/index.ts";
import { Linear } from "../nn/index.ts";
import { Rng } from "../util/random.ts";

export interface WeightSource {
  /** A linear layer `prefix` (.weight, .bias): [out, in] for nn.Linear, [in, out] for Conv1D ("in_out"). */
  linear(prefix: string, outF: number, inF: number, bias: boolean, layout?: WeightLayout): Linear;
  /** The output head: in float as transformers keeps lm_head (quantized only by quantizeEmbeddingsAs). */
  head(prefix: string, vocab: number, dim: number): Linear;
  /** A norm weight or bias: always float32. */
  norm(name: string, size: number): Tensor;
  /** An embedding table: in float (quantized only by quantizeEmbeddingsAs). */
  embedding(name: string, rows: number, dim: number): Tensor | QuantizedTensor;
}

export interface StoragePolicy {
  /** How frozen linear and embedding weights are held; trainable weights are always float32. */
  weightDtype: "float32" | "bfloat16";
  /** Full fine-tuning: every float weight requires grad. */
  trainable: boolean;
  /**
   * How a linear layer's weight is quantized as it is read (QLoRA), or null to keep it: the source streams
   * the weight into the quantizer. Never asked for the head.
   */
  quantizeAs?: ((name: string) => QuantizeOptions | null) | null;
  /**
   * Frozen embeddings and head quantized too (int8 or NF4), or null to keep them in float. A departure from
   * QLoRA's recipe, which keeps them in the compute dtype; it saves most of what an 8B QLoRA step holds
   * beyond its NF4 layers.
   */
  quantizeEmbeddingsAs?: QuantizeOptions | null;
  /** A custom quantizer given the whole weight (tests, experiments); quantizeAs is preferred. */
  quantize?: ((name: string, weight: Tensor) => QuantizedTensor | null) | null;
  /** A pre-quantized checkpoint's linear layer (bitsandbytes format), or null if `prefix` is not quantized. */
  readQuantized?: ((prefix: string, get: (name: string) => Tensor | undefined) => QuantizedTensor | null) | null;
}

/** A checkpoint tensor read a run of elements at a time, in its stored dtype (positioned reads). */
export interface TensorStream {
  /** null: a dtype this project cannot hold. */
  dtype: DType | null;
  shape: readonly number[];
  /** Elements [start, start + dst.length) into dst (a typed array of the stored element size). */
  readInto(start: number, dst: Float32Array | Uint16Array): void;
}

export class WeightError extends Error {}

/** Elements generated or converted per step (a multiple of every block size). */
const RUN = 1 << 16;

type Fill = (dst: Float32Array, start: number) => void;

function toDtype(t: Tensor, dtype: "float32" | "bfloat16"): Tensor {
  if (t.dtype === dtype) return t;
  if (dtype === "float32") return Tensor.from("float32", t.toFloat32(), t.shape);
  const f = t.dtype === "float32" ? (t.data as Float32Array) : t.toFloat32();
  return Tensor.from("bfloat16", f32ArrayToBf16(f), t.shape);
}

/** [r, c] → [c, r] in the same dtype (a Conv1D weight to the [out, in] layout quantization expects). */
function transpose2d(t: Tensor): Tensor {
  const [r, c] = t.shape as [number, number];
  const src = t.data as Float32Array | Uint16Array;
  const dst = new (src.constructor as Float32ArrayConstructor | Uint16ArrayConstructor)(src.length);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) dst[j * r + i] = src[i * c + j]!;
  return Tensor.from(t.dtype as "float32", dst as Float32Array, [c, r]);
}

/** Float32 runs of a streamed tensor: 16-bit values are read into a scratch buffer and widened. */
function fillFrom(s: TensorStream): Fill {
  if (s.dtype === "float32") return (dst, start) => s.readInto(start, dst);
  const widen = s.dtype === "bfloat16" ? bf16ArrayToF32 : f16ArrayToF32;
  let scratch = new Uint16Array(0);
  return (dst, start) => {
    if (scratch.length < dst.length) scratch = new Uint16Array(dst.length);
    const half = scratch.subarray(0, dst.length);
    s.readInto(start, half);
    widen(half, dst);
  };
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * Weights from a name → tensor lookup (a checkpoint), with shape checks and the storage policy. `open`,
 * when the source has it, streams a tensor instead of reading it whole (used for quantized layers); a
 * source without it (another file format) is read whole.
 */
export class NamedWeights implements WeightSource {
  constructor(
    private readonly get: (name: string) => Tensor | undefined,
    private readonly policy: StoragePolicy,
    private readonly where: string,
    private readonly open?: (name: string) => TensorStream | undefined,
  ) {}

  private check(name: string, t: { shape: readonly number[]; dtype: DType | null } | undefined, shape: readonly number[]): void {
    if (!t) throw new WeightError(`${this.where}: missing tensor "${name}"`);
    if (!sameShape(t.shape, shape)) {
      throw new WeightError(`${this.where}: tensor "${name}" has shape ${fmtShape(t.shape)}, the config implies ${fmtShape(shape)}`);
    }
    if (t.dtype !== "float32" && t.dtype !== "bfloat16" && t.dtype !== "float16") {
      throw new WeightError(`${this.where}: tensor "${name}" has dtype ${t.dtype ?? "(unsupported)"}, expected a float type`);
    }
  }

  private read(name: string, shape: readonly number[]): Tensor {
    const t = this.get(name);
    this.check(name, t, shape);
    return t!;
  }

  private float(t: Tensor): Tensor {
    const out = toDtype(t, this.policy.trainable ? "float32" : this.policy.weightDtype);
    out.requiresGrad = this.policy.trainable;
    return out;
  }

  linear(prefix: string, outF: number, inF: number, bias: boolean, layout: WeightLayout = "out_in"): Linear {
    const b = bias ? this.norm(`${prefix}.bias`, outF) : null;
    // Quantized weights are always [out, in], as bitsandbytes stores them (a Conv1D weight is transposed first).
    const pre = this.policy.readQuantized?.(prefix, this.get);
    if (pre) return new Linear(pre, b, "out_in");
    const name = `${prefix}.weight`;
    const shape = layout === "out_in" ? [outF, inF] : [inF, outF];
    const as = this.policy.quantizeAs?.(name) ?? null;
    if (as && layout === "out_in") return new Linear(this.quantized(name, outF, inF, as), b, "out_in");
    const raw = this.read(name, shape);
    const wanted = as !== null || this.policy.quantize;
    const outIn = wanted && layout === "in_out" ? transpose2d(raw) : raw;
    const q = as ? quantizeTensor(outIn, as) : (this.policy.quantize?.(name, outIn) ?? null);
    return q ? new Linear(q, b, "out_in") : new Linear(this.float(raw), b, layout);
  }

  /** A [rows, cols] weight quantized as `as`: streamed when the source can, else read whole. */
  private quantized(name: string, rows: number, cols: number, as: QuantizeOptions): QuantizedTensor {
    const stream = this.open?.(name);
    if (!stream) return quantizeTensor(this.read(name, [rows, cols]), as);
    this.check(name, stream, [rows, cols]);
    return quantizeFill(rows, cols, fillFrom(stream), as);
  }

  head(prefix: string, vocab: number, dim: number): Linear {
    return new Linear(this.embedding(`${prefix}.weight`, vocab, dim));
  }

  norm(name: string, size: number): Tensor {
    const t = toDtype(this.read(name, [size]), "float32");
    t.requiresGrad = this.policy.trainable;
    return t;
  }

  embedding(name: string, rows: number, dim: number): Tensor | QuantizedTensor {
    const as = this.policy.trainable ? null : (this.policy.quantizeEmbeddingsAs ?? null);
    return as ? this.quantized(name, rows, dim, as) : this.float(this.read(name, [rows, dim]));
  }
}

/**
 * How random values are drawn. "exact": every element from the seeded generator's normal(0, std), in
 * row-major order (reproducible model initialisation). "tiled": runs of 4096 values copied from one table
 * of 2^20 such samples at offsets the generator picks, for benchmarks of billion-parameter shapes, where
 * drawing every value would take longer than the benchmark.
 */
export type Sampling = "exact" | "tiled";

const TILE = 1 << 20;
const TILE_RUN = 4096;

/**
 * Random weights as transformers initialises these models: normal(0, 0.02) matrices, norms at 1, biases
 * at 0. For benchmarks and pretraining from scratch.
 */
export class RandomWeights implements WeightSource {
  private readonly rng: Rng;
  private tile: Float32Array | null = null;

  constructor(
    seed: number,
    private readonly policy: StoragePolicy,
    private readonly std = 0.02,
    private readonly sampling: Sampling = "exact",
  ) {
    this.rng = new Rng(seed);
  }

  /** The next dst.length values of the stream (a Fill: start is implied by the order of calls). */
  private fill(dst: Float32Array): void {
    if (this.sampling === "exact") {
      for (let i = 0; i < dst.length; i++) dst[i] = this.rng.normal() * this.std;
      return;
    }
    if (!this.tile) {
      this.tile = new Float32Array(TILE);
      for (let i = 0; i < TILE; i++) this.tile[i] = this.rng.normal() * this.std;
    }
    for (let i = 0; i < dst.length; i += TILE_RUN) {
      const len = Math.min(TILE_RUN, dst.length - i);
      const from = this.rng.int(TILE - len);
      dst.set(this.tile.subarray(from, from + len), i);
    }
  }

  /** A [rows, cols] matrix in the held dtype: float32 when trainable, else the policy's dtype. */
  private matrix(shape: [number, number]): Tensor {
    const n = shape[0] * shape[1];
    if (this.policy.trainable || this.policy.weightDtype === "float32") {
      const t = Tensor.from("float32", new Float32Array(n), shape);
      this.fill(t.data as Float32Array);
      t.requiresGrad = this.policy.trainable;
      return t;
    }
    const bits = new Uint16Array(n);
    const run = new Float32Array(Math.min(RUN, n));
    for (let start = 0; start < n; start += RUN) {
      const dst = run.subarray(0, Math.min(RUN, n - start));
      this.fill(dst);
      f32ArrayToBf16(dst, bits.subarray(start, start + dst.length));
    }
    return Tensor.from("bfloat16", bits, shape);
  }

  linear(prefix: string, outF: number, inF: number, bias: boolean, layout: WeightLayout = "out_in"): Linear {
    const name = `${prefix}.weight`;
    const as = this.policy.quantizeAs?.(name) ?? null;
    const b = (): Tensor | null => (bias ? this.vector(outF, 0) : null);
    if (as && layout === "out_in") {
      const q = quantizeFill(outF, inF, (dst) => this.fill(dst), as);
      return new Linear(q, b(), "out_in");
    }
    const w = this.matrix(layout === "out_in" ? [outF, inF] : [inF, outF]);
    const outIn = (as !== null || this.policy.quantize) && layout === "in_out" ? transpose2d(w) : w;
    const q = as ? quantizeTensor(outIn, as) : (this.policy.quantize?.(name, outIn) ?? null);
    return q ? new Linear(q, b(), "out_in") : new Linear(w, b(), layout);
  }

  head(prefix: string, vocab: number, dim: number): Linear {
    return new Linear(this.embedding(`${prefix}.weight`, vocab, dim));
  }

  norm(name: string, size: number): Tensor {
    return this.vector(size, name.endsWith(".bias") ? 0 : 1);
  }

  embedding(_name: string, rows: number, dim: number): Tensor | QuantizedTensor {
    const as = this.policy.trainable ? null : (this.policy.quantizeEmbeddingsAs ?? null);
    return as ? quantizeFill(rows, dim, (dst) => this.fill(dst), as) : this.matrix([rows, dim]);
  }

  private vector(size: number, value: number): Tensor {
    const t = Tensor.from("float32", new Float32Array(size).fill(value), [size]);
    t.requiresGrad = this.policy.trainable;
    return t;
  }
}
