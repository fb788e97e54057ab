// The memory estimator: its arithmetic on a hand-computed config, its parameter and weight counts against
// models built from the fixtures' configs, its activation count against the live tensors of a real
// forward pass, and its ordering claims.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { parseConfig, loadConfig, buildModel, RandomWeights, type ModelConfig } from "../../src/models/index.ts";
import { presetConfig, PRESETS } from "../../src/models/presets.ts";
import { estimateMemory, fitMemory, formatEstimate, frozenDtype, nf4Bytes, availableMemoryBytes, modelInventory, baseParameterCount, RUNTIME_BYTES, METHODS } from "../../src/memory/index.ts";
import { AdamW8bit } from "../../src/optim/index.ts";
import { heldBytes as quantHeld } from "../../src/quant/index.ts";
import { spawnSync } from "node:child_process";
import { forwardActivations, layerActivations } from "../../src/memory/activations.ts";
import { Tensor } from "../../src/tensor/tensor.ts";
import type { Storage } from "../../src/tensor/storage.ts";
import { QuantizedTensor, isNested } from "../../src/quant/types.ts";
import { quantize4bitRef } from "../../src/quant/quantize4bit.ts";
import { setBackend } from "../../src/backend/index.ts";
import { Rng } from "../../src/util/random.ts";
import { getPeftModel } from "../../src/peft/index.ts";

const FIXTURES = new URL("../fixtures/models/", import.meta.url).pathname;

/** vocab 10, hidden 4, intermediate 6, 1 layer, 2 heads of 2, 1 kv head, untied head. */
const small = parseConfig({
  architectures: ["LlamaForCausalLM"],
  vocab_size: 10,
  hidden_size: 4,
  intermediate_size: 6,
  num_hidden_layers: 1,
  num_attention_heads: 2,
  num_key_value_heads: 1,
  tie_word_embeddings: false,
});

describe("arithmetic on a hand-computed config (B=1, T=3)", () => {
  // Parameters: q 16, k 8, v 8, o 16, gate/up/down 24 each = 120 in linears; norms 4+4; embedding 40;
  // head 40; final norm 4: 212.
  // Forward floats, N=3: norm 12+3, q/k/v 12+6+6, rope 12+6, attention 12+6 (lse), o 12, add 12,
  // norm 12+3, gate/up 18+18, swiglu 18, down 12, add 12 = 192 per layer; embedding 12, final norm 15,
  // saved dH 12 = 231. Transient: logits chunk 3·10 + 3 + 3, top-layer MLP backward 12 + 2·18 = 84.
  it("full", () => {
    const e = estimateMemory({ config: small, method: "full", batch: 1, seq: 3 });
    assert.equal(e.paramsTotal, 212);
    assert.equal(e.paramsTrainable, 212);
    assert.equal(e.weights, 212 * 4);
    assert.equal(e.gradients, 212 * 4 + 10 * 4 * 4, "plus the fused loss's dW [V, C]");
    assert.equal(e.optimizer, 212 * 8);
    assert.equal(e.transient, 84 * 4);
    assert.equal(e.activations, (231 + 84) * 4);
    assert.equal(e.runtime, RUNTIME_BYTES);
    assert.equal(e.total, 848 + 1008 + 1696 + 1260 + RUNTIME_BYTES);
  });

  // LoRA r=2 on all seven: q 2·(4+4), k and v 2·(4+2), o 16, gate/up/down 2·(4+6) = 116 per layer;
  // each adapter saves x·Aᵀ, [3, 2]: 42 floats more.
  it("lora, float32 and bfloat16 base", () => {
    const e = estimateMemory({ config: small, method: "lora", batch: 1, seq: 3, r: 2 });
    assert.equal(e.paramsTrainable, 116);
    assert.equal(e.paramsTotal, 212 + 116);
    assert.equal(e.weights, 848 + 116 * 4);
    assert.equal(e.gradients, 116 * 4);
    assert.equal(e.optimizer, 116 * 8);
    assert.equal(e.activations, (231 + 42 + 84) * 4);
    // bf16: linears and embedding/head at 2 B, norms stay float32: 200·2 + 12·4 + adapters.
    assert.equal(estimateMemory({ config: small, method: "lora", batch: 1, seq: 3, r: 2, baseDtype: "bfloat16" }).weights, 400 + 48 + 464);
  });

  it("qlora: NF4 linears (codes, uint8 absmax, one float32 per 256 blocks), the rest as held", () => {
    assert.equal(nf4Bytes(16), 8 + 1 + 4);
    assert.equal(nf4Bytes(24), 12 + 1 + 4);
    const e = estimateMemory({ config: small, method: "qlora", batch: 1, seq: 3, r: 2 });
    assert.equal(e.weights, 2 * 13 + 2 * 9 + 3 * 17 + 80 * 4 + 12 * 4 + 116 * 4);
    assert.ok(Math.abs((nf4Bytes(4096 * 4096) * 8) / (4096 * 4096) - 4.127) < 1e-3, "≈ 4.127 bits per parameter");
  });

  it("target modules select adapters by name or dotted suffix", () => {
    const e = estimateMemory({ config: small, method: "lora", batch: 1, seq: 3, r: 2, targetModules: ["q_proj", "self_attn.v_proj"] });
    assert.equal(e.paramsTrainable, 16 + 12);
    assert.throws(() => estimateMemory({ config: small, method: "lora", batch: 1, seq: 3, targetModules: ["c_attn"] }), /"c_attn" matches no layer/);
    assert.throws(() => estimateMemory({ config: small, method: "full", batch: 0, seq: 3 }), /batch must be a positive integer/);
  });
});

const fixtureConfigs: [string, ModelConfig][] = ["llama", "qwen2", "qwen3", "gpt2", "mistral-window", "ministral-window", "smollm3", "phi3-longrope", "gemma2", "gemma3"].map(
  (n) => [n, loadConfig(join(FIXTURES, n))],
);

function heldBytes(p: Tensor | QuantizedTensor): number {
  if (p instanceof Tensor) return p.byteLength;
  const q = p.q;
  if (q.type === "int8") throw new Error("not used here");
  const a = q.absmax;
  return q.codes.byteLength + (isNested(a) ? a.codes.byteLength + a.nestedAbsmax.byteLength : a.byteLength);
}

describe("counts against models built from the fixtures' configs", () => {
  for (const [name, config] of fixtureConfigs) {
    it(`${name}: parameters and QLoRA weight bytes`, () => {
      const full = buildModel(config, new RandomWeights(0, { weightDtype: "float32", trainable: true }));
      const numel = full.namedParameters().reduce((s, [, p]) => s + p.size, 0);
      assert.equal(baseParameterCount(modelInventory(config)), numel);

      const quantize = (_: string, w: Tensor) => new QuantizedTensor(quantize4bitRef(w.data as Float32Array, w.shape[0]!, w.shape[1]!, { type: "nf4", doubleQuant: true }));
      const q = buildModel(config, new RandomWeights(0, { weightDtype: "float32", trainable: false, quantize }));
      const bytes = q.namedParameters().reduce((s, [, p]) => s + heldBytes(p), 0);
      const e = estimateMemory({ config, method: "qlora", batch: 1, seq: 1 });
      assert.equal(e.weights - 4 * e.paramsTrainable, bytes);
    });
  }
});

/** Every op-created buffer the autograd graph of `root` reaches: what a step holds at the end of forward. */
function graphFloats(root: Tensor): number {
  const seen = new Set<Storage>();
  const visit = (t: Tensor) => {
    if (t.storage.releasable) seen.add(t.storage);
    const node = t.node;
    if (!node) return;
    for (const s of node.saved) if (s.storage.releasable) seen.add(s.storage);
    node.inputs.forEach(visit);
  };
  visit(root);
  return [...seen].reduce((s, st) => s + st.length, 0);
}

describe("activations against a real forward pass", () => {
  setBackend("js");
  const B = 2;
  const T = 5;
  for (const [name, config] of fixtureConfigs) {
    for (const checkpointing of [false, true]) {
      it(`${name}${checkpointing ? ", gradient checkpointing" : ""}: live buffers at the end of forward`, () => {
        const model = buildModel(config, new RandomWeights(1, { weightDtype: "float32", trainable: true }));
        model.gradientCheckpointing = checkpointing;
        const rng = new Rng(3);
        const ids = Int32Array.from({ length: B * T }, () => rng.int(config.vocabSize));
        const loss = model.forward({ ids, B, T, labels: ids }).loss!;
        const step = { N: B * T, adapterRanks: [] };
        // The estimate adds, under checkpointing, the one layer that backward recomputes.
        const recompute = checkpointing ? layerActivations(config, step) : 0;
        // Also live: the loss scalar and, in full fine-tuning, the fused loss's dW [V, C] (counted as a gradient).
        const expected = forwardActivations(config, step, checkpointing) - recompute + 1 + config.vocabSize * config.hiddenSize;
        assert.equal(graphFloats(loss), expected);
      });
    }
  }
});

describe("LoRA activations against a real forward pass", () => {
  for (const [name, config] of fixtureConfigs.filter(([n]) => n !== "gpt2")) {
    it(`${name}: adapters on all linears save x·Aᵀ each`, () => {
      const model = buildModel(config, new RandomWeights(1, { weightDtype: "float32", trainable: false }));
      const peft = getPeftModel(model, { r: 4, lora_alpha: 8, target_modules: "all-linear" }, { onNote: () => {} });
      const ids = Int32Array.from({ length: 10 }, (_, i) => (7 * i) % config.vocabSize);
      const loss = peft.forward({ ids, B: 2, T: 5, labels: ids }).loss!;
      const step = { N: 10, adapterRanks: Array(modelInventory(config).layerLinears.length).fill(4) };
      // Nothing before layer 0 needs a gradient, so its input norm is not recorded: its rstd [N] is not
      // kept (the estimate counts it anyway), nor is Gemma's embedding lookup before its √hidden scaling.
      // The frozen head has no dW.
      const unrecorded = 10 + (name.startsWith("gemma") ? 10 * config.hiddenSize : 0);
      assert.equal(graphFloats(loss), forwardActivations(config, step, false) + 1 - unrecorded);
    });
  }
});

describe("the claims the estimate makes", () => {
  it("full > lora > qlora for Qwen2.5-0.5B and SmolLM2-135M", () => {
    for (const preset of ["qwen2.5-0.5b", "smollm2-135m"]) {
      const [full, lora, qlora] = METHODS.map((method) => estimateMemory({ config: presetConfig(preset), method, batch: 1, seq: 256 }));
      assert.ok(full!.total > lora!.total && lora!.total > qlora!.total, preset);
      assert.ok(full!.optimizer > 20 * lora!.optimizer, "AdamW state for every parameter, not only the adapters");
    }
  });

  it("gradient checkpointing reduces activations", () => {
    for (const method of METHODS) {
      const base = { config: presetConfig("qwen2.5-0.5b"), method, batch: 4, seq: 512 };
      const off = estimateMemory(base);
      const on = estimateMemory({ ...base, gradientCheckpointing: true });
      assert.ok(on.activations < off.activations / 3, method);
      assert.equal(on.weights, off.weights);
    }
  });

  it("presets parse, with the shapes they name", () => {
    for (const k of ["tiny", "smollm2-135m", "qwen2.5-0.5b", "llama3-8b", "gemma3-270m", "gemma3-1b", "gemma2-2b", "phi4-mini", "smollm3-3b"]) assert.ok(k in PRESETS, k);
    assert.equal(baseParameterCount(modelInventory(presetConfig("smollm2-135m"))), 134_515_008);
    assert.equal(baseParameterCount(modelInventory(presetConfig("qwen2.5-0.5b"))), 494_032_768);
    assert.equal(baseParameterCount(modelInventory(presetConfig("llama3-8b"))), 8_030_261_248);
    // The published parameter counts of the architectures after Llama.
    assert.equal(baseParameterCount(modelInventory(presetConfig("gemma3-270m"))), 268_098_176);
    assert.equal(baseParameterCount(modelInventory(presetConfig("gemma3-1b"))), 999_885_952);
    assert.equal(baseParameterCount(modelInventory(presetConfig("gemma2-2b"))), 2_614_341_888);
    assert.equal(baseParameterCount(modelInventory(presetConfig("phi4-mini"))), 3_836_021_760);
    assert.equal(baseParameterCount(modelInventory(presetConfig("smollm3-3b"))), 3_075_098_624);
    assert.deepEqual(presetConfig("gemma3-270m").layerTypes!.flatMap((t, i) => (t === "full_attention" ? [i] : [])), [5, 11, 17]);
    assert.equal(presetConfig("phi4-mini").ropeScaling?.longFactor?.length, 48);
    assert.equal(presetConfig("tiny", { layers: 2 }).numLayers, 2);
    assert.throws(() => presetConfig("huge"), /unknown preset "huge"/);
  });

  it("formats an aligned table and reads available memory", () => {
    const rows = METHODS.map((method) => estimateMemory({ config: presetConfig("tiny"), method, batch: 1, seq: 256 }));
    const lines = formatEstimate(rows).split("\n");
    assert.equal(lines.length, 5);
    assert.ok(lines.every((l) => l.length === lines[0]!.length), "aligned");
    for (const h of ["weights", "gradients", "optimizer state", "activations", "total"]) assert.ok(lines[0]!.includes(h), h);
    assert.match(lines[2]!, /^full /);
    assert.ok(availableMemoryBytes() > 0);
  });
});

describe("8-bit AdamW, bf16 and quantized tables, against what the optimizer and model really hold", () => {
  const stateBytes = (o: { state(): { tensors: [string, Tensor][] } }) => o.state().tensors.reduce((s, [, t]) => s + t.byteLength, 0);
  for (const [name, config] of fixtureConfigs) {
    it(`${name}: AdamW8bit's states, full fine-tuning and LoRA`, () => {
      const full = buildModel(config, new RandomWeights(0, { weightDtype: "float32", trainable: true }));
      const e = estimateMemory({ config, method: "full", batch: 1, seq: 1, optimizer: "adamw8bit" });
      assert.equal(e.optimizer, stateBytes(new AdamW8bit(full.trainableParameters(), { lr: 1e-3 })));
      if (name === "gpt2") return;
      const base = buildModel(config, new RandomWeights(0, { weightDtype: "float32", trainable: false }));
      const peft = getPeftModel(base, { r: 64, lora_alpha: 64, target_modules: "all-linear" }, { onNote: () => {} });
      const l = estimateMemory({ config, method: "lora", batch: 1, seq: 1, r: 64, optimizer: "adamw8bit" });
      assert.equal(l.optimizer, stateBytes(new AdamW8bit(peft.trainableParameters(), { lr: 1e-3 })));
    });
    it(`${name}: QLoRA weights with the embedding and head in bf16, int8 or NF4`, () => {
      for (const embeddingQuant of [null, "int8", "nf4"] as const) {
        const policy = {
          weightDtype: "bfloat16" as const, trainable: false, quantizeAs: () => ({ type: "nf4" as const }),
          quantizeEmbeddingsAs: embeddingQuant ? { type: embeddingQuant } : null,
        };
        const q = buildModel(config, new RandomWeights(0, policy));
        const bytes = q.namedParameters().reduce((s, [, p]) => s + (p instanceof QuantizedTensor ? quantHeld(p) : (p as Tensor).byteLength), 0);
        const e = estimateMemory({ config, method: "qlora", batch: 1, seq: 1, baseDtype: "bfloat16", embeddingQuant });
        assert.equal(e.weights - 4 * e.paramsTrainable, bytes, String(embeddingQuant));
      }
    });
  }

  it("QLoRA holds a bf16 checkpoint's embedding and head in bf16 unless told otherwise; LoRA's base stays float32", () => {
    const bf16 = presetConfig("llama3-8b");
    assert.equal(frozenDtype("qlora", null, bf16), "bfloat16");
    assert.equal(frozenDtype("lora", null, bf16), "float32");
    assert.equal(frozenDtype("qlora", "float32", bf16), "float32");
    assert.equal(frozenDtype("qlora", null, presetConfig("qwen2.5-0.5b")), "float32");
  });

  it("the Llama 3 8B QLoRA step of the scale table (r 16, seven projections, 1 × 512, checkpointing) is ≈ 6.5 GiB", () => {
    const e = estimateMemory({ config: presetConfig("llama3-8b"), method: "qlora", batch: 1, seq: 512, gradientCheckpointing: true, baseDtype: "bfloat16" });
    assert.ok(e.total > 6.4 * 2 ** 30 && e.total < 7 * 2 ** 30, `${e.total / 2 ** 30} GiB`);
    const full = estimateMemory({ config: presetConfig("qwen2.5-1.5b"), method: "full", batch: 1, seq: 512, gradientCheckpointing: true, optimizer: "adamw8bit" });
    assert.ok(full.total < 22 * 2 ** 30 && full.optimizer < 0.27 * 8 * full.paramsTrainable, "8-bit states are about a quarter of AdamW's");
  });
});

describe("fitting a budget", () => {
  const config = presetConfig("qwen2.5-1.5b");
  const base = { config, method: "full" as const, batch: 4, seq: 512 };
  it("fits as asked when it does; otherwise names the cheapest flags, then smaller batches with accumulation", () => {
    const asked = estimateMemory(base).total;
    assert.deepEqual(fitMemory(base, asked).flags, []);
    const gc = estimateMemory({ ...base, gradientCheckpointing: true }).total;
    assert.deepEqual(fitMemory(base, gc).flags, ["--gradient-checkpointing"]);
    const both = estimateMemory({ ...base, gradientCheckpointing: true, optimizer: "adamw8bit" }).total;
    assert.deepEqual(fitMemory(base, both).flags, ["--gradient-checkpointing", "--optimizer adamw8bit"]);
    const small = estimateMemory({ ...base, gradientCheckpointing: true, optimizer: "adamw8bit", batch: 1 }).total;
    assert.deepEqual(fitMemory(base, small).flags, ["--gradient-checkpointing", "--optimizer adamw8bit", "--batch-size 1 --grad-accum 4"]);
    assert.equal(fitMemory(base, small - 1).flags, null);
    const lora = { ...base, method: "lora" as const, batch: 1 };
    assert.deepEqual(fitMemory(lora, estimateMemory({ ...lora, baseDtype: "bfloat16" }).total).flags, ["--base-dtype bfloat16"]);
  });

  it("peft-ts estimate --json: one line per method, sizes in MiB, the fit against --memory", () => {
    const r = spawnSync(process.execPath, ["bin/peft-ts.js", "estimate", "--preset", "qwen2.5-1.5b", "--batch", "1", "--seq", "512", "--r", "16", "--memory", "24576", "--json"], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(lines.map((l) => l.method), ["full", "lora", "qlora"]);
    const full = estimateMemory({ config, method: "full", batch: 1, seq: 512 });
    assert.equal(lines[0]!.total_mib, Math.round((full.total / 2 ** 20) * 10) / 10);
    assert.equal(lines[0]!.available_mib, 24576);
    assert.equal(lines[0]!.fits, false);
    assert.deepEqual(lines[0]!.fits_with, ["--optimizer adamw8bit"]);
    assert.equal(lines[2]!.fits, true);
    const text = spawnSync(process.execPath, ["bin/peft-ts.js", "estimate", "--preset", "qwen2.5-1.5b", "--batch", "1", "--seq", "512", "--memory", "24576"], { encoding: "utf8" }).stdout;
    assert.match(text, /^full .* no$/m);
    assert.match(text, /^full: does not fit as asked; fits with --optimizer adamw8bit \(/m);
  });
});
