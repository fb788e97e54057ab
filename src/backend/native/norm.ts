// RMSNorm and LayerNorm of the native library (native/norm.cc).

import type { Backend } from "../kernels.ts";
import type { NativeAddon } from "./addon.ts";

export function normKernels(addon: NativeAddon): Partial<Backend> {
  return {
    rmsNorm: (x, w, out, rstd, rows, cols, eps) => addon.rmsNorm(x, w, out, rstd, rows, cols, eps),
    rmsNormBackward: (x, w, rstd, dy, dx, dw, rows, cols) => addon.rmsNormBackward(x, w, rstd, dy, dx, dw, rows, cols),
    layerNorm: (x, w, b, out, mean, rstd, rows, cols, eps) => addon.layerNorm(x, w, b, out, mean, rstd, rows, cols, eps),
    layerNormBackward: (x, w, mean, rstd, dy, dx, dw, db, rows, cols) =>
      addon.layerNormBackward(x, w, mean, rstd, dy, dx, dw, db, rows, cols),
  };
}
