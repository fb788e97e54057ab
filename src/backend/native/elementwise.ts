// Elementwise kernels of the native library.

import type { Backend } from "../kernels.ts";
import type { NativeAddon } from "./addon.ts";

export function elementwiseKernels(addon: NativeAddon): Partial<Backend> {
  return {
    axpy: (dst, src, alpha, n) => addon.axpy(dst, src, alpha, n),
  };
}
