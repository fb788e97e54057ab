// Gemma 2 and Gemma 3 (text): embeddings × √hidden, RMSNorm scaling by (1 + w), norms before and after both
// attention and MLP, a GELU-tanh gated MLP, scores scaled by query_pre_attn_scalar^−½, interleaved
// sliding-window and global layers; Gemma 2 soft-caps attention scores (and, in CausalLM, the logits);
// Gemma 3 normalises q and k per head and gives its local layers their own RoPE base. Tied embeddings. The
// attention and the gated MLP are Llama's (llama.ts), driven by the config.
// Gemma3ForConditionalGeneration checkpoints hold the same text model under model.language_model (older
// files: language_model.model); only the text model is built. Classes bottom-up, properties = checkpoint keys.

import type { Tensor } from "../tensor/tensor.ts";
import { bf16ToF32, f32ToBf16 } from "../tensor/dtype.ts";
import * as ops from "../ops/index.ts";
import { Module, Linear, Embedding, RMSNorm, type Forward } from "../nn/index.ts";
import type { ModelConfig } from "./config.ts";
import { CausalLM, type ForwardContext } from "./causal-lm.ts";
import { LlamaAttention, LlamaMLP } from "./llama.ts";
import { RopeTables, ropeSpec } from "./rope.ts";
import type { WeightSource } from "./weights.ts";

/** Gemma's RMSNorm: stored w, scaling by (1 + w) in float32. */
function gemmaNorm(w: WeightSource, name: string, size: number, eps: number): RMSNorm {
  return new RMSNorm(w.norm(name, size), eps, 1);
}

export class GemmaDecoderLayer extends Module {
  input_layernorm: RMSNorm;
  self_attn: LlamaAttention;
  post_attention_layernorm: RMSNorm;
  pre_feedforward_layernorm: RMSNorm;
  mlp: LlamaMLP;
  post_feedforward_layernorm: RMSNorm;

  constructor(cfg: ModelConfig, layer: number, rope: RopeTables, w: WeightSource, p: string) {
    super();
    const C = cfg.hiddenSize;
    this.input_layernorm = gemmaNorm(w, `${p}.input_layernorm.weight`, C, cfg.normEps);
    this.self_attn = new LlamaAttention(cfg, layer, rope, w, `${p}.self_attn`, 1);
    this.post_attention_layernorm = gemmaNorm(w, `${p}.post_attention_layernorm.weight`, C, cfg.normEps);
    this.pre_feedforward_layernorm = gemmaNorm(w, `${p}.pre_feedforward_layernorm.weight`, C, cfg.normEps);
    this.mlp = new LlamaMLP(cfg, w, `${p}.mlp`);
    this.post_feedforward_layernorm = gemmaNorm(w, `${p}.post_feedforward_layernorm.weight`, C, cfg.normEps);
  }

  forward(x: Tensor, ctx: ForwardContext): Tensor {
    const h = ops.add(x, this.post_attention_layernorm.forward(this.self_attn.forward(this.input_layernorm.forward(x), ctx)));
    return ops.add(h, this.post_feedforward_layernorm.forward(this.mlp.forward(this.pre_feedforward_layernorm.forward(h))));
  }
}

export class GemmaModel extends Module {
  embed_tokens: Embedding;
  layers: GemmaDecoderLayer[];
  norm: RMSNorm;

  constructor(cfg: ModelConfig, w: WeightSource, p: string) {
    super();
    // Local layers have their own RoPE only where the config gives them one (Gemma 3).
    const global = new RopeTables(ropeSpec(cfg, "full_attention"));
    const local = cfg.localRope ? new RopeTables(ropeSpec(cfg, "sliding_attention")) : global;
    this.embed_tokens = new Embedding(w.embedding(`${p}.embed_tokens.weight`, cfg.vocabSize, cfg.hiddenSize));
    this.layers = Array.from({ length: cfg.numLayers }, (_, i) => {
      const rope = cfg.layerTypes?.[i] === "sliding_attention" ? local : global;
      return new GemmaDecoderLayer(cfg, i, rope, w, `${p}.layers.${i}`);
    });
    this.norm = gemmaNorm(w, `${p}.norm.weight`, cfg.hiddenSize, cfg.normEps);
  }

  /**
   * √hidden rounded to the embedding's dtype, as transformers rounds its normalizer to the hidden states'
   * dtype (bf16 turns √2304 = 48 into 48, but √640 = 25.298 into 25.25).
   */
  embedScale(): number {
    const w = this.embed_tokens.weight;
    const s = Math.fround(Math.sqrt(w.shape[1]!));
    // a quantized table (--quantize-embeddings) has no float dtype: its rows come out in float32
    return "dtype" in w && w.dtype === "bfloat16" ? bf16ToF32(f32ToBf16(s)) : s;
  }
}

/** Gemma3ForConditionalGeneration's `model`: the text model as `language_model` (no vision tower). */
export class Gemma3Model extends Module {
  language_model: GemmaModel;

  constructor(cfg: ModelConfig, w: WeightSource) {
    super();
    this.language_model = new GemmaModel(cfg, w, "model.language_model");
  }
}

export class GemmaForCausalLM extends CausalLM {
  model: GemmaModel | Gemma3Model;
  lm_head: Forward & Module;

  constructor(
    readonly config: ModelConfig,
    w: WeightSource,
  ) {
    super();
    this.model = config.architecture === "Gemma3ForConditionalGeneration" ? new Gemma3Model(config, w) : new GemmaModel(config, w, "model");
    this.lm_head = config.tieWordEmbeddings ? new Linear(this.text.embed_tokens.weight) : w.head("lm_head", config.vocabSize, config.hiddenSize);
  }

  /** The decoder, wherever the checkpoint's class keeps it. */
  get text(): GemmaModel {
    return this.model instanceof Gemma3Model ? this.model.language_model : this.model;
  }

  get head(): Forward {
    return this.lm_head;
  }

  protected body(ids: Int32Array, ctx: ForwardContext, hiddenStates: Tensor[] | null): Tensor {
    const m = this.text;
    const h = ops.scale(m.embed_tokens.forward(ids, [ctx.B * ctx.T]), m.embedScale()); // (B·T, C)
    return this.decode(h, m.layers, m.norm, ctx, hiddenStates);
  }
}
