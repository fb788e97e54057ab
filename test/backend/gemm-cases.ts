// The GEMM test cases shared by gemm.test.ts (float32 operands) and gemm-bf16.test.ts (bf16 operands):
// seeded random operands of every B kind, each case's arguments with C NaN-poisoned when beta = 0 (so a
// read of C shows), and a label naming the case.

import type { ComputeDtype, GemmArgs, MatrixOperand } from "../../src/backend/kernels.ts";
import type { NestedAbsmax, Quantized4bit, Quantized8bit } from "../../src/quant/types.ts";
import { f32ToBf16 } from "../../src/tensor/dtype.ts";
import { Rng } from "../../src/util/random.ts";

export const rng = new Rng(20261127);

/** bitsandbytes' NF4 code values. */
export const NF4 = Float32Array.from([
  -1, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635, -0.18477343022823334,
  -0.09105003625154495, 0, 0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
  0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1,
]);

export type BType = "f32" | "bf16" | "nf4" | "nf4-nested" | "fp4" | "int8";

export interface Case {
  M: number;
  N: number;
  K: number;
  transA?: boolean;
  transB?: boolean;
  alpha?: number;
  beta?: number;
  b?: BType;
  /** Extra elements per row (ld > width). */
  pad?: number;
  /** Elements before the first one (aOffset, the dense B's offset, cOffset). */
  offset?: number;
  count?: number;
  blockSize?: number;
  computeDtype?: ComputeDtype;
}

export function randomArray(n: number, scale = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.normal() * scale;
  return a;
}

export function randomBytes(n: number): Uint8Array {
  const a = new Uint8Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.nextUint32() & 0xff;
  return a;
}

/** A random 4-bit matrix with a partial last block when rows·cols is not a multiple of blockSize. */
export function random4bit(rows: number, cols: number, blockSize: number, type: "nf4" | "fp4", nested: boolean): Quantized4bit {
  const n = rows * cols;
  const blocks = Math.ceil(n / blockSize);
  const codebook = type === "nf4" ? NF4 : randomArray(16);
  let absmax: Float32Array | NestedAbsmax;
  if (nested) {
    const nestedBlockSize = 3;
    absmax = {
      codes: randomBytes(blocks),
      nestedAbsmax: Float32Array.from({ length: Math.ceil(blocks / nestedBlockSize) }, () => 0.5 + rng.next()),
      nestedMap: randomArray(256),
      nestedBlockSize,
      nestedOffset: 0.1 + rng.next(),
    };
  } else {
    absmax = Float32Array.from({ length: blocks }, () => 0.1 + rng.next());
  }
  return { type, rows, cols, blockSize, codes: randomBytes(Math.ceil(n / 2)), codebook, absmax };
}

export function random8bit(rows: number, cols: number): Quantized8bit {
  const codes = new Int8Array(rows * cols);
  for (let i = 0; i < codes.length; i++) codes[i] = (rng.nextUint32() & 0xff) - 128;
  return { type: "int8", rows, cols, codes, rowScale: Float32Array.from({ length: rows }, () => rng.next() / 127) };
}

export function makeB(type: BType, rows: number, cols: number, ld: number, length: number, offset: number, bs: number): MatrixOperand {
  switch (type) {
    case "f32":
      return { kind: "f32", data: randomArray(length), offset, ld };
    case "bf16":
      return { kind: "bf16", data: Uint16Array.from(randomArray(length), f32ToBf16), offset, ld };
    case "int8":
      return { kind: "quant", q: random8bit(rows, cols) };
    default:
      return { kind: "quant", q: random4bit(rows, cols, bs, type === "fp4" ? "fp4" : "nf4", type === "nf4-nested") };
  }
}

/** The arguments of one case, with C filled (NaN when beta = 0, so a read of C shows). */
export function build(c: Case): GemmArgs {
  const { M, N, K } = c;
  const transA = c.transA ?? false, transB = c.transB ?? false, pad = c.pad ?? 0, offset = c.offset ?? 0;
  const count = c.count ?? 1, beta = c.beta ?? 0;
  const [ra, ca] = transA ? [K, M] : [M, K];
  const [rb, cb] = transB ? [N, K] : [K, N];
  const lda = ca + pad, ldb = cb + pad, ldc = N + pad;
  const strideA = ra * lda + 3, strideB = rb * ldb + 5, strideC = M * ldc + 2;
  const cLen = offset + (count - 1) * strideC + M * ldc + 7;
  const cData = beta === 0 ? new Float32Array(cLen).fill(NaN) : randomArray(cLen);
  const b = makeB(c.b ?? "f32", rb, cb, ldb, offset + (count - 1) * strideB + rb * ldb, offset, c.blockSize ?? 64);
  return {
    M, N, K, transA, transB,
    a: randomArray(offset + (count - 1) * strideA + ra * lda), aOffset: offset, lda,
    b, c: cData, cOffset: offset, ldc, alpha: c.alpha ?? 1, beta,
    ...(c.computeDtype ? { computeDtype: c.computeDtype } : {}),
    ...(count > 1 ? { batch: { count, strideA, strideB, strideC } } : {}),
  };
}

export function label(c: Case): string {
  const t = `${c.transA ? "T" : "N"}${c.transB ? "T" : "N"}`;
  const extra = [
    c.b && c.b !== "f32" ? c.b : "",
    c.alpha !== undefined ? `α=${c.alpha}` : "",
    c.beta ? `β=${c.beta}` : "",
    c.count ? `×${c.count}` : "",
    c.pad ? `pad ${c.pad}` : "",
    c.offset ? `offset ${c.offset}` : "",
  ].filter(Boolean);
  return `${t} ${c.M}×${c.K}→${c.N}${extra.length ? ` (${extra.join(", ")})` : ""}`;
}
