// Autoregressive generation with a KV cache: one forward over the prompt, then one token at a time,
// streaming each token as it is chosen and stopping at end-of-sequence.

import { noGrad } from "../autograd/engine.ts";
import { scope } from "../tensor/storage.ts";
import type { CausalLM } from "../models/causal-lm.ts";
import { Rng } from "../util/random.ts";
import { chooseToken, validateSampling, type SamplingOptions } from "./sampling.ts";

export interface GenerateOptions extends SamplingOptions {
  maxNewTokens: number;
  /** Stop when one of these is generated (it is included in the output). */
  eosTokenIds?: readonly number[];
  /** Called with each new token id as soon as it is chosen. */
  onToken?: (id: number) => void;
}

/** Returns the prompt followed by the generated ids. */
export function generate(model: CausalLM, promptIds: readonly number[], o: GenerateOptions): number[] {
  validateSampling(o);
  if (promptIds.length === 0) throw new Error("generate: the prompt is empty");
  if (!(Number.isInteger(o.maxNewTokens) && o.maxNewTokens >= 0)) throw new Error(`generate: max new tokens must be a non-negative integer, got ${o.maxNewTokens}`);
  const rng = new Rng(o.seed ?? 0);
  const ids = [...promptIds];
  const eos = new Set(o.eosTokenIds ?? []);
  const wasTraining = model.training;
  model.eval();
  try {
    return noGrad(() => {
      const cache = model.newCache(1, promptIds.length + o.maxNewTokens);
      let step = Int32Array.from(promptIds);
      for (let n = 0; n < o.maxNewTokens; n++) {
        const logits = scope(() => {
          const out = model.forward({ ids: step, B: 1, T: step.length, cache, logits: "last" });
          const row = Float32Array.from(out.logits!.data as Float32Array);
          out.logits!.release();
          return row;
        });
        const next = chooseToken(logits, ids, o, rng);
        ids.push(next);
        o.onToken?.(next);
        if (eos.has(next)) break;
        step = Int32Array.of(next);
      }
      return ids;
    });
  } finally {
    model.train(wasTraining);
  }
}
