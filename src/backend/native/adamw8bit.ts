// The 8-bit blockwise AdamW step of the native library (native/adamw8bit.cc).

import type { Backend } from "../kernels.ts";
import type { NativeAddon } from "./addon.ts";

export function adamw8bitKernels(addon: NativeAddon): Partial<Backend> {
  return {
    adamw8bit: (param, grad, state1, state2, absmax1, absmax2, n, k) =>
      addon.adamw8bit(param, grad, state1, state2, absmax1, absmax2, n, k.qmap1, k.qmap2,
        k.beta1, k.beta2, k.oneMinusBeta1, k.oneMinusBeta2, k.stepSize, k.epsScaled, k.decay !== null, k.decay ?? 1),
  };
}
