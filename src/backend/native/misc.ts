// Embedding, dropout, AdamW and dequantization of the native library (native/embedding.cc, dropout.cc,
// adamw.cc, dequant.cc).

import type { Backend } from "../kernels.ts";
import { isNested } from "../../quant/types.ts";
import type { NativeAddon } from "./addon.ts";

export function miscKernels(addon: NativeAddon): Partial<Backend> {
  return {
    embedding: (ids, table, out, n, dim) => addon.embedding(ids, table.data, table.offset, table.ld, out, n, dim),
    embeddingBackward: (ids, dy, dTable, n, dim) => addon.embeddingBackward(ids, dy, dTable, n, dim),
    dropout: (x, out, n, p, seed, offset) => addon.dropout(x, out, n, p, seed, offset),
    adamw: (param, grad, m, v, n, hp) => {
      // The step constants exactly as the reference forms them (JavaScript's ** is not C's pow).
      const { lr, beta1, beta2, eps, weightDecay, step } = hp;
      const stepSize = lr / (1 - beta1 ** step);
      const bc2Sqrt = Math.sqrt(1 - beta2 ** step);
      addon.adamw(param, grad, m, v, n, stepSize, bc2Sqrt, 1 - lr * weightDecay, beta1, beta2, eps);
    },
    dequantizeRows: (q, row0, count, out) => {
      if (q.type === "int8") return addon.dequantize8(q.codes, q.rowScale, q.rows, q.cols, row0, count, out);
      const a = q.absmax;
      if (isNested(a)) {
        addon.dequantize4(q.codes, q.codebook, q.rows, q.cols, q.blockSize, null, a.codes, a.nestedAbsmax, a.nestedMap,
          a.nestedBlockSize, a.nestedOffset, row0, count, out);
      } else {
        addon.dequantize4(q.codes, q.codebook, q.rows, q.cols, q.blockSize, a, null, null, null, 0, 0, row0, count, out);
      }
    },
  };
}
