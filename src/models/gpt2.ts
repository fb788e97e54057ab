// GPT-2: learned positions, LayerNorm, fused c_attn (q, k and v in one Conv1D), gelu_new, tied head.
// Conv1D stores weights [in, out]; the Linear keeps that layout (no transposed copy).

import type { Tensor } from "../tensor/tensor.ts";
import * as ops from "../ops/index.ts";
import { Module, Linear, Embedding, LayerNorm, type Forward } from "../nn/index.ts";
import type { ModelConfig } from "./config.ts";
import { CausalLM, selfAttention, type ForwardContext } from "./causal-lm.ts";
import type { WeightSource } from "./weights.ts";

export class GPT2Attention extends Module {
  c_attn: Forward & Module;
  c_proj: Forward & Module;

  constructor(
    readonly cfg: ModelConfig,
    readonly layer: number,
    w: WeightSource,
    p: string,
  ) {
    super();
    const C = cfg.hiddenSize;
    this.c_attn = w.linear(`${p}.c_attn`, 3 * C, C, true, "in_out");
    this.c_proj = w.linear(`${p}.c_proj`, C, C, true, "in_out");
  }

  forward(x: Tensor, ctx: ForwardContext): Tensor {
    const { numHeads: nh, headDim: hd, hiddenSize: C } = this.cfg;
    const qkv = this.c_attn.forward(x); // (B·T, 3C)
    const [q, k, v] = ops.splitColumns(qkv, [C, C, C]); // 3 × (B·T, C)
    const y = selfAttention(q!, k!, v!, ctx, { nh, nkv: nh, hd, layer: this.layer });
    return this.c_proj.forward(y);
  }
}

export class GPT2MLP extends Module {
  c_fc: Forward & Module;
  c_proj: Forward & Module;

  constructor(
    readonly cfg: ModelConfig,
    w: WeightSource,
    p: string,
  ) {
    super();
    this.c_fc = w.linear(`${p}.c_fc`, cfg.intermediateSize, cfg.hiddenSize, true, "in_out");
    this.c_proj = w.linear(`${p}.c_proj`, cfg.hiddenSize, cfg.intermediateSize, true, "in_out");
  }

  forward(x: Tensor): Tensor {
    const approximate = this.cfg.activation === "gelu" ? "none" : "tanh";
    return this.c_proj.forward(ops.gelu(this.c_fc.forward(x), approximate));
  }
}

export class GPT2Block extends Module {
  ln_1: LayerNorm;
  attn: GPT2Attention;
  ln_2: LayerNorm;
  mlp: GPT2MLP;

  constructor(cfg: ModelConfig, layer: number, w: WeightSource, p: string) {
    super();
    const C = cfg.hiddenSize;
    this.ln_1 = new LayerNorm(w.norm(`${p}.ln_1.weight`, C), w.norm(`${p}.ln_1.bias`, C), cfg.normEps);
    this.attn = new GPT2Attention(cfg, layer, w, `${p}.attn`);
    this.ln_2 = new LayerNorm(w.norm(`${p}.ln_2.weight`, C), w.norm(`${p}.ln_2.bias`, C), cfg.normEps);
    this.mlp = new GPT2MLP(cfg, w, `${p}.mlp`);
  }

  forward(x: Tensor, ctx: ForwardContext): Tensor {
    const h = ops.add(x, this.attn.forward(this.ln_1.forward(x), ctx));
    return ops.add(h, this.mlp.forward(this.ln_2.forward(h)));
  }
}

export class GPT2Model extends Module {
  wte: Embedding;
  wpe: Embedding;
  h: GPT2Block[];
  ln_f: LayerNorm;

  constructor(cfg: ModelConfig, w: WeightSource) {
    super();
    const C = cfg.hiddenSize;
    this.wte = new Embedding(w.embedding("transformer.wte.weight", cfg.vocabSize, C));
    this.wpe = new Embedding(w.embedding("transformer.wpe.weight", cfg.maxPositions, C));
    this.h = Array.from({ length: cfg.numLayers }, (_, i) => new GPT2Block(cfg, i, w, `transformer.h.${i}`));
    this.ln_f = new LayerNorm(w.norm("transformer.ln_f.weight", C), w.norm("transformer.ln_f.bias", C), cfg.normEps);
  }
}

export class GPT2LMHeadModel extends CausalLM {
  transformer: GPT2Model;
  lm_head: Forward & Module;

  constructor(
    readonly config: ModelConfig,
    w: WeightSource,
  ) {
    super();
    this.transformer = new GPT2Model(config, w);
    this.lm_head = config.tieWordEmbeddings ? new Linear(this.transformer.wte.weight) : w.head("lm_head", config.vocabSize, config.hiddenSize);
  }

  get head(): Forward {
    return this.lm_head;
  }

  protected body(ids: Int32Array, ctx: ForwardContext, hiddenStates: Tensor[] | null): Tensor {
    const n = ctx.B * ctx.T;
    const h = ops.add(this.transformer.wte.forward(ids, [n]), this.transformer.wpe.forward(ctx.positions, [n])); // (B·T, C)
    return this.decode(h, this.transformer.h, this.transformer.ln_f, ctx, hiddenStates);
  }
}
