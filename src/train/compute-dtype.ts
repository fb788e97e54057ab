// Which compute dtype a training run uses, and what it tells the user about it: the flag (or config key)
// decides; without one, a bitsandbytes 4-bit model asks for its bnb_4bit_compute_dtype when that is
// bfloat16 (what transformers computes such a model in), and everything else computes in float32.

import type { ComputeDtype } from "../backend/kernels.ts";
import { bf16DotProducts } from "../backend/index.ts";
import type { ModelConfig } from "../models/index.ts";
import { parseBnbQuantizationConfig } from "../quant/bnb.ts";

export interface ComputeDtypeChoice {
  dtype: ComputeDtype;
  /** What the run should say about it (the source of the choice, or that it brings no speed here), or null. */
  notes: string[];
}

function fromQuantizationConfig(config: ModelConfig): ComputeDtype | null {
  const q = config.quantizationConfig;
  if (!q || q.quant_method !== "bitsandbytes") return null;
  const parsed = parseBnbQuantizationConfig(q);
  return parsed.type !== "int8" && parsed.computeDtype === "bfloat16" ? "bfloat16" : null;
}

export function chooseComputeDtype(given: ComputeDtype | null, config: ModelConfig): ComputeDtypeChoice {
  const asked = given ?? fromQuantizationConfig(config);
  const notes: string[] = [];
  if (given === null && asked) notes.push("compute dtype bfloat16, as the model's quantization_config (bnb_4bit_compute_dtype) asks; --compute-dtype float32 overrides it");
  if (asked === "bfloat16") {
    const why = bf16DotProducts();
    if (why) notes.push(`compute dtype bfloat16 gives no speed here: ${why}; the products still round their operands to bf16`);
  }
  return { dtype: asked ?? "float32", notes };
}
