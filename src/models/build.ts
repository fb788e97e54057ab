// Architecture → model class. Mistral, Qwen2 and Qwen3 are Llama-family decoders with config switches.

import type { ModelConfig } from "./config.ts";
import type { CausalLM } from "./causal-lm.ts";
import { LlamaForCausalLM } from "./llama.ts";
import { GPT2LMHeadModel } from "./gpt2.ts";
import type { WeightSource } from "./weights.ts";

export function buildModel(config: ModelConfig, weights: WeightSource): CausalLM {
  switch (config.architecture) {
    case "LlamaForCausalLM":
    case "MistralForCausalLM":
    case "Qwen2ForCausalLM":
    case "Qwen3ForCausalLM":
      return new LlamaForCausalLM(config, weights);
    case "GPT2LMHeadModel":
      return new GPT2LMHeadModel(config, weights);
  }
}
