// Reference dequantization of the formats in ./types.ts, with bitsandbytes' float32 arithmetic:
// a block's scale is nestedMap[code] · nestedAbsmax[group] + nestedOffset, rounded to float32 at each step,
// and a value is codebook[nibble] · scale, rounded to float32.

import { isNested, type Quantized4bit, type QuantizedMatrix } from "./types.ts";

const fround = Math.fround;

/** The float32 absmax of 4-bit block `block`, de-nesting double quantization. */
export function blockAbsmax(q: Quantized4bit, block: number): number {
  const a = q.absmax;
  if (!isNested(a)) return a[block]!;
  const group = Math.floor(block / a.nestedBlockSize);
  return fround(fround(a.nestedMap[a.codes[block]!]! * a.nestedAbsmax[group]!) + a.nestedOffset);
}

export function dequantizeRowsRef(q: QuantizedMatrix, row0: number, count: number, out: Float32Array): void {
  const { cols } = q;
  if (q.type === "int8") {
    for (let r = 0; r < count; r++) {
      const s = q.rowScale[row0 + r]!;
      const base = (row0 + r) * cols;
      for (let c = 0; c < cols; c++) out[r * cols + c] = fround(q.codes[base + c]! * s);
    }
    return;
  }
  const start = row0 * cols;
  const end = (row0 + count) * cols;
  let block = -1;
  let scale = 0;
  for (let i = start; i < end; i++) {
    const b = Math.floor(i / q.blockSize);
    if (b !== block) {
      block = b;
      scale = blockAbsmax(q, b);
    }
    const byte = q.codes[i >> 1]!;
    const nibble = i & 1 ? byte & 0x0f : byte >> 4;
    out[i - start] = fround(q.codebook[nibble]! * scale);
  }
}
