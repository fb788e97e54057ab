// Causal grouped-query self-attention over q [B·T, nh·hd], k, v [B·T, nkv·hd] (the layout the
// projections produce, so no transposes are needed), with an optional sliding window and score soft cap.
// Backward saves q, k, v, the output and one log-sum-exp per query row (B·nh·T floats), never the B·nh·T·T
// probabilities.

import { Tensor, ShapeError } from "../tensor/tensor.ts";
import { record } from "../autograd/engine.ts";
import { backend } from "../backend/index.ts";
import type { AttentionDims } from "../backend/kernels.ts";
import { assertF32, f32 } from "./util.ts";

export interface AttentionOptions {
  B: number;
  T: number;
  nh: number;
  nkv: number;
  hd: number;
  /** Defaults to 1/√hd. */
  scale?: number;
  causal?: boolean;
  /** [B, T]: 1 = real token, 0 = padding (masked as a key). */
  keyMask?: Uint8Array | null;
  /** Sliding window: query t sees keys s with t − window < s (AttentionDims). */
  window?: number | null;
  /** Soft cap c: scores c·tanh(score / c). */
  softcap?: number | null;
}

export function attention(q: Tensor, k: Tensor, v: Tensor, o: AttentionOptions): Tensor<"float32"> {
  assertF32("attention", q, k, v);
  const { B, T, nh, nkv, hd } = o;
  if (nh % nkv !== 0) throw new ShapeError(`attention: ${nh} query heads not a multiple of ${nkv} kv heads`);
  if (q.size !== B * T * nh * hd || k.size !== B * T * nkv * hd || v.size !== k.size) {
    throw new ShapeError(`attention: sizes q ${q.size}, k ${k.size}, v ${v.size} do not fit B=${B} T=${T} nh=${nh} nkv=${nkv} hd=${hd}`);
  }
  if (o.keyMask && o.keyMask.length !== B * T) throw new ShapeError(`attention: key mask has ${o.keyMask.length} entries, expected ${B * T}`);
  const dims: AttentionDims = {
    B, T, S: T, nh, nkv, hd,
    scale: o.scale ?? 1 / Math.sqrt(hd),
    causal: o.causal ?? true,
    keyMask: o.keyMask ?? null,
    kvRowStride: nkv * hd,
    kvBatchStride: T * nkv * hd,
    window: o.window ?? null,
    softcap: o.softcap ?? null,
  };
  const out = Tensor.empty(q.shape);
  const lse = Tensor.empty([B, nh, T]);
  backend().attention(f32(q), f32(k), f32(v), out.data, lse.data, dims);
  return record("attention", out, [q, k, v], [q, k, v, out, lse], (dOut) => {
    const dq = Tensor.empty(q.shape);
    const dk = Tensor.empty(k.shape);
    const dv = Tensor.empty(v.shape);
    backend().attentionBackward(f32(q), f32(k), f32(v), out.data, lse.data, dOut.data, dq.data, dk.data, dv.data, dims);
    return [dq, dk, dv];
  });
}
