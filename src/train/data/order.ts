// Deterministic splits and epoch orders. An epoch's order is a pure function of (seed, epoch), so a run
// resumed at epoch e and step s sees the same examples the uninterrupted run would have.

import { hash32, Rng } from "../../util/random.ts";
import { DataError } from "./types.ts";

/** A permutation of 0..n−1 (Fisher–Yates with an Rng seeded from seed and epoch). */
export function epochOrder(n: number, seed: number, epoch: number): Uint32Array {
  if (!(Number.isInteger(n) && n >= 0)) throw new DataError(`epochOrder: n must be a non-negative integer, got ${n}`);
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const rng = new Rng(hash32(seed >>> 0, epoch >>> 0));
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

/**
 * Holds out round(fraction · n) examples (at least one when fraction > 0), chosen by a seeded shuffle;
 * both parts keep the file's order.
 */
export function splitValidation<T>(examples: readonly T[], fraction: number, seed: number): { train: T[]; eval: T[] } {
  if (!(fraction >= 0 && fraction < 1)) throw new DataError(`splitValidation: fraction must be in [0, 1), got ${fraction}`);
  const n = examples.length;
  const nEval = fraction === 0 ? 0 : Math.max(1, Math.round(fraction * n));
  if (nEval >= n && nEval > 0) {
    throw new DataError(`splitValidation: holding out ${nEval} of ${n} examples leaves none to train on`);
  }
  const held = new Set(epochOrder(n, seed, 0).subarray(0, nEval));
  return { train: examples.filter((_, i) => !held.has(i)), eval: examples.filter((_, i) => held.has(i)) };
}
