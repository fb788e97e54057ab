// TrainingArgs: everything one training run needs, as a typed record with a one-line doc per field
// (mlx-lm's TrainingArgs). `resolveArgs` fills defaults and validates every field up front, naming the
// field in its error, so a bad value fails before any model is loaded. Config files (YAML or JSON) take
// the same keys in camelCase, kebab-case or snake_case; command-line flags override them.

import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { SCHEDULERS, type SchedulerName } from "../optim/index.ts";
import { DATA_FORMATS } from "./data/index.ts";

export type Method = "full" | "lora" | "qlora";
/** adamw: torch.optim.AdamW; adamw8bit: bitsandbytes' AdamW8bit (8-bit blockwise states); sgd: torch.optim.SGD. */
export const OPTIMIZERS = ["adamw", "adamw8bit", "sgd"] as const;
export type OptimizerName = (typeof OPTIMIZERS)[number];

export interface TrainingArgs {
  /** Hugging Face model folder to fine-tune (config.json, safetensors, tokenizer files). */
  model: string;
  /** Training data file (JSONL / JSON: text, prompt/completion or chat messages). */
  data: string;
  /** Evaluation data file; null uses `valSplit` of the training data (or no evaluation). */
  evalData: string | null;
  /** Fraction of the training examples held out for evaluation when there is no evalData (0 = none). */
  valSplit: number;
  /** Dataset format (text, prompt-completion, chat, alpaca), or "auto" to detect it per line. */
  format: string;
  /** Compute the loss on prompt tokens too (default: completion / assistant tokens only). */
  trainOnPrompt: boolean;
  /** A system message put first in chat records that have none (null: none added). */
  system: string | null;
  /** Pack several examples into each maxSeqLen row instead of padding. */
  pack: boolean;
  /** full: every weight; lora: adapters on a frozen base; qlora: adapters on an NF4-quantized base. */
  method: Method;
  /** Peak learning rate. */
  lr: number;
  /** Passes over the training data (ignored when maxSteps is set). */
  epochs: number;
  /** Optimizer steps to run; null runs `epochs` epochs. */
  maxSteps: number | null;
  /** Examples per micro-batch. */
  batchSize: number;
  /** Micro-batches accumulated per optimizer step (effective batch = batchSize × gradAccum). */
  gradAccum: number;
  /** Longest tokenized example kept (longer ones are truncated). */
  maxSeqLen: number;
  /** Optimizer steps of linear warmup from 0. */
  warmupSteps: number;
  /** Learning-rate schedule after warmup. */
  scheduler: SchedulerName;
  /** Decoupled weight decay (AdamW) or L2 (SGD). */
  weightDecay: number;
  /** Clip the global gradient norm to this (0 = no clipping). */
  maxGradNorm: number;
  /** Seed for data order, adapter initialisation, dropout and the validation split. */
  seed: number;
  /** Write a checkpoint every N optimizer steps (0 = only the final result). */
  saveEvery: number;
  /** Keep at most this many checkpoints, oldest removed first (0 = keep all). */
  saveTotalLimit: number;
  /** Evaluate every N optimizer steps (0 = only at the end). */
  evalEvery: number;
  /** Log metrics every N optimizer steps. */
  logEvery: number;
  /** Output folder: the final adapter or model, checkpoint-<step>/ folders, metrics.jsonl. */
  out: string;
  /** Continue from the latest complete checkpoint in `out`. */
  resume: boolean;
  /** Resume even when hyper-parameters differ from the checkpoint's (the run then differs from the original). */
  allowChangedArgs: boolean;
  /** adamw (torch.optim.AdamW), adamw8bit (bitsandbytes' AdamW8bit: m and v in 8 bits) or sgd (torch.optim.SGD). */
  optimizer: OptimizerName;
  /** AdamW β1 (both AdamW variants). */
  adamBeta1: number;
  /** AdamW β2. */
  adamBeta2: number;
  /** AdamW ε (outside the square root). */
  adamEps: number;
  /** SGD momentum. */
  momentum: number;
  /** SGD Nesterov momentum. */
  nesterov: boolean;
  /** Recompute layer activations in backward: true, false, or "auto" (on when the memory estimate is tight). */
  gradientCheckpointing: boolean | "auto";
  /** LoRA rank r. */
  loraR: number;
  /** LoRA α (scaling α / r). */
  loraAlpha: number;
  /** Dropout on the LoRA input. */
  loraDropout: number;
  /** Module names LoRA wraps (PEFT target_modules), or "all-linear". */
  loraTargetModules: string[] | "all-linear";
  /**
   * How frozen float weights are held: float32, or bfloat16 (half the memory). null: float32 for LoRA's
   * base; for QLoRA's unquantized embedding and head the checkpoint's own dtype, as transformers holds them.
   */
  baseDtype: "float32" | "bfloat16" | null;
  /**
   * The operands of the linear layers' products (torch's CPU autocast): float32, or bfloat16 (float32 sums,
   * weights and optimizer state). null: bfloat16 when a bitsandbytes 4-bit model's bnb_4bit_compute_dtype
   * asks for it, else float32.
   */
  computeDtype: "float32" | "bfloat16" | null;
  /**
   * Hold the frozen embedding and head in int8 (per-row scales) or NF4 as well (LoRA / QLoRA); null keeps
   * them in float. A departure from QLoRA's recipe: an 8B model's embedding and head are 2 GB of bf16.
   */
  quantizeEmbeddings: "int8" | "nf4" | null;
  /** Skip a step whose loss or gradients are not finite instead of stopping. */
  skipNonFinite: boolean;
  /** Start even when the memory estimate exceeds the available memory. */
  ignoreMemoryCheck: boolean;
  /** Native kernel threads (null: the library's default). */
  threads: number | null;
}

export const DEFAULT_ARGS: Omit<TrainingArgs, "model" | "data"> = {
  evalData: null,
  valSplit: 0,
  format: "auto",
  trainOnPrompt: false,
  system: null,
  pack: false,
  method: "lora",
  lr: 2e-4,
  epochs: 1,
  maxSteps: null,
  batchSize: 4,
  gradAccum: 1,
  maxSeqLen: 512,
  warmupSteps: 0,
  scheduler: "linear",
  weightDecay: 0,
  maxGradNorm: 1,
  seed: 42,
  saveEvery: 0,
  saveTotalLimit: 0,
  evalEvery: 0,
  logEvery: 1,
  out: "out",
  resume: false,
  allowChangedArgs: false,
  optimizer: "adamw",
  adamBeta1: 0.9,
  adamBeta2: 0.999,
  adamEps: 1e-8,
  momentum: 0,
  nesterov: false,
  gradientCheckpointing: "auto",
  loraR: 8,
  loraAlpha: 16,
  loraDropout: 0,
  // Every linear of the decoder layers: Llama's seven projections, Phi-3's fused qkv_proj and gate_up_proj.
  loraTargetModules: "all-linear",
  baseDtype: null,
  computeDtype: null,
  quantizeEmbeddings: null,
  skipNonFinite: false,
  ignoreMemoryCheck: false,
  threads: null,
};

export const ARG_KEYS = ["model", "data", ...Object.keys(DEFAULT_ARGS)] as (keyof TrainingArgs)[];

export class TrainingArgsError extends Error {}

/** "max-steps", "max_steps", "maxSteps" → "maxSteps" */
export function camelKey(key: string): string {
  return key.replace(/[-_]+([a-zA-Z0-9])/g, (_, c: string) => c.toUpperCase());
}

/**
 * Other names the CLI and config files accept for TrainingArgs keys (camelCased): peft-ts's short flags,
 * and the names people bring from transformers' TrainingArguments, PEFT's LoraConfig, TRL's SFTConfig,
 * axolotl and mlx-lm where they mean the same thing.
 */
export const ALIASES: Record<string, keyof TrainingArgs> = {
  r: "loraR",
  alpha: "loraAlpha",
  dropout: "loraDropout",
  targetModules: "loraTargetModules",
  lora: "loraR",
  learningRate: "lr",
  numTrainEpochs: "epochs",
  numEpochs: "epochs",
  perDeviceTrainBatchSize: "batchSize",
  microBatchSize: "batchSize",
  gradientAccumulationSteps: "gradAccum",
  lrSchedulerType: "scheduler",
  outputDir: "out",
  saveSteps: "saveEvery",
  evalSteps: "evalEvery",
  loggingSteps: "logEvery",
  maxSeqLength: "maxSeqLen",
  maxLength: "maxSeqLen",
  sequenceLen: "maxSeqLen",
  packing: "pack",
  samplePacking: "pack",
  adamEpsilon: "adamEps",
  modelNameOrPath: "model",
  baseModel: "model",
  trainFile: "data",
  validationFile: "evalData",
  iters: "maxSteps",
};

/** Names from those tools whose values mean something else here: refused, naming the setting to use. */
export const NOT_ALIASES: Record<string, [instead: keyof TrainingArgs, how: string]> = {
  optim: ["optimizer", 'adamw, adamw8bit or sgd; adamw is torch.optim.AdamW ("adamw_torch"), adamw8bit bitsandbytes\' AdamW8bit ("adamw_bnb_8bit")'],
  warmupRatio: ["warmupSteps", "a number of optimizer steps"],
  evalStrategy: ["evalEvery", "every N steps; 0 = at the end"],
  evaluationStrategy: ["evalEvery", "every N steps; 0 = at the end"],
  saveStrategy: ["saveEvery", "every N steps; 0 = the final result only"],
  resumeFromCheckpoint: ["resume", "continues from the latest checkpoint in the output folder"],
  bf16: ["computeDtype", "bfloat16: the linear layers' products take bf16 operands, as bf16=True autocasts them"],
};

/** "maxSteps" → "max-steps" (a flag's spelling). */
export function kebabKey(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** Levenshtein distance, for "did you mean" hints. */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row.push(Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)));
    prev = row;
  }
  return prev[b.length]!;
}

/** The known key closest to an unknown one (camelCase), when it is close enough to be a typo. */
function closestKey(camel: string): keyof TrainingArgs | null {
  const scored = [...ARG_KEYS, ...Object.keys(ALIASES)].map((k) => [k, distance(camel.toLowerCase(), k.toLowerCase())] as const);
  const [best, d] = scored.reduce((a, b) => (b[1] < a[1] ? b : a));
  return d <= Math.max(2, Math.floor(best.length / 3)) ? (ALIASES[best] ?? (best as keyof TrainingArgs)) : null;
}

/** Values by TrainingArgs key, and how the user wrote each key, for messages. */
export interface GivenArgs {
  values: Partial<Record<keyof TrainingArgs, unknown>>;
  /** Per key: "train: --max-steps", "config file x.yaml: max_steps". */
  names: Partial<Record<keyof TrainingArgs, string>>;
}

/** Reads a YAML or JSON config file into TrainingArgs keys (not yet validated). */
export function readConfigFile(path: string): GivenArgs {
  let raw: unknown;
  try {
    const text = readFileSync(path, "utf8");
    raw = path.endsWith(".json") ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    throw new TrainingArgsError(`config file ${path}: ${(e as Error).message}`);
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) throw new TrainingArgsError(`config file ${path}: expected a mapping of keys to values`);
  return normaliseKeys(raw as Record<string, unknown>, `config file ${path}`);
}

/**
 * Maps camelCase / kebab-case / snake_case keys and aliases onto TrainingArgs keys; unknown keys are errors
 * that suggest the peft-ts name. `display` says how a key was written (a flag: "--max-steps").
 */
export function normaliseKeys(raw: Record<string, unknown>, where: string, display: (key: string) => string = (k) => k): GivenArgs {
  const given: GivenArgs = { values: {}, names: {} };
  for (const [k, v] of Object.entries(raw)) {
    const camel = camelKey(k);
    const key = (ALIASES[camel] ?? camel) as keyof TrainingArgs;
    if (!ARG_KEYS.includes(key)) {
      const near = closestKey(camel);
      const not = NOT_ALIASES[camel];
      const hint = not ? `; peft-ts calls it ${display(spellLike(k, not[0]))} (${not[1]})` : near ? `; did you mean ${display(spellLike(k, near))}?` : "";
      throw new TrainingArgsError(`${where}: unknown ${display(k).startsWith("--") ? "option" : "key"} "${display(k)}"${hint}`);
    }
    if (given.names[key] !== undefined) throw new TrainingArgsError(`${given.names[key]} and ${display(k)} are the same setting; give one`);
    given.values[key] = v;
    given.names[key] = `${where}: ${display(k)}`;
  }
  return given;
}

/** A TrainingArgs key in the style of `like`: snake_case, kebab-case or camelCase. */
function spellLike(like: string, key: string): string {
  if (like.includes("_")) return kebabKey(key).replaceAll("-", "_");
  if (like.includes("-") || like === like.toLowerCase()) return kebabKey(key);
  return key;
}

type Check = (v: unknown) => string | null;

const posNum: Check = (v) => (typeof v === "number" && v > 0 && Number.isFinite(v) ? null : "must be a positive number");
const nonNegNum: Check = (v) => (typeof v === "number" && v >= 0 && Number.isFinite(v) ? null : "must be a number >= 0");
const posInt: Check = (v) => (Number.isInteger(v) && (v as number) > 0 ? null : "must be a positive integer");
const nonNegInt: Check = (v) => (Number.isInteger(v) && (v as number) >= 0 ? null : "must be an integer >= 0");
const int: Check = (v) => (Number.isInteger(v) ? null : "must be an integer");
const bool: Check = (v) => (typeof v === "boolean" ? null : "must be true or false");
const str: Check = (v) => (typeof v === "string" && v.length > 0 ? null : "must be a non-empty string");
const oneOf = (...values: readonly unknown[]): Check => (v) => (values.includes(v) ? null : `must be one of ${values.join(", ")}`);
const unit: Check = (v) => (typeof v === "number" && v >= 0 && v < 1 ? null : "must be in [0, 1)");
const nullable = (c: Check): Check => (v) => (v === null ? null : c(v));

const CHECKS: Record<keyof TrainingArgs, Check> = {
  model: str,
  data: str,
  evalData: nullable(str),
  valSplit: unit,
  format: oneOf("auto", ...DATA_FORMATS),
  trainOnPrompt: bool,
  system: nullable(str),
  pack: bool,
  method: oneOf("full", "lora", "qlora"),
  lr: posNum,
  epochs: posInt,
  maxSteps: nullable(posInt),
  batchSize: posInt,
  gradAccum: posInt,
  maxSeqLen: posInt,
  warmupSteps: nonNegInt,
  scheduler: oneOf(...SCHEDULERS),
  weightDecay: nonNegNum,
  maxGradNorm: nonNegNum,
  seed: int,
  saveEvery: nonNegInt,
  saveTotalLimit: nonNegInt,
  evalEvery: nonNegInt,
  logEvery: posInt,
  out: str,
  resume: bool,
  allowChangedArgs: bool,
  optimizer: oneOf(...OPTIMIZERS),
  adamBeta1: unit,
  adamBeta2: unit,
  adamEps: nonNegNum,
  momentum: nonNegNum,
  nesterov: bool,
  gradientCheckpointing: oneOf(true, false, "auto"),
  loraR: posInt,
  loraAlpha: posNum,
  loraDropout: unit,
  loraTargetModules: (v) =>
    v === "all-linear" || (Array.isArray(v) && v.length > 0 && v.every((s) => typeof s === "string" && s.length > 0))
      ? null
      : 'must be a list of module names or "all-linear"',
  baseDtype: nullable(oneOf("float32", "bfloat16")),
  computeDtype: nullable(oneOf("float32", "bfloat16")),
  quantizeEmbeddings: nullable(oneOf("int8", "nf4")),
  skipNonFinite: bool,
  ignoreMemoryCheck: bool,
  threads: nullable(posInt),
};

/** Coerces strings from YAML / the CLI where a field wants a number, boolean or list. */
function coerce(key: keyof TrainingArgs, v: unknown): unknown {
  const def = (DEFAULT_ARGS as Record<string, unknown>)[key];
  if (typeof v !== "string") return v;
  if (key === "gradientCheckpointing") return v === "auto" ? v : v === "true" ? true : v === "false" ? false : v;
  if (key === "loraTargetModules") return v === "all-linear" ? v : v.split(",").map((s) => s.trim()).filter(Boolean);
  if (typeof def === "number" || key === "maxSteps" || key === "threads") return v.trim() === "" ? v : Number(v);
  if (typeof def === "boolean") return v === "true" ? true : v === "false" ? false : v;
  return v;
}

/** The value as the user gave it, for messages: strings quoted, NaN and the like spelt out. */
function shown(v: unknown): string {
  if (v === undefined) return "nothing";
  if (typeof v === "number" && !Number.isFinite(v)) return String(v);
  return JSON.stringify(v) ?? String(v);
}

/**
 * Fills defaults and validates every field; throws TrainingArgsError naming the first bad one as the user
 * wrote it (`names`, from readConfigFile / normaliseKeys) and quoting the value given.
 */
export function resolveArgs(given: Partial<Record<keyof TrainingArgs, unknown>>, names: GivenArgs["names"] = {}): TrainingArgs {
  const merged: Record<string, unknown> = { ...DEFAULT_ARGS };
  for (const [k, v] of Object.entries(given)) {
    if (v === undefined) continue;
    if (!ARG_KEYS.includes(k as keyof TrainingArgs)) throw new TrainingArgsError(`training args: unknown field "${k}"`);
    merged[k] = coerce(k as keyof TrainingArgs, v);
  }
  for (const key of ARG_KEYS) {
    const problem = CHECKS[key](merged[key]);
    if (problem) throw new TrainingArgsError(`${names[key] ?? `training args: ${key}`} ${problem}, got ${shown(given[key] ?? merged[key])}`);
  }
  const a = merged as unknown as TrainingArgs;
  if (a.nesterov && (a.momentum <= 0 || a.optimizer !== "sgd")) throw new TrainingArgsError("training args: nesterov needs optimizer sgd with momentum > 0");
  if (a.quantizeEmbeddings !== null && a.method === "full") throw new TrainingArgsError("training args: quantizeEmbeddings needs a frozen base (lora or qlora)");
  if (a.evalData !== null && a.valSplit > 0) throw new TrainingArgsError("training args: give either evalData or valSplit, not both");
  return a;
}
