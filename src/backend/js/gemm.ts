// Reference matrix product: one float64 dot product per output element. Obviously right, slow.
// With computeDtype bfloat16 each operand value is rounded to bf16 first (the products are then exact).
// A quantized B is dequantized whole for the call (the oracle trades memory for simplicity; the native
// GEMM dequantizes panel by panel instead).

import type { GemmArgs, MatrixOperand } from "../kernels.ts";
import { dequantizeRowsRef } from "../../quant/dequantize.ts";
import { bf16ToF32, f32ToBf16 } from "../../tensor/dtype.ts";

type Accessor = (row: number, col: number) => number;

function operandAccessor(b: MatrixOperand, batchOffset: number): Accessor {
  switch (b.kind) {
    case "f32": {
      const { data, ld } = b;
      const off = b.offset + batchOffset;
      return (i, j) => data[off + i * ld + j]!;
    }
    case "bf16": {
      const { data, ld } = b;
      const off = b.offset + batchOffset;
      return (i, j) => bf16ToF32(data[off + i * ld + j]!);
    }
    case "quant": {
      const { rows, cols } = b.q;
      const dense = new Float32Array(rows * cols);
      dequantizeRowsRef(b.q, 0, rows, dense);
      return (i, j) => dense[i * cols + j]!;
    }
  }
}

const toBf16 = (x: number): number => bf16ToF32(f32ToBf16(x));
const asIs = (x: number): number => x;

export function gemmRef(p: GemmArgs): void {
  const { M, N, K, transA, transB, a, lda, c, ldc, alpha, beta } = p;
  const round = p.computeDtype === "bfloat16" ? toBf16 : asIs;
  const count = p.batch?.count ?? 1;
  if (count > 1 && p.b.kind === "quant") throw new Error("gemm: batched products need a dense B");
  for (let bi = 0; bi < count; bi++) {
    const aOff = p.aOffset + bi * (p.batch?.strideA ?? 0);
    const cOff = p.cOffset + bi * (p.batch?.strideC ?? 0);
    const B = operandAccessor(p.b, bi * (p.batch?.strideB ?? 0));
    const opB: Accessor = transB ? (k, n) => round(B(n, k)) : (k, n) => round(B(k, n));
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let acc = 0;
        for (let k = 0; k < K; k++) {
          const av = transA ? a[aOff + k * lda + m]! : a[aOff + m * lda + k]!;
          acc += round(av) * opB(k, n);
        }
        const ci = cOff + m * ldc + n;
        c[ci] = beta === 0 ? alpha * acc : alpha * acc + beta * c[ci]!;
      }
    }
  }
}
