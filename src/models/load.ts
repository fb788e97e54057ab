// Loading a Hugging Face model folder: config.json (either style), safetensors (single or sharded),
// weights read one tensor at a time and converted / quantized as they arrive, so peak memory is the
// model as held plus one tensor.

import { readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { CheckpointReader } from "../io/checkpoint.ts";
import { parseConfig, ConfigError, type ModelConfig } from "./config.ts";
import { buildModel } from "./build.ts";
import type { CausalLM } from "./causal-lm.ts";
import { NamedWeights, type StoragePolicy } from "./weights.ts";

export interface LoadOptions {
  /**
   * How frozen weights are held: "float32", "bfloat16", or "auto" (bf16 when the checkpoint stores bf16,
   * float32 otherwise). Ignored for trainable weights, which are float32.
   */
  dtype?: "float32" | "bfloat16" | "auto";
  /** Full fine-tuning: every float weight requires grad. */
  trainable?: boolean;
  /** Replaces how linear weights are held (quantization); see src/quant. */
  policy?: Partial<StoragePolicy>;
  /** Use this config instead of the folder's config.json. */
  config?: ModelConfig;
  /** Reports checkpoint tensors the model did not use (default: stderr). */
  onWarning?: (message: string) => void;
}

/** Buffers some checkpoints carry that are recomputed, not loaded. */
const IGNORED_KEYS = [/\.attn\.bias$/, /\.attn\.masked_bias$/, /rotary_emb\.inv_freq$/];

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
  const reader = CheckpointReader.open(dir);
  try {
    const used = new Set<string>();
    const resolve = (name: string): string | undefined => {
      if (reader.has(name)) return name;
      // Original GPT-2 checkpoints name tensors without the "transformer." prefix.
      const bare = name.replace(/^transformer\./, "");
      return reader.has(bare) ? bare : undefined;
    };
    const get = (name: string) => {
      const key = resolve(name);
      if (key === undefined) return undefined;
      used.add(key);
      return reader.read(key);
    };
    const dtype = opts.dtype ?? "auto";
    const policy: StoragePolicy = {
      weightDtype: dtype === "auto" ? (config.dtype === "bfloat16" ? "bfloat16" : "float32") : dtype,
      trainable: opts.trainable ?? false,
      ...opts.policy,
    };
    const model = buildModel(config, new NamedWeights(get, policy, dir));
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
