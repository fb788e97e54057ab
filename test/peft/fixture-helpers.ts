// Shared by the test/peft files: the PEFT fixture adapters and their reference batches.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { SafetensorsReader } from "../../src/io/safetensors.ts";
import { idsToInt32 } from "../../src/tensor/tensor.ts";
import type { ModelInput, ModelOutput } from "../../src/models/index.ts";

export const FIXTURES = "test/fixtures";
export const ADAPTERS = ["llama-lora", "llama3-rope-lora", "qwen2-lora", "qwen3-lora", "gpt2-lora", "llama-rslora", "llama-dora"];

export type Batch = { ids: Int32Array; B: number; T: number; attentionMask: Uint8Array; labels: Int32Array };

/** An adapter fixture: its folder, its base model folder, its reference file and the batch. */
export function adapterFixture(name: string) {
  const dir = join(FIXTURES, "adapters", name);
  const baseDir = join(FIXTURES, JSON.parse(readFileSync(join(dir, "base.json"), "utf8")).base_model_dir as string);
  const ref = SafetensorsReader.open(join(dir, "reference.safetensors"));
  const ids = ref.read("input_ids");
  const [B, T] = ids.shape as [number, number];
  const batch: Batch = {
    ids: idsToInt32(ids),
    B,
    T,
    attentionMask: Uint8Array.from(idsToInt32(ref.read("attention_mask"))),
    labels: idsToInt32(ref.read("labels")),
  };
  return { dir, baseDir, ref, batch };
}

/** All logits of a forward pass, copied out. */
export function logitsOf(model: { forward(input: ModelInput): ModelOutput }, batch: Batch): Float32Array {
  return Float32Array.from(model.forward({ ...batch, labels: null, logits: "all" }).logits!.toFloat32());
}
