// Presets by the names people use, in any case, each shape giving its published checkpoint's parameter
// count (the count on the model card, from the safetensors files).

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { presetConfig, presetName } from "../../src/models/presets.ts";
import { baseParameterCount, modelInventory } from "../../src/memory/index.ts";

describe("presets", () => {
  it("are found in any case and spelling of separators", () => {
    for (const [typed, key] of [["Llama3-8B", "llama3-8b"], ["LLAMA3.1-8B", "llama3.1-8b"], ["Mistral-7B", "mistral-7b"], ["Qwen2.5-7B", "qwen2.5-7b"], ["SmolLM2-135M", "smollm2-135m"], ["tinyllama_1.1b", "tinyllama-1.1b"]] as const) {
      assert.equal(presetName(typed), key, typed);
    }
    assert.equal(presetName("gpt-5"), null);
    assert.throws(() => presetConfig("gpt-5"), /unknown preset "gpt-5"; known: tiny, smollm2-135m, /);
  });
  it("have their checkpoints' parameter counts", () => {
    const published: [string, number][] = [
      ["tinyllama-1.1b", 1_100_048_384],
      ["llama3.2-1b", 1_235_814_400],
      ["llama2-7b", 6_738_415_616],
      ["mistral-7b", 7_248_023_552],
      ["mistral-7b-v0.1", 7_241_732_096],
      ["qwen2.5-7b", 7_615_616_512],
      ["llama3.1-8b", 8_030_261_248],
      ["qwen2.5-1.5b", 1_543_714_304],
      ["qwen2.5-3b", 3_085_938_688],
      ["llama3.2-3b", 3_212_749_824],
      ["qwen3-8b", 8_190_735_360],
    ];
    for (const [name, count] of published) assert.equal(baseParameterCount(modelInventory(presetConfig(name))), count, name);
  });
  it("keep what sets them apart: RoPE scaling, sliding window, head dim", () => {
    assert.equal(presetConfig("llama3.1-8b").ropeScaling?.type, "llama3");
    assert.equal(presetConfig("llama3.2-1b").headDim, 64);
    assert.equal(presetConfig("mistral-7b-v0.1").architecture, "MistralForCausalLM");
    assert.equal(presetConfig("llama3.2-3b").ropeScaling?.type, "llama3");
    assert.ok(presetConfig("qwen3-8b").qkNorm && !presetConfig("qwen3-8b").tieWordEmbeddings);
  });
});
