// RMSNorm (Llama, Qwen, and Qwen3's per-head q/k norms; Gemma's (1 + w) form) and LayerNorm (GPT-2) over the
// last dimension.

import { Tensor } from "../tensor/tensor.ts";
import { leafGradTarget, record } from "../autograd/engine.ts";
import { backend } from "../backend/index.ts";
import { assertF32, f32, lastDim, rowsOf } from "./util.ts";

/** Gradient buffer for a norm parameter: the leaf's .grad, or a zeroed tensor to return. */
function paramGrad(p: Tensor | null): { buf: Float32Array | null; ret: Tensor<"float32"> | null } {
  if (!p?.requiresGrad) return { buf: null, ret: null };
  const target = leafGradTarget(p);
  if (target) return { buf: target.data, ret: null };
  const ret = Tensor.empty(p.shape, true);
  return { buf: ret.data, ret };
}

/**
 * y = x · rsqrt(mean(x²) + eps) · (w + offset), in float32 as transformers computes it. Gemma's RMSNorm is
 * offset 1: its output·(1 + w) with 1 + w rounded to float32 first; the gradient of w is that of w + 1.
 */
export function rmsNorm(x: Tensor, w: Tensor | null, eps: number, offset = 0): Tensor<"float32"> {
  assertF32("rmsNorm", x, ...(w ? [w] : []));
  const C = lastDim(x);
  if (w && w.size !== C) throw new Error(`rmsNorm: weight has ${w.size} elements, rows have ${C}`);
  const rows = rowsOf(x);
  const out = Tensor.empty(x.shape);
  const rstd = Tensor.empty([rows]);
  const scale = w && offset !== 0 ? shifted(f32(w), offset) : w ? f32(w) : null;
  backend().rmsNorm(f32(x), scale, out.data, rstd.data, rows, C, eps);
  return record("rmsNorm", out, [x, w], [x, rstd, ...(w ? [w] : [])], (dy) => {
    const dx = x.requiresGrad ? Tensor.empty(x.shape) : null;
    const dw = paramGrad(w);
    const scratch = dx ?? Tensor.empty(x.shape);
    backend().rmsNormBackward(f32(x), scale, rstd.data, dy.data, scratch.data, dw.buf, rows, C);
    if (!dx) scratch.release();
    return [dx, dw.ret];
  });
}

/** w + offset, rounded to float32 (a [C] vector: cheap next to the norm itself). */
function shifted(w: Float32Array, offset: number): Float32Array {
  const out = new (w.constructor as Float32ArrayConstructor)(w.length); // float64 under the oracle
  for (let i = 0; i < w.length; i++) out[i] = w[i]! + offset;
  return out;
}

export function layerNorm(x: Tensor, w: Tensor, b: Tensor, eps: number): Tensor<"float32"> {
  assertF32("layerNorm", x, w, b);
  const C = lastDim(x);
  if (w.size !== C || b.size !== C) throw new Error(`layerNorm: weight/bias sizes ${w.size}/${b.size}, rows have ${C}`);
  const rows = rowsOf(x);
  const out = Tensor.empty(x.shape);
  const mean = Tensor.empty([rows]);
  const rstd = Tensor.empty([rows]);
  backend().layerNorm(f32(x), f32(w), f32(b), out.data, mean.data, rstd.data, rows, C, eps);
  return record("layerNorm", out, [x, w, b], [x, w, mean, rstd], (dy) => {
    const dx = x.requiresGrad ? Tensor.empty(x.shape) : null;
    const dw = paramGrad(w);
    const db = paramGrad(b);
    const scratch = dx ?? Tensor.empty(x.shape);
    backend().layerNormBackward(f32(x), f32(w), mean.data, rstd.data, dy.data, scratch.data, dw.buf, db.buf, rows, C);
    if (!dx) scratch.release();
    return [dx, dw.ret, db.ret];
  });
}
