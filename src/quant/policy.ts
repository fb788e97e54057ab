// How quantized weights enter a model being loaded: either quantize linear layers as they are read
// (QLoRA on an ordinary checkpoint), or read a bitsandbytes pre-quantized checkpoint's layers as stored.
// Embeddings, norms and the output head stay in float, as transformers keeps them.

import type { Tensor } from "../tensor/tensor.ts";
import type { StoragePolicy } from "../models/weights.ts";
import { bnbWeightKind, fromBnbTensors, parseBnbQuantizationConfig } from "./bnb.ts";
import type { QuantizeOptions } from "./index.ts";
import { QuantizedTensor, type QuantType } from "./types.ts";

export interface QuantizationOptions {
  type: QuantType;
  /** 4-bit: double-quantize the absmax values (default true, as QLoRA). */
  doubleQuant?: boolean;
  /** 4-bit: elements per absmax block (default 64). */
  blockSize?: number;
  /**
   * Recorded in a saved quantization_config; peft-ts computes in float32 whatever is named here
   * (the dequantized panel is float32 inside the GEMM).
   */
  computeDtype?: "float32" | "bfloat16" | "float16";
  /** Module names kept in float (matched as a path component); the head is never quantized. */
  skipModules?: string[];
}

function skipped(name: string, skip: readonly string[]): boolean {
  const path = name.replace(/\.weight$/, "");
  return skip.some((s) => path === s || path.endsWith(`.${s}`) || path.includes(`.${s}.`));
}

/** The quantizer's options for these settings (defaults: blocks of 64, double quantization). */
export function quantizeOptions(o: QuantizationOptions): QuantizeOptions {
  return { type: o.type, doubleQuant: o.doubleQuant ?? true, blockSize: o.blockSize ?? 64 };
}

/** The linear layers' quantization, streamed into the quantizer as they are read (see models/weights.ts). */
export function quantizeOnLoad(o: QuantizationOptions): Pick<StoragePolicy, "quantizeAs"> {
  const skip = o.skipModules ?? [];
  const as = quantizeOptions(o);
  return { quantizeAs: (name: string) => (skipped(name, skip) ? null : as) };
}

/** Reads layers saved by bitsandbytes (config.json has quant_method "bitsandbytes"). */
export function readBnbOnLoad(quantizationConfig: Record<string, unknown>): Pick<StoragePolicy, "readQuantized"> {
  parseBnbQuantizationConfig(quantizationConfig);
  return {
    readQuantized: (prefix: string, get: (name: string) => Tensor | undefined) =>
      bnbWeightKind(prefix, get) ? new QuantizedTensor(fromBnbTensors(prefix, get)) : null,
  };
}
