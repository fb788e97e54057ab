// Llama-family decoders: Llama (SmolLM2, TinyLlama, Llama 3.x), Mistral (sliding window), Ministral (windowed
// and full layers), Qwen2/2.5 (q/k/v bias), Qwen3 (per-head q/k RMSNorm, explicit head_dim) and SmolLM3 (NoPE
// layers). Classes bottom-up,
// properties named as checkpoint keys. Phi-3 (phi3.ts) swaps in fused projections through LlamaParts;
// Gemma (gemma.ts) reuses the attention and the gated MLP.

import type { Tensor } from "../tensor/tensor.ts";
import * as ops from "../ops/index.ts";
import { Module, Linear, Embedding, RMSNorm, type Forward } from "../nn/index.ts";
import { layerWindow, type ModelConfig } from "./config.ts";
import { CausalLM, selfAttention, type AttentionShape, type DecoderLayer, type ForwardContext } from "./causal-lm.ts";
import { RopeTables } from "./rope.ts";
import type { WeightSource } from "./weights.ts";

/** Heads, scale (Gemma: query_pre_attn_scalar^−½), window and soft cap of layer `layer`'s attention. */
export function attentionShape(cfg: ModelConfig, layer: number): AttentionShape {
  const { numHeads: nh, numKvHeads: nkv, headDim: hd } = cfg;
  return {
    nh,
    nkv,
    hd,
    layer,
    scale: 1 / Math.sqrt(cfg.queryPreAttnScalar ?? hd),
    window: layerWindow(cfg, layer),
    softcap: cfg.attnLogitSoftcapping ?? null,
  };
}

export class LlamaAttention extends Module {
  q_proj: Forward & Module;
  k_proj: Forward & Module;
  v_proj: Forward & Module;
  o_proj: Forward & Module;
  q_norm: RMSNorm | null;
  k_norm: RMSNorm | null;
  /** SmolLM3's NoPE layers attend without rotary embeddings. */
  private readonly useRope: boolean;

  /** normOffset: the q/k norms scale by (offset + w) (Gemma 3: 1). */
  constructor(
    readonly cfg: ModelConfig,
    readonly layer: number,
    readonly rope: RopeTables,
    w: WeightSource,
    p: string,
    normOffset = 0,
  ) {
    super();
    const { hiddenSize: C, numHeads: nh, numKvHeads: nkv, headDim: hd } = cfg;
    this.q_proj = w.linear(`${p}.q_proj`, nh * hd, C, cfg.qkvBias);
    this.k_proj = w.linear(`${p}.k_proj`, nkv * hd, C, cfg.qkvBias);
    this.v_proj = w.linear(`${p}.v_proj`, nkv * hd, C, cfg.qkvBias);
    this.o_proj = w.linear(`${p}.o_proj`, C, nh * hd, cfg.oBias);
    this.q_norm = cfg.qkNorm ? new RMSNorm(w.norm(`${p}.q_norm.weight`, hd), cfg.normEps, normOffset) : null;
    this.k_norm = cfg.qkNorm ? new RMSNorm(w.norm(`${p}.k_norm.weight`, hd), cfg.normEps, normOffset) : null;
    this.useRope = cfg.ropeLayers?.[layer] ?? true;
  }

  forward(x: Tensor, ctx: ForwardContext): Tensor {
    const { numHeads: nh, numKvHeads: nkv, headDim: hd } = this.cfg;
    let q = this.q_proj.forward(x); // (B·T, nh·hd)
    let k = this.k_proj.forward(x); // (B·T, nkv·hd)
    const v = this.v_proj.forward(x); // (B·T, nkv·hd)
    if (this.q_norm && this.k_norm) {
      // Qwen3 and Gemma 3 normalise each head's vector: view as (B·T·heads, hd) rows.
      q = ops.reshape(this.q_norm.forward(ops.reshape(q, [-1, hd])), q.shape);
      k = ops.reshape(this.k_norm.forward(ops.reshape(k, [-1, hd])), k.shape);
    }
    if (this.useRope) {
      const table = this.rope.get(maxPosition(ctx.positions) + 1);
      q = ops.rope(q, table, ctx.positions, nh);
      k = ops.rope(k, table, ctx.positions, nkv);
    }
    const y = selfAttention(q, k, v, ctx, attentionShape(this.cfg, this.layer)); // (B·T, nh·hd)
    return this.o_proj.forward(y);
  }
}

/** down(act(gate(x)) · up(x)): SiLU (SwiGLU) for Llama, GELU (tanh or erf) for Gemma. */
export class LlamaMLP extends Module {
  gate_proj: Forward & Module;
  up_proj: Forward & Module;
  down_proj: Forward & Module;

  constructor(
    readonly cfg: ModelConfig,
    w: WeightSource,
    p: string,
  ) {
    super();
    const { hiddenSize: C, intermediateSize: I } = cfg;
    this.gate_proj = w.linear(`${p}.gate_proj`, I, C, cfg.mlpBias);
    this.up_proj = w.linear(`${p}.up_proj`, I, C, cfg.mlpBias);
    this.down_proj = w.linear(`${p}.down_proj`, C, I, cfg.mlpBias);
  }

  forward(x: Tensor): Tensor {
    const gate = this.gate_proj.forward(x);
    const up = this.up_proj.forward(x);
    const act = this.cfg.activation;
    const h = act === "silu" ? ops.swiglu(gate, up) : ops.geglu(gate, up, act === "gelu" ? "none" : "tanh");
    return this.down_proj.forward(h);
  }
}

/** The attention and MLP a Llama-shaped decoder layer is built from (Phi-3 fuses their projections). */
export interface LlamaParts {
  attention(cfg: ModelConfig, layer: number, rope: RopeTables, w: WeightSource, p: string): Module & DecoderLayer;
  mlp(cfg: ModelConfig, w: WeightSource, p: string): Module & Forward;
}

export const LLAMA_PARTS: LlamaParts = {
  attention: (cfg, layer, rope, w, p) => new LlamaAttention(cfg, layer, rope, w, p),
  mlp: (cfg, w, p) => new LlamaMLP(cfg, w, p),
};

export class LlamaDecoderLayer extends Module {
  input_layernorm: RMSNorm;
  self_attn: Module & DecoderLayer;
  post_attention_layernorm: RMSNorm;
  mlp: Module & Forward;

  constructor(cfg: ModelConfig, layer: number, rope: RopeTables, w: WeightSource, p: string, parts: LlamaParts) {
    super();
    this.input_layernorm = new RMSNorm(w.norm(`${p}.input_layernorm.weight`, cfg.hiddenSize), cfg.normEps);
    this.self_attn = parts.attention(cfg, layer, rope, w, `${p}.self_attn`);
    this.post_attention_layernorm = new RMSNorm(w.norm(`${p}.post_attention_layernorm.weight`, cfg.hiddenSize), cfg.normEps);
    this.mlp = parts.mlp(cfg, w, `${p}.mlp`);
  }

  forward(x: Tensor, ctx: ForwardContext): Tensor {
    const h = ops.add(x, this.self_attn.forward(this.input_layernorm.forward(x), ctx));
    return ops.add(h, this.mlp.forward(this.post_attention_layernorm.forward(h)));
  }
}

export class LlamaModel extends Module {
  embed_tokens: Embedding;
  layers: LlamaDecoderLayer[];
  norm: RMSNorm;

  constructor(cfg: ModelConfig, w: WeightSource, parts: LlamaParts) {
    super();
    const rope = new RopeTables(cfg);
    this.embed_tokens = new Embedding(w.embedding("model.embed_tokens.weight", cfg.vocabSize, cfg.hiddenSize));
    this.layers = Array.from({ length: cfg.numLayers }, (_, i) => new LlamaDecoderLayer(cfg, i, rope, w, `model.layers.${i}`, parts));
    this.norm = new RMSNorm(w.norm("model.norm.weight", cfg.hiddenSize), cfg.normEps);
  }
}

export class LlamaForCausalLM extends CausalLM {
  model: LlamaModel;
  lm_head: Forward & Module;

  constructor(
    readonly config: ModelConfig,
    w: WeightSource,
    parts: LlamaParts = LLAMA_PARTS,
  ) {
    super();
    this.model = new LlamaModel(config, w, parts);
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

export function maxPosition(positions: Int32Array): number {
  let m = 0;
  for (const p of positions) if (p > m) m = p;
  return m;
}
