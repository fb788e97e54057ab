// A 200-step LoRA run with 8-bit AdamW against the same run with AdamW: the loss falls alike. Rank 64
// puts every adapter matrix of the fixture model at ≥ 4096 elements, so all of them take the 8-bit path.
// Tolerance: the mean loss of the last 10 steps within 0.2% of AdamW's (measured: 0.006%; the runs start
// from the same loss, 6.23, and fall by more than 1.1).

import { it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { train } from "../../src/train/index.ts";
import { readMetrics } from "../../src/train/metrics.ts";
import { LLAMA, tempDir, writeTextData } from "./helpers.ts";

it("LoRA, 200 steps: adamw8bit ends within 0.2% of adamw's loss", async () => {
  const dir = tempDir("adamw8bit-200");
  const data = writeTextData(dir, 40);
  const lastLoss = async (optimizer: "adamw" | "adamw8bit") => {
    const out = join(dir, optimizer);
    await train({ model: LLAMA, data, method: "lora", loraR: 64, loraAlpha: 64, lr: 2e-3, batchSize: 4, maxSteps: 200, scheduler: "constant", seed: 5, optimizer, out });
    const losses = readMetrics(join(out, "metrics.jsonl")).flatMap((l) => (l.loss === undefined ? [] : [l.loss]));
    assert.equal(losses.length, 200);
    return { first: losses[0]!, last: losses.slice(-10).reduce((a, b) => a + b, 0) / 10 };
  };
  const ref = await lastLoss("adamw");
  const q = await lastLoss("adamw8bit");
  assert.equal(q.first, ref.first);
  assert.ok(ref.first - ref.last > 1, `AdamW trained: ${ref.first} → ${ref.last}`);
  const rel = Math.abs(q.last - ref.last) / ref.last;
  assert.ok(rel <= 0.002, `adamw8bit ${q.last} vs adamw ${ref.last}: ${(100 * rel).toFixed(3)}% apart`);
});
