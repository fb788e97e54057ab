// Cross-entropy losses, mean over the labels that are not ignored (Hugging Face's causal-LM loss once
// the caller has shifted labels by one).
//
// crossEntropy: from materialised logits. Backward writes the logits gradient over the logits buffer when
// nothing else holds it, so [N, V] floats are never held twice.
// linearCrossEntropy: the output head and the loss fused, a chunk of rows at a time, so the [N, V] logits
// never exist at once. The loss is a scalar, so its gradient is known up to the factor dLoss as soon as a
// chunk's logits are: forward computes dH (and dW for a trainable head) chunk by chunk, and backward only
// scales them by dLoss.
// A batch whose labels are all ignored has loss 0 and zero gradients (transformers returns NaN there).
// The head's products take the compute dtype (autocast.ts); the loss itself is float32.

import { Tensor, ShapeError, fmtShape } from "../tensor/tensor.ts";
import { leafGradTarget, needsGrad, record } from "../autograd/engine.ts";
import { backend } from "../backend/index.ts";
import { assertF32, f32, lastDim, rowsOf } from "./util.ts";
import { weightOperand, type LinearWeight } from "./linear.ts";
import { computeDtype } from "./autocast.ts";

export const IGNORE_INDEX = -100;

function checkLabels(labels: Int32Array, rows: number, V: number, ignoreIndex: number): number {
  if (labels.length !== rows) throw new ShapeError(`crossEntropy: ${labels.length} labels for ${rows} rows`);
  let count = 0;
  for (let i = 0; i < rows; i++) {
    const y = labels[i]!;
    if (y === ignoreIndex) continue;
    if (y < 0 || y >= V || !Number.isInteger(y)) throw new ShapeError(`crossEntropy: label ${y} at row ${i} outside vocabulary of ${V}`);
    count++;
  }
  return count;
}

function sumF64(x: Float32Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]!;
  return s;
}

export function crossEntropy(logits: Tensor, labels: Int32Array, ignoreIndex = IGNORE_INDEX): Tensor<"float32"> {
  assertF32("crossEntropy", logits);
  const V = lastDim(logits);
  const rows = rowsOf(logits);
  const count = checkLabels(labels, rows, V, ignoreIndex);
  const rowLoss = Tensor.empty([rows]);
  const lse = Tensor.empty([rows]);
  backend().crossEntropy(f32(logits), labels, rowLoss.data, lse.data, rows, V, ignoreIndex);
  const out = Tensor.empty([]);
  out.data[0] = count === 0 ? 0 : sumF64(rowLoss.data) / count;
  rowLoss.release();
  return record("crossEntropy", out, [logits], [logits, lse], (dOut) => {
    const s = logits.storage;
    const inPlace = s.releasable && !s.kept && s.pins === 1;
    const dLogits = inPlace ? Tensor.from("float32", f32(logits), logits.shape) : Tensor.empty(logits.shape);
    if (inPlace) s.kept = true; // now owned by the gradient: the saved logits must not go back to the pool
    const scale = count === 0 ? 0 : dOut.data[0]! / count;
    backend().crossEntropyBackward(f32(logits), labels, lse.data, dLogits.data, rows, V, ignoreIndex, scale);
    return [dLogits];
  });
}

export interface LinearCrossEntropyOptions {
  ignoreIndex?: number;
  /** Rows per chunk; default keeps a chunk of logits near 32 MB. */
  chunkRows?: number;
  /** Logits soft-capped to c·tanh(logit / c) before the loss (Gemma 2's final_logit_softcapping). */
  softcap?: number | null;
}

/**
 * mean CE of (h·Wᵀ) against labels, W stored [V, C]; the logits are never materialised whole. With a soft
 * cap the chunk's capped logits are kept beside their gradient (one more chunk buffer) for the tanh factor.
 */
export function linearCrossEntropy(
  h: Tensor,
  w: LinearWeight,
  labels: Int32Array,
  opts: LinearCrossEntropyOptions = {},
): Tensor<"float32"> {
  assertF32("linearCrossEntropy", h);
  const ignoreIndex = opts.ignoreIndex ?? IGNORE_INDEX;
  const [V, C] = w.shape as [number, number];
  if (lastDim(h) !== C) throw new ShapeError(`linearCrossEntropy: hidden ${fmtShape(h.shape)} vs head ${fmtShape(w.shape)}`);
  const rows = rowsOf(h);
  const count = checkLabels(labels, rows, V, ignoreIndex);
  const wantGrad = needsGrad(h, w instanceof Tensor ? w : null);
  const wTrainable = wantGrad && w instanceof Tensor && w.requiresGrad;
  const dH = wantGrad && h.requiresGrad ? Tensor.empty(h.shape) : null;
  const dW = wTrainable ? Tensor.empty(w.shape, true) : null;
  const chunk = Math.max(1, Math.min(rows, opts.chunkRows ?? Math.floor(8_388_608 / V)));
  const logits = Tensor.empty([chunk, V]);
  const cap = opts.softcap ?? null;
  const dCapped = cap !== null && wantGrad ? Tensor.empty([chunk, V]) : null;
  const rowLoss = Tensor.empty([chunk]);
  const lse = Tensor.empty([chunk]);
  const be = backend();
  const hd = f32(h);
  const op = weightOperand(w);
  const cd = computeDtype();
  const scale = count === 0 ? 0 : 1 / count;
  let total = 0;
  for (let r0 = 0; r0 < rows; r0 += chunk) {
    const n = Math.min(chunk, rows - r0);
    const lab = labels.subarray(r0, r0 + n);
    be.gemm({ M: n, N: V, K: C, transA: false, transB: true, a: hd, aOffset: r0 * C, lda: C, b: op, c: logits.data, cOffset: 0, ldc: V, alpha: 1, beta: 0, computeDtype: cd });
    if (cap !== null) be.softcap(logits.data, logits.data, n * V, cap);
    be.crossEntropy(logits.data, lab, rowLoss.data, lse.data, n, V, ignoreIndex);
    total += sumF64(rowLoss.data.subarray(0, n));
    if (!wantGrad) continue;
    if (dCapped) {
      be.crossEntropyBackward(logits.data, lab, lse.data, dCapped.data, n, V, ignoreIndex, scale);
      be.softcapBackward(logits.data, dCapped.data, logits.data, n * V, cap!);
    } else {
      be.crossEntropyBackward(logits.data, lab, lse.data, logits.data, n, V, ignoreIndex, scale);
    }
    if (dH) be.gemm({ M: n, N: C, K: V, transA: false, transB: false, a: logits.data, aOffset: 0, lda: V, b: op, c: dH.data, cOffset: r0 * C, ldc: C, alpha: 1, beta: 0, computeDtype: cd });
    if (dW) be.gemm({ M: V, N: C, K: n, transA: true, transB: false, a: logits.data, aOffset: 0, lda: V, b: { kind: "f32", data: hd, offset: r0 * C, ld: C }, c: dW.data, cOffset: 0, ldc: C, alpha: 1, beta: 1, computeDtype: cd });
  }
  logits.release();
  dCapped?.release();
  rowLoss.release();
  lse.release();
  const out = Tensor.empty([]);
  out.data[0] = count === 0 ? 0 : total / count;
  const saved = [dH, dW].filter((t): t is Tensor<"float32"> => t !== null);
  return record("linearCrossEntropy", out, [h, w instanceof Tensor ? w : null], saved, (dOut) => {
    const g = dOut.data[0]!;
    let dh: Tensor<"float32"> | null = null;
    if (dH) {
      dh = Tensor.empty(h.shape);
      be.scale(dH.data, g, dh.data, dH.size);
    }
    let dw: Tensor<"float32"> | null = null;
    if (dW && w instanceof Tensor) {
      const target = leafGradTarget(w);
      if (target) be.axpy(target.data, dW.data, g, dW.size);
      else {
        dw = Tensor.empty(w.shape);
        be.scale(dW.data, g, dw.data, dW.size);
      }
    }
    return [dh, dw];
  });
}
