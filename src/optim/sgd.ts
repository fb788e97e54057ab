// torch.optim.SGD (single-tensor form): weight decay added to the gradient, momentum buffer created as a
// copy of the first gradient, then buf ← μ·buf + (1 − dampening)·g, Nesterov's g + μ·buf, θ ← θ − lr·d.
// Float32 arithmetic element by element, as torch does on float32 tensors.

import { Tensor } from "../tensor/tensor.ts";
import { checkParams, restoreInto, zeroGrads, OptimizerStateError, type Optimizer, type OptimizerState, type StateSource } from "./optimizer.ts";

export interface SGDOptions {
  lr: number;
  momentum?: number;
  dampening?: number;
  nesterov?: boolean;
  weightDecay?: number;
}

const f = Math.fround;

export class SGD implements Optimizer {
  lr: number;
  readonly momentum: number;
  readonly dampening: number;
  readonly nesterov: boolean;
  readonly weightDecay: number;
  readonly params: readonly (readonly [string, Tensor])[];
  /** Momentum buffers, allocated once; `started[i]` says whether torch would have created it yet. */
  readonly #buf: (Float32Array | null)[];
  readonly #started: boolean[];

  constructor(params: readonly (readonly [string, Tensor])[], o: SGDOptions) {
    checkParams("SGD", params);
    this.lr = o.lr;
    this.momentum = o.momentum ?? 0;
    this.dampening = o.dampening ?? 0;
    this.nesterov = o.nesterov ?? false;
    this.weightDecay = o.weightDecay ?? 0;
    if (!(o.lr >= 0)) throw new Error(`SGD: lr must be >= 0, got ${o.lr}`);
    if (!(this.momentum >= 0)) throw new Error(`SGD: momentum must be >= 0, got ${this.momentum}`);
    if (this.nesterov && (this.momentum <= 0 || this.dampening !== 0)) throw new Error("SGD: Nesterov momentum requires a momentum and zero dampening");
    this.params = params;
    this.#buf = params.map(([, p]) => (this.momentum !== 0 ? new Float32Array(p.size) : null));
    this.#started = params.map(() => false);
  }

  step(): void {
    const { lr, momentum: mu, dampening, weightDecay: wd, nesterov } = this;
    this.params.forEach(([, p], i) => {
      if (!p.grad) return;
      const w = p.data as Float32Array;
      const g = p.grad.data;
      const buf = this.#buf[i];
      const first = !this.#started[i];
      this.#started[i] = true;
      for (let j = 0; j < w.length; j++) {
        let d = wd !== 0 ? f(g[j]! + f(wd * w[j]!)) : g[j]!;
        if (buf) {
          buf[j] = first ? d : f(f(buf[j]! * mu) + f((1 - dampening) * d));
          d = nesterov ? f(d + f(mu * buf[j]!)) : buf[j]!;
        }
        w[j] = f(w[j]! - f(lr * d));
      }
    });
  }

  zeroGrad(): void {
    zeroGrads(this.params);
  }

  state(): OptimizerState {
    const tensors: [string, Tensor<"float32">][] = [];
    this.params.forEach(([name, p], i) => {
      const b = this.#buf[i];
      if (b) tensors.push([`momentum_buffer.${name}`, Tensor.from("float32", b, p.shape)]);
    });
    const started = Object.fromEntries(this.params.map(([name], i) => [name, this.#started[i]!]));
    return {
      tensors,
      json: { type: "sgd", lr: this.lr, momentum: this.momentum, dampening: this.dampening, nesterov: this.nesterov, weight_decay: this.weightDecay, started },
    };
  }

  loadState(tensors: StateSource, json: Record<string, unknown>): void {
    if (json.type !== "sgd") throw new OptimizerStateError(`optimizer state is for "${String(json.type)}", not sgd`);
    const started = (json.started ?? {}) as Record<string, unknown>;
    this.params.forEach(([name], i) => {
      const b = this.#buf[i];
      if (b) restoreInto(b, tensors, `momentum_buffer.${name}`);
      this.#started[i] = started[name] === true;
    });
    if (typeof json.lr === "number") this.lr = json.lr;
  }
}
