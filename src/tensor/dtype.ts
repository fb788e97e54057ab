// Storage dtypes and the exact conversions between them.
// Compute is always float32; bfloat16 / float16 are storage formats (weights as stored in checkpoints),
// int32 / int64 hold token ids, uint8 holds packed quantized blocks, int8 holds LLM.int8 weights.

export type DType = "float32" | "bfloat16" | "float16" | "int32" | "int64" | "uint8" | "int8";

export type TypedArrayOf<D extends DType> = D extends "float32"
  ? Float32Array
  : D extends "bfloat16" | "float16"
    ? Uint16Array
    : D extends "int32"
      ? Int32Array
      : D extends "int64"
        ? BigInt64Array
        : D extends "int8"
          ? Int8Array
          : Uint8Array;

export type AnyTypedArray = Float32Array | Uint16Array | Int32Array | BigInt64Array | Uint8Array | Int8Array;

export const BYTES_PER_ELEMENT: Record<DType, number> = {
  float32: 4,
  bfloat16: 2,
  float16: 2,
  int32: 4,
  int64: 8,
  uint8: 1,
  int8: 1,
};

export function allocTyped<D extends DType>(dtype: D, n: number): TypedArrayOf<D> {
  switch (dtype) {
    case "float32":
      return new Float32Array(n) as TypedArrayOf<D>;
    case "bfloat16":
    case "float16":
      return new Uint16Array(n) as TypedArrayOf<D>;
    case "int32":
      return new Int32Array(n) as TypedArrayOf<D>;
    case "int64":
      return new BigInt64Array(n) as TypedArrayOf<D>;
    case "uint8":
      return new Uint8Array(n) as TypedArrayOf<D>;
    case "int8":
      return new Int8Array(n) as TypedArrayOf<D>;
  }
  throw new Error(`unknown dtype ${dtype as string}`);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** bfloat16 bits → float32: the bf16 bits are the top half of the float32 bits (exact). */
export function bf16ToF32(bits: number): number {
  u32[0] = bits << 16;
  return f32[0]!;
}

/** float32 → bfloat16 bits, rounding to nearest even; NaN stays a quiet NaN. */
export function f32ToBf16(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  if ((x & 0x7fffffff) > 0x7f800000) return ((x >>> 16) | 0x0040) & 0xffff;
  const lsb = (x >>> 16) & 1;
  return ((x + 0x7fff + lsb) >>> 16) & 0xffff;
}

/** IEEE half bits → float32 (exact for every half value, subnormals included). */
export function f16ToF32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >>> 10) & 0x1f;
  const frac = bits & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** float32 → IEEE half bits, rounding to nearest even, overflow to infinity. */
export function f32ToF16(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    const m = mant | 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    let r = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    if (rem > half || (rem === half && r & 1)) r++;
    return sign | r;
  }
  let r = mant >>> 13;
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && r & 1)) {
    r++;
    if (r === 0x400) {
      r = 0;
      e++;
      if (e >= 31) return sign | 0x7c00;
    }
  }
  return sign | (e << 10) | r;
}

let f16Table: Float32Array | null = null;

/** f16 → f32 through a 65536-entry table: the fastest exact path in JavaScript. */
export function f16Table32(): Float32Array {
  if (!f16Table) {
    f16Table = new Float32Array(65536);
    for (let i = 0; i < 65536; i++) f16Table[i] = f16ToF32(i);
  }
  return f16Table;
}

export function bf16ArrayToF32(src: Uint16Array, dst: Float32Array = new Float32Array(src.length)): Float32Array {
  const out = new Uint32Array(dst.buffer, dst.byteOffset, dst.length);
  for (let i = 0; i < src.length; i++) out[i] = src[i]! << 16;
  return dst;
}

export function f32ArrayToBf16(src: Float32Array, dst: Uint16Array = new Uint16Array(src.length)): Uint16Array {
  for (let i = 0; i < src.length; i++) dst[i] = f32ToBf16(src[i]!);
  return dst;
}

export function f16ArrayToF32(src: Uint16Array, dst: Float32Array = new Float32Array(src.length)): Float32Array {
  const table = f16Table32();
  for (let i = 0; i < src.length; i++) dst[i] = table[src[i]!]!;
  return dst;
}

export function f32ArrayToF16(src: Float32Array, dst: Uint16Array = new Uint16Array(src.length)): Uint16Array {
  for (let i = 0; i < src.length; i++) dst[i] = f32ToF16(src[i]!);
  return dst;
}

export function isFloatDType(dtype: DType): dtype is "float32" | "bfloat16" | "float16" {
  return dtype === "float32" || dtype === "bfloat16" || dtype === "float16";
}
