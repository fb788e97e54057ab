// Embedding lookup: out[i] = table[ids[i]]; backward scatter-adds into the table's gradient. A quantized
// (frozen) table is dequantized a row per id.

import { Tensor, ShapeError } from "../tensor/tensor.ts";
import { leafGradTarget, record } from "../autograd/engine.ts";
import { backend } from "../backend/index.ts";
import type { DenseBf16, DenseF32 } from "../backend/kernels.ts";
import { QuantizedTensor } from "../quant/types.ts";

export function embedding(ids: Int32Array, table: Tensor | QuantizedTensor, shape: readonly number[] = [ids.length]): Tensor<"float32"> {
  const [vocab, dim] = table.shape as [number, number];
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    if (id < 0 || id >= vocab) throw new ShapeError(`embedding: token id ${id} at position ${i} outside vocabulary of ${vocab}`);
  }
  if (table instanceof QuantizedTensor) {
    const out = Tensor.empty([...shape, dim]);
    for (let i = 0; i < ids.length; i++) backend().dequantizeRows(table.q, ids[i]!, 1, out.data.subarray(i * dim, (i + 1) * dim));
    return out;
  }
  let operand: DenseF32 | DenseBf16;
  if (table.dtype === "float32") operand = { kind: "f32", data: table.data as Float32Array, offset: 0, ld: dim };
  else if (table.dtype === "bfloat16") operand = { kind: "bf16", data: table.data as Uint16Array, offset: 0, ld: dim };
  else throw new ShapeError(`embedding: table dtype ${table.dtype} not supported`);
  const out = Tensor.empty([...shape, dim]);
  backend().embedding(ids, operand, out.data, ids.length, dim);
  return record("embedding", out, [table], [], (dy) => {
    const target = leafGradTarget(table);
    const dTable = target ?? Tensor.empty(table.shape, true);
    backend().embeddingBackward(ids, dy.data, dTable.data, ids.length, dim);
    return [target ? null : dTable];
  });
}
