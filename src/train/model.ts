// The model a training run updates, per method: full fine-tuning (every float weight trainable), LoRA
// (PEFT adapters on a frozen float32 or bf16 base) and QLoRA (adapters on an NF4 base quantized as it
// loads, double-quantized absmax, as bitsandbytes' QLoRA recipe). Also how each saves its weights the way
// transformers / PEFT lay them out, and the tokenizer files that go beside them.

import { existsSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { loadModel, loadConfig, type CausalLM, type ModelInput, type ModelOutput } from "../models/index.ts";
import { frozenDtype } from "../memory/index.ts";
import type { Module } from "../nn/index.ts";
import { Tensor } from "../tensor/tensor.ts";
import { getPeftModel, applyAdapterFromDir, writeModelFiles } from "../peft/index.ts";
import type { Method } from "./args.ts";
import type { LoraConfig } from "../peft/index.ts";

export interface TrainableModel {
  method: Method;
  base: CausalLM;
  /** What the training step calls: the model itself, or its PEFT wrapper. */
  net: Module & { forward(input: ModelInput): ModelOutput };
  params: [string, Tensor][];
  paramsTotal: number;
  paramsTrainable: number;
  /** The trainable-parameter report printed before training. */
  report: string;
  /** Writes the weights as the ecosystem expects them: PEFT adapter files, or a full model folder. */
  saveWeights(dir: string): void;
}

export interface ModelArgs {
  model: string;
  method: Method;
  baseDtype: "float32" | "bfloat16" | null;
  quantizeEmbeddings?: "int8" | "nf4" | null;
  loraR: number;
  loraAlpha: number;
  loraDropout: number;
  loraTargetModules: string[] | "all-linear";
  seed: number;
}

export function countParameters(m: Module): { total: number; trainable: number } {
  let total = 0;
  let trainable = 0;
  for (const [, p] of m.namedParameters()) {
    total += p.size;
    if (p instanceof Tensor && p.requiresGrad) trainable += p.size;
  }
  return { total, trainable };
}

/** The LoRA settings as PEFT's adapter_config.json keys. */
export function loraConfigOf(a: ModelArgs): Partial<LoraConfig> {
  return {
    r: a.loraR,
    lora_alpha: a.loraAlpha,
    lora_dropout: a.loraDropout,
    target_modules: a.loraTargetModules,
    task_type: "CAUSAL_LM",
    base_model_name_or_path: a.model,
  };
}

export async function prepareModel(a: ModelArgs): Promise<TrainableModel> {
  if (a.method === "full") return fullModel(loadModel(a.model, { trainable: true }));
  const config = loadConfig(a.model);
  // QLoRA: NF4 with double quantization as the layers are read; a bitsandbytes folder is read as stored.
  const quantize = a.method === "qlora" && !config.quantizationConfig;
  const base = loadModel(a.model, {
    dtype: frozenDtype(a.method, a.baseDtype, config),
    quantization: quantize ? QLORA_QUANTIZATION : null,
    embeddingQuantization: a.quantizeEmbeddings ? { ...QLORA_QUANTIZATION, type: a.quantizeEmbeddings } : null,
  });
  return adapterModel(a, base, a.method);
}

/** QLoRA's base: NF4, blocks of 64, double-quantized absmax (Dettmers et al., bitsandbytes' defaults). */
export const QLORA_QUANTIZATION = { type: "nf4", blockSize: 64, doubleQuant: true } as const;

export function fullModel(model: CausalLM): TrainableModel {
  const params = model.trainableParameters();
  const { total, trainable } = countParameters(model);
  return {
    method: "full",
    base: model,
    net: model,
    params,
    paramsTotal: total,
    paramsTrainable: trainable,
    report: `trainable params: ${trainable.toLocaleString("en-US")} || all params: ${total.toLocaleString("en-US")} || trainable%: ${((100 * trainable) / total).toFixed(4)}`,
    saveWeights: (dir) => writeModelFiles(model, dir),
  };
}

export async function adapterModel(a: ModelArgs, base: CausalLM, method: Method): Promise<TrainableModel> {
  const peft = getPeftModel(base, loraConfigOf(a), { adapterName: "default", seed: a.seed });
  const params = peft.trainableParameters();
  const { total, trainable } = countParameters(peft);
  return {
    method,
    base,
    net: peft,
    params,
    paramsTotal: total,
    paramsTrainable: trainable,
    report: peft.parameterReport().text,
    saveWeights: (dir) => peft.saveAdapter(dir),
  };
}

/** The files of each kind of result (PEFT adapter, transformers checkpoint) as saveWeights writes them. */
const RESULT_FILES = {
  adapter: /^adapter_(config\.json|model\.safetensors|model\.bin)$/,
  full: /^(config\.json|model\.safetensors|model-\d+-of-\d+\.safetensors|model\.safetensors\.index\.json)$/,
};

/** Removes from `dir` the result files of the kind `method` does not write; returns their names. */
export function removeOtherResult(dir: string, method: Method): string[] {
  if (!existsSync(dir)) return [];
  const other = method === "full" ? RESULT_FILES.adapter : RESULT_FILES.full;
  const names = readdirSync(dir).filter((n) => other.test(n)).sort();
  for (const n of names) rmSync(join(dir, n), { force: true });
  return names;
}

/** A model folder for inference, with a PEFT adapter folder applied (frozen) when given. */
export async function loadForInference(modelDir: string, adapterDir?: string | null): Promise<CausalLM> {
  const model = loadModel(modelDir);
  if (adapterDir) applyAdapterFromDir(model, adapterDir);
  model.eval();
  return model;
}
