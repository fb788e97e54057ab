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
  /** Sizes of one decoder layer's norm weights (and LayerNorm biases); always float32. */
  layerNorms: number[];
  /** Sizes of the token embedding, and of GPT-2's learned positions. */
  embeddings: number[];
  /** The untied output head; 0 when it shares the token embedding. */
  headParams: number;
  /** Sizes of the final norm's weight (and bias). */
  finalNorms: number[];
}

export function sum(sizes: readonly number[]): number {
  return sizes.reduce((s, n) => s + n, 0);
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
  return {
    numLayers: c.numLayers,
    layerLinears: gpt2 ? gpt2Linears(c) : family === "phi3" ? phi3Linears(c) : llamaLinears(c),
    // GPT-2: ln_1 and ln_2 with weight and bias; Llama, Phi-3: two RMSNorm weights; Gemma: four; plus the
    // q/k head norms of Qwen3 and Gemma 3.
    layerNorms: gpt2 ? [C, C, C, C] : [...(family === "gemma" ? [C, C, C, C] : [C, C]), ...(c.qkNorm ? [c.headDim, c.headDim] : [])],
    embeddings: gpt2 ? [c.vocabSize * C, c.maxPositions * C] : [c.vocabSize * C],
    headParams: c.tieWordEmbeddings ? 0 : c.vocabSize * C,
    finalNorms: gpt2 ? [C, C] : [C],
  };
}

/** Sizes of every tensor full fine-tuning trains (each its own optimizer state). */
export function parameterTensors(inv: ModelInventory): number[] {
  const layer = [...inv.layerLinears.flatMap((l) => (l.bias ? [l.inF * l.outF, l.outF] : [l.inF * l.outF])), ...inv.layerNorms];
  const layers = Array.from({ length: inv.numLayers }, () => layer).flat();
  return [...inv.embeddings, ...layers, ...inv.finalNorms, ...(inv.headParams > 0 ? [inv.headParams] : [])];
}

/** Parameters of the base model (a tied head counted once, as the model holds it once). */
export function baseParameterCount(inv: ModelInventory): number {
  return sum(parameterTensors(inv));
}
