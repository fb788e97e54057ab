// PeftModel behaviour beyond the fixtures: parameter counts, a frozen base, initialisation, several
// adapters, disabling, weighted combination, bf16 and NF4 bases, modules_to_save, bias training, dropout
// under gradient checkpointing, and DoRA / LoRA gradients against finite differences.

import { describe, it, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Tensor } from "../../src/tensor/tensor.ts";
import { bf16ArrayToF32, f32ArrayToBf16 } from "../../src/tensor/dtype.ts";
import { backward } from "../../src/autograd/engine.ts";
import { setBackend } from "../../src/backend/index.ts";
import { dropoutSeeds } from "../../src/util/random.ts";
import { loadModel } from "../../src/models/index.ts";
import { Linear } from "../../src/nn/index.ts";
import { QuantizedTensor } from "../../src/quant/types.ts";
import { quantizeTensor, dequantizeTensor } from "../../src/quant/index.ts";
import { SafetensorsReader } from "../../src/io/safetensors.ts";
import { getPeftModel, loadPeftModel, LoraLinear, MergeError } from "../../src/peft/index.ts";
import { assertClose, backendsUnderTest, gradCheck, maxAbsDiff, randn } from "../helpers.ts";
import { Rng } from "../../src/util/random.ts";
import { adapterFixture, logitsOf, tinyBatch, tinyModel } from "./fixture-helpers.ts";

const tmp = mkdtempSync(join(tmpdir(), "peft-ts-model-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

const Q0 = "model.layers.0.self_attn.q_proj";

/** ΔW = s·B·A by plain loops, [out, in]. */
function handDelta(A: Float32Array, B: Float32Array, r: number, inF: number, outF: number, s: number): Float64Array {
  const d = new Float64Array(outF * inF);
  for (let o = 0; o < outF; o++) for (let i = 0; i < inF; i++) {
    let acc = 0;
    for (let k = 0; k < r; k++) acc += B[o * r + k]! * A[k * inF + i]!;
    d[o * inF + i] = s * acc;
  }
  return d;
}

describe("PeftModel", () => {
  it("parameterReport counts like PEFT's print_trainable_parameters (llama fixture, r=4 on 7 projections)", () => {
    const { dir, baseDir } = adapterFixture("llama-lora");
    const peft = loadPeftModel(loadModel(baseDir), dir, { isTrainable: true });
    // Per layer (hidden 64, kv 32, intermediate 176): A [4, in] + B [out, 4] for each projection:
    // q 4·64+64·4 = 512, k 4·64+32·4 = 384, v 384, o 512, gate 4·64+176·4 = 960, up 960, down 4·176+64·4 = 960.
    const lora = 2 * (512 + 384 + 384 + 512 + 960 + 960 + 960);
    // Base: embed 512·64 + lm_head 512·64 + final norm 64 + per layer (q 4096, k 2048, v 2048, o 4096,
    // 3 × 176·64 = 33792 MLP, 2 × 64 norms).
    const base = 2 * 512 * 64 + 64 + 2 * (4096 + 2048 + 2048 + 4096 + 3 * 176 * 64 + 128);
    assert.equal(lora, 9344);
    const rep = peft.parameterReport();
    assert.equal(rep.trainable, lora);
    assert.equal(rep.total, base + lora);
    assert.equal(rep.text, "trainable params: 9,344 || all params: 167,360 || trainable%: 5.5832");
    // Loaded for inference: nothing trains.
    assert.equal(loadPeftModel(loadModel(baseDir), dir).parameterReport().trainable, 0);
  });

  it("counts tied weights once and 4-bit weights at their logical size", () => {
    const tied = getPeftModel(tinyModel({ tied: true }), { target_modules: ["q_proj"], r: 2 });
    const untied = getPeftModel(tinyModel({ tied: false }), { target_modules: ["q_proj"], r: 2 });
    assert.equal(untied.parameterReport().total - tied.parameterReport().total, 40 * 16, "lm_head counted once when tied");
    const q = getPeftModel(tinyModel({ policy: { quantize: (_n, w) => quantizeTensor(w, { type: "nf4", blockSize: 16, doubleQuant: false }) } }), { target_modules: ["q_proj"], r: 2 });
    assert.equal(q.parameterReport().total, untied.parameterReport().total);
  });

  for (const backendName of backendsUnderTest) {
    it(`the frozen base gets no gradient buffer; every adapter tensor does (${backendName})`, () => {
      setBackend(backendName);
      const model = tinyModel();
      const peft = getPeftModel(model, { target_modules: "all-linear", r: 2, init_lora_weights: false }, { seed: 5 });
      const out = peft.forward({ ...tinyBatch(), logits: "none" });
      backward(out.loss!);
      const trainable = new Set(peft.trainableParameters().map(([, t]) => t));
      assert.equal(trainable.size, 2 * 7 * 2);
      for (const [name, p] of peft.namedParameters()) {
        if (!(p instanceof Tensor)) continue;
        if (trainable.has(p)) assert.ok(p.grad && p.grad.data.some((v) => v !== 0), `${name} has a gradient`);
        else assert.equal(p.grad, null, `${name} (frozen) has no gradient buffer`);
      }
    });
  }

  it("initialisation: kaiming-uniform A and zero B leave the model unchanged; gaussian A; init false changes it", () => {
    const batch = tinyBatch();
    const base = logitsOf(tinyModel(), batch);
    const peft = getPeftModel(tinyModel(), { target_modules: ["q_proj", "v_proj"], r: 4 }, { seed: 1 });
    assert.deepEqual(logitsOf(peft, batch), base, "B = 0: identical output");
    const q = peft.base.getModule(Q0) as LoraLinear;
    const A = q.A("default").data;
    const bound = 1 / Math.sqrt(16);
    assert.ok(A.every((v) => Math.abs(v) <= bound) && Math.max(...A.map(Math.abs)) > bound / 2, "A ~ U(-1/√in, 1/√in)");
    assert.ok(q.B("default").data.every((v) => v === 0));
    const g = getPeftModel(tinyModel(), { target_modules: "all-linear", r: 4, init_lora_weights: "gaussian" }, { seed: 2 });
    const all = g.loraLayers().flatMap(([, l]) => [...l.A("default").data]);
    const std = Math.sqrt(all.reduce((s, v) => s + v * v, 0) / all.length);
    assert.ok(Math.abs(std - 1 / 4) < 0.03, `gaussian A std ${std} ≈ 1/r`);
    const rnd = getPeftModel(tinyModel(), { target_modules: ["q_proj"], r: 4, init_lora_weights: false }, { seed: 3 });
    assert.ok(maxAbsDiff(logitsOf(rnd, batch), base) > 1e-3, "init false: B is random, the output moves");
    const again = getPeftModel(tinyModel(), { target_modules: ["q_proj"], r: 4, init_lora_weights: false }, { seed: 3 });
    assert.deepEqual(logitsOf(again, batch), logitsOf(rnd, batch), "the seed fixes the initialisation");
  });

  it("several adapters: active ones add up; setAdapter switches; withAdaptersDisabled gives the base", () => {
    const batch = tinyBatch();
    const model = tinyModel();
    const base = logitsOf(model, batch);
    const peft = getPeftModel(model, { target_modules: ["q_proj", "o_proj"], r: 2, init_lora_weights: false }, { seed: 1, adapterName: "a" });
    peft.addAdapter("b", { target_modules: ["q_proj", "down_proj"], r: 3, init_lora_weights: false }, { seed: 2 });
    const onlyA = logitsOf(peft, batch);
    peft.setAdapter("b");
    const onlyB = logitsOf(peft, batch);
    assert.ok(maxAbsDiff(onlyA, onlyB) > 1e-3);
    assert.deepEqual(peft.trainableParameters().map(([n]) => n.includes(".b.")), peft.trainableParameters().map(() => true), "only b trains");
    peft.setAdapter(["a", "b"]);
    const both = logitsOf(peft, batch);
    assert.deepEqual(peft.withAdaptersDisabled(() => logitsOf(peft, batch)), base, "disabled = base model");
    assert.deepEqual(logitsOf(peft, batch), both, "re-enabled afterwards");
    // Merging both into the weights gives the same function.
    peft.merge();
    assert.ok(maxAbsDiff(logitsOf(peft, batch), both) < 1e-5);
    assert.deepEqual(peft.withAdaptersDisabled(() => logitsOf(peft, batch)).length, base.length);
    assert.ok(maxAbsDiff(peft.withAdaptersDisabled(() => logitsOf(peft, batch)), base) < 1e-5, "disabling unmerges first");
    const merged = peft.mergeAndUnload();
    assert.ok(maxAbsDiff(logitsOf(merged, batch), both) < 1e-5, "mergeAndUnload of two adapters");
    assert.throws(() => peft.forward({ ...batch, logits: "all" }), /handed back/);
  });

  it("addWeightedAdapter ('linear') equals the hand-computed ΔW = (Σ√(wᵢsᵢ)Bᵢ)(Σ√(wⱼsⱼ)Aⱼ)", () => {
    const model = tinyModel();
    const peft = getPeftModel(model, { target_modules: ["q_proj", "v_proj"], r: 2, lora_alpha: 4, init_lora_weights: false }, { seed: 1, adapterName: "x" });
    peft.addAdapter("y", { target_modules: ["q_proj"], r: 2, lora_alpha: 6, init_lora_weights: false }, { seed: 9 });
    const w = [0.3, 1.7];
    peft.addWeightedAdapter(["x", "y"], w, "xy");
    assert.equal(peft.config("xy").lora_alpha, 2);
    assert.deepEqual(new Set(peft.config("xy").target_modules as string[]), new Set(["q_proj", "v_proj"]));
    const q = model.getModule(Q0) as LoraLinear;
    const [inF, outF, r] = [q.inFeatures, q.outFeatures, 2];
    const cx = Math.sqrt(w[0]! * (4 / 2));
    const cy = Math.sqrt(w[1]! * (6 / 2));
    const A = q.A("x").data.map((v, i) => cx * v + cy * q.A("y").data[i]!);
    const B = q.B("x").data.map((v, i) => cx * v + cy * q.B("y").data[i]!);
    const expected = handDelta(A, B, r, inF, outF, 1);
    assertClose(q.deltaWeight("xy").data, expected, 1e-6, "combined ΔW of q_proj", "rel");
    // One adapter alone: the combination is just w·ΔW.
    const v = model.getModule("model.layers.1.self_attn.v_proj") as LoraLinear;
    const vx = v.deltaWeight("x").data;
    assertClose(v.deltaWeight("xy").data, vx.map((d) => w[0]! * d), 1e-6, "v_proj (only x there) = w·ΔW_x", "rel");
    assert.throws(() => peft.addWeightedAdapter(["x"], [-1], "neg"), /square roots/);
    peft.addAdapter("r4", { target_modules: ["q_proj"], r: 4 });
    assert.throws(() => peft.addWeightedAdapter(["x", "r4"], [1, 1], "bad"), /one rank/);
  });

  it("merging into a bf16 base rounds once; unmerge comes back within bf16 rounding", () => {
    const model = tinyModel({ policy: { weightDtype: "bfloat16" } });
    const peft = getPeftModel(model, { target_modules: ["q_proj"], r: 2, init_lora_weights: false }, { seed: 4 });
    const q = model.getModule(Q0) as LoraLinear;
    const w0 = Uint16Array.from(q.base_layer.weight instanceof Tensor ? (q.base_layer.weight.data as Uint16Array) : []);
    assert.equal((q.base_layer.weight as Tensor).dtype, "bfloat16");
    const batch = tinyBatch();
    const adapted = logitsOf(peft, batch);
    const delta = q.deltaWeight("default").data;
    const expected = f32ArrayToBf16(bf16ArrayToF32(w0).map((v, i) => v + delta[i]!));
    peft.merge();
    assert.deepEqual(q.base_layer.weight instanceof Tensor ? q.base_layer.weight.data : null, expected, "W ← bf16(f32(W) + ΔW)");
    assert.ok(maxAbsDiff(logitsOf(peft, batch), adapted) < 2e-2, "merged bf16 model ≈ adapter model");
    peft.unmerge();
    const back = bf16ArrayToF32((q.base_layer.weight as Tensor).data as Uint16Array);
    const orig = bf16ArrayToF32(w0);
    // Two roundings to bf16 (8-bit mantissa), each at most half an ulp of the value rounded (|W + ΔW|, then |W|).
    back.forEach((v, i) => {
      const tol = (Math.abs(orig[i]!) + Math.abs(delta[i]!) + Math.abs(orig[i]! + delta[i]!)) * 2 ** -8;
      assert.ok(Math.abs(v - orig[i]!) <= tol, `element ${i}: ${v} vs ${orig[i]}`);
    });
  });

  it("QLoRA: an NF4 base trains through LoRA, refuses an in-place merge, and mergeAndUnload exports float32", () => {
    const nf4 = { quantize: (_n: string, w: Tensor) => quantizeTensor(w, { type: "nf4", blockSize: 16, doubleQuant: true }) };
    const model = tinyModel({ policy: nf4 });
    const q = model.getModule(Q0) as Linear;
    assert.ok(q.weight instanceof QuantizedTensor);
    const peft = getPeftModel(model, { target_modules: "all-linear", r: 2, init_lora_weights: false }, { seed: 6 });
    const batch = tinyBatch();
    const out = peft.forward({ ...batch, logits: "none" });
    backward(out.loss!);
    assert.ok(peft.trainableParameters().every(([, t]) => t.grad !== null));
    const adapted = logitsOf(peft, batch);
    assert.throws(() => peft.merge(), (e: Error) => e instanceof MergeError && /quantized/.test(e.message) && /re-quantize/.test(e.message));
    const layer = model.getModule(Q0) as LoraLinear;
    const expected = dequantizeTensor((layer.base_layer.weight as QuantizedTensor)).data.map((v, i) => v + layer.deltaWeight("default").data[i]!);
    const merged = peft.mergeAndUnload();
    const mq = merged.getModule(Q0) as Linear;
    assert.ok(mq instanceof Linear && mq.weight instanceof Tensor && mq.weight.dtype === "float32", "a float32 Linear, not re-quantized");
    assert.deepEqual(mq.weight.data, expected);
    assert.ok(maxAbsDiff(logitsOf(merged, batch), adapted) < 1e-4, "same function after the merge");
  });

  it("modules_to_save: a trainable float32 copy, saved as PEFT does, reloaded exactly; the original untouched", () => {
    const batch = tinyBatch();
    const model = tinyModel();
    const head0 = Float32Array.from((model.getModule("lm_head") as Linear).weight instanceof Tensor ? ((model.getModule("lm_head") as Linear).weight as Tensor).data as Float32Array : []);
    const peft = getPeftModel(model, { target_modules: ["q_proj"], r: 2, modules_to_save: ["lm_head"] });
    const names = peft.trainableParameters().map(([n]) => n);
    assert.ok(names.includes("base_model.model.lm_head.modules_to_save.default.weight"), names.join(", "));
    const out = peft.forward({ ...batch, logits: "none" });
    backward(out.loss!);
    const copy = peft.trainableParameters().find(([n]) => n.endsWith("lm_head.modules_to_save.default.weight"))![1];
    assert.ok(copy.grad!.data.some((v) => v !== 0));
    const cd = copy.data as Float32Array;
    cd.forEach((v, i) => (cd[i] = v + 0.01 * copy.grad!.data[i]!)); // a "training step"
    const trained = logitsOf(peft, batch);
    const dir = join(tmp, "mts");
    peft.saveAdapter(dir);
    const reader = SafetensorsReader.open(join(dir, "adapter_model.safetensors"));
    assert.ok(reader.has("base_model.model.lm_head.weight"), reader.names().join(", "));
    assert.ok(!reader.names().some((n) => n.includes("modules_to_save") || n.includes("original_module")));
    reader.close();
    const reloaded = loadPeftModel(tinyModel(), dir);
    assert.deepEqual(logitsOf(reloaded, batch), trained);
    const wrapper = peft.base.getModule("lm_head") as unknown as { original_module: Linear };
    assert.deepEqual((wrapper.original_module.weight as Tensor).data, head0, "the original module is untouched");
  });

  it("bias 'all' trains and saves every bias (LoRA layers' under base_layer.bias); 'none' trains none", () => {
    const model = tinyModel({ bias: true });
    const peft = getPeftModel(model, { target_modules: ["q_proj"], r: 2, bias: "all" });
    const names = peft.trainableParameters().map(([n]) => n);
    assert.ok(names.includes(`base_model.model.${Q0}.base_layer.bias`));
    assert.ok(names.includes("base_model.model.model.layers.0.self_attn.k_proj.bias"));
    const dir = join(tmp, "bias");
    peft.saveAdapter(dir);
    const reader = SafetensorsReader.open(join(dir, "adapter_model.safetensors"));
    assert.ok(reader.has(`base_model.model.${Q0}.base_layer.bias`) && reader.has("base_model.model.model.layers.1.self_attn.v_proj.bias"));
    reader.close();
    const none = getPeftModel(tinyModel({ bias: true }), { target_modules: ["q_proj"], r: 2 });
    assert.ok(none.trainableParameters().every(([n]) => n.includes("lora_")));
    const only = getPeftModel(tinyModel({ bias: true }), { target_modules: ["q_proj"], r: 2, bias: "lora_only" });
    assert.deepEqual(only.trainableParameters().filter(([n]) => n.includes("bias")).map(([n]) => n), [0, 1].map((l) => `base_model.model.model.layers.${l}.self_attn.q_proj.base_layer.bias`));
  });

  it("LoRA dropout draws seeds from the replayable stream: gradient checkpointing gives the same gradients", () => {
    const run = (ckpt: boolean) => {
      const model = tinyModel();
      model.gradientCheckpointing = ckpt;
      const peft = getPeftModel(model, { target_modules: "all-linear", r: 2, lora_dropout: 0.3, init_lora_weights: false }, { seed: 2 });
      peft.train();
      dropoutSeeds.reseed(11);
      backward(peft.forward({ ...tinyBatch(), logits: "none" }).loss!);
      return peft.trainableParameters().map(([n, t]) => [n, Float32Array.from(t.grad!.data)] as const);
    };
    const plain = run(false);
    const ckpt = run(true);
    plain.forEach(([n, g], i) => assertClose(ckpt[i]![1], g, 1e-6, `gradient ${n} with checkpointing`, "rel"));
    // Dropout is live in training (the loss differs from eval mode) and off in eval.
    const model = tinyModel();
    const peft = getPeftModel(model, { target_modules: "all-linear", r: 2, lora_dropout: 0.5, init_lora_weights: false }, { seed: 2 });
    const evalLogits = logitsOf(peft, tinyBatch());
    peft.train();
    assert.ok(maxAbsDiff(logitsOf(peft, tinyBatch()), evalLogits) > 1e-4);
  });
});

describe("LoraLinear merge in both layouts, LoRA and DoRA", () => {
  for (const layout of ["out_in", "in_out"] as const) {
    for (const dora of [false, true]) {
      it(`${layout === "out_in" ? "nn.Linear" : "Conv1D"} ${dora ? "DoRA" : "LoRA"}: merged weight = adapter function; unmerge restores W`, () => {
        const rng = new Rng(8);
        const [inF, outF] = [7, 5];
        const W = randn(rng, layout === "out_in" ? [outF, inF] : [inF, outF], 0.5);
        const W0 = Float32Array.from(W.data);
        const layer = new LoraLinear(new Linear(W, randn(rng, [outF], 0.1), layout));
        layer.addAdapter("a", { r: 3, lora_alpha: 6, lora_dropout: 0, use_rslora: false, use_dora: dora }, { init: false, rng });
        if (dora) layer.magnitude("a")!.data.forEach((v, i, m) => (m[i] = v * (1 + 0.1 * i)));
        layer.setActive(["a"]);
        const x = randn(rng, [3, inF]);
        const y = Float32Array.from(layer.forward(x).data as Float32Array);
        const mergedW = layer.mergedWeight();
        const viaCopy = new Linear(mergedW, layer.base_layer.bias, layout).forward(x);
        assertClose(viaCopy.data as Float32Array, y, 1e-6, "Linear(mergedWeight) vs adapter forward", "rel");
        // ΔW in the storage layout: Conv1D stores [in, out], so ΔW there is (s·B·A)ᵀ.
        const d = layer.deltaWeight("a");
        assert.deepEqual(d.shape, W.shape);
        const hand = handDelta(layer.A("a").data, layer.B("a").data, 3, inF, outF, 2);
        const stored = layout === "out_in" ? hand : Float64Array.from({ length: hand.length }, (_, k) => hand[(k % outF) * inF + Math.floor(k / outF)]!);
        assertClose(d.data, stored, 1e-6, "deltaWeight", "rel");
        layer.merge();
        assert.deepEqual(W.data, mergedW.data, "in-place merge writes the same weight");
        assertClose(layer.forward(x).data as Float32Array, y, 1e-6, "merged forward", "rel");
        layer.unmerge();
        assertClose(W.data, W0, 1e-6, "unmerged W", "abs");
        assert.equal(layer.merged, false);
      });
    }
  }
});

describe("LoraLinear gradients against finite differences (float64)", () => {
  const rng = new Rng(5);
  const inF = 6;
  const outF = 5;
  const r = 3;
  const cases: { name: string; layout: "out_in" | "in_out"; dora: boolean[]; dropout: number; bias: boolean }[] = [
    { name: "LoRA", layout: "out_in", dora: [false], dropout: 0, bias: true },
    { name: "LoRA, Conv1D layout, dropout", layout: "in_out", dora: [false], dropout: 0.3, bias: true },
    { name: "DoRA", layout: "out_in", dora: [true], dropout: 0, bias: true },
    { name: "DoRA with dropout", layout: "out_in", dora: [true], dropout: 0.3, bias: false },
    { name: "DoRA, Conv1D layout", layout: "in_out", dora: [true], dropout: 0, bias: true },
    { name: "two DoRA adapters and a LoRA one", layout: "out_in", dora: [true, true, false], dropout: 0.2, bias: true },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const W = randn(rng, c.layout === "out_in" ? [outF, inF] : [inF, outF], 0.5);
      const bias = c.bias ? randn(rng, [outF], 0.1) : null;
      const layer = new LoraLinear(new Linear(W, bias, c.layout));
      const names = c.dora.map((_, i) => `a${i}`);
      names.forEach((n, i) => layer.addAdapter(n, { r, lora_alpha: 2 + i, lora_dropout: c.dropout, use_rslora: i === 1, use_dora: c.dora[i]! }, { init: false, rng }));
      layer.setActive(names);
      layer.training = true;
      const x = randn(rng, [4, inF], 1, true);
      const inputs = [x, ...names.flatMap((n) => [layer.A(n), layer.B(n), ...(layer.magnitude(n) ? [layer.magnitude(n)!] : [])])];
      inputs.forEach((t) => (t.requiresGrad = true));
      // DoRA's weight norm n = ‖W + s·B·A‖ is a constant for autograd (detached, as PEFT): hold it at its
      // value for the finite differences too, so they differentiate the same function.
      const norms = new Map(names.map((n) => [n, layer.weightNorms(n)]));
      layer.weightNorms = (n: string) => norms.get(n)!;
      gradCheck(c.name, inputs, (xx, ...ps) => {
        let k = 0;
        for (const n of names) {
          layer.lora_A.get(n)!.weight = ps[k++]!;
          layer.lora_B.get(n)!.weight = ps[k++]!;
          if (layer.magnitude(n)) layer.lora_magnitude_vector.get(n)!.weight = ps[k++]!;
        }
        dropoutSeeds.position = 0; // the same masks on every evaluation
        return layer.forward(xx!);
      }, 1e-6);
    });
  }
});
