// Every PEFT fixture adapter against PEFT 0.21 itself, on every backend: logits, loss and every adapter
// gradient with the adapter loaded from PEFT's files; merge_and_unload's weights and logits; unmerge and
// unload restoring the base; and the round trip (what we save has the fixture file's keys and shapes,
// parses back to the same config, and reloads to the same logits).

import { describe, it, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SafetensorsReader } from "../../src/io/safetensors.ts";
import { loadModel } from "../../src/models/index.ts";
import { backward } from "../../src/autograd/engine.ts";
import { setBackend } from "../../src/backend/index.ts";
import type { Tensor } from "../../src/tensor/tensor.ts";
import type { CausalLM } from "../../src/models/index.ts";
import { loadPeftModel, readLoraConfig, LoraLinear } from "../../src/peft/index.ts";
import { assertClose, backendsUnderTest, maxAbsDiff } from "../helpers.ts";
import { ADAPTERS, adapterFixture, logitsOf } from "./fixture-helpers.ts";

const tmp = mkdtempSync(join(tmpdir(), "peft-ts-fixtures-"));
after(() => rmSync(tmp, { recursive: true, force: true }));


function weightsOf(model: CausalLM): Map<string, Float32Array> {
  return new Map(model.namedParameters().map(([n, p]) => [n.replace(".base_layer.", "."), Float32Array.from((p as Tensor).toFloat32())]));
}

for (const backendName of backendsUnderTest) {
  describe(`PEFT fixture adapters (${backendName} backend)`, () => {
    for (const name of ADAPTERS) {
      it(`${name}: logits, loss and every adapter gradient match PEFT`, () => {
        setBackend(backendName);
        const { dir, baseDir, ref, batch } = adapterFixture(name);
        const peft = loadPeftModel(loadModel(baseDir), dir, { isTrainable: true });
        const out = peft.forward({ ...batch, logits: "all" });
        assertClose(out.logits!.toFloat32(), ref.read("logits").toFloat32(), 1e-4, "logits", "abs");
        const loss = out.loss!.item();
        const refLoss = ref.read("loss").item();
        assert.ok(Math.abs(loss - refLoss) <= 1e-5 * Math.abs(refLoss), `loss ${loss} vs ${refLoss}`);
        backward(out.loss!);
        const params = peft.trainableParameters();
        const refGrads = ref.names().filter((n) => n.startsWith("grad."));
        assert.deepEqual(params.map(([n]) => `grad.${n}`).sort(), [...refGrads].sort(), "one gradient per adapter tensor, PEFT's names");
        for (const [pname, p] of params) {
          assert.ok(p.grad, `no gradient for ${pname}`);
          assertClose(p.grad!.toFloat32(), ref.read(`grad.${pname}`).toFloat32(), 1e-4, `gradient ${pname}`, "rel");
        }
        ref.close();
      });

      it(`${name}: merge_and_unload gives PEFT's merged weights and merged logits`, () => {
        setBackend(backendName);
        const { dir, baseDir, ref, batch } = adapterFixture(name);
        const merged = loadPeftModel(loadModel(baseDir), dir).mergeAndUnload();
        assert.ok(!merged.namedModules().some(([, m]) => m instanceof LoraLinear), "no LoRA layer left");
        const refNames = ref.names().filter((n) => n.startsWith("merged.")).map((n) => n.slice("merged.".length));
        assert.deepEqual(merged.namedParameters().map(([n]) => n).sort(), [...refNames].sort());
        for (const [pname, p] of merged.namedParameters()) {
          assertClose((p as Tensor).toFloat32(), ref.read(`merged.${pname}`).toFloat32(), 1e-6, `merged ${pname}`, "rel");
        }
        assertClose(logitsOf(merged, batch), ref.read("merged_logits").toFloat32(), 1e-4, "merged_logits", "abs");
        ref.close();
      });

      it(`${name}: unmerge restores the base weights; unload returns the original model`, () => {
        setBackend(backendName);
        const { dir, baseDir, ref, batch } = adapterFixture(name);
        const original = weightsOf(loadModel(baseDir));
        const peft = loadPeftModel(loadModel(baseDir), dir);
        const adapted = logitsOf(peft, batch);
        peft.merge();
        assertClose(logitsOf(peft, batch), ref.read("merged_logits").toFloat32(), 1e-4, "logits while merged", "abs");
        peft.unmerge();
        for (const [pname, w] of weightsOf(peft.base)) {
          if (original.has(pname)) assertClose(w, original.get(pname)!, 1e-6, `unmerged ${pname}`, "abs");
        }
        assert.ok(maxAbsDiff(logitsOf(peft, batch), adapted) <= 1e-5, "unmerged forward is the adapter forward again");
        const base = peft.unload();
        assert.deepEqual([...weightsOf(base).keys()], [...original.keys()], "the original parameter names");
        const refBase = SafetensorsReader.open(join(baseDir, "reference.safetensors"));
        assertClose(logitsOf(base, batch), refBase.read("logits").toFloat32(), 1e-4, "unloaded model = base model", "abs");
        refBase.close();
        ref.close();
      });

      it(`${name}: a saved adapter has PEFT's keys, shapes and config, and reloads to identical logits`, () => {
        setBackend(backendName);
        const { dir, baseDir, ref, batch } = adapterFixture(name);
        const peft = loadPeftModel(loadModel(baseDir), dir, { isTrainable: true });
        const before = logitsOf(peft, batch);
        const out = join(tmp, `${name}-${backendName}`);
        peft.saveAdapter(out);
        const ours = SafetensorsReader.open(join(out, "adapter_model.safetensors"));
        const theirs = SafetensorsReader.open(join(dir, "adapter_model.safetensors"));
        assert.deepEqual(ours.names().sort(), theirs.names().sort(), "tensor names");
        for (const n of theirs.names()) {
          assert.deepEqual(ours.entry(n).shape, theirs.entry(n).shape, `shape of ${n}`);
          assert.equal(ours.entry(n).dtype, theirs.entry(n).dtype, `dtype of ${n}`);
          assert.deepEqual(ours.read(n).toFloat32(), theirs.read(n).toFloat32(), `values of ${n}`);
        }
        assert.deepEqual(ours.metadata, { format: "pt" });
        ours.close();
        theirs.close();
        const savedJson = JSON.parse(readFileSync(join(out, "adapter_config.json"), "utf8"));
        const fixtureJson = JSON.parse(readFileSync(join(dir, "adapter_config.json"), "utf8"));
        assert.deepEqual(Object.keys(savedJson).sort(), Object.keys(fixtureJson).sort(), "adapter_config.json keys");
        assert.deepEqual(readLoraConfig(out), readLoraConfig(dir), "adapter_config.json parses back to the same config");
        const reloaded = loadPeftModel(loadModel(baseDir), out);
        assert.deepEqual(logitsOf(reloaded, batch), before, "identical logits after the round trip");
        ref.close();
      });
    }
  });
}
