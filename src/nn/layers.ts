// The layers a decoder LLM is built from. Each forward is one op from src/ops.

import { Tensor } from "../tensor/tensor.ts";
import * as ops from "../ops/index.ts";
import type { LinearWeight, WeightLayout } from "../ops/index.ts";
import { Module } from "./module.ts";

/** A module that maps activations to activations (what adapters can wrap). */
export interface Forward {
  forward(x: Tensor): Tensor;
}

export class Linear extends Module implements Forward {
  weight: LinearWeight;
  bias: Tensor | null;
  /** "out_in" for nn.Linear; "in_out" for GPT-2's Conv1D, whose weight is stored transposed. */
  readonly layout: WeightLayout;

  constructor(weight: LinearWeight, bias: Tensor | null = null, layout: WeightLayout = "out_in") {
    super();
    this.weight = weight;
    this.bias = bias;
    this.layout = layout;
  }

  get inFeatures(): number {
    return this.weight.shape[this.layout === "out_in" ? 1 : 0]!;
  }

  get outFeatures(): number {
    return this.weight.shape[this.layout === "out_in" ? 0 : 1]!;
  }

  forward(x: Tensor): Tensor {
    return ops.linear(x, this.weight, this.bias, { layout: this.layout });
  }
}

export class Embedding extends Module {
  /** float32 or bf16; int8 / NF4 when the base's embeddings are quantized (frozen). */
  constructor(public weight: LinearWeight) {
    super();
  }

  forward(ids: Int32Array, shape: readonly number[]): Tensor {
    return ops.embedding(ids, this.weight, shape);
  }
}

export class RMSNorm extends Module implements Forward {
  constructor(
    public weight: Tensor,
    readonly eps: number,
    /** Scales by weight + offset: Gemma stores w and scales by (1 + w). */
    readonly offset = 0,
  ) {
    super();
  }

  forward(x: Tensor): Tensor {
    return ops.rmsNorm(x, this.weight, this.eps, this.offset);
  }
}

export class LayerNorm extends Module implements Forward {
  constructor(
    public weight: Tensor,
    public bias: Tensor,
    readonly eps: number,
  ) {
    super();
  }

  forward(x: Tensor): Tensor {
    return ops.layerNorm(x, this.weight, this.bias, this.eps);
  }
}
