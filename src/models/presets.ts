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

/** Llama 3.2 1B / 3B as published: Llama 3's vocabulary, tied embeddings, llama3 RoPE scaling to 128K positions. */
function llama32Shape(shape: ConfigJson): ConfigJson {
  return llamaShape({
    vocab_size: 128256,
    intermediate_size: 8192,
    num_key_value_heads: 8,
    tie_word_embeddings: true,
    max_position_embeddings: 131072,
    rope_theta: 500000.0,
    rope_scaling: { rope_type: "llama3", factor: 32.0, high_freq_factor: 4.0, low_freq_factor: 1.0, original_max_position_embeddings: 8192 },
    bos_token_id: 128000,
    eos_token_id: 128001,
    torch_dtype: "bfloat16",
    ...shape,
  });
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

/** Gemma 3 text as published: 262k vocabulary, head_dim 256, GELU-tanh, RoPE 1e6 global / 1e4 local. */
function gemma3TextShape(shape: ConfigJson): ConfigJson {
  return {
    architectures: ["Gemma3ForCausalLM"],
    model_type: "gemma3_text",
    hidden_activation: "gelu_pytorch_tanh",
    head_dim: 256,
    query_pre_attn_scalar: 256,
    rms_norm_eps: 1e-6,
    rope_theta: 1000000.0,
    rope_local_base_freq: 10000.0,
    rope_scaling: null,
    sliding_window_pattern: 6,
    tie_word_embeddings: true,
    bos_token_id: 2,
    eos_token_id: 1,
    pad_token_id: 0,
    torch_dtype: "bfloat16",
    ...shape,
  };
}

/** Phi-4-mini's longrope long_factor (its short_factor is all 1). */
const PHI4_MINI_LONG_FACTOR = [
  1, 1.118320672, 1.250641126, 1.398617824, 1.564103225, 1.74916897, 1.956131817, 2.187582649, 2.446418898, 2.735880826,
  3.059592084, 3.421605075, 3.826451687, 4.279200023, 4.785517845, 5.351743533, 5.984965424, 6.693110555, 7.485043894,
  8.370679318, 9.36110372, 10.4687158, 11.70738129, 13.09260651, 14.64173252, 16.37415215, 18.31155283, 20.47818807,
  22.90118105, 25.61086418, 28.64115884, 32.03, 32.1, 32.13, 32.23, 32.6, 32.61, 32.64, 32.66, 32.7, 32.71, 32.93, 32.97,
  33.28, 33.49, 33.5, 44.16, 47.77,
];

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
  "llama3.2-1b": llama32Shape({ hidden_size: 2048, num_hidden_layers: 16, num_attention_heads: 32, head_dim: 64 }),
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
  "llama3.2-3b": llama32Shape({ hidden_size: 3072, num_hidden_layers: 28, num_attention_heads: 24, head_dim: 128 }),
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
  // The architectures after Llama: published config values; sources in the comments.
  /**
   * google/gemma-3-270m (268,098,176 parameters, 168M of them the 262k-token embedding): shape from the
   * checkpoint's GGUF metadata (ollama gemma3:270m); query_pre_attn_scalar, RoPE bases and the 5:1 pattern
   * are Gemma3TextConfig's.
   */
  "gemma3-270m": gemma3TextShape({
    vocab_size: 262144,
    hidden_size: 640,
    intermediate_size: 2048,
    num_hidden_layers: 18,
    num_attention_heads: 4,
    num_key_value_heads: 1,
    sliding_window: 512,
    max_position_embeddings: 32768,
  }),
  /** google/gemma-3-1b-pt (999,885,952 parameters): transformers' convert_gemma3_weights.py, variant gemma3_1b. */
  "gemma3-1b": gemma3TextShape({
    vocab_size: 262144,
    hidden_size: 1152,
    intermediate_size: 6912,
    num_hidden_layers: 26,
    num_attention_heads: 4,
    num_key_value_heads: 1,
    sliding_window: 512,
    max_position_embeddings: 32768,
  }),
  /** google/gemma-2-2b (2,614,341,888 parameters): Gemma2Config's defaults are this shape (also PaliGemma 2's "2b"). */
  "gemma2-2b": {
    architectures: ["Gemma2ForCausalLM"],
    model_type: "gemma2",
    hidden_activation: "gelu_pytorch_tanh",
    vocab_size: 256000,
    hidden_size: 2304,
    intermediate_size: 9216,
    num_hidden_layers: 26,
    num_attention_heads: 8,
    num_key_value_heads: 4,
    head_dim: 256,
    query_pre_attn_scalar: 256,
    sliding_window: 4096,
    attn_logit_softcapping: 50.0,
    final_logit_softcapping: 30.0,
    max_position_embeddings: 8192,
    rms_norm_eps: 1e-6,
    rope_theta: 10000.0,
    tie_word_embeddings: true,
    bos_token_id: 2,
    eos_token_id: 1,
    pad_token_id: 0,
    torch_dtype: "bfloat16",
  },
  /**
   * microsoft/Phi-4-mini-instruct (3,836,021,760 parameters, tied embeddings): config.json at revision
   * cfbefacb99257ffa30c83adab238a50856ac3083 as quoted in public code; longrope over the 96 rotated dims.
   */
  "phi4-mini": {
    architectures: ["Phi3ForCausalLM"],
    model_type: "phi3",
    hidden_act: "silu",
    vocab_size: 200064,
    hidden_size: 3072,
    intermediate_size: 8192,
    num_hidden_layers: 32,
    num_attention_heads: 24,
    num_key_value_heads: 8,
    max_position_embeddings: 131072,
    original_max_position_embeddings: 4096,
    partial_rotary_factor: 0.75,
    rope_theta: 10000.0,
    rope_scaling: { type: "longrope", short_factor: Array(48).fill(1.0), long_factor: PHI4_MINI_LONG_FACTOR },
    rms_norm_eps: 1e-5,
    sliding_window: 262144,
    tie_word_embeddings: true,
    bos_token_id: 199999,
    eos_token_id: 199999,
    pad_token_id: 199999,
    torch_dtype: "bfloat16",
  },
  /** HuggingFaceTB/SmolLM3-3B (3,075,098,624 parameters, tied embeddings, every 4th layer NoPE). */
  "smollm3-3b": {
    architectures: ["SmolLM3ForCausalLM"],
    model_type: "smollm3",
    hidden_act: "silu",
    vocab_size: 128256,
    hidden_size: 2048,
    intermediate_size: 11008,
    num_hidden_layers: 36,
    num_attention_heads: 16,
    num_key_value_heads: 4,
    max_position_embeddings: 65536,
    rope_theta: 5000000.0,
    rms_norm_eps: 1e-6,
    no_rope_layer_interval: 4,
    use_sliding_window: false,
    tie_word_embeddings: true,
    bos_token_id: 128000,
    eos_token_id: 128012,
    pad_token_id: 128004,
    torch_dtype: "bfloat16",
  },
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
