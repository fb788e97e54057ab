// Every fixture checkpoint against its reference: logits, loss, hidden states, full fine-tuning gradients
// and greedy generation with the KV cache, for both config styles, on every backend. The reference is
// transformers for the first seven and the PyTorch re-implementation in scripts/reference/archs.py for the
// others (test/fixtures/PROVENANCE.md).

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { SafetensorsReader } from "../../src/io/safetensors.ts";
import { loadModel, loadConfig } from "../../src/models/index.ts";
import { backward } from "../../src/autograd/engine.ts";
import { setBackend } from "../../src/backend/index.ts";
import { idsToInt32, type Tensor } from "../../src/tensor/tensor.ts";
import { generate } from "../../src/infer/generate.ts";
import { assertClose, backendsUnderTest, maxAbsDiff } from "../helpers.ts";

const FIXTURES = "test/fixtures/models";
const ARCHS = ["llama", "llama3-rope", "qwen2", "qwen3", "gpt2", "llama-bf16", "llama-sharded", "mistral-window", "ministral-window", "smollm3", "phi3-longrope", "gemma2", "gemma3"];

function referenceBatch(dir: string) {
  const ref = SafetensorsReader.open(join(dir, "reference.safetensors"));
  const ids = ref.read("input_ids");
  const [B, T] = ids.shape as [number, number];
  return {
    ref,
    B,
    T,
    ids: idsToInt32(ids),
    mask: Uint8Array.from(idsToInt32(ref.read("attention_mask"))),
    labels: idsToInt32(ref.read("labels")),
  };
}

/** max |a − b| relative to max |b| (the fixture README's gradient tolerance). */
function gradClose(actual: Tensor, expected: Tensor, name: string): void {
  assertClose(actual.toFloat32(), expected.toFloat32(), 1e-4, `gradient ${name}`, "rel");
}

for (const backendName of backendsUnderTest) {
  describe(`fixture models (${backendName} backend)`, () => {
    for (const arch of ARCHS) {
      const dir = join(FIXTURES, arch);
      const configs = existsSync(join(dir, "config.transformers4.json")) ? ["config.json", "config.transformers4.json"] : ["config.json"];
      for (const configFile of configs) {
        it(`${arch} (${configFile}): logits, loss, hidden states, gradients`, () => {
          setBackend(backendName);
          const { ref, B, T, ids, mask, labels } = referenceBatch(dir);
          const model = loadModel(dir, { trainable: true, config: loadConfig(join(dir, configFile)) });
          const out = model.forward({ ids, B, T, attentionMask: mask, labels, logits: "all", outputHiddenStates: true });
          assertClose(out.logits!.toFloat32(), ref.read("logits").toFloat32(), 1e-4, "logits", "abs");
          const loss = out.loss!.item();
          const refLoss = ref.read("loss").item();
          assert.ok(Math.abs(loss - refLoss) <= 1e-5 * Math.abs(refLoss), `loss ${loss} vs ${refLoss}`);
          assert.equal(out.hiddenStates.length, model.config.numLayers + 1);
          // llama-bf16's reference holds logits and loss only.
          const hasInternals = arch !== "llama-bf16";
          if (hasInternals) {
            out.hiddenStates.forEach((h, i) => {
              assertClose(h.toFloat32(), ref.read(`hidden_states.${i}`).toFloat32(), 1e-4, `hidden_states.${i}`, "abs");
            });
          }
          backward(out.loss!);
          const params = model.trainableParameters();
          const refGrads = ref.names().filter((n) => n.startsWith("grad."));
          assert.equal(refGrads.length, hasInternals ? params.length : 0, "one reference gradient per parameter");
          for (const [name, p] of hasInternals ? params : []) {
            assert.ok(p.grad, `no gradient for ${name}`);
            gradClose(p.grad!, ref.read(`grad.${name}`), name);
          }
          ref.close();
        });
      }
      if (existsSync(join(dir, "generation.json"))) {
        it(`${arch}: greedy generation with the KV cache reproduces the reference`, () => {
          setBackend(backendName);
          const gen = JSON.parse(readFileSync(join(dir, "generation.json"), "utf8"));
          const model = loadModel(dir);
          const ids = generate(model, gen.prompt_ids, { maxNewTokens: gen.max_new_tokens, greedy: true });
          assert.deepEqual(ids, gen.greedy_ids);
        });
      }
    }
  });
}

describe("fixture models: a bf16 checkpoint held in bf16 computes like its float32 upcast", () => {
  it("llama-bf16 frozen in bf16 gives the reference logits", () => {
    const dir = join(FIXTURES, "llama-bf16");
    const { ref, B, T, ids, mask } = referenceBatch(dir);
    const model = loadModel(dir, { dtype: "bfloat16" });
    const weight = model.namedParameters().find(([n]) => n.endsWith("q_proj.weight"))![1] as Tensor;
    assert.equal(weight.dtype, "bfloat16");
    const out = model.forward({ ids, B, T, attentionMask: mask });
    assert.ok(maxAbsDiff(out.logits!.toFloat32(), ref.read("logits").toFloat32()) <= 1e-4);
  });
});

describe("gradient checkpointing", () => {
  it("llama: checkpointed layers give the reference gradients", () => {
    const dir = join(FIXTURES, "llama");
    const { ref, B, T, ids, mask, labels } = referenceBatch(dir);
    const model = loadModel(dir, { trainable: true });
    model.gradientCheckpointing = true;
    const out = model.forward({ ids, B, T, attentionMask: mask, labels });
    backward(out.loss!);
    for (const [name, p] of model.trainableParameters()) gradClose(p.grad!, ref.read(`grad.${name}`), name);
  });
});
