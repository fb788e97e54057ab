// LLM.int8() weight storage, bit for bit as bitsandbytes quantizes a Linear8bitLt weight.
//
// bitsandbytes' Int8Params._quantize first casts the weight to float16, then `int8_vectorwise_quant`
// (threshold 0) computes per row:
//   SCB  = max |w16| as float32                      (the row absmax, stored as `SCB`)
//   code = round_half_even(fround(w16 · fround(127 / SCB)))  (torch.round; |code| <= 127 by construction)
// A zero row (SCB = 0) gives NaN · 0 in torch, cast to int8 as 0; we write 0. The float16 cast is part of
// the format (it moves values by up to 2^-11 relative and flushes |w| < 2^-24 to 0); `viaFloat16: false`
// skips it for a float32-exact variant. The in-memory scale is rowScale = fround(SCB / 127), and SCB itself is
// kept as `rowAbsmax` so the checkpoint round-trips exactly.

import type { Quantized8bit } from "./types.ts";

const fround = Math.fround;

export interface QuantizeInt8Options {
  /** Cast to float16 first, as bitsandbytes does (default true). */
  viaFloat16?: boolean;
}

/** torch.round: nearest integer, ties to even. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

const Two24 = 2 ** 24;

/**
 * Rounds float32 values to float16 and back in place (round to nearest even, overflow to infinity,
 * subnormals kept), on the float32 bits: normal halves drop 13 mantissa bits with a rounding carry,
 * subnormal halves are multiples of 2^-24.
 */
export function roundToFloat16(v: Float32Array): void {
  const u = new Uint32Array(v.buffer, v.byteOffset, v.length);
  for (let i = 0; i < v.length; i++) {
    const b = u[i]!;
    const a = b & 0x7fffffff;
    if (a >= 0x7f800000) continue; // inf, NaN
    if (a >= 0x38800000) {
      // |x| >= 2^-14: a normal half unless it rounds past 65504
      const r = (b + 0xfff + ((b >>> 13) & 1)) & 0xffffe000;
      u[i] = (r & 0x7fffffff) > 0x477fe000 ? (b & 0x80000000) | 0x7f800000 : r;
    } else {
      v[i] = roundHalfEven(v[i]! * Two24) / Two24;
    }
  }
}

/** Encoder for whole rows arriving in order. */
export class EncoderInt8 {
  readonly codes: Int8Array;
  readonly rowScale: Float32Array;
  readonly rowAbsmax: Float32Array;
  private readonly row16: Float32Array;

  constructor(
    readonly rows: number,
    readonly cols: number,
    private readonly viaFloat16: boolean,
  ) {
    this.codes = new Int8Array(rows * cols);
    this.rowScale = new Float32Array(rows);
    this.rowAbsmax = new Float32Array(rows);
    this.row16 = new Float32Array(cols);
  }

  /** Encodes `count` rows starting at row `row0` from src[srcOff...]. */
  encode(src: Float32Array, srcOff: number, row0: number, count: number): void {
    const cols = this.cols;
    const v = this.row16;
    for (let r = 0; r < count; r++) {
      const o = srcOff + r * cols;
      v.set(src.subarray(o, o + cols));
      if (this.viaFloat16) roundToFloat16(v);
      let amax = 0;
      for (let c = 0; c < cols; c++) {
        const a = Math.abs(v[c]!);
        if (a > amax || a !== a) amax = a;
      }
      this.encodeRow(row0 + r, amax);
    }
  }

  private encodeRow(row: number, amax: number): void {
    const cols = this.cols;
    const base = row * cols;
    this.rowAbsmax[row] = amax;
    this.rowScale[row] = fround(amax / 127);
    if (!(amax > 0) || amax === Infinity) {
      for (let c = 0; c < cols; c++) this.codes[base + c] = 0;
      return;
    }
    const s = fround(127 / amax);
    for (let c = 0; c < cols; c++) {
      const q = roundHalfEven(fround(this.row16[c]! * s));
      this.codes[base + c] = q > 127 ? 127 : q < -127 ? -127 : q;
    }
  }

  finish(): Quantized8bit {
    const { rows, cols, codes, rowScale, rowAbsmax } = this;
    return { type: "int8", rows, cols, codes, rowScale, rowAbsmax };
  }
}

/** Quantizes a float32 [rows, cols] matrix (row-major) to LLM.int8 storage exactly as bitsandbytes. */
export function quantizeInt8Ref(w: Float32Array, rows: number, cols: number, opts: QuantizeInt8Options = {}): Quantized8bit {
  if (w.length !== rows * cols || rows < 1 || cols < 1) throw new Error(`quantizeInt8: ${w.length} values for shape [${rows}, ${cols}]`);
  const enc = new EncoderInt8(rows, cols, opts.viaFloat16 ?? true);
  enc.encode(w, 0, 0, rows);
  return enc.finish();
}
