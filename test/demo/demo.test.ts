// `npm start` end to end, shortened to a few steps: the three methods run on the shipped base model, the
// table and reports come out, and the parameter counts are those of the model and its r = 16 adapters.

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runDemo } from "../../src/demo/run.ts";
import { demoSplits, HELD_OUT_GENRES } from "../../src/demo/data.ts";
import type { WorkerSummary } from "../../src/demo/worker.ts";

test("demo data: fine-tuning genres are held out of pretraining, validation documents out of fine-tuning", () => {
  const s = demoSplits();
  assert.ok(s.pretrain.length > 0 && s.finetune.length > 0 && s.validation.length > 0);
  assert.ok(s.pretrain.every((d) => !HELD_OUT_GENRES.includes(d.genre)));
  assert.ok([...s.finetune, ...s.validation].every((d) => HELD_OUT_GENRES.includes(d.genre)));
  const finetune = new Set(s.finetune);
  assert.ok(s.validation.every((d) => !finetune.has(d)));
});

test("demo: full, LoRA and QLoRA runs, their table and reports", { timeout: 300_000 }, () => {
  const out = mkdtempSync(join(tmpdir(), "peft-ts-demo-"));
  try {
    const lines: string[] = [];
    runDemo({ out, steps: 2, seed: 0 }, (s) => lines.push(s));
    const text = lines.join("\n");
    for (const row of ["base model", "full ", "lora ", "qlora "]) assert.match(text, new RegExp(`^${row}`, "m"));
    const summaries = ["full", "lora", "qlora"].map((m) => JSON.parse(readFileSync(join(out, m, "summary.json"), "utf8")) as WorkerSummary);
    const [full, lora, qlora] = summaries;
    assert.equal(full!.trainableParams, 1_311_872);
    assert.equal(full!.totalParams, 1_311_872);
    // r = 16 on the seven projections of 4 layers (hidden 128, 2 KV heads of 32, intermediate 384).
    assert.equal(lora!.trainableParams, 155_648);
    assert.equal(qlora!.trainableParams, 155_648);
    for (const s of summaries) {
      assert.ok(Number.isFinite(s.evalLoss) && s.evalLoss > 0, `${s.method} validation loss`);
      assert.ok(s.peakRssMb > 0 && s.sample.length > 0);
    }
    assert.ok(existsSync(join(out, "report.html")));
    for (const m of ["full", "lora", "qlora"]) assert.ok(existsSync(join(out, m, "report.html")));
    assert.ok(existsSync(join(out, "lora", "adapter_model.safetensors")) && existsSync(join(out, "full", "model.safetensors")));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test("demo: refuses the TypeScript backend (hours) unless --allow-slow, saying how to get the native one", () => {
  const bin = new URL("../../bin/peft-ts.js", import.meta.url).pathname;
  const r = spawnSync(process.execPath, [bin, "demo", "--out", join(tmpdir(), "peft-ts-demo-js")], { encoding: "utf8", env: { ...process.env, PEFT_TS_BACKEND: "js" } });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /needs the native kernels.*npm run build:native.*--allow-slow/);
});
