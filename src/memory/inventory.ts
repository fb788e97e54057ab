// What a model holds, by kind, read from its config alone (no weights): the linear layers of one decoder
// layer (where LoRA attaches and what QLoRA quantizes), the norm parameters, embeddings and output head.
// Names are module paths inside a layer, as the model files name them (`self_attn.q_proj`, `mlp.c_fc`).

import type { ModelConfig } from "../models/config.ts";

export interface LinearShape {
  /** Module path inside a decoder layer, e.g. "self_attn.q_proj". */
  name: string;
  inF: number;
  outF: number;
  bias: boolean;
}

export interface ModelInventory {
  numLayers: number;
  /** The linear layers of one decoder layer. */
  layerLinears: LinearShape[];
  /** Norm weights (and LayerNorm biases) of one decoder layer; always float32. */
  layerNormParams: number;
  /** Token embeddings, plus GPT-2's learned positions. */
  embeddingParams: number;
  /** The untied output head; 0 when it shares the token embedding. */
  headParams: number;
  finalNormParams: number;
}

function llamaLinears(c: ModelConfig): LinearShape[] {
  const { hiddenSize: C, intermediateSize: I, numHeads: nh, numKvHeads: nkv, headDim: hd } = c;
  return [
    { name: "self_attn.q_proj", inF: C, outF: nh * hd, bias: c.qkvBias },
    { name: "self_attn.k_proj", inF: C, outF: nkv * hd, bias: c.qkvBias },
    { name: "self_attn.v_proj", inF: C, outF: nkv * hd, bias: c.qkvBias },
    { name: "self_attn.o_proj", inF: nh * hd, outF: C, bias: c.oBias },
    { name: "mlp.gate_proj", inF: C, outF: I, bias: c.mlpBias },
    { name: "mlp.up_proj", inF: C, outF: I, bias: c.mlpBias },
    { name: "mlp.down_proj", inF: I, outF: C, bias: c.mlpBias },
  ];
}

function phi3Linears(c: ModelConfig): LinearShape[] {
  const { hiddenSize: C, intermediateSize: I, numHeads: nh, numKvHeads: nkv, headDim: hd } = c;
  return [
    { name: "self_attn.qkv_proj", inF: C, outF: (nh + 2 * nkv) * hd, bias: false },
    { name: "self_attn.o_proj", inF: nh * hd, outF: C, bias: false },
    { name: "mlp.gate_up_proj", inF: C, outF: 2 * I, bias: false },
    { name: "mlp.down_proj", inF: I, outF: C, bias: false },
  ];
}

/** Which model file's layer a config builds (the activation count follows its ops). */
export type Family = "llama" | "gemma" | "phi3" | "gpt2";

export function familyOf(c: ModelConfig): Family {
  if (c.architecture === "GPT2LMHeadModel") return "gpt2";
  if (c.architecture === "Phi3ForCausalLM") return "phi3";
  if (c.architecture.startsWith("Gemma")) return "gemma";
  return "llama";
}

function gpt2Linears(c: ModelConfig): LinearShape[] {
  const { hiddenSize: C, intermediateSize: I } = c;
  return [
    { name: "attn.c_attn", inF: C, outF: 3 * C, bias: true },
    { name: "attn.c_proj", inF: C, outF: C, bias: true },
    { name: "mlp.c_fc", inF: C, outF: I, bias: true },
    { name: "mlp.c_proj", inF: I, outF: C, bias: true },
  ];
}

export function modelInventory(c: ModelConfig): ModelInventory {
  const C = c.hiddenSize;
  const family = familyOf(c);
  const gpt2 = family === "gpt2";
  const qkNorms = c.qkNorm ? 2 * c.headDim : 0;
  return {
    numLayers: c.numLayers,
    layerLinears: gpt2 ? gpt2Linears(c) : family === "phi3" ? phi3Linears(c) : llamaLinears(c),
    // GPT-2: ln_1 and ln_2 with weight and bias; Llama, Phi-3: two RMSNorm weights; Gemma: four; plus the
    // q/k head norms of Qwen3 and Gemma 3.
    layerNormParams: gpt2 ? 4 * C : (family === "gemma" ? 4 * C : 2 * C) + qkNorms,
    embeddingParams: c.vocabSize * C + (gpt2 ? c.maxPositions * C : 0),
    headParams: c.tieWordEmbeddings ? 0 : c.vocabSize * C,
    finalNormParams: gpt2 ? 2 * C : C,
  };
}

/** Parameters of the base model (a tied head counted once, as the model holds it once). */
export function baseParameterCount(inv: ModelInventory): number {
  const perLayer = inv.layerNormParams + inv.layerLinears.reduce((s, l) => s + l.inF * l.outF + (l.bias ? l.outF : 0), 0);
  return inv.numLayers * perLayer + inv.embeddingParams + inv.headParams + inv.finalNormParams;
}
