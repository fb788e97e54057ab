// A merged model as a Hugging Face checkpoint folder: config.json, sharded safetensors, tokenizer files,
// loadable by loadModel and by transformers. The PeftModel is left as it was: each merged weight is
// computed into a fresh float32 buffer (quantized bases dequantized, never re-quantized), converted to
// the requested dtype and handed to the shard writer, so at most a shard plus one layer is held.
//
// Tied embeddings stay tied (lm_head not written) while the head still shares the embedding's tensor; when
// an adapter changed one side (LoRA on lm_head, modules_to_save of either), both are written and
// config.json says tie_word_embeddings: false. config.json loses quantization_config and gets the dtype.

import { join } from "node:path";
import { Tensor } from "../tensor/tensor.ts";
import { f32ArrayToBf16 } from "../tensor/dtype.ts";
import { QuantizedTensor } from "../quant/types.ts";
import { writeCheckpoint } from "../io/checkpoint.ts";
import { commitDirAtomic, createTempDirFor, writeFileAtomic } from "../io/atomic.ts";
import { copyTokenizerFiles } from "../io/model-folder.ts";
import type { CausalLM } from "../models/index.ts";
import type { Parameter } from "../nn/index.ts";
import { LoraLinear } from "./lora-layer.ts";
import { ModulesToSaveWrapper } from "./modules-to-save.ts";
import { headPath, visibleModules } from "./inject.ts";
import { PeftModel } from "./model.ts";
import { toFloat32Tensor } from "./weight-rows.ts";

export type ExportDtype = "float32" | "bfloat16";

export interface ExportOptions {
  dtype?: ExportDtype;
  /** Largest shard (bytes of tensor data); default transformers' 5 GB. */
  maxShardBytes?: number;
}

/** Writes the merged model (active adapters folded in) to outDir, atomically. */
export function saveMergedModel(peftOrModel: PeftModel | CausalLM, tokenizerDir: string | null, outDir: string, opts: ExportOptions = {}): void {
  const tmp = createTempDirFor(outDir);
  writeModelFiles(peftOrModel, tmp, opts);
  if (tokenizerDir) copyTokenizerFiles(tokenizerDir, tmp);
  commitDirAtomic(tmp, outDir);
}

/** Writes the merged weights and config.json into an existing folder (a temporary one the caller commits). */
export function writeModelFiles(peftOrModel: PeftModel | CausalLM, dir: string, opts: ExportOptions = {}): void {
  const dtype = opts.dtype ?? "float32";
  if (dtype !== "float32" && dtype !== "bfloat16") throw new Error(`saveMergedModel: dtype must be float32 or bfloat16, got ${String(dtype)}`);
  const model = peftOrModel instanceof PeftModel ? peftOrModel.base : peftOrModel;
  const active = peftOrModel instanceof PeftModel ? peftOrModel.activeAdapters : [];
  const emitted = new Set<string>();
  const tensors = mergedTensors(model, active, dtype, emitted);
  writeCheckpoint(dir, tensors, { maxShardBytes: opts.maxShardBytes });
  const untied = model.config.tieWordEmbeddings && emitted.has(`${headPath(model)}.weight`);
  writeFileAtomic(join(dir, "config.json"), `${JSON.stringify(exportConfig(model, dtype, untied), null, 2)}\n`);
}

/** config.json for the export: the model's own, with the dtype set and quantization removed. */
export function exportConfig(model: CausalLM, dtype: ExportDtype, untied: boolean): Record<string, unknown> {
  const raw: Record<string, unknown> = structuredClone(model.config.raw);
  delete raw.quantization_config;
  raw.dtype = dtype;
  if ("torch_dtype" in raw) raw.torch_dtype = dtype;
  if (untied) raw.tie_word_embeddings = false;
  return raw;
}

/** [checkpoint name, tensor] for every weight of the merged model, each shared tensor once. */
export function* mergedTensors(model: CausalLM, active: readonly string[], dtype: ExportDtype, emitted = new Set<string>()): Generator<[string, Tensor]> {
  const seen = new Set<Parameter>();
  const emit = (name: string, t: Tensor): [string, Tensor] => {
    emitted.add(name);
    return [name, convert(t, dtype)];
  };
  for (const [path, m] of visibleModules(model)) {
    const at = (k: string) => (path ? `${path}.${k}` : k);
    if (m instanceof LoraLinear) {
      seen.add(m.base_layer.weight);
      yield emit(at("weight"), m.mergedWeight(active));
      if (m.base_layer.bias) yield emit(at("bias"), m.base_layer.bias);
      continue;
    }
    const params = m instanceof ModulesToSaveWrapper ? m.current().namedParameters() : m.ownParameters();
    for (const [k, p] of params) {
      if (seen.has(p)) continue;
      seen.add(p);
      yield emit(at(k), p instanceof QuantizedTensor ? toFloat32Tensor(p) : p);
    }
  }
}

function convert(t: Tensor, dtype: ExportDtype): Tensor {
  if (t.dtype === dtype) return t;
  if (dtype === "float32") return toFloat32Tensor(t);
  const f = t.dtype === "float32" ? (t.data as Float32Array) : t.toFloat32();
  return Tensor.from("bfloat16", f32ArrayToBf16(f), t.shape);
}
