// Reference embedding gather / scatter-add, counter-based dropout, the AdamW step and dequantization.

import type { DenseBf16, DenseF32 } from "../kernels.ts";
import { bf16ToF32 } from "../../tensor/dtype.ts";
import { uniform01 } from "../../util/random.ts";

export function embedding(ids: Int32Array, table: DenseF32 | DenseBf16, out: Float32Array, n: number, dim: number): void {
  for (let i = 0; i < n; i++) {
    const src = table.offset + ids[i]! * table.ld;
    for (let c = 0; c < dim; c++) {
      out[i * dim + c] = table.kind === "f32" ? table.data[src + c]! : bf16ToF32(table.data[src + c]!);
    }
  }
}

export function embeddingBackward(ids: Int32Array, dy: Float32Array, dTable: Float32Array, n: number, dim: number): void {
  for (let i = 0; i < n; i++) {
    const dst = ids[i]! * dim;
    for (let c = 0; c < dim; c++) dTable[dst + c] = dTable[dst + c]! + dy[i * dim + c]!;
  }
}

export function dropout(x: Float32Array, out: Float32Array, n: number, p: number, seed: number, offset: number): void {
  const keepScale = 1 / (1 - p);
  for (let i = 0; i < n; i++) out[i] = uniform01(seed, offset + i) >= p ? x[i]! * keepScale : 0;
}

/**
 * torch.optim.AdamW, single-tensor form:
 * θ ← θ·(1 − lr·λ); m ← m + (g − m)(1 − β1); v ← β2·v + (1 − β2)·g²;
 * θ ← θ − (lr / (1 − β1^t)) · m / (√v / √(1 − β2^t) + ε)
 */
export function adamw(
  param: Float32Array,
  grad: Float32Array,
  m: Float32Array,
  v: Float32Array,
  n: number,
  hp: { lr: number; beta1: number; beta2: number; eps: number; weightDecay: number; step: number },
): void {
  const { lr, beta1, beta2, eps, weightDecay, step } = hp;
  const stepSize = lr / (1 - beta1 ** step);
  const bc2Sqrt = Math.sqrt(1 - beta2 ** step);
  const decay = 1 - lr * weightDecay;
  for (let i = 0; i < n; i++) {
    const g = grad[i]!;
    param[i] = param[i]! * decay;
    m[i] = m[i]! + (g - m[i]!) * (1 - beta1);
    v[i] = v[i]! * beta2 + (1 - beta2) * g * g;
    param[i] = param[i]! - (stepSize * m[i]!) / (Math.sqrt(v[i]!) / bc2Sqrt + eps);
  }
}
