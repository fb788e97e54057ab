// config.json → one normalised ModelConfig, for both styles found in the wild:
// transformers 4 (`rope_theta`, `rope_scaling`, `rope_local_base_freq`, top-level `partial_rotary_factor`,
// `torch_dtype`) and transformers 5 (`rope_parameters`, one entry per layer type where local and global layers
// differ; `dtype`; `layer_types`). Fields a checkpoint leaves out take transformers' class defaults.

export const SUPPORTED_ARCHITECTURES = [
  "LlamaForCausalLM",
  "MistralForCausalLM",
  "MinistralForCausalLM",
  "Qwen2ForCausalLM",
  "Qwen3ForCausalLM",
  "GPT2LMHeadModel",
  "Gemma2ForCausalLM",
  "Gemma3ForCausalLM",
  "Gemma3ForConditionalGeneration",
  "Phi3ForCausalLM",
  "SmolLM3ForCausalLM",
] as const;

export type Architecture = (typeof SUPPORTED_ARCHITECTURES)[number];

export class ConfigError extends Error {}

export interface RopeScaling {
  type: "default" | "linear" | "dynamic" | "llama3" | "longrope";
  factor: number;
  lowFreqFactor: number;
  highFreqFactor: number;
  originalMaxPositions: number;
  /** longrope: per-frequency divisors of the inverse frequencies, up to and beyond originalMaxPositions. */
  shortFactor?: number[];
  longFactor?: number[];
  /** longrope: cos and sin are multiplied by this (transformers' attention_scaling). */
  attentionFactor?: number;
}

export type LayerType = "full_attention" | "sliding_attention";

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
  /**
   * Per layer, full or sliding-window attention (transformers' layer_types). Absent: every layer uses
   * slidingWindow when it is set (Mistral).
   */
  layerTypes?: LayerType[];
  /** RoPE of the sliding-window layers where it differs from the global one (Gemma 3's rope_local_base_freq). */
  localRope?: { theta: number; scaling: RopeScaling | null } | null;
  /** Fraction of each head's dimensions that RoPE rotates (Phi-3/4's partial_rotary_factor); absent = 1. */
  partialRotaryFactor?: number;
  /** Per layer, whether it applies RoPE (SmolLM3's no_rope_layers: 0 = a NoPE layer); absent = all do. */
  ropeLayers?: boolean[];
  /** Gemma: attention scores are scaled by query_pre_attn_scalar^−½ instead of head_dim^−½. */
  queryPreAttnScalar?: number | null;
  /** Gemma 2: attention scores become c·tanh(score / c). */
  attnLogitSoftcapping?: number | null;
  /** Gemma 2: logits become c·tanh(logit / c). */
  finalLogitSoftcapping?: number | null;
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

interface RopeDefaults {
  /** rope_theta when the config names none (transformers' default_theta of the class). */
  theta: number;
  /** original_max_position_embeddings when the config names none (Phi-3's class default is 4096). */
  originalMaxPositions?: number;
  /** Accept Phi-3's legacy longrope names "su" and "yarn". */
  legacyLongrope?: boolean;
}

function numberList(params: Json, key: string, source: string): number[] {
  const v = params[key];
  if (!Array.isArray(v) || !v.every((x) => typeof x === "number" && Number.isFinite(x))) {
    throw new ConfigError(`${source}: rope "${key}" must be a list of numbers`);
  }
  return v as number[];
}

/**
 * Theta and scaling of one RoPE. transformers 5 keeps theta and scaling together in `rope_parameters`
 * (for models with local and global layers, one entry per layer type: pass `layerType`); transformers 4
 * splits them into rope_theta (`thetaKey`) and rope_scaling, which then applies to the global layers only.
 */
function ropeScaling(
  raw: Json,
  source: string,
  defaults: RopeDefaults = { theta: 10000 },
  layerType: LayerType | null = null,
  thetaKey = "rope_theta",
): { theta: number; scaling: RopeScaling | null } {
  let params = (raw.rope_parameters ?? null) as Json | null;
  if (params && layerType && typeof params[layerType] === "object") params = params[layerType] as Json;
  else if (params && layerType && (params.full_attention !== undefined || params.sliding_attention !== undefined)) params = null;
  if (!params && layerType !== "sliding_attention") params = (raw.rope_scaling ?? null) as Json | null;
  const theta = num(params && params.rope_theta !== undefined ? params : raw, params && params.rope_theta !== undefined ? "rope_theta" : thetaKey, source, defaults.theta);
  if (!params) return { theta, scaling: null };
  let type = String(params.rope_type ?? params.type ?? "default");
  if (defaults.legacyLongrope && (type === "su" || type === "yarn")) type = "longrope";
  if (type === "default") return { theta, scaling: null };
  const maxPositions = int(raw, "max_position_embeddings", source, 2048);
  if (type === "longrope") return { theta, scaling: longrope(raw, params, source, maxPositions, defaults) };
  if (type !== "linear" && type !== "dynamic" && type !== "llama3") {
    throw new ConfigError(`${source}: rope type "${type}" is not supported (default, linear, dynamic, llama3, longrope)`);
  }
  return {
    theta,
    scaling: {
      type,
      factor: num(params, "factor", source),
      lowFreqFactor: num(params, "low_freq_factor", source, 1),
      highFreqFactor: num(params, "high_freq_factor", source, 4),
      originalMaxPositions: int(params, "original_max_position_embeddings", source, maxPositions),
    },
  };
}

/**
 * LongRoPE as transformers computes it (modeling_rope_utils): factor = max_position_embeddings /
 * original_max_position_embeddings (transformers 4 always takes this ratio where the config has the
 * original length; transformers 5 only when `factor` is absent), attention factor √(1 + ln factor / ln
 * original) unless given (1 for factor ≤ 1).
 */
function longrope(raw: Json, params: Json, source: string, maxPositions: number, defaults: RopeDefaults): RopeScaling {
  const original = int(params, "original_max_position_embeddings", source, int(raw, "original_max_position_embeddings", source, defaults.originalMaxPositions ?? maxPositions));
  const given = params.factor === undefined || params.factor === null ? null : num(params, "factor", source);
  const transformers5 = raw.rope_parameters !== undefined && raw.rope_parameters !== null;
  const hasOriginal = params.original_max_position_embeddings !== undefined || raw.original_max_position_embeddings !== undefined || defaults.originalMaxPositions !== undefined;
  const factor = given !== null && (transformers5 || !hasOriginal) ? given : maxPositions / original;
  const attention = params.attention_factor === undefined || params.attention_factor === null ? null : num(params, "attention_factor", source);
  return {
    type: "longrope",
    factor,
    lowFreqFactor: 1,
    highFreqFactor: 4,
    originalMaxPositions: original,
    shortFactor: numberList(params, "short_factor", source),
    longFactor: numberList(params, "long_factor", source),
    attentionFactor: attention ?? (factor <= 1 ? 1 : Math.sqrt(1 + Math.log(factor) / Math.log(original))),
  };
}

/** partial_rotary_factor: in rope_parameters (transformers 5) or at the top level (transformers 4). */
function partialRotary(raw: Json, source: string): number {
  const params = (raw.rope_parameters ?? null) as Json | null;
  const f = num(params && params.partial_rotary_factor !== undefined ? params : raw, "partial_rotary_factor", source, 1);
  if (!(f > 0 && f <= 1)) throw new ConfigError(`${source}: partial_rotary_factor must be in (0, 1], got ${f}`);
  return f;
}

/** layer_types as given, or the pattern the class derives: "sliding_attention" where isSliding(i). */
function layerTypes(raw: Json, source: string, layers: number, isSliding: (i: number) => boolean): LayerType[] {
  const given = raw.layer_types;
  if (given === undefined || given === null) {
    return Array.from({ length: layers }, (_, i) => (isSliding(i) ? "sliding_attention" : "full_attention"));
  }
  if (!Array.isArray(given) || given.length < layers || !given.every((t) => t === "full_attention" || t === "sliding_attention")) {
    throw new ConfigError(`${source}: "layer_types" must list full_attention or sliding_attention for each of the ${layers} layers`);
  }
  return given.slice(0, layers) as LayerType[];
}

/** A soft-capping value: the class default when the key is absent, none when it is null. */
function softcap(raw: Json, key: string, source: string, fallback: number | null): number | null {
  if (!(key in raw)) return fallback;
  if (raw[key] === null) return null;
  const c = num(raw, key, source);
  if (!(c > 0)) throw new ConfigError(`${source}: "${key}" must be positive, got ${c}`);
  return c;
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
  if (arch === "Gemma2ForCausalLM" || arch === "Gemma3ForCausalLM" || arch === "Gemma3ForConditionalGeneration") {
    return checked(gemmaConfig(raw, arch, source), source);
  }
  const common = commonFields(raw, raw, arch as Architecture, source);
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
  if (arch === "Phi3ForCausalLM") return checked(phi3Config(raw, common, source), source);
  if (arch === "SmolLM3ForCausalLM") return checked(smollm3Config(raw, common, source), source);
  siluOnly(raw, source);
  const { theta, scaling } = ropeScaling(raw, source);
  const isQwen2 = arch === "Qwen2ForCausalLM";
  const isQwen = isQwen2 || arch === "Qwen3ForCausalLM";
  const attentionBias = bool(raw, "attention_bias", false);
  const isMistral = arch === "MistralForCausalLM" || arch === "MinistralForCausalLM";
  const useSliding = isQwen ? bool(raw, "use_sliding_window", false) : true;
  // MistralConfig and MinistralConfig default to a window of 4096 when the key is absent.
  const given = isMistral && !("sliding_window" in raw) ? 4096 : raw.sliding_window;
  const window = typeof given === "number" && useSliding ? given : null;
  const shape = decoderShape(raw, source, { maxPositions: 2048, eps: 1e-6 });
  // Qwen2/3 window only the layers from max_window_layers on (or as layer_types says); Ministral as its
  // layer_types say (every layer by default); Mistral ignores layer_types and windows every layer.
  const maxWindowLayers = int(raw, "max_window_layers", source, shape.numLayers);
  const pattern = isQwen ? (i: number) => i >= maxWindowLayers : () => true;
  const types = (isQwen || arch === "MinistralForCausalLM") && window !== null ? { layerTypes: layerTypes(raw, source, shape.numLayers, pattern) } : {};
  const cfg: ModelConfig = {
    ...common,
    ...shape,
    activation: "silu",
    ropeTheta: theta,
    ropeScaling: scaling,
    qkvBias: isQwen2 || attentionBias,
    oBias: attentionBias,
    mlpBias: bool(raw, "mlp_bias", false),
    qkNorm: arch === "Qwen3ForCausalLM",
    tieWordEmbeddings: bool(raw, "tie_word_embeddings", false),
    slidingWindow: window,
    ...types,
  };
  return checked(cfg, source);
}

type Shape = Pick<ModelConfig, "hiddenSize" | "intermediateSize" | "numLayers" | "numHeads" | "numKvHeads" | "headDim" | "maxPositions" | "normEps">;

/** The sizes every decoder config names, with the class's defaults for max positions and eps. */
function decoderShape(raw: Json, source: string, d: { maxPositions?: number; eps?: number }): Shape {
  const hidden = int(raw, "hidden_size", source);
  const heads = int(raw, "num_attention_heads", source);
  return {
    hiddenSize: hidden,
    intermediateSize: int(raw, "intermediate_size", source),
    numLayers: int(raw, "num_hidden_layers", source),
    numHeads: heads,
    numKvHeads: int(raw, "num_key_value_heads", source, heads),
    headDim: int(raw, "head_dim", source, hidden / heads),
    maxPositions: int(raw, "max_position_embeddings", source, d.maxPositions),
    normEps: num(raw, "rms_norm_eps", source, d.eps),
  };
}

function siluOnly(raw: Json, source: string): void {
  const act = String(raw.hidden_act ?? "silu");
  if (act !== "silu") throw new ConfigError(`${source}: hidden_act "${act}" is not supported (silu)`);
}

function checked(cfg: ModelConfig, source: string): ModelConfig {
  if (cfg.numHeads % cfg.numKvHeads !== 0) {
    throw new ConfigError(`${source}: num_attention_heads ${cfg.numHeads} is not a multiple of num_key_value_heads ${cfg.numKvHeads}`);
  }
  if (rotaryDim(cfg) % 2 !== 0) throw new ConfigError(`${source}: the rotary dimension ${rotaryDim(cfg)} (head_dim ${cfg.headDim}) must be even`);
  const ropeDims = rotaryDim(cfg) / 2;
  for (const f of [cfg.ropeScaling?.shortFactor, cfg.ropeScaling?.longFactor]) {
    if (f && f.length !== ropeDims) throw new ConfigError(`${source}: longrope factors have ${f.length} entries, the rotary dimension needs ${ropeDims}`);
  }
  if (cfg.slidingWindow !== null && !(Number.isInteger(cfg.slidingWindow) && cfg.slidingWindow > 0)) {
    throw new ConfigError(`${source}: sliding_window must be a positive integer, got ${cfg.slidingWindow}`);
  }
  return cfg;
}

/** Dimensions of each head that RoPE rotates: int(head_dim · partial_rotary_factor), as transformers rounds. */
export function rotaryDim(cfg: ModelConfig): number {
  return Math.floor(cfg.headDim * (cfg.partialRotaryFactor ?? 1));
}

/** The sliding window of layer i, or null where it attends to every earlier position. */
export function layerWindow(cfg: ModelConfig, layer: number): number | null {
  if (cfg.slidingWindow === null) return null;
  return !cfg.layerTypes || cfg.layerTypes[layer] === "sliding_attention" ? cfg.slidingWindow : null;
}

type Common = Pick<ModelConfig, "architecture" | "modelType" | "vocabSize" | "bosTokenId" | "eosTokenIds" | "padTokenId" | "dtype" | "quantizationConfig" | "raw">;

/** What every config shares; `text` holds the model's fields (a text_config for multimodal checkpoints). */
function commonFields(outer: Json, text: Json, arch: Architecture, source: string): Common {
  return {
    architecture: arch,
    modelType: String(outer.model_type ?? ""),
    vocabSize: int(text, "vocab_size", source),
    bosTokenId: typeof text.bos_token_id === "number" ? text.bos_token_id : null,
    eosTokenIds: tokenIds(text.eos_token_id),
    padTokenId: typeof text.pad_token_id === "number" ? text.pad_token_id : null,
    dtype: typeof (outer.dtype ?? outer.torch_dtype) === "string" ? String(outer.dtype ?? outer.torch_dtype) : null,
    quantizationConfig: (outer.quantization_config as Json | undefined) ?? null,
    raw: outer,
  };
}

/** Gemma3TextConfig's defaults, for the fields a checkpoint (often a sparse text_config) leaves out. */
const GEMMA3_TEXT_DEFAULTS: Json = {
  vocab_size: 262208,
  hidden_size: 2304,
  intermediate_size: 9216,
  num_hidden_layers: 26,
  num_attention_heads: 8,
  num_key_value_heads: 4,
  head_dim: 256,
  max_position_embeddings: 131072,
  rms_norm_eps: 1e-6,
  pad_token_id: 0,
  eos_token_id: 1,
  bos_token_id: 2,
  query_pre_attn_scalar: 256,
  sliding_window: 4096,
};

/** Gemma2Config's defaults: Gemma 3's but for the vocabulary and context. */
const GEMMA2_DEFAULTS: Json = { ...GEMMA3_TEXT_DEFAULTS, vocab_size: 256000, max_position_embeddings: 8192 };

/**
 * Gemma 2 and Gemma 3 text: GELU-tanh gated MLP, (1 + w) RMSNorms, query_pre_attn_scalar, sliding-window
 * layers (Gemma 2 every other layer from the first; Gemma 3 all but every sliding_window_pattern-th),
 * Gemma 2's soft caps, Gemma 3's q/k norms and local RoPE base. A Gemma3ForConditionalGeneration
 * checkpoint's text model is read from its text_config.
 */
function gemmaConfig(outer: Json, arch: Architecture, source: string): ModelConfig {
  const gemma3 = arch !== "Gemma2ForCausalLM";
  let text = outer;
  if (arch === "Gemma3ForConditionalGeneration") {
    if (outer.text_config === null || typeof outer.text_config !== "object") throw new ConfigError(`${source}: missing "text_config"`);
    text = outer.text_config as Json;
  }
  const raw: Json = { ...(gemma3 ? GEMMA3_TEXT_DEFAULTS : GEMMA2_DEFAULTS), ...text };
  // A multimodal checkpoint may name its special tokens at the top level only.
  for (const k of ["pad_token_id", "eos_token_id", "bos_token_id"]) if (text[k] === undefined && outer[k] !== undefined) raw[k] = outer[k];
  const common = commonFields(outer, raw, arch, source);
  if (bool(raw, "use_bidirectional_attention", false)) throw new ConfigError(`${source}: use_bidirectional_attention (an embedding model) is not supported`);
  const act = String(raw.hidden_activation ?? raw.hidden_act ?? "gelu_pytorch_tanh");
  if (act !== "gelu_pytorch_tanh" && act !== "gelu") throw new ConfigError(`${source}: hidden_activation "${act}" is not supported (gelu_pytorch_tanh, gelu)`);
  const shape = decoderShape(raw, source, {});
  const pattern = int(raw, "sliding_window_pattern", source, int(raw, "_sliding_window_pattern", source, gemma3 ? 6 : 2));
  if (pattern === 0) throw new ConfigError(`${source}: sliding_window_pattern must be positive`);
  const window = raw.sliding_window === null ? null : int(raw, "sliding_window", source);
  const global = ropeScaling(raw, source, { theta: gemma3 ? 1_000_000 : 10000 }, gemma3 ? "full_attention" : null);
  return {
    ...common,
    ...shape,
    activation: act,
    ropeTheta: global.theta,
    ropeScaling: global.scaling,
    qkvBias: bool(raw, "attention_bias", false),
    oBias: bool(raw, "attention_bias", false),
    mlpBias: false,
    qkNorm: gemma3,
    tieWordEmbeddings: bool(outer, "tie_word_embeddings", bool(raw, "tie_word_embeddings", true)),
    slidingWindow: window,
    layerTypes: layerTypes(raw, source, shape.numLayers, (i) => (i + 1) % pattern !== 0),
    localRope: gemma3 ? ropeScaling(raw, source, { theta: 10000 }, "sliding_attention", "rope_local_base_freq") : null,
    queryPreAttnScalar: num(raw, "query_pre_attn_scalar", source),
    attnLogitSoftcapping: softcap(raw, "attn_logit_softcapping", source, gemma3 ? null : 50),
    // Gemma3ForConditionalGeneration's head applies no soft cap, whatever its text_config says.
    finalLogitSoftcapping: arch === "Gemma3ForConditionalGeneration" ? null : softcap(raw, "final_logit_softcapping", source, gemma3 ? null : 30),
  };
}

/** Phi-3 / Phi-4-mini: Llama-like with fused qkv_proj and gate_up_proj, partial rotary, longrope. */
function phi3Config(raw: Json, common: Common, source: string): ModelConfig {
  siluOnly(raw, source);
  const rope = ropeScaling(raw, source, { theta: 10000, originalMaxPositions: 4096, legacyLongrope: true });
  return {
    ...common,
    ...decoderShape(raw, source, { maxPositions: 4096, eps: 1e-5 }),
    activation: "silu",
    ropeTheta: rope.theta,
    ropeScaling: rope.scaling,
    qkvBias: false,
    oBias: false,
    mlpBias: false,
    qkNorm: false,
    tieWordEmbeddings: bool(raw, "tie_word_embeddings", false),
    slidingWindow: raw.sliding_window === null || raw.sliding_window === undefined ? null : int(raw, "sliding_window", source),
    partialRotaryFactor: partialRotary(raw, source),
  };
}

/** SmolLM3: Llama with NoPE layers (no_rope_layers, or one every no_rope_layer_interval-th). */
function smollm3Config(raw: Json, common: Common, source: string): ModelConfig {
  siluOnly(raw, source);
  const shape = decoderShape(raw, source, { maxPositions: 32768, eps: 1e-6 });
  const numLayers = shape.numLayers;
  const interval = int(raw, "no_rope_layer_interval", source, 4);
  const given = raw.no_rope_layers;
  if (given !== undefined && given !== null && (!Array.isArray(given) || given.length < numLayers || !given.every((x) => x === 0 || x === 1))) {
    throw new ConfigError(`${source}: "no_rope_layers" must hold 0 or 1 for each of the ${numLayers} layers`);
  }
  const ropeLayers = Array.isArray(given) ? given.slice(0, numLayers).map((x) => x === 1) : Array.from({ length: numLayers }, (_, i) => (i + 1) % interval !== 0);
  // transformers windows the NoPE layers, and only with use_sliding_window.
  const window = bool(raw, "use_sliding_window", false) && typeof raw.sliding_window === "number" ? int(raw, "sliding_window", source) : null;
  const rope = ropeScaling(raw, source, { theta: 2_000_000 });
  return {
    ...common,
    ...shape,
    activation: "silu",
    ropeTheta: rope.theta,
    ropeScaling: rope.scaling,
    qkvBias: bool(raw, "attention_bias", false),
    oBias: bool(raw, "attention_bias", false),
    mlpBias: bool(raw, "mlp_bias", false),
    qkNorm: false,
    tieWordEmbeddings: bool(raw, "tie_word_embeddings", true),
    slidingWindow: window,
    layerTypes: layerTypes(raw, source, numLayers, (i) => window !== null && !ropeLayers[i]),
    ropeLayers,
    partialRotaryFactor: partialRotary(raw, source),
  };
}
