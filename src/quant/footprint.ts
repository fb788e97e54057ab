// What a model's quantized weights cost: bits per weight as stored (one definition, bitsPerWeight, for
// quantize and inspect alike), and the bytes the loaded model holds in memory, quantized and float layers.

import type { Module } from "../nn/module.ts";
import { Tensor } from "../tensor/tensor.ts";
import { heldBytes } from "./index.ts";
import { QuantizedTensor } from "./types.ts";
import { formatBytes } from "../util/format.ts";

/**
 * Bits per weight, the one definition every command prints (quantize, inspect): the bytes that grow with
 * the weights (the 4- or 8-bit codes and their block or row scales, at every level of double
 * quantization) times 8, over the weights. Per-layer constants (bitsandbytes' code books and JSON quant
 * state, about 1.2 KiB a layer) are left out: they count in the size on disk, not in the cost of a weight,
 * so NF4 with double quantization is 4 + 8/64 + 32/(64·256) ≈ 4.127 bits whatever the layer's size.
 */
export function bitsPerWeight(perWeightBytes: number, weights: number): number {
  return weights > 0 ? (8 * perWeightBytes) / weights : 0;
}

/** The sentence both commands print about the stored bits. */
export function describeStoredBits(bits: number, tableBytes: number): string {
  return `${bits.toFixed(3)} bits per weight: codes and their block or row scales (the layers' code books and quant state, ${formatBytes(tableBytes)} in all, are per layer)`;
}

/** What a stored tensor of a bitsandbytes layer is, by name: codes and scales grow with it, tables do not. */
export function bnbStoredPart(name: string): "scales" | "table" | null {
  if (/\.weight\.(absmax|nested_absmax)$|\.SCB$/.test(name)) return "scales";
  if (/\.weight\.(quant_map|nested_quant_map|quant_state\..*)$|\.weight_format$/.test(name)) return "table";
  return null;
}

export interface WeightFootprint {
  quantizedParams: number;
  quantizedBytes: number;
  floatParams: number;
  floatBytes: number;
}

export function weightFootprint(model: Module): WeightFootprint {
  const f: WeightFootprint = { quantizedParams: 0, quantizedBytes: 0, floatParams: 0, floatBytes: 0 };
  for (const [, p] of model.namedParameters()) {
    if (p instanceof QuantizedTensor) {
      f.quantizedParams += p.size;
      f.quantizedBytes += heldBytes(p);
    } else if (p instanceof Tensor) {
      f.floatParams += p.size;
      f.floatBytes += p.byteLength;
    }
  }
  return f;
}

/** The memory the loaded model's weights take (int8 also holds each row's absmax for export). */
export function formatFootprint(f: WeightFootprint): string {
  const total = f.quantizedBytes + f.floatBytes;
  return `weights held in memory: ${formatBytes(total)} (quantized linear layers ${formatBytes(f.quantizedBytes)}, float layers: embeddings, norms, head ${formatBytes(f.floatBytes)})\n`;
}
