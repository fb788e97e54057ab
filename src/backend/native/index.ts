// The native backend: kernels from the Node-API library built from native/ at install
// (build/Release/peft_ts_native.node). Each wrapper file maps the Backend contract onto the addon's
// positional arguments. Every kernel of the contract must come from the library: none falls back to the
// js reference.

import { createRequire } from "node:module";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Backend } from "../kernels.ts";
import { jsBackend } from "../js/index.ts";
import type { NativeAddon } from "./addon.ts";
import { elementwiseKernels } from "./elementwise.ts";
import { gemmKernels } from "./gemm.ts";
import { activationKernels } from "./activation.ts";
import { normKernels } from "./norm.ts";
import { attentionKernels } from "./attention.ts";
import { lossKernels } from "./loss.ts";
import { miscKernels } from "./misc.ts";
import { adamw8bitKernels } from "./adamw8bit.ts";

const addonPath = fileURLToPath(new URL("../../../build/Release/peft_ts_native.node", import.meta.url));

let addon: NativeAddon | null = null;

/** The loaded library (for benchmarks and thread control), or null when it is not built. */
export function nativeAddon(): NativeAddon | null {
  return addon;
}

export function loadNativeBackend(): Backend | Error {
  if (!existsSync(addonPath)) return new Error(`${addonPath} not built (in a clone: npm run build:native; where peft-ts is installed: npm rebuild peft-ts --foreground-scripts)`);
  try {
    addon = createRequire(import.meta.url)(addonPath) as NativeAddon;
  } catch (e) {
    return e instanceof Error ? e : new Error(String(e));
  }
  const kernels: Partial<Backend> = {
    ...elementwiseKernels(addon),
    ...gemmKernels(addon),
    ...activationKernels(addon),
    ...normKernels(addon),
    ...attentionKernels(addon),
    ...lossKernels(addon),
    ...miscKernels(addon),
    ...adamw8bitKernels(addon),
  };
  const missing = Object.keys(jsBackend).filter((k) => k !== "name" && !(k in kernels));
  if (missing.length > 0) return new Error(`${addonPath} lacks kernels: ${missing.join(", ")}`);
  return { ...(kernels as Backend), name: "native" };
}
