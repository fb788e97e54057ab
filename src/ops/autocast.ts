// The compute dtype of matrix products, the equivalent of torch.autocast("cpu", dtype=torch.bfloat16) for a
// region of code: inside withComputeDtype("bfloat16", fn) every product of linear (the forward, the input
// gradient and, where the weight trains, the weight gradient; LoRA's A and B products too), matmul and the
// fused output head + loss takes bf16 operands with float32 sums, as torch's CPU autocast casts every
// linear and matmul. What torch keeps in float32 stays float32 here too (norms, softmax, the loss), and so
// do weights, gradients, optimizer state and attention, which is one fused float32 kernel. Unlike torch,
// the products' outputs stay float32 instead of being rounded to bf16.
// An op reads the dtype when its forward runs and its backward uses the same.

import type { ComputeDtype } from "../backend/kernels.ts";

let current: ComputeDtype = "float32";

/** The compute dtype of the products an op starts now. */
export function computeDtype(): ComputeDtype {
  return current;
}

/** Runs fn with the products in `dtype` (the previous dtype is restored afterwards). */
export function withComputeDtype<T>(dtype: ComputeDtype, fn: () => T): T {
  const prev = current;
  current = dtype;
  try {
    return fn();
  } finally {
    current = prev;
  }
}
