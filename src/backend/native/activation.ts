// Activations and the row softmax of the native library (native/activation.cc, native/softmax.cc).

import type { Backend } from "../kernels.ts";
import type { NativeAddon } from "./addon.ts";

export function activationKernels(addon: NativeAddon): Partial<Backend> {
  return {
    silu: (x, out, n) => addon.silu(x, out, n),
    siluBackward: (x, dy, dx, n) => addon.siluBackward(x, dy, dx, n),
    gelu: (x, out, n, approximate) => addon.gelu(x, out, n, approximate),
    geluBackward: (x, dy, dx, n, approximate) => addon.geluBackward(x, dy, dx, n, approximate),
    swiglu: (gate, up, out, n) => addon.swiglu(gate, up, out, n),
    swigluBackward: (gate, up, dy, dGate, dUp, n) => addon.swigluBackward(gate, up, dy, dGate, dUp, n),
    geglu: (gate, up, out, n, approximate) => addon.geglu(gate, up, out, n, approximate),
    gegluBackward: (gate, up, dy, dGate, dUp, n, approximate) => addon.gegluBackward(gate, up, dy, dGate, dUp, n, approximate),
    softcap: (x, out, n, cap) => addon.softcap(x, out, n, cap),
    softcapBackward: (y, dy, dx, n, cap) => addon.softcapBackward(y, dy, dx, n, cap),
    softmax: (x, out, rows, cols) => addon.softmax(x, out, rows, cols),
    softmaxBackward: (y, dy, dx, rows, cols) => addon.softmaxBackward(y, dy, dx, rows, cols),
  };
}
