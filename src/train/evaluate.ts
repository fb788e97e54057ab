// Evaluation loss: the token-weighted mean cross-entropy over a set of examples (each batch's mean loss
// weighted by its target count), without gradients and with dropout off; perplexity = exp(loss).

import { noGrad } from "../autograd/engine.ts";
import { scope } from "../tensor/storage.ts";
import type { Module } from "../nn/index.ts";
import type { ModelInput, ModelOutput } from "../models/index.ts";
import { collate as collateBatch, type Example } from "./data/index.ts";

export interface EvalResult {
  loss: number;
  perplexity: number;
  /** Target tokens scored. */
  targets: number;
}

export function evaluate(
  net: Module & { forward(i: ModelInput): ModelOutput },
  examples: readonly Example[],
  o: { batchSize: number; padId: number },
): EvalResult {
  const wasTraining = net.training;
  net.eval();
  let sum = 0;
  let targets = 0;
  try {
    noGrad(() => {
      for (let i = 0; i < examples.length; i += o.batchSize) {
        const b = collateBatch(examples.slice(i, i + o.batchSize), { padId: o.padId });
        const n = b.tokens;
        if (n === 0) continue;
        scope(() => {
          const out = net.forward({ ids: b.ids, B: b.B, T: b.T, attentionMask: b.attentionMask, labels: b.labels, logits: "none" });
          sum += out.loss!.item() * n;
          out.loss!.release();
        });
        targets += n;
      }
    });
  } finally {
    net.train(wasTraining);
  }
  const loss = targets === 0 ? NaN : sum / targets;
  return { loss, perplexity: Math.exp(loss), targets };
}
