// What a model's weights cost as held: quantized layers at their stored bits (NF4 + double quantization
// ≈ 4.13 bits per parameter), float layers at their dtype — the numbers behind the 16 / 8 / 4-bit trade-off.

import type { Module } from "../nn/module.ts";
import { Tensor } from "../tensor/tensor.ts";
import { heldBytes } from "./index.ts";
import { QuantizedTensor } from "./types.ts";
import { formatBytes } from "../util/format.ts";

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

export function formatFootprint(f: WeightFootprint): string {
  const total = f.quantizedParams + f.floatParams;
  const bytes = f.quantizedBytes + f.floatBytes;
  const lines = [
    `weights held: ${formatBytes(bytes)} for ${total.toLocaleString("en-US")} parameters (${((8 * bytes) / total).toFixed(2)} bits per parameter)`,
  ];
  if (f.quantizedParams > 0) {
    lines.push(
      `  quantized linear layers: ${f.quantizedParams.toLocaleString("en-US")} parameters, ${formatBytes(f.quantizedBytes)} (${((8 * f.quantizedBytes) / f.quantizedParams).toFixed(3)} bits each)`,
      `  float layers (embeddings, norms, head): ${f.floatParams.toLocaleString("en-US")} parameters, ${formatBytes(f.floatBytes)}`,
    );
  }
  return `${lines.join("\n")}\n`;
}
