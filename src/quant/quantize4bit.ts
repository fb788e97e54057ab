// Blockwise 4-bit quantization (NF4 / FP4) with optional double quantization, bit for bit as bitsandbytes'
// `quantize_4bit` (its CPU reference, backends/default/ops.py) and `quantize_blockwise` compute it.
//
// Per block of `blockSize` consecutive elements of the row-major flattened [rows, cols] matrix (the last
// block may be partial):
//   absmax = max |w|                       (float32, exact)
//   s      = fround(w · fround(1 / absmax)) (the float32 reciprocal, then a float32 product; bitsandbytes
//            clamps s to [-1, 1], which the code tables below already do)
//   code   = NF4: the nearest code value, distances in float32, first index on ties (exact thresholds);
//            FP4: the GPU kernel's decision tree (FP4_PIVOTS); both through the lookup table of codebooks.ts.
// Two codes per byte, element 2i in the high nibble. An odd element count pads one value 0.0, as bitsandbytes
// does, so the last low nibble is the code of 0 (NF4: 7, FP4: 0). An all-zero block has absmax 0, s = NaN and
// code 0, as torch's argmin gives; it dequantizes to 0.
// Double quantization: offset = torch's float32 mean of absmax (torch-mean.ts); absmax − offset is quantized
// blockwise (nestedBlockSize) to 8 bits with the signed dynamic map by the same rule (reciprocal, clamp,
// nearest with first index on ties).

import {
  codebook4bit,
  DYNAMIC_MAP,
  DYNAMIC_THRESHOLDS,
  FP4_LUT,
  LutScale,
  lutCell,
  NF4_LUT,
  type CodeLut,
} from "./codebooks.ts";
import { torchMeanF32 } from "./torch-mean.ts";
import type { NestedAbsmax, Quantized4bit } from "./types.ts";

const fround = Math.fround;

export interface Quantize4bitOptions {
  type: "nf4" | "fp4";
  /** Elements per absmax block (bitsandbytes: 64, or 32..4096). */
  blockSize?: number;
  /** Quantize the absmax to 8 bits (bitsandbytes' compress_statistics / bnb_4bit_use_double_quant). */
  doubleQuant?: boolean;
  /** Absmax values per nested block (bitsandbytes: 256). */
  nestedBlockSize?: number;
  /** Threads torch would use for the float32 mean of the absmax (see torch-mean.ts); default 8. */
  meanThreads?: number;
}

const luts: Record<"nf4" | "fp4", CodeLut> = { nf4: NF4_LUT, fp4: FP4_LUT };

/**
 * Codes of elements [e0, e1) of one block, normalised by r, from src (src[o] is element e0; e0 even).
 * The table lookup of codebooks.ts (`lutCell`) is inlined: this loop is the whole cost of quantization.
 */
function encodeRun(src: Float32Array, o: number, e0: number, e1: number, r: number, lut: CodeLut, codes: Uint8Array): void {
  const { edge, lo, hi } = lut;
  const top = 2 * LutScale;
  let i = o;
  let e = e0;
  for (; e + 1 < e1; e += 2, i += 2) {
    const s0 = fround(src[i]! * r);
    const x0 = (s0 + 1) * LutScale;
    const j0 = x0 >= 0 ? (x0 < top ? x0 | 0 : top) : x0 < 0 ? 0 : top + 1;
    const s1 = fround(src[i + 1]! * r);
    const x1 = (s1 + 1) * LutScale;
    const j1 = x1 >= 0 ? (x1 < top ? x1 | 0 : top) : x1 < 0 ? 0 : top + 1;
    const c0 = s0 >= edge[j0]! ? hi[j0]! : lo[j0]!;
    const c1 = s1 >= edge[j1]! ? hi[j1]! : lo[j1]!;
    codes[e >> 1] = (c0 << 4) | c1;
  }
  if (e < e1) {
    const s = fround(src[i]! * r);
    const j = lutCell(s);
    codes[e >> 1] = (s >= edge[j]! ? hi[j]! : lo[j]!) << 4;
  }
}

/** Encoder state for one matrix; blocks arrive in order, a whole number of blocks at a time. */
export class Encoder4bit {
  readonly codes: Uint8Array;
  readonly absmax: Float32Array;
  readonly n: number;
  private readonly lut: CodeLut;

  constructor(
    readonly rows: number,
    readonly cols: number,
    readonly opts: Required<Quantize4bitOptions>,
  ) {
    this.n = rows * cols;
    this.codes = new Uint8Array(Math.ceil(this.n / 2));
    this.absmax = new Float32Array(Math.ceil(this.n / opts.blockSize));
    this.lut = luts[opts.type];
  }

  /** Encodes elements [start, start + count) from src[srcOff...]; start is a multiple of the block size. */
  encode(src: Float32Array, srcOff: number, start: number, count: number): void {
    const bs = this.opts.blockSize;
    let block = start / bs;
    for (let b0 = 0; b0 < count; b0 += bs, block++) {
      const len = b0 + bs < count ? bs : count - b0;
      const o = srcOff + b0;
      let amax = 0;
      for (let i = o; i < o + len; i++) {
        const a = Math.abs(src[i]!);
        if (a > amax || a !== a) amax = a;
      }
      this.absmax[block] = amax;
      encodeRun(src, o, start + b0, start + b0 + len, fround(1 / amax), this.lut, this.codes);
    }
  }

  finish(): Quantized4bit {
    const { type, blockSize, doubleQuant, nestedBlockSize, meanThreads } = this.opts;
    if (this.n & 1) this.codes[this.n >> 1]! |= this.codeOf(0);
    const absmax = doubleQuant ? quantizeAbsmax(this.absmax, nestedBlockSize, meanThreads) : this.absmax;
    return { type, rows: this.rows, cols: this.cols, blockSize, codes: this.codes, codebook: codebook4bit(type), absmax };
  }

  /** The code of one normalised value (the padding element of an odd count is 0.0). */
  codeOf(s: number): number {
    const j = lutCell(s);
    return s >= this.lut.edge[j]! ? this.lut.hi[j]! : this.lut.lo[j]!;
  }
}

/** Double quantization of the block absmax: mean offset, then blockwise 8-bit with the dynamic map. */
export function quantizeAbsmax(absmax: Float32Array, nestedBlockSize = 256, meanThreads = 8): NestedAbsmax {
  const nestedOffset = torchMeanF32(absmax, meanThreads);
  const centered = new Float32Array(absmax.length);
  for (let i = 0; i < absmax.length; i++) centered[i] = fround(absmax[i]! - nestedOffset);
  const { codes, absmax: nestedAbsmax } = quantizeBlockwise8bit(centered, nestedBlockSize);
  return { codes, nestedAbsmax, nestedMap: DYNAMIC_MAP, nestedBlockSize, nestedOffset };
}

/**
 * bitsandbytes' `quantize_blockwise` with the signed dynamic map: per block absmax, s = clamp(x · fround(1 /
 * absmax), -1, 1), code = nearest map entry (float32 distances, first index on ties).
 */
export function quantizeBlockwise8bit(x: Float32Array, blockSize: number): { codes: Uint8Array; absmax: Float32Array } {
  const codes = new Uint8Array(x.length);
  const absmax = new Float32Array(Math.ceil(x.length / blockSize));
  for (let b = 0; b < absmax.length; b++) {
    const start = b * blockSize;
    const end = Math.min(x.length, start + blockSize);
    let amax = 0;
    for (let i = start; i < end; i++) {
      const a = Math.abs(x[i]!);
      if (a > amax || a !== a) amax = a;
    }
    absmax[b] = amax;
    const r = fround(1 / amax);
    for (let i = start; i < end; i++) codes[i] = nearestDynamic(fround(x[i]! * r));
  }
  return { codes, absmax };
}

/** The 255 dynamic-map thresholds padded to 256 with +Infinity, for a fixed 8-step search. */
const DYN_T = new Float64Array(256).fill(Infinity);
DYN_T.set(DYNAMIC_THRESHOLDS);

/** Index of the nearest dynamic-map value: the number of thresholds at or below s (NaN → 0), branch-free. */
function nearestDynamic(s: number): number {
  let c = 0;
  c += 128 & -(s >= DYN_T[c + 127]!);
  c += 64 & -(s >= DYN_T[c + 63]!);
  c += 32 & -(s >= DYN_T[c + 31]!);
  c += 16 & -(s >= DYN_T[c + 15]!);
  c += 8 & -(s >= DYN_T[c + 7]!);
  c += 4 & -(s >= DYN_T[c + 3]!);
  c += 2 & -(s >= DYN_T[c + 1]!);
  c += 1 & -(s >= DYN_T[c]!);
  return c;
}

export function resolve4bitOptions(opts: Quantize4bitOptions, rows: number, cols: number): Required<Quantize4bitOptions> {
  const full = {
    type: opts.type,
    blockSize: opts.blockSize ?? 64,
    doubleQuant: opts.doubleQuant ?? true,
    nestedBlockSize: opts.nestedBlockSize ?? 256,
    meanThreads: opts.meanThreads ?? 8,
  };
  if (full.type !== "nf4" && full.type !== "fp4") throw new Error(`quantize4bit: type must be "nf4" or "fp4", got ${String(full.type)}`);
  for (const key of ["blockSize", "nestedBlockSize"] as const) {
    const v = full[key];
    if (!Number.isInteger(v) || v < 2 || v % 2 !== 0) throw new Error(`quantize4bit: ${key} must be a positive even integer, got ${v}`);
  }
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 1 || cols < 1) {
    throw new Error(`quantize4bit: bad shape [${rows}, ${cols}]`);
  }
  return full;
}

/** Quantizes a float32 [rows, cols] matrix (row-major) to NF4 / FP4 exactly as bitsandbytes. */
export function quantize4bitRef(w: Float32Array, rows: number, cols: number, opts: Quantize4bitOptions): Quantized4bit {
  if (w.length !== rows * cols) throw new Error(`quantize4bit: ${w.length} values for shape [${rows}, ${cols}]`);
  const enc = new Encoder4bit(rows, cols, resolve4bitOptions(opts, rows, cols));
  enc.encode(w, 0, 0, w.length);
  return enc.finish();
}
