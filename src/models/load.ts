// Loading a Hugging Face model folder: config.json (either style), safetensors (single or sharded),
// weights read one tensor at a time straight into the form they are held in: quantized layers a run of
// elements at a time through positioned reads (weights.ts), others into their storage. Peak memory is the
// model as held plus, for a tensor converted to another dtype, that one tensor.

import { readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { CheckpointReader } from "../io/checkpoint.ts";
import { parseConfig, ConfigError, type ModelConfig } from "./config.ts";
import { buildModel } from "./build.ts";
import type { CausalLM } from "./causal-lm.ts";
import { NamedWeights, type StoragePolicy, type TensorStream } from "./weights.ts";
import { quantizeOnLoad, quantizeOptions, readBnbOnLoad, type QuantizationOptions } from "../quant/policy.ts";

export interface LoadOptions {
  /**
   * How frozen weights are held: "float32", "bfloat16", or "auto" (bf16 when the checkpoint stores bf16,
   * float32 otherwise). Ignored for trainable weights, which are float32.
   */
  dtype?: "float32" | "bfloat16" | "auto";
  /** Full fine-tuning: every float weight requires grad. */
  trainable?: boolean;
  /**
   * Quantize linear layers as they are read (QLoRA: `{ type: "nf4", doubleQuant: true }`), so peak memory
   * is the quantized model plus one layer in float. A bitsandbytes pre-quantized folder is recognised by
   * its config and read as stored, without this option.
   */
  quantization?: QuantizationOptions | null;
  /**
   * Quantize the (frozen) embeddings and head as well, int8 or NF4: a departure from QLoRA's recipe, which
   * keeps them in float.
   */
  embeddingQuantization?: QuantizationOptions | null;
  /** Replaces how weights are held (advanced; overrides `dtype` and `quantization`). */
  policy?: Partial<StoragePolicy>;
  /** Use this config instead of the folder's config.json. */
  config?: ModelConfig;
  /** Reports checkpoint tensors the model did not use (default: stderr). */
  onWarning?: (message: string) => void;
}

/**
 * Buffers some checkpoints carry that are recomputed, not loaded; and a multimodal checkpoint's vision
 * tower and projector (Gemma3ForConditionalGeneration), which the text model does not use.
 */
const IGNORED_KEYS = [
  /\.attn\.bias$/,
  /\.attn\.masked_bias$/,
  /rotary_emb\.inv_freq$/,
  /^(model\.)?(vision_tower|multi_modal_projector)\./,
];

/**
 * Older names of a tensor the model asks for: original GPT-2 files lack the "transformer." prefix; Gemma 3
 * multimodal files from before transformers 4.52 keep the text model at language_model.model and its
 * head at language_model.lm_head (transformers' own checkpoint conversion mapping).
 */
const LEGACY_NAMES: [RegExp, string][] = [
  [/^transformer\./, ""],
  [/^model\.language_model\./, "language_model.model."],
  [/^lm_head\./, "language_model.lm_head."],
];

export function loadConfig(dirOrFile: string): ModelConfig {
  const file = dirOrFile.endsWith(".json") ? dirOrFile : join(dirOrFile, "config.json");
  if (!existsSync(file)) throw new ConfigError(`${file}: not found (is this a Hugging Face model folder?)`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new ConfigError(`${file}: malformed JSON: ${(e as Error).message}`);
  }
  return parseConfig(raw as Record<string, unknown>, file);
}

export function loadModel(dir: string, opts: LoadOptions = {}): CausalLM {
  const config = opts.config ?? loadConfig(dir);
  if (opts.quantization && config.quantizationConfig) {
    throw new ConfigError(`${dir}: the checkpoint is already quantized (quantization_config in config.json); load it without a quantization option`);
  }
  if (opts.trainable && (opts.quantization || opts.embeddingQuantization || config.quantizationConfig)) {
    throw new ConfigError(`${dir}: quantized weights are frozen; full fine-tuning needs a float model (use LoRA on a quantized base: QLoRA)`);
  }
  const reader = CheckpointReader.open(dir);
  try {
    const used = new Set<string>();
    const resolve = (name: string): string | undefined => {
      if (reader.has(name)) return name;
      for (const [re, to] of LEGACY_NAMES) {
        const old = name.replace(re, to);
        if (old !== name && reader.has(old)) return old;
      }
      return undefined;
    };
    const get = (name: string) => {
      const key = resolve(name);
      if (key === undefined) return undefined;
      used.add(key);
      return reader.read(key);
    };
    const open = (name: string): TensorStream | undefined => {
      const key = resolve(name);
      if (key === undefined) return undefined;
      used.add(key);
      const e = reader.entry(key);
      return { dtype: e.tensorDtype, shape: e.shape, readInto: (start, dst) => reader.readInto(key, start, dst) };
    };
    const dtype = opts.dtype ?? "auto";
    const policy: StoragePolicy = {
      weightDtype: dtype === "auto" ? (config.dtype === "bfloat16" ? "bfloat16" : "float32") : dtype,
      trainable: opts.trainable ?? false,
      ...(config.quantizationConfig ? readBnbOnLoad(config.quantizationConfig) : {}),
      ...(opts.quantization ? quantizeOnLoad(opts.quantization) : {}),
      ...(opts.embeddingQuantization ? { quantizeEmbeddingsAs: quantizeOptions(opts.embeddingQuantization) } : {}),
      ...opts.policy,
    };
    const model = buildModel(config, new NamedWeights(get, policy, dir, open));
    const unused = reader.names().filter((n) => !used.has(n) && !IGNORED_KEYS.some((re) => re.test(n)));
    if (unused.length > 0) {
      (opts.onWarning ?? ((m) => process.stderr.write(`peft-ts: ${m}\n`)))(
        `${dir}: ${unused.length} checkpoint tensors not used by ${config.architecture}: ${unused.slice(0, 5).join(", ")}${unused.length > 5 ? ", ..." : ""}`,
      );
    }
    return model;
  } finally {
    reader.close();
  }
}
