// LoRA on the new architectures: `all-linear` and the defaults resolve to the modules transformers gives these
// classes (fused qkv_proj / gate_up_proj for Phi-3; model.language_model.* for Gemma3ForConditionalGeneration),
// the saved adapter has PEFT's key names and shapes, it loads back, merge/unmerge round-trip, and QLoRA
// (NF4 base) trains.

import { describe, it, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadModel } from "../../src/models/index.ts";
import { SafetensorsReader } from "../../src/io/safetensors.ts";
import { backward } from "../../src/autograd/engine.ts";
import { getPeftModel, loadPeftModel } from "../../src/peft/index.ts";
import { maxAbsDiff } from "../helpers.ts";
import { logitsOf, type Batch } from "./fixture-helpers.ts";

const tmp = mkdtempSync(join(tmpdir(), "peft-ts-archs-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

const ATTN = ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj"];
const MLP = ["mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"];

/** Per fixture: layer prefix, layers, the linear modules of a layer (transformers' names), PEFT's default targets. */
const CASES: { arch: string; prefix: string; layers: number; linears: string[]; defaults: string[] | null }[] = [
  { arch: "gemma2", prefix: "model.layers", layers: 3, linears: [...ATTN, ...MLP], defaults: ["q_proj", "v_proj"] },
  { arch: "gemma3", prefix: "model.layers", layers: 7, linears: [...ATTN, ...MLP], defaults: ["q_proj", "v_proj"] },
  { arch: "gemma3-multimodal", prefix: "model.language_model.layers", layers: 7, linears: [...ATTN, ...MLP], defaults: null },
  { arch: "phi3-longrope", prefix: "model.layers", layers: 2, linears: ["self_attn.qkv_proj", "self_attn.o_proj", "mlp.gate_up_proj", "mlp.down_proj"], defaults: null },
  { arch: "smollm3", prefix: "model.layers", layers: 5, linears: [...ATTN, ...MLP], defaults: null },
  { arch: "mistral-window", prefix: "model.layers", layers: 2, linears: [...ATTN, ...MLP], defaults: ["q_proj", "v_proj"] },
  { arch: "ministral-window", prefix: "model.layers", layers: 3, linears: [...ATTN, ...MLP], defaults: null },
];

const batch = (vocab: number): Batch => {
  const T = 14;
  const ids = Int32Array.from({ length: 2 * T }, (_, i) => (i * 37 + 11) % vocab);
  const attentionMask = Uint8Array.from({ length: 2 * T }, (_, i) => (i >= 2 * T - 3 ? 0 : 1));
  const labels = Int32Array.from(ids, (id, i) => (attentionMask[i] ? id : -100));
  return { ids, B: 2, T, attentionMask, labels };
};

for (const c of CASES) {
  describe(`LoRA on ${c.arch}`, () => {
    const dir = join("test/fixtures/models", c.arch);

    it("all-linear adapts every projection under transformers' names; the file has PEFT's keys and shapes; it loads back", () => {
      const peft = getPeftModel(loadModel(dir), { target_modules: "all-linear", r: 3, lora_alpha: 6, init_lora_weights: false }, { seed: 7 });
      const paths = peft.loraLayers().map(([p]) => p).sort();
      const expected = Array.from({ length: c.layers }, (_, i) => c.linears.map((l) => `${c.prefix}.${i}.${l}`)).flat().sort();
      assert.deepEqual(paths, expected);
      const out = join(tmp, c.arch);
      peft.saveAdapter(out);
      const file = SafetensorsReader.open(join(out, "adapter_model.safetensors"));
      for (const [p, layer] of peft.loraLayers()) {
        assert.deepEqual(file.read(`base_model.model.${p}.lora_A.weight`).shape, [3, layer.inFeatures], p);
        assert.deepEqual(file.read(`base_model.model.${p}.lora_B.weight`).shape, [layer.outFeatures, 3], p);
      }
      assert.equal(file.names().length, 2 * expected.length);
      file.close();
      const cfg = JSON.parse(readFileSync(join(out, "adapter_config.json"), "utf8"));
      assert.deepEqual([...cfg.target_modules].sort(), [...new Set(c.linears.map((l) => l.split(".")[1]))].sort());
      const b = batch(peft.base.config.vocabSize);
      const reloaded = loadPeftModel(loadModel(dir), out);
      assert.ok(maxAbsDiff(logitsOf(reloaded, b), logitsOf(peft, b)) < 1e-6, "the saved adapter reproduces the model");
    });

    it(`default target_modules: ${c.defaults ? c.defaults.join(", ") : "none (PEFT has no default for this model_type)"}`, () => {
      const model = loadModel(dir);
      if (!c.defaults) {
        assert.throws(() => getPeftModel(model, { r: 2 }), /target_modules is not set and there is no default/);
        return;
      }
      const peft = getPeftModel(model, { r: 2 });
      assert.deepEqual(new Set(peft.loraLayers().map(([p]) => p.split(".").pop())), new Set(c.defaults));
    });

    it("merge and unmerge: merged logits equal the adapter's; unmerged, the base weights are back", () => {
      const b = batch(loadModel(dir).config.vocabSize);
      const baseLogits = logitsOf(loadModel(dir), b);
      const peft = getPeftModel(loadModel(dir), { target_modules: "all-linear", r: 2, lora_alpha: 4, init_lora_weights: false }, { seed: 3 });
      const adapted = logitsOf(peft, b);
      assert.ok(maxAbsDiff(adapted, baseLogits) > 1e-3, "the adapter changes the logits");
      peft.merge();
      assert.ok(maxAbsDiff(logitsOf(peft, b), adapted) < 1e-4, "merged");
      peft.unmerge();
      assert.ok(maxAbsDiff(logitsOf(peft, b), adapted) < 1e-4, "unmerged, adapter active");
      assert.ok(maxAbsDiff(peft.withAdaptersDisabled(() => logitsOf(peft, b)), baseLogits) < 1e-4, "unmerged, adapter disabled");
    });

    it("QLoRA: an NF4 base with LoRA on every projection trains (finite loss, gradients on every adapter)", () => {
      const base = loadModel(dir, { quantization: { type: "nf4", doubleQuant: true, blockSize: 16 } });
      const peft = getPeftModel(base, { target_modules: "all-linear", r: 2, init_lora_weights: false }, { seed: 1 });
      const out = peft.forward({ ...batch(base.config.vocabSize), logits: "none" });
      assert.ok(Number.isFinite(out.loss!.item()));
      backward(out.loss!);
      for (const [name, p] of peft.trainableParameters()) assert.ok(p.grad?.data.some((v) => v !== 0), `${name} has a gradient`);
    });
  });
}
