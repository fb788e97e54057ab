// The training fixtures: torch.optim.AdamW trajectories on the llama fixture model over one batch.
// Full fine-tuning (3 steps, every weight) and LoRA (5 steps, with and without clip_grad_norm_).

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { SafetensorsReader } from "../../src/io/safetensors.ts";
import { loadModel } from "../../src/models/index.ts";
import { backward } from "../../src/autograd/engine.ts";
import { scope } from "../../src/tensor/storage.ts";
import { setBackend } from "../../src/backend/index.ts";
import { idsToInt32, type Tensor } from "../../src/tensor/tensor.ts";
import { AdamW, clipGradNorm } from "../../src/optim/index.ts";
import { getPeftModel } from "../../src/peft/index.ts";
import type { CausalLM } from "../../src/models/index.ts";
import { assertClose, backendsUnderTest } from "../helpers.ts";

const DIR = "test/fixtures/training";
const MODEL = "test/fixtures/models/llama";

function batchOf(ref: SafetensorsReader) {
  const ids = ref.read("input_ids");
  const [B, T] = ids.shape as [number, number];
  return { B, T, ids: idsToInt32(ids), attentionMask: Uint8Array.from(idsToInt32(ref.read("attention_mask"))), labels: idsToInt32(ref.read("labels")) };
}

interface Trajectory {
  losses: number[];
  norms: number[];
  lossAfter: number;
}

/** Runs `steps` AdamW steps (optionally clipped) on one batch, as the fixture script does. */
function run(model: { forward: CausalLM["forward"] }, params: [string, Tensor][], ref: SafetensorsReader, steps: number, opt: AdamW, clip: number | null): Trajectory {
  const batch = batchOf(ref);
  const losses: number[] = [];
  const norms: number[] = [];
  for (let s = 0; s < steps; s++) {
    scope(() => {
      const out = model.forward({ ...batch, logits: "none" });
      losses.push(out.loss!.item());
      backward(out.loss!);
      out.loss!.release();
    });
    if (clip !== null) norms.push(clipGradNorm(params, clip));
    opt.step();
    opt.zeroGrad();
  }
  const lossAfter = scope(() => model.forward({ ...batch, logits: "none" }).loss!.item());
  return { losses, norms, lossAfter };
}

function assertLosses(actual: number[], expected: number[], what: string): void {
  actual.forEach((l, i) => assert.ok(Math.abs(l - expected[i]!) <= 1e-4 * Math.abs(expected[i]!), `${what} step ${i}: ${l} vs ${expected[i]}`));
}

for (const backendName of backendsUnderTest) {
  describe(`AdamW trajectories against torch (${backendName} backend)`, () => {
    it("full fine-tuning: 3 steps reproduce the losses and every final weight", () => {
      setBackend(backendName);
      const meta = JSON.parse(readFileSync(`${DIR}/llama-full-adamw.json`, "utf8"));
      const ref = SafetensorsReader.open(`${DIR}/llama-full-adamw.safetensors`);
      const model = loadModel(MODEL, { trainable: true });
      model.train();
      const params = model.trainableParameters();
      const o = meta.optimizer;
      const opt = new AdamW(params, { lr: o.lr, betas: o.betas, eps: o.eps, weightDecay: o.weight_decay });
      const t = run(model, params, ref, meta.steps, opt, null);
      assertLosses(t.losses, meta.losses, "loss");
      assertLosses([t.lossAfter], [meta.loss_after_last_step], "loss after last step");
      const finals = ref.names().filter((n) => n.startsWith("final."));
      assert.equal(finals.length, params.length);
      for (const [name, p] of params) assertClose(p.toFloat32(), ref.read(`final.${name}`).toFloat32(), 1e-4, name, "abs");
      ref.close();
    });

    for (const variant of ["llama-lora-adamw", "llama-lora-adamw-clip"]) {
      it(`${variant}: 5 LoRA steps reproduce losses${variant.endsWith("clip") ? ", norms" : ""} and final adapter`, () => {
        setBackend(backendName);
        const meta = JSON.parse(readFileSync(`${DIR}/${variant}.json`, "utf8"));
        const ref = SafetensorsReader.open(`${DIR}/${variant}.safetensors`);
        const base = loadModel(MODEL);
        const peft = getPeftModel(base, { r: meta.lora.r, lora_alpha: meta.lora.lora_alpha, lora_dropout: 0, target_modules: meta.lora.target_modules });
        peft.train();
        const params = peft.trainableParameters();
        const inits = ref.names().filter((n) => n.startsWith("init."));
        assert.equal(inits.length, params.length, "one init tensor per trainable parameter");
        for (const [name, p] of params) (p.data as Float32Array).set(ref.read(`init.${name}`).toFloat32());
        const o = meta.optimizer;
        const opt = new AdamW(params, { lr: o.lr, betas: o.betas, eps: o.eps, weightDecay: o.weight_decay });
        const t = run(peft, params, ref, meta.steps, opt, meta.clip_grad_norm ?? null);
        assertLosses(t.losses, meta.losses, "loss");
        assertLosses([t.lossAfter], [meta.loss_after_last_step], "loss after last step");
        if (meta.grad_norms_before_clip) assertLosses(t.norms, meta.grad_norms_before_clip, "grad norm before clip");
        for (const [name, p] of params) assertClose(p.toFloat32(), ref.read(`final.${name}`).toFloat32(), 1e-4, name, "abs");
        ref.close();
      });
    }
  });
}
