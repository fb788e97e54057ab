// Gradient checkpointing: run a block without keeping its activations, and recompute them in backward.
// Forward runs `fn` under noGrad inside a scope (its intermediates are released at once) and records one
// node that saves only the input. Backward re-runs `fn` with grad on a detached copy of the input, with the
// dropout seed stream rewound so masks repeat, backpropagates the incoming gradient through it (parameters
// inside accumulate their .grad as usual) and returns the input's gradient. Costs one extra forward.

import { Tensor } from "../tensor/tensor.ts";
import { scope } from "../tensor/storage.ts";
import { dropoutSeeds } from "../util/random.ts";
import { backward, isGradEnabled, noGrad, record, withGrad } from "./engine.ts";

export function checkpoint(fn: (x: Tensor) => Tensor, x: Tensor): Tensor {
  if (!isGradEnabled()) return fn(x);
  const seedsBefore = dropoutSeeds.position;
  const y = noGrad(() => scope(() => fn(x)));
  const seedsAfter = dropoutSeeds.position;
  return record("checkpoint", y as Tensor<"float32">, [x, PARAMETERS_INSIDE], [x], (dy) => {
    const xd = new Tensor(x.storage, x.shape, x.requiresGrad);
    dropoutSeeds.position = seedsBefore;
    const y2 = withGrad(() => fn(xd));
    dropoutSeeds.position = seedsAfter;
    if (y2.requiresGrad) backward(y2, dy);
    y2.storage.kept = false;
    y2.storage.releaseIfUnused();
    const dx = xd.grad;
    if (dx) {
      dx.storage.kept = false;
      dx.storage.releasable = true;
    }
    return [dx, null];
  });
}

/** Stands for the parameters used inside the block, so the node is recorded even when x needs no grad. */
const PARAMETERS_INSIDE = (() => {
  const t = Tensor.zeros([0]);
  t.requiresGrad = true;
  return t;
})();
