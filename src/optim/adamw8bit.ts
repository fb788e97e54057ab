// bitsandbytes' AdamW8bit (bnb.optim.AdamW8bit: optim_bits 8, block_wise, min_8bit_size 4096, no
// percentile clipping): m and v of every parameter with at least 4096 elements are held as one 8-bit code
// per element (signed dynamic map for m, unsigned for v) plus a float32 absmax per block of 256 elements,
// ≈ 2.03 bytes per parameter instead of 8; smaller parameters keep float32 m and v, updated by bitsandbytes'
// 32-bit Adam kernel (kOptimizer32bit2State), as bitsandbytes does. The 8-bit update is the backend's
// `adamw8bit` kernel (reference: src/backend/js/adamw8bit.ts); the step constants are formed here, once per
// parameter and step, in float32 as the kernels form theirs.
//
// Both of bitsandbytes' updates differ from torch.optim.AdamW in two places: ε is scaled by √(1 − β2^t)
// instead of dividing √v by it, and weight decay multiplies θ after the Adam update instead of before.
// The state (codes, absmax, float32 moments, step counts) is saved and restored bit for bit.

import { Tensor } from "../tensor/tensor.ts";
import { backend } from "../backend/index.ts";
import type { Adamw8bitStep } from "../backend/kernels.ts";
import { ADAMW8BIT_BLOCK } from "../backend/js/adamw8bit.ts";
import { DYNAMIC_SIGNED, DYNAMIC_UNSIGNED } from "./dynamic-map.ts";
import { checkParams, restoreInto, zeroGrads, OptimizerStateError, type Optimizer, type OptimizerState, type StateSource } from "./optimizer.ts";
import { resolveAdamW, type AdamWOptions } from "./adamw.ts";

const fround = Math.fround;

export interface AdamW8bitOptions extends AdamWOptions {
  /** Parameters with fewer elements keep float32 states (bitsandbytes' min_8bit_size, default 4096). */
  min8bitSize?: number;
}

interface State8bit {
  kind: "8bit";
  state1: Uint8Array;
  state2: Uint8Array;
  absmax1: Float32Array;
  absmax2: Float32Array;
}

interface State32bit {
  kind: "32bit";
  state1: Float32Array;
  state2: Float32Array;
}

/** Bytes of optimizer state for a parameter of n elements (what the memory estimate counts). */
export function adamw8bitStateBytes(n: number, min8bitSize = 4096): number {
  return n < min8bitSize ? 8 * n : 2 * n + 8 * Math.ceil(n / ADAMW8BIT_BLOCK);
}

export class AdamW8bit implements Optimizer {
  lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  readonly min8bitSize: number;
  readonly params: readonly (readonly [string, Tensor])[];
  readonly #states: (State8bit | State32bit)[];
  readonly #steps: number[];

  constructor(params: readonly (readonly [string, Tensor])[], o: AdamW8bitOptions) {
    checkParams("AdamW8bit", params);
    ({ lr: this.lr, beta1: this.beta1, beta2: this.beta2, eps: this.eps, weightDecay: this.weightDecay } = resolveAdamW("AdamW8bit", o));
    this.params = params;
    this.min8bitSize = o.min8bitSize ?? 4096;
    this.#states = params.map(([, p]) => {
      if (p.size < this.min8bitSize) return { kind: "32bit", state1: new Float32Array(p.size), state2: new Float32Array(p.size) };
      const blocks = Math.ceil(p.size / ADAMW8BIT_BLOCK);
      return { kind: "8bit", state1: new Uint8Array(p.size), state2: new Uint8Array(p.size), absmax1: new Float32Array(blocks), absmax2: new Float32Array(blocks) };
    });
    this.#steps = params.map(() => 0);
  }

  /** The float32 constants of step t, as bitsandbytes' kernels compute them from their float arguments. */
  private constants(t: number): Adamw8bitStep {
    const b1 = fround(this.beta1);
    const b2 = fround(this.beta2);
    const lr = fround(this.lr);
    const wd = fround(this.weightDecay);
    const correction1 = fround(1 - fround(b1 ** t));
    const correction2 = fround(Math.sqrt(fround(1 - fround(b2 ** t))));
    return {
      beta1: b1,
      beta2: b2,
      oneMinusBeta1: fround(1 - b1),
      oneMinusBeta2: fround(1 - b2),
      stepSize: fround(fround(-lr * correction2) / correction1),
      epsScaled: fround(fround(this.eps) * correction2),
      decay: wd > 0 ? fround(1 - fround(lr * wd)) : null,
      qmap1: DYNAMIC_SIGNED,
      qmap2: DYNAMIC_UNSIGNED,
    };
  }

  step(): void {
    const be = backend();
    this.params.forEach(([, p], i) => {
      if (!p.grad) return;
      const k = this.constants(++this.#steps[i]!);
      const s = this.#states[i]!;
      const w = p.data as Float32Array;
      if (s.kind === "8bit") be.adamw8bit(w, p.grad.data, s.state1, s.state2, s.absmax1, s.absmax2, p.size, k);
      else adam32bitStep(w, p.grad.data, s.state1, s.state2, p.size, k);
    });
  }

  zeroGrad(): void {
    zeroGrads(this.params);
  }

  /** bitsandbytes' state names per parameter: state1 / state2 (codes or float32 moments), absmax1 / absmax2. */
  state(): OptimizerState {
    const tensors: [string, Tensor][] = [];
    this.params.forEach(([name, p], i) => {
      const s = this.#states[i]!;
      if (s.kind === "32bit") {
        tensors.push([`state1.${name}`, Tensor.from("float32", s.state1, p.shape)], [`state2.${name}`, Tensor.from("float32", s.state2, p.shape)]);
        return;
      }
      tensors.push(
        [`state1.${name}`, Tensor.from("uint8", s.state1, p.shape)],
        [`state2.${name}`, Tensor.from("uint8", s.state2, p.shape)],
        [`absmax1.${name}`, Tensor.from("float32", s.absmax1, [s.absmax1.length])],
        [`absmax2.${name}`, Tensor.from("float32", s.absmax2, [s.absmax2.length])],
      );
    });
    const steps = Object.fromEntries(this.params.map(([name], i) => [name, this.#steps[i]!]));
    return {
      tensors,
      json: {
        type: "adamw8bit", lr: this.lr, betas: [this.beta1, this.beta2], eps: this.eps, weight_decay: this.weightDecay,
        min_8bit_size: this.min8bitSize, block_size: ADAMW8BIT_BLOCK, steps,
      },
    };
  }

  loadState(tensors: StateSource, json: Record<string, unknown>): void {
    if (json.type !== "adamw8bit") throw new OptimizerStateError(`optimizer state is for "${String(json.type)}", not adamw8bit`);
    if (json.min_8bit_size !== this.min8bitSize || json.block_size !== ADAMW8BIT_BLOCK) {
      throw new OptimizerStateError(`optimizer state: min_8bit_size ${String(json.min_8bit_size)} / block_size ${String(json.block_size)}, this run uses ${this.min8bitSize} / ${ADAMW8BIT_BLOCK}`);
    }
    const steps = (json.steps ?? {}) as Record<string, unknown>;
    this.params.forEach(([name], i) => {
      const s = this.#states[i]!;
      restoreInto(s.state1, tensors, `state1.${name}`);
      restoreInto(s.state2, tensors, `state2.${name}`);
      if (s.kind === "8bit") {
        restoreInto(s.absmax1, tensors, `absmax1.${name}`);
        restoreInto(s.absmax2, tensors, `absmax2.${name}`);
      }
      const t = steps[name];
      if (typeof t !== "number" || !Number.isInteger(t) || t < 0) throw new OptimizerStateError(`optimizer state: no step count for "${name}"`);
      this.#steps[i] = t;
    });
    if (typeof json.lr === "number") this.lr = json.lr;
  }
}

/**
 * bitsandbytes' 32-bit Adam (kOptimizer32bit2State, no update-norm clipping) in float32:
 * m ← m·β1 + (1 − β1)·g;  v ← v·β2 + (1 − β2)·(g·g);  θ ← θ + stepSize·(m / (√v + ε·√(1 − β2^t)));
 * θ ← θ·(1 − lr·λ) when λ > 0. Only for parameters under min_8bit_size, so plain TypeScript suffices.
 */
function adam32bitStep(param: Float32Array, grad: Float32Array, m: Float32Array, v: Float32Array, n: number, k: Adamw8bitStep): void {
  for (let i = 0; i < n; i++) {
    const g = grad[i]!;
    m[i] = fround(fround(m[i]! * k.beta1) + fround(k.oneMinusBeta1 * g));
    v[i] = fround(fround(v[i]! * k.beta2) + fround(k.oneMinusBeta2 * fround(g * g)));
    let p = fround(param[i]! + fround(k.stepSize * fround(m[i]! / fround(fround(Math.sqrt(v[i]!)) + k.epsScaled))));
    if (k.decay !== null) p = fround(p * k.decay);
    param[i] = p;
  }
}
