// The native GEMM: maps GemmArgs onto the addon's positional arguments (native/gemm_binding.cc). A quantized
// or bf16 B goes in as it is stored; the native B-panel loader dequantizes it block by block.

import type { Backend, GemmArgs, MatrixOperand } from "../kernels.ts";
import { isNested } from "../../quant/types.ts";
import type { GemmB, NativeAddon } from "./addon.ts";

function operandArgs(b: MatrixOperand): GemmB {
  if (b.kind === "f32") return ["f32", b.data, b.offset, b.ld];
  if (b.kind === "bf16") return ["bf16", b.data, b.offset, b.ld];
  const q = b.q;
  if (q.type === "int8") return ["q8", q.rows, q.cols, q.codes, q.rowScale];
  const head = ["q4", q.rows, q.cols, q.codes, q.codebook, q.blockSize] as const;
  if (!isNested(q.absmax)) return [...head, q.absmax, null, null, null, 0, 0];
  const n = q.absmax;
  return [...head, null, n.codes, n.nestedAbsmax, n.nestedMap, n.nestedBlockSize, n.nestedOffset];
}

export function gemmKernels(addon: NativeAddon): Partial<Backend> {
  return {
    gemm: (p: GemmArgs) => {
      const batch = p.batch ?? { count: 1, strideA: 0, strideB: 0, strideC: 0 };
      addon.gemm(
        p.M, p.N, p.K, p.transA, p.transB, p.a, p.aOffset, p.lda, p.c, p.cOffset, p.ldc, p.alpha, p.beta,
        batch.count, batch.strideA, batch.strideB, batch.strideC, ...operandArgs(p.b),
        p.computeDtype === "bfloat16" ? "bf16" : "f32",
      );
    },
  };
}
