// Cross-entropy of the native library (native/loss.cc).

import type { Backend } from "../kernels.ts";
import type { NativeAddon } from "./addon.ts";

export function lossKernels(addon: NativeAddon): Partial<Backend> {
  return {
    crossEntropy: (logits, labels, loss, lse, rows, V, ignoreIndex) => addon.crossEntropy(logits, labels, loss, lse, rows, V, ignoreIndex),
    crossEntropyBackward: (logits, labels, lse, dLogits, rows, V, ignoreIndex, scale) =>
      addon.crossEntropyBackward(logits, labels, lse, dLogits, rows, V, ignoreIndex, scale),
  };
}
