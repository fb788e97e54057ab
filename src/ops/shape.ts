// Shape ops: reshape is a view (shared storage); its gradient is the incoming gradient viewed back.
// splitColumns copies column blocks out (GPT-2's fused q/k/v projection).

import { resolveShape, Tensor } from "../tensor/tensor.ts";
import { record } from "../autograd/engine.ts";

export function reshape<T extends Tensor>(x: T, shape: readonly number[]): T {
  const out = x.view(resolveShape(shape, x.size)) as T;
  return record("reshape", out, [x], [], (dOut) => [dOut.view(x.shape)]);
}

/** Splits x [rows, Σ widths] into column blocks; the gradient concatenates them back. */
export function splitColumns(x: Tensor, widths: number[]): Tensor[] {
  const total = widths.reduce((a, b) => a + b, 0);
  const rows = x.size / total;
  const src = x.data as Float32Array;
  let col = 0;
  return widths.map((w) => {
    const c0 = col;
    col += w;
    const out = Tensor.empty([rows, w]);
    for (let r = 0; r < rows; r++) out.data.set(src.subarray(r * total + c0, r * total + c0 + w), r * w);
    return record("splitColumns", out, [x], [], (dy) => {
      const dx = Tensor.empty(x.shape, true);
      for (let r = 0; r < rows; r++) dx.data.set(dy.data.subarray(r * w, (r + 1) * w), r * total + c0);
      return [dx];
    });
  });
}
