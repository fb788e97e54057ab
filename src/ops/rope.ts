// Rotary position embedding (rotate-half, as Hugging Face applies it) on x [rows, heads, hd], over the
// first `rotary` dims of each head (partial rotary). The backward is the inverse rotation of the gradient.

import { Tensor, ShapeError } from "../tensor/tensor.ts";
import { record } from "../autograd/engine.ts";
import { backend } from "../backend/index.ts";
import { assertF32, f32 } from "./util.ts";

/** cos/sin of position × inverse frequency, [maxPositions, rotary/2] each. */
export interface RopeTable {
  cos: Float32Array;
  sin: Float32Array;
  maxPositions: number;
  hd: number;
  /** Dims rotated per head (default hd); the rest pass through. */
  rotary?: number;
}

export function rope(x: Tensor, table: RopeTable, positions: Int32Array, heads: number): Tensor<"float32"> {
  assertF32("rope", x);
  const hd = table.hd;
  const rows = x.size / (heads * hd);
  if (!Number.isInteger(rows) || positions.length !== rows) {
    throw new ShapeError(`rope: ${x.size} elements, ${heads} heads of ${hd}, ${positions.length} positions`);
  }
  for (const p of positions) {
    if (p < 0 || p >= table.maxPositions) throw new ShapeError(`rope: position ${p} outside the table (${table.maxPositions})`);
  }
  const out = Tensor.empty(x.shape);
  const rotary = table.rotary ?? hd;
  backend().rope(f32(x), out.data, table.cos, table.sin, positions, rows, heads, hd, false, rotary);
  return record("rope", out, [x], [], (dy) => {
    const dx = Tensor.empty(x.shape);
    backend().rope(dy.data, dx.data, table.cos, table.sin, positions, rows, heads, hd, true, rotary);
    return [dx];
  });
}
