// Phi-3 / Phi-4-mini: a Llama-shaped decoder whose q, k, v come from one fused qkv_proj and whose MLP's gate
// and up halves come from one gate_up_proj (LoRA adapts those fused layers, as PEFT sees them); partial
// rotary (partial_rotary_factor) and longrope scaling live in the RoPE tables. Classes bottom-up,
// properties named as checkpoint keys.

import type { Tensor } from "../tensor/tensor.ts";
import * as ops from "../ops/index.ts";
import { Module, Linear, Embedding, RMSNorm, type Forward } from "../nn/index.ts";
import { layerWindow, type ModelConfig } from "./config.ts";
import { CausalLM, selfAttention, type ForwardContext } from "./causal-lm.ts";
import { maxPosition } from "./llama.ts";
import { RopeTables } from "./rope.ts";
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
    const y = selfAttention(q, k, v!, ctx, { nh, nkv, hd, layer: this.layer, window: layerWindow(this.cfg, this.layer) });
    return this.o_proj.forward(y);
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

export class Phi3DecoderLayer extends Module {
  input_layernorm: RMSNorm;
  self_attn: Phi3Attention;
  post_attention_layernorm: RMSNorm;
  mlp: Phi3MLP;

  constructor(cfg: ModelConfig, layer: number, rope: RopeTables, w: WeightSource, p: string) {
    super();
    this.input_layernorm = new RMSNorm(w.norm(`${p}.input_layernorm.weight`, cfg.hiddenSize), cfg.normEps);
    this.self_attn = new Phi3Attention(cfg, layer, rope, w, `${p}.self_attn`);
    this.post_attention_layernorm = new RMSNorm(w.norm(`${p}.post_attention_layernorm.weight`, cfg.hiddenSize), cfg.normEps);
    this.mlp = new Phi3MLP(cfg, w, `${p}.mlp`);
  }

  forward(x: Tensor, ctx: ForwardContext): Tensor {
    const h = ops.add(x, this.self_attn.forward(this.input_layernorm.forward(x), ctx));
    return ops.add(h, this.mlp.forward(this.post_attention_layernorm.forward(h)));
  }
}

export class Phi3Model extends Module {
  embed_tokens: Embedding;
  layers: Phi3DecoderLayer[];
  norm: RMSNorm;

  constructor(cfg: ModelConfig, w: WeightSource) {
    super();
    const rope = new RopeTables(cfg);
    this.embed_tokens = new Embedding(w.embedding("model.embed_tokens.weight", cfg.vocabSize, cfg.hiddenSize));
    this.layers = Array.from({ length: cfg.numLayers }, (_, i) => new Phi3DecoderLayer(cfg, i, rope, w, `model.layers.${i}`));
    this.norm = new RMSNorm(w.norm("model.norm.weight", cfg.hiddenSize), cfg.normEps);
  }
}

export class Phi3ForCausalLM extends CausalLM {
  model: Phi3Model;
  lm_head: Forward & Module;

  constructor(
    readonly config: ModelConfig,
    w: WeightSource,
  ) {
    super();
    this.model = new Phi3Model(config, w);
    this.lm_head = config.tieWordEmbeddings ? new Linear(this.model.embed_tokens.weight) : w.head("lm_head", config.vocabSize, config.hiddenSize);
  }

  get head(): Forward {
    return this.lm_head;
  }

  protected body(ids: Int32Array, ctx: ForwardContext, hiddenStates: Tensor[] | null): Tensor {
    const h = this.model.embed_tokens.forward(ids, [ctx.B * ctx.T]); // (B·T, C)
    return this.decode(h, this.model.layers, this.model.norm, ctx, hiddenStates);
  }
}
