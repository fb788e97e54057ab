// Backend selection: `native` by default, `js` when asked (PEFT_TS_BACKEND=js or setBackend("js")) or
// when the native library cannot be loaded, which is said once on stderr.

import type { Backend } from "./kernels.ts";
import { jsBackend } from "./js/index.ts";
import { loadNativeBackend, nativeAddon } from "./native/index.ts";

export type BackendName = "js" | "native";
export type { Backend } from "./kernels.ts";

let current: Backend | null = null;
let native: Backend | Error | null = null;

function nativeOrError(): Backend | Error {
  native ??= loadNativeBackend();
  return native;
}

export function nativeAvailable(): boolean {
  return !(nativeOrError() instanceof Error);
}

export function setBackend(name: BackendName): Backend {
  if (name === "js") return (current = jsBackend);
  const nb = nativeOrError();
  if (nb instanceof Error) throw new Error(`native backend unavailable: ${nb.message}`);
  return (current = nb);
}

/** The active backend. */
export function backend(): Backend {
  if (current) return current;
  const requested = process.env.PEFT_TS_BACKEND;
  if (requested === "js") return (current = jsBackend);
  if (requested !== undefined && requested !== "native") {
    throw new Error(`PEFT_TS_BACKEND must be "js" or "native", got "${requested}"`);
  }
  const nb = nativeOrError();
  if (nb instanceof Error) {
    process.stderr.write(`peft-ts: native kernels unavailable (${nb.message}); using the TypeScript backend\n`);
    return (current = jsBackend);
  }
  return (current = nb);
}

/**
 * Null when products with bf16 operands run on bf16 dot-product instructions (AVX512_BF16), twice the
 * float32 rate; otherwise why not (they are then float32 products of rounded operands, no faster).
 */
export function bf16DotProducts(): string | null {
  if (backend().name !== "native") return "the TypeScript backend computes them in float32";
  const isa = nativeAddon()?.info().isa;
  if (isa === "avx512bf16") return null;
  const forced = process.env.PEFT_TS_ISA ? ` (PEFT_TS_ISA=${process.env.PEFT_TS_ISA})` : "";
  return `the ${isa} kernels${forced} have no bf16 dot products (AVX512_BF16)`;
}

export { jsBackend };
