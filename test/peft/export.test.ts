// Merged-model export: a Hugging Face folder that loadModel reads back to PEFT's merged logits, in float32
// and bfloat16, sharded or not, tied embeddings kept tied, tokenizer files along; and the `merge` command.

import { describe, it, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SafetensorsReader } from "../../src/io/safetensors.ts";
import { CheckpointReader } from "../../src/io/checkpoint.ts";
import { loadModel } from "../../src/models/index.ts";
import { setBackend } from "../../src/backend/index.ts";
import { getPeftModel, loadPeftModel, saveMergedModel } from "../../src/peft/index.ts";
import { quantizeTensor } from "../../src/quant/index.ts";
import type { Tensor } from "../../src/tensor/tensor.ts";
import { spawnSync } from "node:child_process";
import { assertClose, backendsUnderTest, maxAbsDiff } from "../helpers.ts";
import { adapterFixture, logitsOf, tinyBatch, tinyModel } from "./fixture-helpers.ts";

const tmp = mkdtempSync(join(tmpdir(), "peft-ts-export-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

for (const backendName of backendsUnderTest) {
  describe(`merged-model export (${backendName} backend)`, () => {
    for (const name of ["llama-lora", "gpt2-lora", "qwen2-lora", "llama-dora"]) {
      it(`${name}: float32 export reloads with loadModel and gives PEFT's merged logits`, () => {
        setBackend(backendName);
        const { dir, baseDir, ref, batch } = adapterFixture(name);
        const peft = loadPeftModel(loadModel(baseDir), dir);
        const adapted = logitsOf(peft, batch);
        const out = join(tmp, `${name}-f32-${backendName}`);
        saveMergedModel(peft, baseDir, out, { dtype: "float32" });
        assert.deepEqual(logitsOf(peft, batch), adapted, "the PeftModel is unchanged by the export");
        const merged = loadModel(out);
        assertClose(logitsOf(merged, batch), ref.read("merged_logits").toFloat32(), 1e-4, "merged_logits", "abs");
        const config = JSON.parse(readFileSync(join(out, "config.json"), "utf8"));
        const baseConfig = JSON.parse(readFileSync(join(baseDir, "config.json"), "utf8"));
        assert.equal(config.dtype, "float32");
        assert.equal(config.tie_word_embeddings, baseConfig.tie_word_embeddings, "tying unchanged");
        const ckpt = CheckpointReader.open(out);
        assert.equal(ckpt.has("lm_head.weight"), !baseConfig.tie_word_embeddings, "lm_head written only when untied");
        const baseCkpt = CheckpointReader.open(baseDir);
        assert.deepEqual(ckpt.names().sort(), baseCkpt.names().filter((n) => !/\.attn\.(masked_)?bias$/.test(n)).sort(), "the base checkpoint's tensor names");
        ckpt.close();
        baseCkpt.close();
        for (const f of ["tokenizer.json", "tokenizer_config.json", "generation_config.json"]) {
          assert.deepEqual(readFileSync(join(out, f)), readFileSync(join(baseDir, f)), `${f} copied`);
        }
        if (existsSync(join(baseDir, "chat_template.jinja"))) assert.ok(existsSync(join(out, "chat_template.jinja")));
        ref.close();
      });
    }

    it("bfloat16 export: BF16 tensors, dtype bfloat16, logits close to the float32 merge", () => {
      setBackend(backendName);
      const { dir, baseDir, ref, batch } = adapterFixture("llama-lora");
      const out = join(tmp, `bf16-${backendName}`);
      saveMergedModel(loadPeftModel(loadModel(baseDir), dir), baseDir, out, { dtype: "bfloat16" });
      const st = SafetensorsReader.open(join(out, "model.safetensors"));
      assert.ok(st.names().every((n) => st.entry(n).dtype === "BF16"));
      st.close();
      assert.equal(JSON.parse(readFileSync(join(out, "config.json"), "utf8")).dtype, "bfloat16");
      const merged = loadModel(out);
      const d = maxAbsDiff(logitsOf(merged, batch), ref.read("merged_logits").toFloat32());
      assert.ok(d > 0 && d < 5e-2, `bf16 logits differ by ${d}`);
      ref.close();
    });
  });
}

describe("merged-model export: details", () => {
  it("shards at maxShardBytes with an index that loadModel follows", () => {
    const { dir, baseDir, ref, batch } = adapterFixture("qwen3-lora");
    const out = join(tmp, "sharded");
    saveMergedModel(loadPeftModel(loadModel(baseDir), dir), null, out, { maxShardBytes: 60_000 });
    const files = readdirSync(out);
    assert.ok(files.includes("model.safetensors.index.json") && files.filter((f) => /^model-\d{5}-of-\d{5}\.safetensors$/.test(f)).length > 2, files.join(", "));
    assert.ok(!files.includes("tokenizer.json"), "no tokenizer folder given, none copied");
    assertClose(logitsOf(loadModel(out), batch), ref.read("merged_logits").toFloat32(), 1e-4, "sharded merged_logits", "abs");
    ref.close();
  });

  it("QLoRA: an NF4 base exports dequantized float weights (LoRA layers merged, the rest dequantized), no quantization_config", () => {
    const batch = tinyBatch();
    const nf4 = { quantize: (_n: string, w: Tensor) => quantizeTensor(w, { type: "nf4", blockSize: 16, doubleQuant: true }) };
    const model = tinyModel({ policy: nf4 });
    (model.config.raw as Record<string, unknown>).quantization_config = { load_in_4bit: true, bnb_4bit_quant_type: "nf4" };
    const peft = getPeftModel(model, { target_modules: ["q_proj", "down_proj"], r: 2, init_lora_weights: false }, { seed: 7 });
    const adapted = logitsOf(peft, batch);
    const out = join(tmp, "qlora");
    saveMergedModel(peft, null, out, { dtype: "float32" });
    const config = JSON.parse(readFileSync(join(out, "config.json"), "utf8"));
    assert.equal(config.quantization_config, undefined);
    const st = SafetensorsReader.open(join(out, "model.safetensors"));
    assert.ok(st.names().every((n) => st.entry(n).dtype === "F32"));
    st.close();
    assert.ok(maxAbsDiff(logitsOf(loadModel(out), batch), adapted) < 1e-4, "the float export computes what the QLoRA model computed");
  });

  it("a LoRA on a tied head unties it: both matrices written, tie_word_embeddings false", () => {
    const batch = tinyBatch();
    const peft = getPeftModel(tinyModel({ tied: true }), { target_modules: ["lm_head", "q_proj"], r: 2, init_lora_weights: false }, { seed: 3 });
    const adapted = logitsOf(peft, batch);
    const out = join(tmp, "untied");
    saveMergedModel(peft, null, out);
    assert.equal(JSON.parse(readFileSync(join(out, "config.json"), "utf8")).tie_word_embeddings, false);
    assert.ok(maxAbsDiff(logitsOf(loadModel(out), batch), adapted) < 1e-5);
    assert.throws(() => peft.merge(), /tied/);
    assert.ok(maxAbsDiff(logitsOf(peft.mergeAndUnload(), batch), adapted) < 1e-5, "mergeAndUnload unties too");
  });

  it("modules_to_save on a tied embedding: the trained copy and the head are both written", () => {
    const batch = tinyBatch();
    const notes: string[] = [];
    const peft = getPeftModel(tinyModel({ tied: true }), { target_modules: ["q_proj"], r: 2, modules_to_save: ["embed_tokens"] }, { onNote: (m) => notes.push(m) });
    assert.ok(notes.some((m) => m.includes("model.embed_tokens") && m.includes("not tied")), notes.join("\n"));
    const copy = peft.trainableParameters().find(([n]) => n.includes("embed_tokens.modules_to_save"))![1];
    (copy.data as Float32Array).forEach((v, i, a) => (a[i] = v * 1.5));
    const adapted = logitsOf(peft, batch);
    const out = join(tmp, "mts-tied");
    saveMergedModel(peft, null, out);
    assert.ok(maxAbsDiff(logitsOf(loadModel(out), batch), adapted) < 1e-5);
  });

  it("`peft-ts merge` writes a loadable merged model", () => {
    const { dir, baseDir, ref, batch } = adapterFixture("gpt2-lora");
    const out = join(tmp, "cli");
    const res = spawnSync(process.execPath, ["bin/peft-ts.js", "merge", "--model", baseDir, "--adapter", dir, "--out", out], { encoding: "utf8" });
    assert.equal(res.status, 0, res.stderr);
    assert.match(res.stdout, /merged .*gpt2-lora \(8 LoRA layers\)/);
    assertClose(logitsOf(loadModel(out), batch), ref.read("merged_logits").toFloat32(), 1e-4, "CLI merged_logits", "abs");
    const bad = spawnSync(process.execPath, ["bin/peft-ts.js", "merge", "--model", baseDir, "--adapter", join(tmp, "nope"), "--out", join(tmp, "cli2")], { encoding: "utf8" });
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /--adapter .*nope: no such folder/);
    ref.close();
  });
});
