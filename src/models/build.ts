// Architecture → model class. Mistral, Ministral, Qwen2, Qwen3 and SmolLM3 are Llama-family decoders with config switches;
// Gemma 2 and 3 share one family file.

import type { ModelConfig } from "./config.ts";
import type { CausalLM } from "./causal-lm.ts";
import { LlamaForCausalLM } from "./llama.ts";
import { GPT2LMHeadModel } from "./gpt2.ts";
import { GemmaForCausalLM } from "./gemma.ts";
import { Phi3ForCausalLM } from "./phi3.ts";
import type { WeightSource } from "./weights.ts";

export function buildModel(config: ModelConfig, weights: WeightSource): CausalLM {
  switch (config.architecture) {
    case "LlamaForCausalLM":
    case "MistralForCausalLM":
    case "MinistralForCausalLM":
    case "Qwen2ForCausalLM":
    case "Qwen3ForCausalLM":
    case "SmolLM3ForCausalLM":
      return new LlamaForCausalLM(config, weights);
    case "Gemma2ForCausalLM":
    case "Gemma3ForCausalLM":
    case "Gemma3ForConditionalGeneration":
      return new GemmaForCausalLM(config, weights);
    case "Phi3ForCausalLM":
      return new Phi3ForCausalLM(config, weights);
    case "GPT2LMHeadModel":
      return new GPT2LMHeadModel(config, weights);
  }
}
