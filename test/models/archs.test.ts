// What the new architectures add beyond the fixture comparisons (test/models/fixtures.test.ts): both config
// styles read the same, a Gemma3ForConditionalGeneration checkpoint's text model is the Gemma 3 one, the fused
// soft-capped loss matches the reference, Gemma's normalizer rounds to the embedding's dtype, and bad
// configs are refused by key.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { SafetensorsReader } from "../../src/io/safetensors.ts";
import { loadModel, loadConfig, parseConfig, ConfigError, type ModelConfig } from "../../src/models/index.ts";
import { layerWindow, rotaryDim } from "../../src/models/config.ts";
import { GemmaForCausalLM } from "../../src/models/gemma.ts";
import { backward } from "../../src/autograd/engine.ts";
import { idsToInt32 } from "../../src/tensor/tensor.ts";
import { assertClose } from "../helpers.ts";

const FIXTURES = "test/fixtures/models";

function batch(dir: string) {
  const ref = SafetensorsReader.open(join(dir, "reference.safetensors"));
  const ids = ref.read("input_ids");
  const [B, T] = ids.shape as [number, number];
  return { ref, B, T, ids: idsToInt32(ids), mask: Uint8Array.from(idsToInt32(ref.read("attention_mask"))), labels: idsToInt32(ref.read("labels")) };
}

/** The normalised fields (not the JSON as read, nor the dtype's spelling). */
function normalised(c: ModelConfig): Partial<ModelConfig> {
  const { raw: _raw, ...rest } = c;
  return rest;
}

describe("new architectures: configs", () => {
  for (const arch of ["mistral-window", "ministral-window", "smollm3", "phi3-longrope", "gemma2", "gemma3"]) {
    it(`${arch}: transformers 4 and 5 configs normalise to the same config`, () => {
      const v5 = loadConfig(join(FIXTURES, arch, "config.json"));
      const v4 = loadConfig(join(FIXTURES, arch, "config.transformers4.json"));
      assert.deepEqual(normalised(v4), normalised(v5));
    });
  }

  it("gemma3: layer 5 global (pattern 6), local RoPE base 1e4 without scaling, global 1e6 with linear 8", () => {
    const c = loadConfig(join(FIXTURES, "gemma3"));
    assert.deepEqual(c.layerTypes!.map((t) => t[0]), ["s", "s", "s", "s", "s", "f", "s"]);
    assert.deepEqual([layerWindow(c, 4), layerWindow(c, 5)], [4, null]);
    assert.deepEqual(c.localRope, { theta: 10000, scaling: null });
    assert.equal(c.ropeTheta, 1_000_000);
    assert.equal(c.ropeScaling?.type, "linear");
    assert.equal(c.ropeScaling?.factor, 8);
    assert.equal(c.queryPreAttnScalar, 24);
    assert.equal(c.qkNorm, true);
    assert.equal(c.finalLogitSoftcapping, null);
  });

  it("gemma2: every other layer sliding from the first, both soft caps", () => {
    const c = loadConfig(join(FIXTURES, "gemma2"));
    assert.deepEqual(c.layerTypes, ["sliding_attention", "full_attention", "sliding_attention"]);
    assert.deepEqual([c.attnLogitSoftcapping, c.finalLogitSoftcapping], [2, 3]);
    // Gemma2Config's defaults when the keys are absent, none when they are null.
    const raw = { ...c.raw };
    delete raw.attn_logit_softcapping;
    delete raw.final_logit_softcapping;
    delete raw.layer_types;
    const d = parseConfig(raw);
    assert.deepEqual([d.attnLogitSoftcapping, d.finalLogitSoftcapping], [50, 30]);
    assert.equal(parseConfig({ ...raw, final_logit_softcapping: null }).finalLogitSoftcapping, null);
  });

  it("phi3: partial rotary 0.75 of 16 dims, longrope factor 64/8 and attention factor √(1 + ln 8 / ln 8)", () => {
    const c = loadConfig(join(FIXTURES, "phi3-longrope"));
    assert.equal(rotaryDim(c), 12);
    assert.equal(c.ropeScaling?.type, "longrope");
    assert.equal(c.ropeScaling?.factor, 8);
    assert.equal(c.ropeScaling?.originalMaxPositions, 8);
    assert.ok(Math.abs(c.ropeScaling!.attentionFactor! - Math.SQRT2) < 1e-15);
    assert.deepEqual([layerWindow(c, 0), layerWindow(c, 1)], [12, 12]);
    // Phi-3's legacy name "su" is longrope too; other types are refused by name.
    const v4 = loadConfig(join(FIXTURES, "phi3-longrope", "config.transformers4.json")).raw;
    const su = parseConfig({ ...v4, rope_scaling: { ...(v4.rope_scaling as object), type: "su" } });
    assert.deepEqual(su.ropeScaling, c.ropeScaling);
  });

  it("smollm3: layer 3 is NoPE (no_rope_layer_interval 4), no window without use_sliding_window", () => {
    const c = loadConfig(join(FIXTURES, "smollm3"));
    assert.deepEqual(c.ropeLayers, [true, true, true, false, true]);
    assert.equal(layerWindow(c, 3), null);
    const windowed = parseConfig({ ...c.raw, use_sliding_window: true, sliding_window: 7, layer_types: undefined });
    assert.deepEqual([0, 1, 2, 3, 4].map((i) => layerWindow(windowed, i)), [null, null, null, 7, null], "transformers windows the NoPE layers");
  });

  it("Ministral windows the layers its layer_types name; Mistral windows every layer and defaults the window to 4096", () => {
    const c = loadConfig(join(FIXTURES, "ministral-window"));
    assert.deepEqual([0, 1, 2].map((i) => layerWindow(c, i)), [5, null, 5]);
    assert.deepEqual([0, 1, 2].map((i) => layerWindow(parseConfig({ ...c.raw, layer_types: undefined }), i)), [5, 5, 5]);
    const mistral = loadConfig(join(FIXTURES, "mistral-window")).raw;
    assert.deepEqual(layerWindow(parseConfig({ ...mistral, layer_types: ["full_attention", "full_attention"] }), 1), 6, "Mistral ignores layer_types");
    const { sliding_window: _w, ...absent } = mistral;
    assert.equal(parseConfig(absent).slidingWindow, 4096);
    assert.equal(parseConfig({ ...mistral, sliding_window: null }).slidingWindow, null);
  });

  it("Qwen2 with use_sliding_window windows the layers from max_window_layers on", () => {
    const raw = loadConfig(join(FIXTURES, "qwen2", "config.transformers4.json")).raw;
    const c = parseConfig({ ...raw, use_sliding_window: true, sliding_window: 8, max_window_layers: 1, layer_types: undefined });
    assert.deepEqual([layerWindow(c, 0), layerWindow(c, 1)], [null, 8]);
  });

  const bad: [string, Record<string, unknown>, RegExp][] = [
    ["gemma3", { layer_types: ["full_attention"] }, /"layer_types" must list/],
    ["gemma3", { use_bidirectional_attention: true }, /use_bidirectional_attention/],
    ["gemma3", { hidden_activation: "relu" }, /hidden_activation "relu"/],
    ["phi3-longrope", { rope_parameters: { rope_type: "longrope", rope_theta: 1e4, partial_rotary_factor: 0.75, short_factor: [1], long_factor: [1] } }, /longrope factors have 1 entries, the rotary dimension needs 6/],
    ["phi3-longrope", { rope_parameters: { rope_type: "longrope", rope_theta: 1e4, short_factor: "x", long_factor: [1] } }, /"short_factor" must be a list of numbers/],
    ["smollm3", { no_rope_layers: [1, 2, 1, 1, 1] }, /"no_rope_layers" must hold 0 or 1/],
    ["mistral-window", { sliding_window: 0 }, /sliding_window must be a positive integer/],
  ];
  for (const [arch, patch, re] of bad) {
    it(`${arch}: refuses ${Object.keys(patch).join(", ")} = ${JSON.stringify(Object.values(patch)[0]).slice(0, 40)}`, () => {
      const raw = loadConfig(join(FIXTURES, arch)).raw;
      assert.throws(() => parseConfig({ ...raw, ...patch }, "cfg.json"), (e: Error) => e instanceof ConfigError && re.test(e.message) && e.message.startsWith("cfg.json"));
    });
  }
});

describe("new architectures: models", () => {
  it("Gemma3ForConditionalGeneration (legacy language_model.model keys, sparse text_config): the Gemma 3 text model", () => {
    const dir = join(FIXTURES, "gemma3-multimodal");
    const warnings: string[] = [];
    const model = loadModel(dir, { trainable: true, onWarning: (m) => warnings.push(m) });
    assert.deepEqual(warnings, [], "the vision tower and projector are known, not reported");
    assert.ok(model.namedModules().some(([p]) => p === "model.language_model.layers.6.self_attn.q_proj"), "module paths as transformers names them");
    assert.equal(model.config.modelType, "gemma3");
    assert.deepEqual(model.config.eosTokenIds, [1, 106]);
    const { ref, B, T, ids, mask, labels } = batch(join(FIXTURES, "gemma3"));
    const out = model.forward({ ids, B, T, attentionMask: mask, labels, logits: "all" });
    assertClose(out.logits!.toFloat32(), ref.read("logits").toFloat32(), 1e-4, "logits", "abs");
    backward(out.loss!);
    for (const [name, p] of model.trainableParameters()) {
      const refName = `grad.${name.replace("model.language_model.", "model.")}`;
      assertClose(p.grad!.toFloat32(), ref.read(refName).toFloat32(), 1e-4, refName, "rel");
    }
  });

  it("gemma2: the fused, chunked soft-capped loss gives the reference loss and gradients", () => {
    const dir = join(FIXTURES, "gemma2");
    const { ref, B, T, ids, mask, labels } = batch(dir);
    const model = loadModel(dir, { trainable: true });
    const out = model.forward({ ids, B, T, attentionMask: mask, labels, logits: "none" });
    const refLoss = ref.read("loss").item();
    assert.ok(Math.abs(out.loss!.item() - refLoss) <= 1e-5 * refLoss, `loss ${out.loss!.item()} vs ${refLoss}`);
    backward(out.loss!);
    for (const [name, p] of model.trainableParameters()) assertClose(p.grad!.toFloat32(), ref.read(`grad.${name}`).toFloat32(), 1e-4, name, "rel");
  });

  it("Gemma's embedding normalizer rounds √hidden to the embedding's dtype", () => {
    const dir = join(FIXTURES, "gemma3");
    const f32 = loadModel(dir) as GemmaForCausalLM;
    const bf16 = loadModel(dir, { dtype: "bfloat16" }) as GemmaForCausalLM;
    assert.equal(f32.text.embedScale(), Math.fround(Math.sqrt(40)));
    assert.equal(bf16.text.embedScale(), 6.3125); // √40 = 6.3246 in bfloat16
  });
});
