// Rotary embedding and fused attention of the native library (native/rope.cc, native/attention.cc).

import type { AttentionDims, Backend } from "../kernels.ts";
import type { NativeAddon } from "./addon.ts";

const dimsArgs = (d: AttentionDims) =>
  [d.B, d.T, d.S, d.nh, d.nkv, d.hd, d.scale, d.causal, d.keyMask, d.kvRowStride, d.kvBatchStride, d.window ?? 0, d.softcap ?? 0] as const;

export function attentionKernels(addon: NativeAddon): Partial<Backend> {
  return {
    rope: (x, out, cos, sin, positions, rows, heads, hd, inverse, rotary) =>
      addon.rope(x, out, cos, sin, positions, rows, heads, hd, inverse, rotary ?? hd),
    attention: (q, k, v, out, lse, d) => addon.attention(q, k, v, out, lse, ...dimsArgs(d)),
    attentionBackward: (q, k, v, out, lse, dOut, dq, dk, dv, d) =>
      addon.attentionBackward(q, k, v, out, lse, dOut, dq, dk, dv, ...dimsArgs(d)),
  };
}
