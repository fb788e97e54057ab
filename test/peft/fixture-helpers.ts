// Shared by the test/peft files: the PEFT fixture adapters with their reference batches, and tiny random models.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { SafetensorsReader } from "../../src/io/safetensors.ts";
import { idsToInt32 } from "../../src/tensor/tensor.ts";
import { parseConfig, buildModel, RandomWeights, type CausalLM, type ModelInput, type ModelOutput, type StoragePolicy } from "../../src/models/index.ts";

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

// ---- tiny random models (injection tables, merges, adapters on bf16 / NF4 bases) ------------------------

export interface TinyOptions {
  arch?: "llama" | "gpt2";
  layers?: number;
  tied?: boolean;
  bias?: boolean;
  seed?: number;
  policy?: Partial<StoragePolicy>;
}

/** A small random Llama (hidden 16, 2 heads, 1 KV head, intermediate 24, vocab 40) or GPT-2 (hidden 16). */
export function tinyModel(o: TinyOptions = {}): CausalLM {
  const raw =
    o.arch === "gpt2"
      ? { architectures: ["GPT2LMHeadModel"], model_type: "gpt2", vocab_size: 40, n_embd: 16, n_head: 2, n_layer: o.layers ?? 2, n_positions: 64, tie_word_embeddings: o.tied ?? true }
      : {
          architectures: ["LlamaForCausalLM"],
          model_type: "llama",
          vocab_size: 40,
          hidden_size: 16,
          intermediate_size: 24,
          num_hidden_layers: o.layers ?? 2,
          num_attention_heads: 2,
          num_key_value_heads: 1,
          max_position_embeddings: 64,
          tie_word_embeddings: o.tied ?? false,
          attention_bias: o.bias ?? false,
          torch_dtype: "float32",
        };
  const policy: StoragePolicy = { weightDtype: "float32", trainable: false, ...o.policy };
  return buildModel(parseConfig(raw, "tiny"), new RandomWeights(o.seed ?? 1, policy, 0.2));
}

export function tinyBatch(B = 2, T = 5, vocab = 40, seed = 3): Batch {
  const ids = new Int32Array(B * T);
  for (let i = 0; i < ids.length; i++) ids[i] = (i * 7 + seed * 13) % vocab;
  const labels = Int32Array.from(ids);
  labels[0] = -100;
  return { ids, B, T, attentionMask: new Uint8Array(B * T).fill(1), labels };
}
