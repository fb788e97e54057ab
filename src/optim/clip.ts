// Gradient clipping by global norm, as torch.nn.utils.clip_grad_norm_: the total 2-norm over all gradients
// (summed in float64 by the backend's deterministic `sumSquares`), clip coefficient
// max_norm / (total + 1e-6) clamped to 1, every gradient scaled by it (in float32, as torch's coefficient
// is a float32 tensor). Returns the norm before clipping.

import type { Tensor } from "../tensor/tensor.ts";
import { backend } from "../backend/index.ts";

export function gradNorm(params: readonly (readonly [string, Tensor])[]): number {
  const be = backend();
  let sum = 0;
  for (const [, p] of params) if (p.grad) sum += be.sumSquares(p.grad.data, p.grad.size);
  return Math.sqrt(sum);
}

export function clipGradNorm(params: readonly (readonly [string, Tensor])[], maxNorm: number): number {
  const total = gradNorm(params);
  const coef = Math.fround(Math.min(1, maxNorm / (total + 1e-6)));
  if (coef < 1) {
    const be = backend();
    for (const [, p] of params) if (p.grad) be.scale(p.grad.data, coef, p.grad.data, p.grad.size);
  }
  return total;
}

/** True when every gradient element is finite (one pass; for the non-finite guard without clipping). */
export function gradsFinite(params: readonly (readonly [string, Tensor])[]): boolean {
  return Number.isFinite(gradNorm(params));
}
