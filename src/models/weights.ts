// Where a model's weights come from while it is built: a checkpoint (by name) or random initialisation
// (benchmarks, pretraining from scratch). The model files ask for each tensor by its checkpoint name and
// the shape the config implies; the source checks the shape and applies the storage policy: float32 or
// bfloat16 for frozen weights, quantization of linear layers, trainable or frozen.

import { Tensor, fmtShape } from "../tensor/tensor.ts";
import { f32ArrayToBf16 } from "../tensor/dtype.ts";
import type { QuantizedTensor } from "../quant/types.ts";
import type { WeightLayout } from "../ops/index.ts";
import { Linear } from "../nn/index.ts";
import { Rng } from "../util/random.ts";

export interface WeightSource {
  /** A linear layer `prefix` (.weight, .bias): [out, in] for nn.Linear, [in, out] for Conv1D ("in_out"). */
  linear(prefix: string, outF: number, inF: number, bias: boolean, layout?: WeightLayout): Linear;
  /** The output head: never quantized (as transformers keeps lm_head in float). */
  head(prefix: string, vocab: number, dim: number): Linear;
  /** A norm weight or bias: always float32. */
  norm(name: string, size: number): Tensor;
  embedding(name: string, rows: number, dim: number): Tensor;
}

export interface StoragePolicy {
  /** How frozen linear and embedding weights are held; trainable weights are always float32. */
  weightDtype: "float32" | "bfloat16";
  /** Full fine-tuning: every float weight requires grad. */
  trainable: boolean;
  /** Quantizes a linear layer's weight as it is read (QLoRA); null keeps it. Never called for the head. */
  quantize?: ((name: string, weight: Tensor) => QuantizedTensor | null) | null;
  /** A pre-quantized checkpoint's linear layer (bitsandbytes format), or null if `prefix` is not quantized. */
  readQuantized?: ((prefix: string, get: (name: string) => Tensor | undefined) => QuantizedTensor | null) | null;
}

export class WeightError extends Error {}

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

/** Weights from a name → tensor lookup (a checkpoint), with shape checks and the storage policy. */
export class NamedWeights implements WeightSource {
  constructor(
    private readonly get: (name: string) => Tensor | undefined,
    private readonly policy: StoragePolicy,
    private readonly where: string,
  ) {}

  private read(name: string, shape: readonly number[]): Tensor {
    const t = this.get(name);
    if (!t) throw new WeightError(`${this.where}: missing tensor "${name}"`);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new WeightError(`${this.where}: tensor "${name}" has shape ${fmtShape(t.shape)}, the config implies ${fmtShape(shape)}`);
    }
    if (t.dtype !== "float32" && t.dtype !== "bfloat16" && t.dtype !== "float16") {
      throw new WeightError(`${this.where}: tensor "${name}" has dtype ${t.dtype}, expected a float type`);
    }
    return t;
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
    const raw = this.read(`${prefix}.weight`, layout === "out_in" ? [outF, inF] : [inF, outF]);
    const q = this.policy.quantize?.(`${prefix}.weight`, layout === "out_in" ? raw : transpose2d(raw));
    return q ? new Linear(q, b, "out_in") : new Linear(this.float(raw), b, layout);
  }

  head(prefix: string, vocab: number, dim: number): Linear {
    return new Linear(this.float(this.read(`${prefix}.weight`, [vocab, dim])));
  }

  norm(name: string, size: number): Tensor {
    const t = toDtype(this.read(name, [size]), "float32");
    t.requiresGrad = this.policy.trainable;
    return t;
  }

  embedding(name: string, rows: number, dim: number): Tensor {
    return this.float(this.read(name, [rows, dim]));
  }
}

/**
 * Random weights as transformers initialises these models: normal(0, 0.02) matrices, norms at 1, biases
 * at 0. For benchmarks and pretraining from scratch.
 */
export class RandomWeights implements WeightSource {
  private readonly rng: Rng;

  constructor(
    seed: number,
    private readonly policy: StoragePolicy,
    private readonly std = 0.02,
  ) {
    this.rng = new Rng(seed);
  }

  private matrix(shape: [number, number]): Tensor {
    const data = new Float32Array(shape[0] * shape[1]);
    for (let i = 0; i < data.length; i++) data[i] = this.rng.normal() * this.std;
    const t = Tensor.from("float32", data, shape);
    if (this.policy.trainable || this.policy.weightDtype === "float32") {
      t.requiresGrad = this.policy.trainable;
      return t;
    }
    return Tensor.from("bfloat16", f32ArrayToBf16(data), shape);
  }

  linear(prefix: string, outF: number, inF: number, bias: boolean, layout: WeightLayout = "out_in"): Linear {
    const w = this.matrix(layout === "out_in" ? [outF, inF] : [inF, outF]);
    const q = this.policy.quantize?.(`${prefix}.weight`, layout === "out_in" ? w : transpose2d(w));
    const b = bias ? this.vector(outF, 0) : null;
    return q ? new Linear(q, b, "out_in") : new Linear(w, b, layout);
  }

  head(_prefix: string, vocab: number, dim: number): Linear {
    return new Linear(this.matrix([vocab, dim]));
  }

  norm(name: string, size: number): Tensor {
    return this.vector(size, name.endsWith(".bias") ? 0 : 1);
  }

  embedding(_name: string, rows: number, dim: number): Tensor {
    return this.matrix([rows, dim]);
  }

  private vector(size: number, value: number): Tensor {
    const t = Tensor.from("float32", new Float32Array(size).fill(value), [size]);
    t.requiresGrad = this.policy.trainable;
    return t;
  }
}

