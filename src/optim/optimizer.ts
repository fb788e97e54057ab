// What every optimizer shares: the parameters it updates, a learning rate the schedule sets before each
// step, and a state that a checkpoint saves and a resume restores bit for bit (float32 tensors plus a
// small JSON record of step counts and hyperparameters); 8-bit optimizers add uint8 code tensors.

import type { Tensor } from "../tensor/tensor.ts";

export class OptimizerStateError extends Error {}

export interface OptimizerState {
  /** State tensors by name (e.g. `exp_avg.<param>`: float32; 8-bit codes: uint8), saved as safetensors. */
  tensors: [string, Tensor][];
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

/** Copies a saved state tensor (float32, or uint8 codes) into `dst`, checking its dtype and size. */
export function restoreInto(dst: Float32Array | Uint8Array, tensors: StateSource, name: string): void {
  const t = typeof tensors === "function" ? tensors(name) : tensors.get(name);
  if (!t) throw new OptimizerStateError(`optimizer state: tensor "${name}" is missing`);
  const dtype = dst instanceof Float32Array ? "float32" : "uint8";
  if (t.dtype !== dtype || t.size !== dst.length) {
    throw new OptimizerStateError(`optimizer state: tensor "${name}" is ${t.dtype} with ${t.size} elements, expected ${dtype} with ${dst.length}`);
  }
  dst.set(t.data as Float32Array & Uint8Array);
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
