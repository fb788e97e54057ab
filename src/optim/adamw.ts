// torch.optim.AdamW, single-tensor form, with its exact semantics: decoupled weight decay θ·(1 − lr·λ),
// bias corrections from a per-parameter step count, eps outside the square root. The arithmetic is the
// backend's `adamw` kernel; this class holds m and v (float32, allocated once, zero) per trainable tensor.
// As in torch, a parameter without a gradient is skipped and its step count does not advance.

import { Tensor } from "../tensor/tensor.ts";
import { backend } from "../backend/index.ts";
import { checkParams, restoreInto, zeroGrads, OptimizerStateError, type Optimizer, type OptimizerState, type StateSource } from "./optimizer.ts";

export interface AdamWOptions {
  lr: number;
  /** (β1, β2), default (0.9, 0.999). */
  betas?: readonly [number, number];
  /** Added to √v̂, default 1e-8. */
  eps?: number;
  /** Decoupled weight decay λ, default 0.01 (torch's default). */
  weightDecay?: number;
}

/** The options with their torch defaults, validated (shared with AdamW8bit). */
export function resolveAdamW(what: string, o: AdamWOptions): { lr: number; beta1: number; beta2: number; eps: number; weightDecay: number } {
  const [beta1, beta2] = o.betas ?? [0.9, 0.999];
  const eps = o.eps ?? 1e-8;
  if (!(o.lr >= 0)) throw new Error(`${what}: lr must be >= 0, got ${o.lr}`);
  if (!(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1)) throw new Error(`${what}: betas must be in [0, 1), got ${beta1}, ${beta2}`);
  if (!(eps >= 0)) throw new Error(`${what}: eps must be >= 0, got ${o.eps}`);
  return { lr: o.lr, beta1, beta2, eps, weightDecay: o.weightDecay ?? 0.01 };
}

export class AdamW implements Optimizer {
  lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  readonly params: readonly (readonly [string, Tensor])[];
  readonly #m: Float32Array[];
  readonly #v: Float32Array[];
  readonly #steps: number[];

  constructor(params: readonly (readonly [string, Tensor])[], o: AdamWOptions) {
    checkParams("AdamW", params);
    ({ lr: this.lr, beta1: this.beta1, beta2: this.beta2, eps: this.eps, weightDecay: this.weightDecay } = resolveAdamW("AdamW", o));
    this.params = params;
    this.#m = params.map(([, p]) => new Float32Array(p.size));
    this.#v = params.map(([, p]) => new Float32Array(p.size));
    this.#steps = params.map(() => 0);
  }

  step(): void {
    const be = backend();
    this.params.forEach(([, p], i) => {
      if (!p.grad) return;
      const step = ++this.#steps[i]!;
      be.adamw(p.data as Float32Array, p.grad.data, this.#m[i]!, this.#v[i]!, p.size, {
        lr: this.lr, beta1: this.beta1, beta2: this.beta2, eps: this.eps, weightDecay: this.weightDecay, step,
      });
    });
  }

  zeroGrad(): void {
    zeroGrads(this.params);
  }

  /** torch's names: exp_avg (m) and exp_avg_sq (v) per parameter. */
  state(): OptimizerState {
    const tensors: [string, Tensor<"float32">][] = [];
    this.params.forEach(([name, p], i) => {
      tensors.push([`exp_avg.${name}`, Tensor.from("float32", this.#m[i]!, p.shape)]);
      tensors.push([`exp_avg_sq.${name}`, Tensor.from("float32", this.#v[i]!, p.shape)]);
    });
    const steps = Object.fromEntries(this.params.map(([name], i) => [name, this.#steps[i]!]));
    return {
      tensors,
      json: { type: "adamw", lr: this.lr, betas: [this.beta1, this.beta2], eps: this.eps, weight_decay: this.weightDecay, steps },
    };
  }

  loadState(tensors: StateSource, json: Record<string, unknown>): void {
    if (json.type !== "adamw") throw new OptimizerStateError(`optimizer state is for "${String(json.type)}", not adamw`);
    const steps = (json.steps ?? {}) as Record<string, unknown>;
    this.params.forEach(([name], i) => {
      restoreInto(this.#m[i]!, tensors, `exp_avg.${name}`);
      restoreInto(this.#v[i]!, tensors, `exp_avg_sq.${name}`);
      const s = steps[name];
      if (typeof s !== "number" || !Number.isInteger(s) || s < 0) throw new OptimizerStateError(`optimizer state: no step count for "${name}"`);
      this.#steps[i] = s;
    });
    if (typeof json.lr === "number") this.lr = json.lr;
  }
}
