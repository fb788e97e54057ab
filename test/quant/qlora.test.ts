// QLoRA end to end: an NF4 base with a PEFT adapter computes exactly what the dequantized float base with
// the same adapter computes; `peft-ts quantize` writes transformers' bitsandbytes layout and reloads to the
// same quantized weights.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadModel } from "../../src/models/index.ts";
import { loadPeftModel } from "../../src/peft/index.ts";
import { dequantizeTensor } from "../../src/quant/index.ts";
import { QuantizedTensor } from "../../src/quant/types.ts";
import { Linear } from "../../src/nn/index.ts";
import { SafetensorsReader } from "../../src/io/safetensors.ts";
import { setBackend } from "../../src/backend/index.ts";
import { idsToInt32, Tensor } from "../../src/tensor/tensor.ts";
import { runQuantize } from "../../src/cli/commands/quantize.ts";
import { backendsUnderTest, maxAbsDiff } from "../helpers.ts";

const ADAPTERS = ["llama-lora", "llama3-rope-lora", "qwen2-lora", "qwen3-lora", "gpt2-lora", "llama-rslora", "llama-dora"];

function baseDirOf(adapter: string): string {
  const base = JSON.parse(readFileSync(join("test/fixtures/adapters", adapter, "base.json"), "utf8")).base_model_dir;
  return join("test/fixtures", base);
}

for (const backendName of backendsUnderTest) {
  describe(`QLoRA: NF4 base + adapter = dequantized float base + adapter (${backendName})`, () => {
    for (const adapter of ADAPTERS) {
      it(adapter, () => {
        setBackend(backendName);
        const adapterDir = join("test/fixtures/adapters", adapter);
        const baseDir = baseDirOf(adapter);
        const ref = SafetensorsReader.open(join(adapterDir, "reference.safetensors"));
        const ids = idsToInt32(ref.read("input_ids"));
        const [B, T] = ref.read("input_ids").shape as [number, number];
        const attentionMask = Uint8Array.from(idsToInt32(ref.read("attention_mask")));

        const quantized = loadModel(baseDir, { quantization: { type: "nf4", doubleQuant: true } });
        const float = loadModel(baseDir);
        let layers = 0;
        for (const [path, m] of quantized.namedModules()) {
          if (m instanceof Linear && m.weight instanceof QuantizedTensor) {
            const target = float.getModule(path) as Linear;
            const w = dequantizeTensor(m.weight);
            // Conv1D weights are quantized transposed to [out, in], as bitsandbytes stores them.
            target.weight = target.layout === "out_in" ? w : transposed(w.data as Float32Array, w.shape as [number, number]);
            layers++;
          }
        }
        assert.ok(layers > 0, "some layers are quantized");
        const q = loadPeftModel(quantized, adapterDir, { isTrainable: false }).forward({ ids, B, T, attentionMask });
        const f = loadPeftModel(float, adapterDir, { isTrainable: false }).forward({ ids, B, T, attentionMask });
        const d = maxAbsDiff(q.logits!.toFloat32(), f.logits!.toFloat32());
        assert.ok(d <= 1e-5, `logits differ by ${d}`);
        ref.close();
      });
    }
  });
}

function transposed(data: Float32Array, [r, c]: [number, number]): Tensor {
  const out = new Float32Array(data.length);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = data[i * c + j]!;
  return Tensor.from("float32", out, [c, r]);
}

describe("peft-ts quantize", () => {
  it("writes the bitsandbytes layout and reloads to identical quantized weights", () => {
    const out = join(mkdtempSync(join(tmpdir(), "peft-ts-quantize-")), "llama-nf4");
    runQuantize({ model: "test/fixtures/models/llama", out, quantType: "nf4", doubleQuant: true, blockSize: "64", computeDtype: "float32" });
    const config = JSON.parse(readFileSync(join(out, "config.json"), "utf8"));
    assert.equal(config.quantization_config.quant_method, "bitsandbytes");
    assert.equal(config.quantization_config.load_in_4bit, true);
    assert.equal(config.quantization_config.bnb_4bit_quant_type, "nf4");
    assert.equal(config.quantization_config.bnb_4bit_use_double_quant, true);
    assert.match(readFileSync(join(out, "config.json"), "utf8"), /"llm_int8_threshold": 6\.0/);

    const file = SafetensorsReader.open(join(out, "model.safetensors"));
    const p = "model.layers.0.self_attn.q_proj";
    const n = 64 * 64;
    const expect: Record<string, [string, number[]]> = {
      [`${p}.weight`]: ["U8", [n / 2, 1]],
      [`${p}.weight.absmax`]: ["U8", [n / 64]],
      [`${p}.weight.quant_map`]: ["F32", [16]],
      [`${p}.weight.nested_absmax`]: ["F32", [1]],
      [`${p}.weight.nested_quant_map`]: ["F32", [256]],
      [`${p}.weight.quant_state.bitsandbytes__nf4`]: ["U8", [file.entry(`${p}.weight.quant_state.bitsandbytes__nf4`).shape[0]!]],
    };
    for (const [key, [dtype, shape]] of Object.entries(expect)) {
      const e = file.entry(key);
      assert.equal(e.dtype, dtype, key);
      assert.deepEqual(e.shape, shape, key);
    }
    const state = JSON.parse(Buffer.from(file.read(`${p}.weight.quant_state.bitsandbytes__nf4`).data as Uint8Array).toString("utf8"));
    assert.deepEqual(Object.keys(state).sort(), ["blocksize", "dtype", "nested_blocksize", "nested_dtype", "nested_offset", "quant_type", "shape"]);
    assert.deepEqual(state.shape, [64, 64]);
    assert.equal(file.entry("model.embed_tokens.weight").dtype, "F32");
    assert.ok(!file.has("model.layers.0.input_layernorm.weight.absmax"), "norms stay in float");
    file.close();

    const original = loadModel("test/fixtures/models/llama", { quantization: { type: "nf4" } });
    const reloaded = loadModel(out);
    const before = new Map(original.namedParameters());
    let compared = 0;
    for (const [name, w] of reloaded.namedParameters()) {
      const a = before.get(name)!;
      if (w instanceof QuantizedTensor) {
        assert.ok(a instanceof QuantizedTensor, name);
        assert.deepEqual(dequantizeTensor(w).data, dequantizeTensor(a).data, name);
        compared++;
      }
    }
    assert.equal(compared, 14);
  });
});
