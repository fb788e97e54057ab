// Next-token choice with transformers' processor order: repetition penalty, then temperature, top-k,
// top-p, then a draw from the softmax (or argmax when greedy).

import { Rng } from "../util/random.ts";

export interface SamplingOptions {
  /** Argmax decoding (the default when no temperature is given). */
  greedy?: boolean;
  temperature?: number;
  topK?: number;
  topP?: number;
  /** > 1 discourages tokens already in the sequence (CTRL-style, as transformers). */
  repetitionPenalty?: number;
  seed?: number;
}

export function validateSampling(o: SamplingOptions): void {
  if (o.temperature !== undefined && !(o.temperature > 0)) throw new Error(`temperature must be > 0, got ${o.temperature}`);
  if (o.topK !== undefined && !(Number.isInteger(o.topK) && o.topK >= 0)) throw new Error(`top-k must be a non-negative integer, got ${o.topK}`);
  if (o.topP !== undefined && !(o.topP > 0 && o.topP <= 1)) throw new Error(`top-p must be in (0, 1], got ${o.topP}`);
  if (o.repetitionPenalty !== undefined && !(o.repetitionPenalty > 0)) {
    throw new Error(`repetition penalty must be > 0, got ${o.repetitionPenalty}`);
  }
}

function argmax(x: Float32Array): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i]! > x[best]!) best = i;
  return best;
}

/** Picks the next token from one row of logits (modified in place). */
export function chooseToken(logits: Float32Array, previous: readonly number[], o: SamplingOptions, rng: Rng): number {
  const penalty = o.repetitionPenalty ?? 1;
  if (penalty !== 1) {
    for (const id of new Set(previous)) {
      const s = logits[id]!;
      logits[id] = s < 0 ? s * penalty : s / penalty;
    }
  }
  if (o.greedy || o.temperature === undefined) return argmax(logits);
  const V = logits.length;
  const scaled = new Float64Array(V);
  for (let i = 0; i < V; i++) scaled[i] = logits[i]! / o.temperature;
  const order = Array.from({ length: V }, (_, i) => i).sort((a, b) => scaled[b]! - scaled[a]!);
  let keep = V;
  if (o.topK && o.topK > 0 && o.topK < V) {
    const kth = scaled[order[o.topK - 1]!]!;
    keep = o.topK;
    while (keep < V && scaled[order[keep]!] === kth) keep++;
  }
  const max = scaled[order[0]!]!;
  const probs = new Float64Array(keep);
  let sum = 0;
  for (let j = 0; j < keep; j++) sum += probs[j] = Math.exp(scaled[order[j]!]! - max);
  if (o.topP !== undefined && o.topP < 1) {
    // Keep the most probable tokens while the mass before them is below top-p (at least one).
    let before = 0;
    let j = 0;
    while (j < keep && (j === 0 || before < o.topP)) before += probs[j++]! / sum;
    keep = j;
    sum = 0;
    for (let i = 0; i < keep; i++) sum += probs[i]!;
  }
  let u = rng.next() * sum;
  for (let j = 0; j < keep; j++) {
    u -= probs[j]!;
    if (u < 0) return order[j]!;
  }
  return order[keep - 1]!;
}
