// Shape ops: reshape is a view (shared storage); its gradient is the incoming gradient viewed back.

import { resolveShape, type Tensor } from "../tensor/tensor.ts";
import { record } from "../autograd/engine.ts";

export function reshape<T extends Tensor>(x: T, shape: readonly number[]): T {
  const out = x.view(resolveShape(shape, x.size)) as T;
  return record("reshape", out, [x], [], (dOut) => [dOut.view(x.shape)]);
}
