// The demo's text sample: a continuation of a fixed opening line, sampled with a fixed seed, so "before"
// and "after" differ only by the model.

import type { CausalLM } from "../models/index.ts";
import type { Tokenizer } from "../tokenizer/index.ts";
import { generate } from "../infer/generate.ts";

export const SAMPLE_PROMPT = "The ship came down through the clouds, and";

export function sampleText(model: CausalLM, tokenizer: Tokenizer, seed: number, maxNewTokens = 40): string {
  const prompt = tokenizer.encode(SAMPLE_PROMPT);
  const ids = generate(model, prompt, {
    maxNewTokens,
    temperature: 0.8,
    topK: 40,
    seed,
    eosTokenIds: tokenizer.eosTokenId === null ? [] : [tokenizer.eosTokenId],
  });
  return tokenizer.decode(ids.slice(prompt.length), { skipSpecialTokens: true }).replace(/\s+/g, " ").trim();
}
