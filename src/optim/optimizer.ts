// What every optimizer shares: the parameters it updates, a learning rate the schedule sets before each
// step, and a state that a checkpoint saves and a resume restores bit for bit (float32 tensors plus a
// small JSON record of step counts and hyperparameters).

import type { Tensor } from "../tensor/tensor.ts";

export class OptimizerStateError extends Error {}

export interface OptimizerState {
  /** Float32 state tensors by name (e.g. `exp_avg.<param>`), saved as safetensors. */
  tensors: [string, Tensor<"float32">][];
  /** Everything else: step counts, hyperparameters (saved as JSON). */
  json: Record<string, unknown>;
}

/** Saved state tensors by name: a Map, or a reader's lookup (so a large state is never held twice). */
export type StateSource = ReadonlyMap<string, Tensor> | ((name: string) => Tensor | undefined);

export interface Optimizer {
  /** The learning rate the next step uses (schedules set it). */
  lr: number;
  /** One update of every parameter that has a gradient. */
  step(): void;
  /** Zeroes the gradient buffers (kept allocated, so memory stays flat step after step). */
  zeroGrad(): void;
  state(): OptimizerState;
  /** Restores a state saved by `state()` (tensors read one at a time by name); names and shapes must match. */
  loadState(tensors: StateSource, json: Record<string, unknown>): void;
}

/** Copies a saved float32 state tensor into `dst`, checking it fits. */
export function restoreInto(dst: Float32Array, tensors: StateSource, name: string): void {
  const t = typeof tensors === "function" ? tensors(name) : tensors.get(name);
  if (!t) throw new OptimizerStateError(`optimizer state: tensor "${name}" is missing`);
  if (t.dtype !== "float32" || t.size !== dst.length) {
    throw new OptimizerStateError(`optimizer state: tensor "${name}" is ${t.dtype} with ${t.size} elements, expected float32 with ${dst.length}`);
  }
  dst.set(t.data as Float32Array);
}

export function zeroGrads(params: readonly (readonly [string, Tensor])[]): void {
  for (const [, p] of params) p.grad?.data.fill(0);
}

export function checkParams(what: string, params: readonly (readonly [string, Tensor])[]): void {
  if (params.length === 0) throw new Error(`${what}: no trainable parameters`);
  for (const [name, p] of params) {
    if (p.dtype !== "float32") throw new Error(`${what}: parameter "${name}" is ${p.dtype}; trainable parameters must be float32`);
  }
}
