// The Trainer API: callbacks, the non-finite guard (stop naming the last good checkpoint, or skip), the
// memory guard (refuse naming the override, gradient checkpointing when tight).

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { basename, join } from "node:path";
import { loadModel, loadConfig } from "../../src/models/index.ts";
import { fullModel } from "../../src/train/model.ts";
import { train, NonFiniteError, type StepInfo } from "../../src/train/index.ts";
import { planMemory, memoryMargin, MemoryCheckError } from "../../src/train/memory-guard.ts";
import { estimateMemory } from "../../src/memory/index.ts";
import { readMetrics } from "../../src/train/metrics.ts";
import { Rng } from "../../src/util/random.ts";
import { LLAMA, tempDir } from "./helpers.ts";

function examples(n: number) {
  const rng = new Rng(9);
  return Array.from({ length: n }, () => {
    const ids = Int32Array.from({ length: 12 }, () => rng.int(512));
    return { ids, labels: Int32Array.from(ids) };
  });
}

/** A full fine-tuning run whose final norm weight turns NaN after step 2. */
async function poisonedRun(skipNonFinite: boolean) {
  const tm = fullModel(loadModel(LLAMA, { trainable: true }));
  const norm = tm.params.find(([n]) => n === "model.norm.weight")![1];
  const head = tm.params.find(([n]) => n === "lm_head.weight")![1];
  let headAt2: Float32Array | null = null;
  const steps: StepInfo[] = [];
  const out = join(tempDir("nonfinite"), "out");
  const run = train(
    { model: LLAMA, data: "(in memory)", out, method: "full", maxSteps: 4, batchSize: 2, lr: 1e-3, saveEvery: 1, skipNonFinite },
    {
      onStep: (s) => {
        steps.push(s);
        if (s.step === 2) {
          norm.data[0] = NaN;
          headAt2 = Float32Array.from(head.data as Float32Array);
        }
      },
    },
    { examples: examples(8), model: tm, padId: 0 },
  );
  return { run, steps, out, head, headAt2: () => headAt2! };
}

describe("Trainer", () => {
  it("stops on a non-finite loss, naming the last good checkpoint, which is kept", async () => {
    const p = await poisonedRun(false);
    await assert.rejects(p.run, (e: Error) => e instanceof NonFiniteError && /step 3: loss is NaN; training stopped/.test(e.message) && /checkpoint-2/.test(e.message) && /--skip-non-finite/.test(e.message));
    assert.ok(existsSync(join(p.out, "checkpoint-2", "trainer_state.json")));
    assert.ok(!existsSync(join(p.out, "checkpoint-3")));
  });

  it("with skipNonFinite, skips such steps without touching the weights", async () => {
    const p = await poisonedRun(true);
    const r = await p.run;
    assert.equal(r.steps, 4);
    assert.deepEqual(p.steps.map((s) => s.skipped), [false, false, true, true]);
    assert.deepEqual(Array.from(p.head.data as Float32Array), Array.from(p.headAt2()), "no optimizer step was taken");
    assert.deepEqual(readMetrics(join(p.out, "metrics.jsonl")).map((l) => l.skipped ?? false), [false, false, true, true]);
  });

  it("reports steps, evaluations and checkpoints through callbacks", async () => {
    const seen: string[] = [];
    const out = join(tempDir("callbacks"), "out");
    const r = await train(
      { model: LLAMA, data: "(in memory)", out, method: "full", maxSteps: 4, batchSize: 2, gradAccum: 2, lr: 1e-3, saveEvery: 2, evalEvery: 2, scheduler: "linear", warmupSteps: 1 },
      {
        onStart: (i) => seen.push(`start ${i.startStep}/${i.totalSteps}`),
        onStep: (s) => seen.push(`step ${s.step} lr ${s.lr.toExponential(2)}`),
        onEval: (e) => seen.push(`eval ${e.step}`),
        onCheckpoint: (c) => seen.push(`save ${c.step} ${basename(c.dir)}`),
      },
      { examples: examples(8), evalExamples: examples(2), model: fullModel(loadModel(LLAMA, { trainable: true })), padId: 0 },
    );
    // lr: warmup 0 at step 1, then linear decay 1e-3 · (4 − s) / 3
    assert.deepEqual(seen, ["start 0/4", "step 1 lr 0.00e+0", "step 2 lr 1.00e-3", "eval 2", "save 2 checkpoint-2", "step 3 lr 6.67e-4", "step 4 lr 3.33e-4", "eval 4", "save 4 checkpoint-4", "save 4 out"]);
    assert.equal(r.steps, 4);
    assert.ok(r.evalLoss !== null && Number.isFinite(r.evalLoss));
    assert.ok(existsSync(join(out, "model.safetensors")) && existsSync(join(out, "report.html")));
  });
});

describe("memory guard", () => {
  const config = loadConfig(LLAMA);
  const args = { method: "full" as const, batchSize: 8, maxSeqLen: 256, loraR: 8, loraTargetModules: "all-linear" as const, baseDtype: "float32" as const, optimizer: "adamw" as const, quantizeEmbeddings: null, gradientCheckpointing: "auto" as const, ignoreMemoryCheck: false };
  const est = (gc: boolean, optimizer: "adamw" | "adamw8bit" = "adamw") => estimateMemory({ config, method: "full", batch: 8, seq: 256, r: 8, gradientCheckpointing: gc, optimizer }).total;

  it("refuses to start when the estimate exceeds what is available, naming the override", () => {
    assert.throws(() => planMemory(config, args, memoryMargin() + est(true) / 2), (e: Error) => e instanceof MemoryCheckError && /--ignore-memory-check/.test(e.message));
    const plan = planMemory(config, { ...args, ignoreMemoryCheck: true }, memoryMargin() + est(true) / 2);
    assert.match(plan.text, /full/);
  });

  it("names the cheapest flags that make the run fit", () => {
    const between = memoryMargin() + (est(true, "adamw8bit") + est(true)) / 2;
    // auto has already turned checkpointing on; 8-bit AdamW is what is left to save
    assert.throws(() => planMemory(config, args, between), /it fits with --optimizer adamw8bit \(/);
    const noCkpt = { ...args, gradientCheckpointing: false };
    const need = (gc: boolean, optimizer: "adamw" | "adamw8bit") => (est(gc, optimizer) > between - memoryMargin() ? 1 : 0);
    assert.equal(need(false, "adamw8bit") + need(true, "adamw"), 2, "only both flags together fit");
    assert.throws(() => planMemory(config, noCkpt, between), /it fits with --gradient-checkpointing --optimizer adamw8bit \(/);
    assert.throws(() => planMemory(config, { ...args, gradientCheckpointing: true, batchSize: 1, maxSeqLen: 256 }, memoryMargin() + 1e6), /nothing but a smaller --max-seq-len/);
  });

  it("turns gradient checkpointing on when only that fits (auto)", () => {
    assert.ok(est(true) < est(false));
    const tight = memoryMargin() + (est(true) + est(false)) / 2;
    assert.equal(planMemory(config, args, tight).gradientCheckpointing, true);
    assert.equal(planMemory(config, args, memoryMargin() + 2 * est(false)).gradientCheckpointing, false);
    assert.equal(planMemory(config, { ...args, gradientCheckpointing: false, ignoreMemoryCheck: true }, tight).gradientCheckpointing, false);
  });
});

describe("threads", () => {
  it("sets the native pool size in a fresh process, before the library has run a kernel", () => {
    const script = `
      import { train } from "./src/train/index.ts";
      import { nativeAddon } from "./src/backend/native/index.ts";
      const ids = Int32Array.from({ length: 12 }, (_, i) => i + 3);
      await train({ model: "${LLAMA}", data: "(in memory)", out: "${join(tempDir("threads"), "out")}", method: "lora", maxSteps: 1, batchSize: 1, threads: 1 },
        {}, { examples: [{ ids, labels: ids }], padId: 0 });
      console.log(nativeAddon()?.info().threads ?? "js");`;
    const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout.trim(), /^(1|js)$/);
  });
});
