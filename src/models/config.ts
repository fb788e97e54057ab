// config.json → one normalised ModelConfig, for both styles found in the wild:
// transformers 4 (`rope_theta`, `rope_scaling`, `torch_dtype`) and transformers 5 (`rope_parameters`, `dtype`).

export const SUPPORTED_ARCHITECTURES = [
  "LlamaForCausalLM",
  "MistralForCausalLM",
  "Qwen2ForCausalLM",
  "Qwen3ForCausalLM",
  "GPT2LMHeadModel",
] as const;

export type Architecture = (typeof SUPPORTED_ARCHITECTURES)[number];

export class ConfigError extends Error {}

export interface RopeScaling {
  type: "default" | "linear" | "dynamic" | "llama3";
  factor: number;
  lowFreqFactor: number;
  highFreqFactor: number;
  originalMaxPositions: number;
}

export interface ModelConfig {
  architecture: Architecture;
  modelType: string;
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  maxPositions: number;
  normEps: number;
  activation: "silu" | "gelu_new" | "gelu" | "gelu_pytorch_tanh";
  ropeTheta: number;
  ropeScaling: RopeScaling | null;
  /** Bias on q, k, v projections (Qwen2; Llama's attention_bias). */
  qkvBias: boolean;
  /** Bias on o_proj (Llama's attention_bias). */
  oBias: boolean;
  mlpBias: boolean;
  /** Per-head RMSNorm on q and k before RoPE (Qwen3). */
  qkNorm: boolean;
  tieWordEmbeddings: boolean;
  slidingWindow: number | null;
  bosTokenId: number | null;
  eosTokenIds: number[];
  padTokenId: number | null;
  /** The stored dtype named by the config (`dtype` or `torch_dtype`), if any. */
  dtype: string | null;
  /** `quantization_config` as found (bitsandbytes pre-quantized checkpoints). */
  quantizationConfig: Record<string, unknown> | null;
  /** The JSON as read, written back unchanged (apart from what a save changes) when a model is saved. */
  raw: Record<string, unknown>;
}

type Json = Record<string, unknown>;

function num(raw: Json, key: string, source: string, fallback?: number): number {
  const v = raw[key];
  if (v === undefined || v === null) {
    if (fallback !== undefined) return fallback;
    throw new ConfigError(`${source}: missing "${key}"`);
  }
  if (typeof v !== "number" || !Number.isFinite(v)) throw new ConfigError(`${source}: "${key}" must be a number, got ${JSON.stringify(v)}`);
  return v;
}

function int(raw: Json, key: string, source: string, fallback?: number): number {
  const v = num(raw, key, source, fallback);
  if (!Number.isInteger(v) || v < 0) throw new ConfigError(`${source}: "${key}" must be a non-negative integer, got ${v}`);
  return v;
}

function bool(raw: Json, key: string, fallback: boolean): boolean {
  const v = raw[key];
  return typeof v === "boolean" ? v : fallback;
}

function tokenIds(v: unknown): number[] {
  if (typeof v === "number") return [v];
  if (Array.isArray(v)) return v.filter((x): x is number => typeof x === "number");
  return [];
}

function ropeScaling(raw: Json, source: string): { theta: number; scaling: RopeScaling | null } {
  // transformers 5 keeps theta and scaling together in rope_parameters; transformers 4 splits them.
  const params = (raw.rope_parameters ?? raw.rope_scaling ?? null) as Json | null;
  const theta = num(params && params.rope_theta !== undefined ? params : raw, "rope_theta", source, 10000);
  if (!params) return { theta, scaling: null };
  const type = String(params.rope_type ?? params.type ?? "default");
  if (type === "default") return { theta, scaling: null };
  if (type !== "linear" && type !== "dynamic" && type !== "llama3") {
    throw new ConfigError(`${source}: rope type "${type}" is not supported (default, linear, dynamic, llama3)`);
  }
  return {
    theta,
    scaling: {
      type,
      factor: num(params, "factor", source),
      lowFreqFactor: num(params, "low_freq_factor", source, 1),
      highFreqFactor: num(params, "high_freq_factor", source, 4),
      originalMaxPositions: int(params, "original_max_position_embeddings", source, int(raw, "max_position_embeddings", source, 2048)),
    },
  };
}

export function parseConfig(raw: Json, source = "config.json"): ModelConfig {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) throw new ConfigError(`${source}: not a JSON object`);
  const archs = raw.architectures;
  const arch = Array.isArray(archs) ? archs[0] : undefined;
  if (!SUPPORTED_ARCHITECTURES.includes(arch as Architecture)) {
    throw new ConfigError(
      `${source}: architecture ${JSON.stringify(arch ?? raw.model_type ?? null)} is not supported; supported: ${SUPPORTED_ARCHITECTURES.join(", ")}`,
    );
  }
  const common = {
    architecture: arch as Architecture,
    modelType: String(raw.model_type ?? ""),
    vocabSize: int(raw, "vocab_size", source),
    bosTokenId: typeof raw.bos_token_id === "number" ? raw.bos_token_id : null,
    eosTokenIds: tokenIds(raw.eos_token_id),
    padTokenId: typeof raw.pad_token_id === "number" ? raw.pad_token_id : null,
    dtype: typeof (raw.dtype ?? raw.torch_dtype) === "string" ? String(raw.dtype ?? raw.torch_dtype) : null,
    quantizationConfig: (raw.quantization_config as Json | undefined) ?? null,
    raw,
  };
  if (arch === "GPT2LMHeadModel") {
    const hidden = int(raw, "n_embd", source);
    const heads = int(raw, "n_head", source);
    const act = String(raw.activation_function ?? "gelu_new");
    if (act !== "gelu_new" && act !== "gelu" && act !== "gelu_pytorch_tanh") {
      throw new ConfigError(`${source}: activation_function "${act}" is not supported`);
    }
    return {
      ...common,
      hiddenSize: hidden,
      intermediateSize: int(raw, "n_inner", source, 4 * hidden),
      numLayers: int(raw, "n_layer", source),
      numHeads: heads,
      numKvHeads: heads,
      headDim: hidden / heads,
      maxPositions: int(raw, "n_positions", source),
      normEps: num(raw, "layer_norm_epsilon", source, 1e-5),
      activation: act,
      ropeTheta: 0,
      ropeScaling: null,
      qkvBias: true,
      oBias: true,
      mlpBias: true,
      qkNorm: false,
      tieWordEmbeddings: bool(raw, "tie_word_embeddings", true),
      slidingWindow: null,
    };
  }
  const hidden = int(raw, "hidden_size", source);
  const heads = int(raw, "num_attention_heads", source);
  const act = String(raw.hidden_act ?? "silu");
  if (act !== "silu") throw new ConfigError(`${source}: hidden_act "${act}" is not supported (silu)`);
  const { theta, scaling } = ropeScaling(raw, source);
  const isQwen2 = arch === "Qwen2ForCausalLM";
  const attentionBias = bool(raw, "attention_bias", false);
  const useSliding = isQwen2 || arch === "Qwen3ForCausalLM" ? bool(raw, "use_sliding_window", false) : true;
  const window = typeof raw.sliding_window === "number" && useSliding ? raw.sliding_window : null;
  const cfg: ModelConfig = {
    ...common,
    hiddenSize: hidden,
    intermediateSize: int(raw, "intermediate_size", source),
    numLayers: int(raw, "num_hidden_layers", source),
    numHeads: heads,
    numKvHeads: int(raw, "num_key_value_heads", source, heads),
    headDim: int(raw, "head_dim", source, hidden / heads),
    maxPositions: int(raw, "max_position_embeddings", source, 2048),
    normEps: num(raw, "rms_norm_eps", source, 1e-6),
    activation: "silu",
    ropeTheta: theta,
    ropeScaling: scaling,
    qkvBias: isQwen2 || attentionBias,
    oBias: attentionBias,
    mlpBias: bool(raw, "mlp_bias", false),
    qkNorm: arch === "Qwen3ForCausalLM",
    tieWordEmbeddings: bool(raw, "tie_word_embeddings", false),
    slidingWindow: window,
  };
  if (cfg.numHeads % cfg.numKvHeads !== 0) {
    throw new ConfigError(`${source}: num_attention_heads ${cfg.numHeads} is not a multiple of num_key_value_heads ${cfg.numKvHeads}`);
  }
  if (cfg.headDim % 2 !== 0) throw new ConfigError(`${source}: head_dim ${cfg.headDim} must be even for rotary embeddings`);
  return cfg;
}
