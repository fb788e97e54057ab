// Gradient accumulation: micro-batches weighted by their share of target tokens give the gradient of the
// mean loss over the whole effective batch (transformers' num_items_in_batch), even when the micro-batches
// hold different numbers of targets. Evaluation is the token-weighted mean.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { loadModel } from "../../src/models/index.ts";
import { setBackend } from "../../src/backend/index.ts";
import { collate, type Example } from "../../src/train/data/index.ts";
import { accumulateGradients } from "../../src/train/step.ts";
import { evaluate } from "../../src/train/evaluate.ts";
import { Rng } from "../../src/util/random.ts";
import { assertClose } from "../helpers.ts";
import { LLAMA } from "./helpers.ts";

function examples(): Example[] {
  const rng = new Rng(5);
  // lengths and prompt masks differ, so micro-batches carry different target counts
  return [9, 14, 5, 11].map((n, i) => {
    const ids = Int32Array.from({ length: n }, () => rng.int(512));
    const labels = Int32Array.from(ids, (id, t) => (t < i * 2 ? -100 : id));
    return { ids, labels };
  });
}

describe("gradient accumulation", () => {
  it("two micro-batches accumulate the gradient of the whole batch's mean loss", () => {
    setBackend("js");
    const ex = examples();
    const whole = loadModel(LLAMA, { trainable: true });
    const acc = loadModel(LLAMA, { trainable: true });
    const one = accumulateGradients(whole, [collate(ex, { padId: 0 })]);
    const b1 = collate(ex.slice(0, 1), { padId: 0 });
    const b2 = collate(ex.slice(1), { padId: 0 });
    assert.notEqual(b1.tokens * 3, b2.tokens, "unequal shares");
    const two = accumulateGradients(acc, [b1, b2]);
    assert.equal(two.targets, one.targets);
    assert.ok(Math.abs(two.loss - one.loss) <= 1e-6 * one.loss, `loss ${two.loss} vs ${one.loss}`);
    const g1 = new Map(whole.trainableParameters());
    for (const [name, p] of acc.trainableParameters()) assertClose(p.grad!.data, g1.get(name)!.grad!.data, 1e-5, name);
  });
  it("evaluate is the token-weighted mean over batches", () => {
    setBackend("js");
    const ex = examples();
    const model = loadModel(LLAMA);
    const all = evaluate(model, ex, { batchSize: 4, padId: 0 });
    const split = evaluate(model, ex, { batchSize: 1, padId: 0 });
    assert.ok(Math.abs(all.loss - split.loss) <= 1e-6 * all.loss, `${all.loss} vs ${split.loss}`);
    assert.equal(all.targets, ex.reduce((s, e) => s + e.labels.subarray(1).filter((l) => l !== -100).length, 0));
    assert.ok(Math.abs(all.perplexity - Math.exp(all.loss)) < 1e-9 * all.perplexity);
  });
});
