// Model shapes used by `peft-ts bench train` and `peft-ts estimate`, as config.json objects (transformers 4
// style), so they go through parseConfig like any downloaded checkpoint. The shapes match the PyTorch peer's
// presets (bench/torch_lora_bench.py), so the two benchmarks compare like with like; unlike the peer,
// qwen2.5-0.5b keeps Qwen2's q/k/v biases, as the real checkpoint has them.

import { parseConfig, ConfigError, type ModelConfig } from "./config.ts";

type ConfigJson = Record<string, unknown>;

function llamaShape(shape: ConfigJson): ConfigJson {
  return {
    architectures: ["LlamaForCausalLM"],
    model_type: "llama",
    hidden_act: "silu",
    max_position_embeddings: 8192,
    rms_norm_eps: 1e-5,
    rope_theta: 10000.0,
    torch_dtype: "float32",
    ...shape,
  };
}

/** Qwen2/2.5 as published: vocabulary 151,936, q/k/v biases, no sliding window in use, bf16 weights. */
function qwen2Shape(shape: ConfigJson): ConfigJson {
  return {
    architectures: ["Qwen2ForCausalLM"],
    model_type: "qwen2",
    hidden_act: "silu",
    vocab_size: 151936,
    rms_norm_eps: 1e-6,
    rope_theta: 1000000.0,
    use_sliding_window: false,
    bos_token_id: 151643,
    eos_token_id: 151643,
    torch_dtype: "bfloat16",
    ...shape,
  };
}

/** Meta-Llama-3-8B's shape; Llama 3.1 8B is the same with llama3 RoPE scaling to 128K positions. */
const LLAMA3_8B: ConfigJson = {
  vocab_size: 128256,
  hidden_size: 4096,
  intermediate_size: 14336,
  num_hidden_layers: 32,
  num_attention_heads: 32,
  num_key_value_heads: 8,
  tie_word_embeddings: false,
  rope_theta: 500000.0,
  torch_dtype: "bfloat16",
};

/** Mistral 7B as published: Llama 3 8B's layer shapes; the versions differ in vocabulary, RoPE base and window. */
function mistralShape(shape: ConfigJson): ConfigJson {
  return llamaShape({
    ...LLAMA3_8B,
    architectures: ["MistralForCausalLM"],
    model_type: "mistral",
    max_position_embeddings: 32768,
    bos_token_id: 1,
    eos_token_id: 2,
    ...shape,
  });
}

export const PRESETS: Record<string, ConfigJson> = {
  /** A toy Llama for fast iteration (7.1M parameters). */
  tiny: llamaShape({
    vocab_size: 8192,
    hidden_size: 256,
    intermediate_size: 688,
    num_hidden_layers: 4,
    num_attention_heads: 8,
    num_key_value_heads: 4,
    tie_word_embeddings: false,
  }),
  /** HuggingFaceTB/SmolLM2-135M (134.5M parameters, tied embeddings). */
  "smollm2-135m": llamaShape({
    vocab_size: 49152,
    hidden_size: 576,
    intermediate_size: 1536,
    num_hidden_layers: 30,
    num_attention_heads: 9,
    num_key_value_heads: 3,
    tie_word_embeddings: true,
    rope_theta: 100000.0,
    bos_token_id: 0,
    eos_token_id: 0,
  }),
  // Shapes people name when they ask what fine-tuning would cost, as their published config.json files
  // give them (the parameter count in each comment is the checkpoint's, checked in test/models/presets.test.ts).
  /** TinyLlama/TinyLlama-1.1B (1.10B parameters). */
  "tinyllama-1.1b": llamaShape({
    vocab_size: 32000,
    hidden_size: 2048,
    intermediate_size: 5632,
    num_hidden_layers: 22,
    num_attention_heads: 32,
    num_key_value_heads: 4,
    tie_word_embeddings: false,
    max_position_embeddings: 2048,
    bos_token_id: 1,
    eos_token_id: 2,
  }),
  /** meta-llama/Llama-3.2-1B (1.24B parameters, tied embeddings, llama3 RoPE scaling). */
  "llama3.2-1b": llamaShape({
    vocab_size: 128256,
    hidden_size: 2048,
    intermediate_size: 8192,
    num_hidden_layers: 16,
    num_attention_heads: 32,
    num_key_value_heads: 8,
    head_dim: 64,
    tie_word_embeddings: true,
    max_position_embeddings: 131072,
    rope_theta: 500000.0,
    rope_scaling: { rope_type: "llama3", factor: 32.0, high_freq_factor: 4.0, low_freq_factor: 1.0, original_max_position_embeddings: 8192 },
    bos_token_id: 128000,
    eos_token_id: 128001,
    torch_dtype: "bfloat16",
  }),
  /** meta-llama/Llama-2-7b-hf (6.74B parameters, no grouped-query attention). */
  "llama2-7b": llamaShape({
    vocab_size: 32000,
    hidden_size: 4096,
    intermediate_size: 11008,
    num_hidden_layers: 32,
    num_attention_heads: 32,
    num_key_value_heads: 32,
    tie_word_embeddings: false,
    max_position_embeddings: 4096,
    bos_token_id: 1,
    eos_token_id: 2,
    torch_dtype: "float16",
  }),
  /** mistralai/Mistral-7B-v0.3 (7.25B parameters, no sliding window). */
  "mistral-7b": mistralShape({ vocab_size: 32768, head_dim: 128, rope_theta: 1000000.0, sliding_window: null }),
  /** mistralai/Mistral-7B-v0.1 (7.24B parameters, 4096-token sliding window). */
  "mistral-7b-v0.1": mistralShape({ vocab_size: 32000, rope_theta: 10000.0, sliding_window: 4096 }),
  /** Qwen/Qwen2.5-7B (7.62B parameters, untied head, q/k/v biases). */
  "qwen2.5-7b": {
    architectures: ["Qwen2ForCausalLM"],
    model_type: "qwen2",
    hidden_act: "silu",
    vocab_size: 152064,
    hidden_size: 3584,
    intermediate_size: 18944,
    num_hidden_layers: 28,
    num_attention_heads: 28,
    num_key_value_heads: 4,
    tie_word_embeddings: false,
    max_position_embeddings: 131072,
    rms_norm_eps: 1e-6,
    rope_theta: 1000000.0,
    use_sliding_window: false,
    sliding_window: 131072,
    bos_token_id: 151643,
    eos_token_id: 151643,
    torch_dtype: "bfloat16",
  },
  /** meta-llama/Llama-3.1-8B (8.03B parameters, llama3 RoPE scaling to 128K positions). */
  "llama3.1-8b": llamaShape({
    ...LLAMA3_8B,
    max_position_embeddings: 131072,
    rope_scaling: { rope_type: "llama3", factor: 8.0, high_freq_factor: 4.0, low_freq_factor: 1.0, original_max_position_embeddings: 8192 },
    bos_token_id: 128000,
    eos_token_id: 128001,
  }),
  /** Qwen/Qwen2.5-0.5B (494M parameters, tied embeddings, q/k/v biases). */
  "qwen2.5-0.5b": {
    architectures: ["Qwen2ForCausalLM"],
    model_type: "qwen2",
    hidden_act: "silu",
    vocab_size: 151936,
    hidden_size: 896,
    intermediate_size: 4864,
    num_hidden_layers: 24,
    num_attention_heads: 14,
    num_key_value_heads: 2,
    tie_word_embeddings: true,
    max_position_embeddings: 32768,
    rms_norm_eps: 1e-6,
    rope_theta: 1000000.0,
    use_sliding_window: false,
    sliding_window: 32768,
    bos_token_id: 151643,
    eos_token_id: 151643,
    torch_dtype: "float32",
  },
  /** Qwen/Qwen2.5-1.5B (1.54B parameters, tied embeddings, q/k/v biases). */
  "qwen2.5-1.5b": qwen2Shape({
    hidden_size: 1536,
    intermediate_size: 8960,
    num_hidden_layers: 28,
    num_attention_heads: 12,
    num_key_value_heads: 2,
    tie_word_embeddings: true,
    max_position_embeddings: 131072,
    sliding_window: 131072,
  }),
  /** Qwen/Qwen2.5-3B (3.09B parameters, tied embeddings, q/k/v biases). */
  "qwen2.5-3b": qwen2Shape({
    hidden_size: 2048,
    intermediate_size: 11008,
    num_hidden_layers: 36,
    num_attention_heads: 16,
    num_key_value_heads: 2,
    tie_word_embeddings: true,
    max_position_embeddings: 32768,
    sliding_window: 32768,
  }),
  /** meta-llama/Llama-3.2-3B (3.21B parameters, tied embeddings, llama3 RoPE scaling). */
  "llama3.2-3b": llamaShape({
    vocab_size: 128256,
    hidden_size: 3072,
    intermediate_size: 8192,
    num_hidden_layers: 28,
    num_attention_heads: 24,
    num_key_value_heads: 8,
    head_dim: 128,
    tie_word_embeddings: true,
    max_position_embeddings: 131072,
    rope_theta: 500000.0,
    rope_scaling: { rope_type: "llama3", factor: 32.0, high_freq_factor: 4.0, low_freq_factor: 1.0, original_max_position_embeddings: 8192 },
    bos_token_id: 128000,
    eos_token_id: 128001,
    torch_dtype: "bfloat16",
  }),
  /** Qwen/Qwen3-8B (8.19B parameters, untied head, per-head q/k norms). */
  "qwen3-8b": {
    architectures: ["Qwen3ForCausalLM"],
    model_type: "qwen3",
    hidden_act: "silu",
    vocab_size: 151936,
    hidden_size: 4096,
    intermediate_size: 12288,
    num_hidden_layers: 36,
    num_attention_heads: 32,
    num_key_value_heads: 8,
    head_dim: 128,
    attention_bias: false,
    tie_word_embeddings: false,
    max_position_embeddings: 40960,
    rms_norm_eps: 1e-6,
    rope_theta: 1000000.0,
    bos_token_id: 151643,
    eos_token_id: 151645,
    torch_dtype: "bfloat16",
  },
  /** meta-llama/Meta-Llama-3-8B (8.0B parameters): what the methods cost at the size people fine-tune. */
  "llama3-8b": llamaShape(LLAMA3_8B),
};

export interface PresetOptions {
  /** Overrides the number of decoder layers (quick benchmarks of a deep shape). */
  layers?: number;
}

/** The preset's key for a name as a person types it: any case, "Llama-3.1-8B" as "llama3.1-8b". */
export function presetName(name: string): string | null {
  const squash = (s: string) => s.toLowerCase().replace(/[-_\s]/g, "");
  return Object.keys(PRESETS).find((k) => k === name.toLowerCase()) ?? Object.keys(PRESETS).find((k) => squash(k) === squash(name)) ?? null;
}

/** A preset's parsed config; throws ConfigError naming the known presets. */
export function presetConfig(name: string, opts: PresetOptions = {}): ModelConfig {
  const key = presetName(name);
  const raw = key === null ? undefined : PRESETS[key];
  if (!raw) throw new ConfigError(`unknown preset "${name}"; known: ${Object.keys(PRESETS).join(", ")}`);
  if (opts.layers !== undefined && !(Number.isInteger(opts.layers) && opts.layers > 0)) {
    throw new ConfigError(`preset ${name}: layers must be a positive integer, got ${opts.layers}`);
  }
  const json = opts.layers === undefined ? raw : { ...raw, num_hidden_layers: opts.layers };
  return parseConfig(structuredClone(json), `preset ${name}`);
}
