// One optimizer step's forward and backward over its micro-batches, with the gradient of the mean loss over
// the whole effective batch: micro-batch i (mean loss over its n_i target tokens) is backpropagated with
// weight n_i / N, N = Σ n_i, so the accumulated gradient equals that of one batch holding them all
// (transformers' num_items_in_batch). Each micro-batch runs in its own scope, so its activations are gone
// before the next starts.

import { backward } from "../autograd/engine.ts";
import { scope } from "../tensor/storage.ts";
import { Tensor } from "../tensor/tensor.ts";
import type { ModelInput, ModelOutput } from "../models/index.ts";
import type { Batch } from "./data/index.ts";

export interface AccumulateResult {
  /** Mean loss over the effective batch's target tokens. */
  loss: number;
  /** Target tokens (labels that count). */
  targets: number;
  /** Input tokens (attention mask ones). */
  tokens: number;
}

/** Real (unpadded) input tokens of a batch. */
export function inputTokens(b: Pick<Batch, "attentionMask">): number {
  let n = 0;
  for (const m of b.attentionMask) n += m;
  return n;
}

export function accumulateGradients(net: { forward(i: ModelInput): ModelOutput }, batches: readonly Batch[]): AccumulateResult {
  const counts = batches.map((b) => b.tokens);
  const N = counts.reduce((s, n) => s + n, 0);
  let loss = 0;
  let tokens = 0;
  batches.forEach((b, i) => {
    const w = N === 0 ? 0 : counts[i]! / N;
    tokens += inputTokens(b);
    scope(() => {
      const out = net.forward({ ids: b.ids, B: b.B, T: b.T, attentionMask: b.attentionMask, labels: b.labels, logits: "none" });
      const l = out.loss!;
      loss += l.item() * w;
      if (l.requiresGrad) backward(l, Tensor.scalar(w));
      l.release();
    });
  });
  return { loss, targets: N, tokens };
}
