// RMSNorm (Llama, Qwen, and Qwen3's per-head q/k norms) and LayerNorm (GPT-2) over the last dimension.

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

/** y = x · rsqrt(mean(x²) + eps) · w, in float32 as transformers computes it. */
export function rmsNorm(x: Tensor, w: Tensor | null, eps: number): Tensor<"float32"> {
  assertF32("rmsNorm", x, ...(w ? [w] : []));
  const C = lastDim(x);
  if (w && w.size !== C) throw new Error(`rmsNorm: weight has ${w.size} elements, rows have ${C}`);
  const rows = rowsOf(x);
  const out = Tensor.empty(x.shape);
  const rstd = Tensor.empty([rows]);
  backend().rmsNorm(f32(x), w ? f32(w) : null, out.data, rstd.data, rows, C, eps);
  return record("rmsNorm", out, [x, w], [x, rstd, ...(w ? [w] : [])], (dy) => {
    const dx = x.requiresGrad ? Tensor.empty(x.shape) : null;
    const dw = paramGrad(w);
    const scratch = dx ?? Tensor.empty(x.shape);
    backend().rmsNormBackward(f32(x), w ? f32(w) : null, rstd.data, dy.data, scratch.data, dw.buf, rows, C);
    if (!dx) scratch.release();
    return [dx, dw.ret];
  });
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
