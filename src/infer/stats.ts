// What mlx_lm.generate prints after generating: prompt and generation throughput and peak memory.
// The prompt's time runs from the start to the first new token (one forward over the whole prompt, then
// the first choice); generation's from the first new token to the last.

import { performance } from "node:perf_hooks";
import { peakRssBytes } from "../util/memory.ts";
import { formatBytes } from "../util/format.ts";

export interface GenerationStats {
  promptTokens: number;
  /** Prompt tokens per second of the prefill. */
  promptTps: number;
  generationTokens: number;
  /** New tokens per second after the first (NaN with fewer than two). */
  generationTps: number;
  /** Peak resident memory of this process. */
  peakMemoryBytes: number;
}

/** Starts the clock; call `token()` as each new token arrives and `finish()` at the end. */
export function generationTimer(promptTokens: number): { token(): void; finish(): GenerationStats } {
  const t0 = performance.now();
  let first = NaN;
  let last = NaN;
  let n = 0;
  return {
    token() {
      last = performance.now();
      if (n++ === 0) first = last;
    },
    finish() {
      return {
        promptTokens,
        promptTps: n > 0 ? promptTokens / ((first - t0) / 1000) : NaN,
        generationTokens: n,
        generationTps: n > 1 ? (n - 1) / ((last - first) / 1000) : NaN,
        peakMemoryBytes: peakRssBytes(),
      };
    },
  };
}

function rate(tps: number): string {
  return Number.isFinite(tps) ? `${tps.toFixed(1)} tokens-per-sec` : "— tokens-per-sec";
}

export function formatStats(s: GenerationStats): string {
  return [
    "==========",
    `Prompt: ${s.promptTokens} tokens, ${rate(s.promptTps)}`,
    `Generation: ${s.generationTokens} tokens, ${rate(s.generationTps)}`,
    `Peak memory: ${formatBytes(s.peakMemoryBytes)}`,
  ].join("\n");
}
