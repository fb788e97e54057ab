// Elementwise kernels, reductions and bf16 conversions of the native library (native/elementwise.cc).

import type { Backend } from "../kernels.ts";
import type { NativeAddon } from "./addon.ts";

export function elementwiseKernels(addon: NativeAddon): Partial<Backend> {
  return {
    add: (a, b, out, n) => addon.add(a, b, out, n),
    axpy: (dst, src, alpha, n) => addon.axpy(dst, src, alpha, n),
    mul: (a, b, out, n) => addon.mul(a, b, out, n),
    scale: (a, s, out, n) => addon.scale(a, s, out, n),
    addRowVector: (x, v, out, rows, cols) => addon.addRowVector(x, v, out, rows, cols),
    mulRowVector: (x, v, out, rows, cols) => addon.mulRowVector(x, v, out, rows, cols),
    sumRows: (x, out, rows, cols, accumulate) => addon.sumRows(x, out, rows, cols, accumulate),
    sumSquares: (x, n) => addon.sumSquares(x, n),
    bf16ToF32: (src, dst, n) => addon.bf16ToF32(src, dst, n),
    f32ToBf16: (src, dst, n) => addon.f32ToBf16(src, dst, n),
  };
}
