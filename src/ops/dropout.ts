// Inverted dropout with a counter-based mask (seeded; regenerated in backward, never stored).

import { Tensor } from "../tensor/tensor.ts";
import { record } from "../autograd/engine.ts";
import { backend } from "../backend/index.ts";
import { assertF32, f32 } from "./util.ts";

export function dropout(x: Tensor, p: number, seed: number): Tensor {
  assertF32("dropout", x);
  if (p === 0) return x;
  if (!(p > 0 && p < 1)) throw new Error(`dropout: p must be in [0, 1), got ${p}`);
  const out = Tensor.empty(x.shape);
  backend().dropout(f32(x), out.data, x.size, p, seed, 0);
  return record("dropout", out, [x], [], (dy) => {
    const dx = Tensor.empty(x.shape);
    backend().dropout(dy.data, dx.data, x.size, p, seed, 0);
    return [dx];
  });
}

