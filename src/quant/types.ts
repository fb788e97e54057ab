// Quantized weight matrices as plain data: the bytes held in memory are the bytes bitsandbytes writes.
//
// Layout shared by every backend (the native GEMM's B-panel loader reads exactly this):
// - the logical matrix is [rows, cols] = [out_features, in_features], flattened row-major;
// - 4-bit types: element i sits in byte i >> 1, the even element in the high nibble; blocks of `blockSize`
//   consecutive flattened elements share one absmax (the last block may be partial);
// - absmax is either plain float32 per block, or double-quantized: one uint8 code per block into the
//   256-entry `nestedMap`, times the float32 `nestedAbsmax` of its group of `nestedBlockSize` blocks, plus
//   `nestedOffset` (the mean that was subtracted before quantizing);
// - int8: one signed byte per element and one float32 scale per row (absmax / 127).

export type QuantType = "nf4" | "fp4" | "int8";

export interface NestedAbsmax {
  codes: Uint8Array;
  nestedAbsmax: Float32Array;
  nestedMap: Float32Array;
  nestedBlockSize: number;
  nestedOffset: number;
}

export interface Quantized4bit {
  type: "nf4" | "fp4";
  rows: number;
  cols: number;
  blockSize: number;
  /** ceil(rows * cols / 2) bytes. */
  codes: Uint8Array;
  /** The 16 code values (bitsandbytes' `quant_map`). */
  codebook: Float32Array;
  absmax: Float32Array | NestedAbsmax;
}

export interface Quantized8bit {
  type: "int8";
  rows: number;
  cols: number;
  codes: Int8Array;
  /** Per-row scale: value = code * rowScale[row]. */
  rowScale: Float32Array;
  /** Optional: the row absmax itself (bitsandbytes' `SCB`), kept so a checkpoint round-trips bit for bit. */
  rowAbsmax?: Float32Array;
}

export type QuantizedMatrix = Quantized4bit | Quantized8bit;

export function isNested(absmax: Float32Array | NestedAbsmax): absmax is NestedAbsmax {
  return !(absmax instanceof Float32Array);
}

/** A frozen quantized weight as a module holds it: the matrix plus its logical shape [rows, cols]. */
export class QuantizedTensor {
  readonly requiresGrad = false;
  constructor(readonly q: QuantizedMatrix) {}

  get shape(): readonly [number, number] {
    return [this.q.rows, this.q.cols];
  }

  get size(): number {
    return this.q.rows * this.q.cols;
  }
}
