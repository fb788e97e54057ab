// Phi-3 / Phi-4-mini: a Llama-shaped decoder whose q, k, v come from one fused qkv_proj and whose MLP's gate
// and up halves come from one gate_up_proj (LoRA adapts those fused layers, as PEFT sees them); partial
// rotary (partial_rotary_factor), longrope scaling and the sliding window live in the config, RoPE tables
// and attention kernel. The layers around these two parts are Llama's. Properties named as checkpoint keys.

import type { Tensor } from "../tensor/tensor.ts";
import * as ops from "../ops/index.ts";
import { Module, type Forward } from "../nn/index.ts";
import type { ModelConfig } from "./config.ts";
import { selfAttention, type ForwardContext } from "./causal-lm.ts";
import { LlamaForCausalLM, attentionShape, maxPosition, type LlamaParts } from "./llama.ts";
import type { RopeTables } from "./rope.ts";
import type { WeightSource } from "./weights.ts";

export class Phi3Attention extends Module {
  qkv_proj: Forward & Module;
  o_proj: Forward & Module;

  constructor(
    readonly cfg: ModelConfig,
    readonly layer: number,
    readonly rope: RopeTables,
    w: WeightSource,
    p: string,
  ) {
    super();
    const { hiddenSize: C, numHeads: nh, numKvHeads: nkv, headDim: hd } = cfg;
    this.qkv_proj = w.linear(`${p}.qkv_proj`, (nh + 2 * nkv) * hd, C, false);
    this.o_proj = w.linear(`${p}.o_proj`, C, nh * hd, false);
  }

  forward(x: Tensor, ctx: ForwardContext): Tensor {
    const { numHeads: nh, numKvHeads: nkv, headDim: hd } = this.cfg;
    const qkv = this.qkv_proj.forward(x); // (B·T, (nh + 2·nkv)·hd): q, then k, then v
    const [q0, k0, v] = ops.splitColumns(qkv, [nh * hd, nkv * hd, nkv * hd]);
    const table = this.rope.get(maxPosition(ctx.positions) + 1);
    const q = ops.rope(q0!, table, ctx.positions, nh);
    const k = ops.rope(k0!, table, ctx.positions, nkv);
    return this.o_proj.forward(selfAttention(q, k, v!, ctx, attentionShape(this.cfg, this.layer)));
  }
}

export class Phi3MLP extends Module {
  gate_up_proj: Forward & Module;
  down_proj: Forward & Module;

  constructor(cfg: ModelConfig, w: WeightSource, p: string) {
    super();
    const { hiddenSize: C, intermediateSize: I } = cfg;
    this.gate_up_proj = w.linear(`${p}.gate_up_proj`, 2 * I, C, false);
    this.down_proj = w.linear(`${p}.down_proj`, C, I, false);
  }

  forward(x: Tensor): Tensor {
    return this.down_proj.forward(ops.swigluHalves(this.gate_up_proj.forward(x))); // (B·T, 2I) → (B·T, I)
  }
}

const PHI3_PARTS: LlamaParts = {
  attention: (cfg, layer, rope, w, p) => new Phi3Attention(cfg, layer, rope, w, p),
  mlp: (cfg, w, p) => new Phi3MLP(cfg, w, p),
};

export class Phi3ForCausalLM extends LlamaForCausalLM {
  constructor(config: ModelConfig, w: WeightSource) {
    super(config, w, PHI3_PARTS);
  }
}
