// Quantized weight types as plain data: one traits table keyed by type (ggml's `type_traits`), the
// reference quantizers, and helpers to quantize a float32 / bf16 / f16 tensor and to dequantize back.

import { backend } from "../backend/index.ts";
import { bf16ArrayToF32, f16ArrayToF32 } from "../tensor/dtype.ts";
import { fmtShape, ShapeError, Tensor } from "../tensor/tensor.ts";
import { EncoderInt8, quantizeInt8Ref } from "./int8.ts";
import { Encoder4bit, quantize4bitRef, resolve4bitOptions } from "./quantize4bit.ts";
import { isNested, QuantizedTensor, type QuantizedMatrix, type QuantType } from "./types.ts";

export interface QuantizeOptions {
  type: QuantType;
  /** 4-bit: elements per absmax block (default 64). */
  blockSize?: number;
  /** 4-bit: double-quantize the absmax (default true). */
  doubleQuant?: boolean;
  /** 4-bit: absmax values per nested block (default 256). */
  nestedBlockSize?: number;
  /** int8: cast to float16 first, as bitsandbytes does (default true). */
  viaFloat16?: boolean;
}

export interface QuantTypeTraits {
  name: QuantType;
  /** Bits per stored code. */
  bits: number;
  /** Elements sharing one scale by default (int8: a whole row, written 0). */
  blockSize: number;
  quantizeRef: (w: Float32Array, rows: number, cols: number, opts: QuantizeOptions) => QuantizedMatrix;
  /** Bytes of per-matrix data held in memory (see heldBytes). */
  heldBytes: (q: QuantizedMatrix) => number;
}

function held4bit(q: QuantizedMatrix): number {
  if (q.type === "int8") throw new Error("held4bit: not a 4-bit matrix");
  const a = q.absmax;
  return q.codes.byteLength + (isNested(a) ? a.codes.byteLength + a.nestedAbsmax.byteLength : a.byteLength);
}

function held8bit(q: QuantizedMatrix): number {
  if (q.type !== "int8") throw new Error("held8bit: not an int8 matrix");
  return q.codes.byteLength + q.rowScale.byteLength + (q.rowAbsmax?.byteLength ?? 0);
}

const quantize4 = (type: "nf4" | "fp4") => (w: Float32Array, rows: number, cols: number, o: QuantizeOptions) =>
  quantize4bitRef(w, rows, cols, { ...o, type });

export const QUANT_TYPES: Record<QuantType, QuantTypeTraits> = {
  nf4: { name: "nf4", bits: 4, blockSize: 64, quantizeRef: quantize4("nf4"), heldBytes: held4bit },
  fp4: { name: "fp4", bits: 4, blockSize: 64, quantizeRef: quantize4("fp4"), heldBytes: held4bit },
  int8: { name: "int8", bits: 8, blockSize: 0, quantizeRef: (w, r, c, o) => quantizeInt8Ref(w, r, c, o), heldBytes: held8bit },
};

function matrixOf(q: QuantizedTensor | QuantizedMatrix): QuantizedMatrix {
  return q instanceof QuantizedTensor ? q.q : q;
}

/**
 * Bytes of the matrix's own data: codes and scales (for double quantization the 8-bit absmax codes and the
 * float32 nested absmax). The shared tables (16-entry codebook, 256-entry map) and the offset are left out.
 */
export function heldBytes(q: QuantizedTensor | QuantizedMatrix): number {
  const m = matrixOf(q);
  return QUANT_TYPES[m.type].heldBytes(m);
}

/** Stored bits per weight: NF4 with double quantization at 64/256 is 4 + 8/64 + 32/(64·256) ≈ 4.127. */
export function bitsPerParameter(q: QuantizedTensor | QuantizedMatrix): number {
  const m = matrixOf(q);
  return (heldBytes(m) * 8) / (m.rows * m.cols);
}

/** Elements converted to float32 per step when the input is bf16 / f16 (a whole number of rows and blocks). */
const ChunkElements = 1 << 16;

/**
 * Quantizes a 2-D float32, bfloat16 or float16 weight [out, in]. A 16-bit input is converted to float32 a
 * block of rows at a time into one scratch buffer, never as a whole float copy.
 */
export function quantizeTensor(w: Tensor, opts: QuantizeOptions): QuantizedTensor {
  if (w.shape.length !== 2) throw new ShapeError(`quantizeTensor: expected a 2-D weight [out, in], got ${fmtShape(w.shape)}`);
  const [rows, cols] = w.shape as [number, number];
  if (!QUANT_TYPES[opts.type]) throw new Error(`quantizeTensor: unknown type ${String(opts.type)}`);
  if (w.dtype === "float32") return new QuantizedTensor(QUANT_TYPES[opts.type].quantizeRef(w.data as Float32Array, rows, cols, opts));
  if (w.dtype !== "bfloat16" && w.dtype !== "float16") throw new Error(`quantizeTensor: cannot quantize a ${w.dtype} tensor`);
  const bits = w.data as Uint16Array;
  const toF32 = w.dtype === "bfloat16" ? bf16ArrayToF32 : f16ArrayToF32;
  return quantizeFill(rows, cols, (dst, start) => void toF32(bits.subarray(start, start + dst.length), dst), opts);
}

/**
 * Quantizes a [rows, cols] weight that `fill` hands over a run of elements at a time (in row-major order,
 * as float32: dst receives elements [start, start + dst.length)), e.g. read from a file or generated, so
 * the weight never exists whole in float.
 */
export function quantizeFill(rows: number, cols: number, fill: (dst: Float32Array, start: number) => void, opts: QuantizeOptions): QuantizedTensor {
  if (!QUANT_TYPES[opts.type]) throw new Error(`quantizeFill: unknown type ${String(opts.type)}`);
  return new QuantizedTensor(opts.type === "int8" ? int8Chunked(rows, cols, fill, opts) : fourBitChunked(rows, cols, fill, opts));
}

type Fill = (dst: Float32Array, start: number) => void;

function fourBitChunked(rows: number, cols: number, fill: Fill, opts: QuantizeOptions): QuantizedMatrix {
  const enc = new Encoder4bit(rows, cols, resolve4bitOptions({ ...opts, type: opts.type as "nf4" | "fp4" }, rows, cols));
  const n = rows * cols;
  // a chunk is a whole number of blocks and of rows where it can be (blocks span rows when cols < blockSize)
  const unit = lcm(enc.opts.blockSize, cols) <= ChunkElements ? lcm(enc.opts.blockSize, cols) : enc.opts.blockSize;
  const chunk = Math.max(unit, Math.floor(ChunkElements / unit) * unit);
  const scratch = new Float32Array(Math.min(chunk, n));
  for (let start = 0; start < n; start += chunk) {
    const dst = scratch.subarray(0, Math.min(chunk, n - start));
    fill(dst, start);
    enc.encode(dst, 0, start, dst.length);
  }
  return enc.finish();
}

function int8Chunked(rows: number, cols: number, fill: Fill, opts: QuantizeOptions): QuantizedMatrix {
  const enc = new EncoderInt8(rows, cols, opts.viaFloat16 ?? true);
  const rowsPerChunk = Math.max(1, Math.floor(ChunkElements / cols));
  const scratch = new Float32Array(Math.min(rowsPerChunk, rows) * cols);
  for (let r0 = 0; r0 < rows; r0 += rowsPerChunk) {
    const count = Math.min(rowsPerChunk, rows - r0);
    const dst = scratch.subarray(0, count * cols);
    fill(dst, r0 * cols);
    enc.encode(dst, 0, r0, count);
  }
  return enc.finish();
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

function lcm(a: number, b: number): number {
  return (a / gcd(a, b)) * b;
}

/** Dequantizes to a float32 [rows, cols] tensor through the active backend's dequantizeRows. */
export function dequantizeTensor(q: QuantizedTensor | QuantizedMatrix): Tensor<"float32"> {
  const m = matrixOf(q);
  const out = Tensor.zeros([m.rows, m.cols]);
  backend().dequantizeRows(m, 0, m.rows, out.data);
  return out;
}

export { blockAbsmax, dequantizeRowsRef } from "./dequantize.ts";
export { isNested, QuantizedTensor } from "./types.ts";
export type { NestedAbsmax, Quantized4bit, Quantized8bit, QuantizedMatrix, QuantType } from "./types.ts";
export { DYNAMIC_MAP, FP4_CODE, NF4_CODE, codebook4bit } from "./codebooks.ts";
export { quantize4bitRef, quantizeAbsmax, quantizeBlockwise8bit, type Quantize4bitOptions } from "./quantize4bit.ts";
export { quantizeInt8Ref, type QuantizeInt8Options } from "./int8.ts";
export { torchMeanF32 } from "./torch-mean.ts";
export { pyFloatRepr, pyJsonDumps, type PyJsonOptions } from "./pyjson.ts";
export {
  BNB_4BIT_SUFFIXES,
  BNB_CONFIG_FLOAT_KEYS,
  BNB_INT8_SUFFIXES,
  BnbFormatError,
  bnbQuantizationConfig,
  bnbQuantStateBytes,
  bnbWeightKind,
  fromBnbTensors,
  parseBnbQuantizationConfig,
  parseBnbQuantState,
  toBnbTensors,
  type BnbComputeDtype,
  type BnbConfigOptions,
  type ParsedBnbConfig,
} from "./bnb.ts";
