// The progress bar fits the terminal, dropping the least useful fields first, and the closing line says
// how long training took and at what mean throughput.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { barFields, fitBarLine, formatFinish } from "../../src/train/progress.ts";
import type { StepInfo, TrainResult } from "../../src/train/trainer.ts";

const step: StepInfo = { step: 37, totalSteps: 150, epoch: 1.234, loss: 3.21987, lr: 2.5e-4, gradNorm: 0.5, tokens: 2048, tokensPerSecond: 3456.7, rssMb: 281.6, seconds: 0.6, skipped: false };

describe("progress bar", () => {
  it("shows every field when there is room, in order of use", () => {
    const line = fitBarLine(37, 150, barFields(step, 68), 200);
    assert.equal(line, `${"█".repeat(6)}${"░".repeat(18)} 37/150 | loss 3.2199 | ETA 1m08s | 3457 tok/s | 282 MB | lr 2.50e-4 | epoch 1.23`);
  });
  it("drops epoch, then lr, memory, tok/s, ETA as the terminal narrows, and never exceeds it", () => {
    const fields = barFields(step, 68);
    const kept = (width: number) => fitBarLine(37, 150, fields, width).split(" | ").slice(1).map((f) => f.split(" ")[0]);
    assert.deepEqual(kept(100), ["loss", "ETA", "3457", "282", "lr"]);
    assert.deepEqual(kept(79), ["loss", "ETA", "3457", "282"]);
    assert.deepEqual(kept(60), ["loss", "ETA"]);
    assert.deepEqual(kept(45), ["loss"]);
    for (const width of [200, 120, 100, 80, 79, 60, 45, 40, 30, 20, 10]) {
      const line = fitBarLine(37, 150, fields, width);
      assert.ok(line.length <= width, `${width}: ${line.length} "${line}"`);
      assert.ok(line.includes("37/150"), `${width}: the step survives`);
    }
  });
});

describe("closing line", () => {
  const result: TrainResult = { steps: 30, startStep: 0, trainSeconds: 12.4, evalSeconds: 3.1, tokens: 30 * 2048, loss: 2.3456, evalLoss: 2.5, out: "runs/x", metricsPath: "runs/x/metrics.jsonl" };
  it("says steps, time without evaluation, mean tokens/s and where the result is", () => {
    assert.equal(formatFinish(result), "done: 30 steps in 12s (+3.1s evaluating), 4,955 tokens/s mean, last loss 2.3456, eval loss 2.5000; result in runs/x");
  });
  it("says so when a resumed run had nothing left to do", () => {
    assert.equal(formatFinish({ ...result, startStep: 30, trainSeconds: 0, evalSeconds: 0, tokens: 0, evalLoss: null }), "done: all 30 steps were done before; result in runs/x");
  });
});
