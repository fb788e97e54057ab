// CLI smoke tests on the fixture models: every command runs as a user would run it (node bin/peft-ts.js)
// and its output is checked against the reference fixtures.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SafetensorsReader, writeSafetensors } from "../../src/io/safetensors.ts";
import { Tensor } from "../../src/tensor/tensor.ts";
import { assertClose } from "../helpers.ts";
import { LLAMA, runCli, tempDir, writeTextData } from "./helpers.ts";

describe("CLI", () => {
  it("generate --prompt-ids --greedy --json reproduces the fixture generation", async () => {
    const gen = JSON.parse(readFileSync(join(LLAMA, "generation.json"), "utf8"));
    const r = await runCli(["generate", "--model", LLAMA, "--prompt-ids", gen.prompt_ids.join(","), "--max-new-tokens", String(gen.max_new_tokens), "--greedy", "--ignore-eos", "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.deepEqual(out.ids, gen.greedy_ids);
    assert.equal(typeof out.text, "string");
  });

  it("generate --chat streams text and stops at eos; errors name the problem", async () => {
    const r = await runCli(["generate", "--model", "test/fixtures/models/qwen2", "--chat", "Hi", "--max-new-tokens", "5", "--temperature", "0.7", "--top-k", "20", "--top-p", "0.9", "--seed", "3"]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.endsWith("\n"));
    const bad = await runCli(["generate", "--model", LLAMA]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /give one of --prompt, --chat or --prompt-ids/);
  });

  it("forward writes the fixture logits and loss", async () => {
    const dir = tempDir("cli-forward");
    const ref = SafetensorsReader.open(join(LLAMA, "reference.safetensors"));
    const input = join(dir, "in.safetensors");
    // I32 ids, to exercise the conversion (the fixture stores I64)
    const ids = ref.read("input_ids");
    writeSafetensors(input, [
      ["input_ids", Tensor.from("int32", Int32Array.from(ids.data as BigInt64Array, Number), ids.shape)],
      ["attention_mask", ref.read("attention_mask")],
      ["labels", ref.read("labels")],
    ]);
    const out = join(dir, "out.safetensors");
    const r = await runCli(["forward", "--model", LLAMA, "--input", input, "--out", out]);
    assert.equal(r.code, 0, r.stderr);
    const got = SafetensorsReader.open(out);
    assert.deepEqual(got.entry("logits").shape, ref.entry("logits").shape);
    assert.equal(got.entry("logits").dtype, "F32");
    assertClose(got.read("logits").toFloat32(), ref.read("logits").toFloat32(), 1e-4, "logits", "abs");
    assert.ok(Math.abs(got.read("loss").item() - ref.read("loss").item()) <= 1e-5 * ref.read("loss").item());
    got.close();
    ref.close();
  });

  it("inspect reads headers only and reports the shape of the model", async () => {
    const r = await runCli(["inspect", "test/fixtures/models/qwen2", "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const i = JSON.parse(r.stdout);
    assert.equal(i.architecture, "Qwen2ForCausalLM");
    assert.deepEqual([i.layers, i.heads, i.kv_heads, i.head_dim, i.hidden, i.vocab, i.tied_embeddings], [2, 4, 2, 16, 64, 512, true]);
    assert.deepEqual(Object.keys(i.dtypes), ["F32"]);
    assert.equal(i.bytes_per_parameter, 4);
    const text = await runCli(["inspect", "test/fixtures/models/llama-bf16"]);
    assert.match(text.stdout, /dtypes\s+BF16/);
    assert.match(text.stdout, /bytes \/ parameter\s+2\.000/);
  });

  it("inspect counts the parameters of a bitsandbytes NF4 folder and its bytes per parameter", async () => {
    const out = join(tempDir("cli-inspect-q"), "nf4");
    assert.equal((await runCli(["quantize", "--model", LLAMA, "--out", out])).code, 0);
    const r = await runCli(["inspect", out, "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const i = JSON.parse(r.stdout);
    assert.equal(i.parameters, 158016, "packed 4-bit codes count two parameters per byte");
    assert.equal(i.quantization, "bitsandbytes nf4");
    assert.ok(i.quantized_bytes_per_parameter > 0.5 && i.quantized_bytes_per_parameter < 0.75, String(i.quantized_bytes_per_parameter));
    assert.ok(i.bytes_per_parameter < 4);
  });

  it("train (LoRA) then eval and generate with the adapter", async () => {
    const dir = tempDir("cli-train");
    const data = writeTextData(dir, 6);
    const out = join(dir, "out");
    const cfg = join(dir, "run.yaml");
    writeFileSync(cfg, `model: ${LLAMA}\ndata: ${data}\nmethod: lora\nr: 4\nlora-alpha: 8\nmax-steps: 3\nbatch-size: 2\nlr: 5e-3\n`);
    const r = await runCli(["train", "--config", cfg, "--out", out, "--log-every", "1"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /trainable params: 9,344 \|\| all params: 167,360/);
    assert.match(r.stdout, /step 3\/3 \| epoch .* \| loss \d+\.\d+ \| lr .* tok\/s \| ETA .* \| rss \d+ MB/);
    for (const f of ["adapter_config.json", "adapter_model.safetensors", "tokenizer.json", "metrics.jsonl", "training_args.json"]) assert.ok(existsSync(join(out, f)), f);
    const adapterConfig = JSON.parse(readFileSync(join(out, "adapter_config.json"), "utf8"));
    assert.equal(adapterConfig.r, 4);
    const metrics = readFileSync(join(out, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(metrics.map((m) => m.step), [1, 2, 3]);

    const base = await runCli(["eval", "--model", LLAMA, "--data", data, "--json"]);
    const tuned = await runCli(["eval", "--model", LLAMA, "--adapter", out, "--data", data, "--json"]);
    assert.equal(base.code, 0, base.stderr);
    assert.equal(tuned.code, 0, tuned.stderr);
    const [b, t] = [JSON.parse(base.stdout), JSON.parse(tuned.stdout)];
    assert.ok(t.loss < b.loss, `the adapter lowers the loss on its training data: ${t.loss} vs ${b.loss}`);
    assert.ok(Math.abs(b.perplexity - Math.exp(b.loss)) < 1e-9 * b.perplexity);
    const g = await runCli(["generate", "--model", LLAMA, "--adapter", out, "--prompt", "The fox", "--max-new-tokens", "4", "--json"]);
    assert.equal(g.code, 0, g.stderr);
  });

  it("train errors name the problem", async () => {
    const r = await runCli(["train", "--model", LLAMA, "--data", "x.jsonl", "--lr", "-1"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /lr must be a positive number/);
    const m = await runCli(["train", "--data", "x.jsonl"]);
    assert.match(m.stderr, /--model is required/);
    const h = await runCli(["train", "--help"]);
    assert.match(h.stdout, /--gradient-checkpointing/);
  });

  it("bench train prints the JSON the PyTorch peer prints", async () => {
    const r = await runCli(["bench", "train", "--preset", "tiny", "--layers", "1", "--method", "lora", "--batch", "1", "--seq", "8", "--steps", "2", "--warmup", "1", "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    for (const k of ["tokens_per_second", "peak_rss_mb", "params_total", "params_trainable"]) assert.ok(typeof j[k] === "number" && j[k] > 0, k);
    // tiny with one layer: embeddings and head 2 × 8192 × 256, one layer, LoRA r=16 on seven projections
    const layer = 256 * 256 * 2 + 256 * 128 * 2 + 3 * 256 * 688 + 2 * 256;
    assert.equal(j.params_total - j.params_trainable, 2 * 8192 * 256 + layer + 256);
    assert.equal(j.params_trainable, 16 * ((256 + 256) * 2 + (256 + 128) * 2 + (256 + 688) * 3));
  });
});
