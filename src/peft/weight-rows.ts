// A linear layer's weight seen as float32 row blocks, whatever it is stored as, so merging and DoRA's
// norms never hold more than a block of a large bf16 or 4-bit matrix in float32 at once.
//
// Rows are storage rows: output features for nn.Linear ([out, in]), input features for GPT-2's Conv1D
// ([in, out]). Writing back: float32 is overwritten; bfloat16 is rounded to nearest even, so a merge into a
// bf16 weight carries the usual bf16 rounding (≤ half an ulp of each merged value), and unmerge does not
// restore the bits exactly (it subtracts and rounds again); a quantized weight is never written.

import { Tensor } from "../tensor/tensor.ts";
import { bf16ArrayToF32, f32ArrayToBf16 } from "../tensor/dtype.ts";
import { QuantizedTensor } from "../quant/types.ts";
import { backend } from "../backend/index.ts";
import type { LinearWeight } from "../ops/index.ts";

export const BLOCK_ROWS = 64;

export interface RowStore {
  readonly rows: number;
  readonly cols: number;
  /** Rows [row0, row0 + count) as float32 into out (count · cols values). */
  read(row0: number, count: number, out: Float32Array): void;
  write(row0: number, count: number, src: Float32Array): void;
}

export class MergeError extends Error {}

/** The weight of a layer as a RowStore (what merge / unmerge write into). */
export function weightStore(w: LinearWeight, what: string): RowStore {
  const [rows, cols] = w.shape as [number, number];
  if (w instanceof QuantizedTensor) {
    return {
      rows,
      cols,
      read: (row0, count, out) => backend().dequantizeRows(w.q, row0, count, out),
      write: () => {
        throw new MergeError(
          `${what}: the base weight is quantized (${w.q.type}); merging into it would re-quantize the merged weight. ` +
            "Use mergeAndUnload() or saveMergedModel(), which dequantize and merge in float32",
        );
      },
    };
  }
  if (w.dtype === "float32") {
    const d = w.data as Float32Array;
    return {
      rows,
      cols,
      read: (row0, count, out) => out.set(d.subarray(row0 * cols, (row0 + count) * cols)),
      write: (row0, count, src) => d.set(src.subarray(0, count * cols), row0 * cols),
    };
  }
  if (w.dtype === "bfloat16") {
    const d = w.data as Uint16Array;
    return {
      rows,
      cols,
      read: (row0, count, out) => void bf16ArrayToF32(d.subarray(row0 * cols, (row0 + count) * cols), out.subarray(0, count * cols)),
      write: (row0, count, src) => void f32ArrayToBf16(src.subarray(0, count * cols), d.subarray(row0 * cols, (row0 + count) * cols)),
    };
  }
  throw new MergeError(`${what}: weights of dtype ${w.dtype} cannot be merged`);
}

/** A plain float32 matrix as a RowStore (merged copies for export). */
export function bufferStore(data: Float32Array, rows: number, cols: number): RowStore {
  return {
    rows,
    cols,
    read: (row0, count, out) => out.set(data.subarray(row0 * cols, (row0 + count) * cols)),
    write: (row0, count, src) => data.set(src.subarray(0, count * cols), row0 * cols),
  };
}

/** Calls fn for each block of at most BLOCK_ROWS rows with a scratch buffer holding them as float32. */
export function forEachBlock(store: RowStore, fn: (row0: number, count: number, block: Float32Array) => void): void {
  const scratch = new Float32Array(Math.min(BLOCK_ROWS, store.rows) * store.cols);
  for (let row0 = 0; row0 < store.rows; row0 += BLOCK_ROWS) {
    const count = Math.min(BLOCK_ROWS, store.rows - row0);
    store.read(row0, count, scratch);
    fn(row0, count, scratch);
  }
}

/** The whole matrix as a new float32 tensor (dequantized / widened as needed). */
export function toFloat32Tensor(w: LinearWeight): Tensor<"float32"> {
  if (w instanceof Tensor && w.dtype !== "bfloat16") return Tensor.from("float32", Float32Array.from(w.toFloat32()), w.shape);
  const store = weightStore(w, "toFloat32Tensor");
  const out = new Float32Array(store.rows * store.cols);
  for (let row0 = 0; row0 < store.rows; row0 += BLOCK_ROWS) {
    const count = Math.min(BLOCK_ROWS, store.rows - row0);
    store.read(row0, count, out.subarray(row0 * store.cols));
  }
  return Tensor.from("float32", out, w.shape);
}
