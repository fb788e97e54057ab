// Shared pieces of the native-vs-reference kernel tests: seeded inputs, NaN-poisoned outputs, comparisons.

import assert from "node:assert/strict";
import type { AttentionDims } from "../../src/backend/kernels.ts";
import { Rng } from "../../src/util/random.ts";
import { maxRelDiff } from "../helpers.ts";

/** The agreement the contract asks of the native backend: 1e-5 relative to the largest |expected|. */
export const TOL = 1e-5;

export const rng = new Rng(20240601);

export function randn(n: number, scale = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.normal() * scale;
  return a;
}

export function uniform(n: number, lo: number, hi: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.uniform(lo, hi);
  return a;
}

/** An output buffer full of NaN, so that an element the kernel forgets to write fails the comparison. */
export function poisoned(n: number): Float32Array {
  return new Float32Array(n).fill(NaN);
}

export function close(actual: Float32Array, expected: Float32Array, what: string, tol = TOL): void {
  const d = maxRelDiff(actual, expected);
  assert.ok(d <= tol, `${what}: max rel diff ${d.toExponential(3)} > ${tol}`);
}

/** Bit-for-bit equality (NaN payloads included). */
export function identical(actual: ArrayBufferView, expected: ArrayBufferView, what: string): void {
  const a = Buffer.from(actual.buffer, actual.byteOffset, actual.byteLength);
  const b = Buffer.from(expected.buffer, expected.byteOffset, expected.byteLength);
  if (a.equals(b)) return;
  const x = new Uint8Array(a), y = new Uint8Array(b);
  let i = 0;
  while (i < x.length && x[i] === y[i]) i++;
  assert.fail(`${what}: bytes differ (first at byte ${i} of ${x.length})`);
}

/** lse rows: the same −∞ entries, and the finite ones close. */
export function closeLse(actual: Float32Array, expected: Float32Array, what: string): void {
  const fa: number[] = [], fe: number[] = [];
  for (let i = 0; i < expected.length; i++) {
    if (expected[i] === -Infinity) assert.equal(actual[i], -Infinity, `${what}[${i}] should be -Infinity`);
    else {
      fa.push(actual[i]!);
      fe.push(expected[i]!);
    }
  }
  close(Float32Array.from(fa), Float32Array.from(fe), what);
}

export const SIZES = [1, 3, 17, 65, 257, 4099, 70001];

export interface AttentionCase {
  name: string;
  B: number;
  T: number;
  S: number;
  nh: number;
  nkv: number;
  hd: number;
  causal: boolean;
  /** padding: the last `pad[b]` keys of batch b are masked */
  pad?: number[];
  /** a KV cache of `capacity` rows with `extra` unused floats per row, read in place */
  cache?: { capacity: number; extra: number };
  window?: number;
  softcap?: number;
}

export const ATTENTION_CASES: AttentionCase[] = [
  { name: "one of everything", B: 1, T: 1, S: 1, nh: 1, nkv: 1, hd: 1, causal: true },
  { name: "tiny GQA with padding", B: 2, T: 5, S: 5, nh: 4, nkv: 2, hd: 3, causal: true, pad: [0, 2] },
  { name: "training tile edges (T=130, hd=32)", B: 2, T: 130, S: 130, nh: 8, nkv: 4, hd: 32, causal: true, pad: [0, 7] },
  { name: "SmolLM heads (9 q / 3 kv, hd=64)", B: 1, T: 97, S: 97, nh: 9, nkv: 3, hd: 64, causal: true },
  { name: "prefill after a cache (T < S), strided", B: 2, T: 37, S: 100, nh: 6, nkv: 2, hd: 17, causal: true, pad: [3, 0], cache: { capacity: 120, extra: 5 } },
  { name: "decode step from a KV cache (T=1, key splits)", B: 2, T: 1, S: 300, nh: 9, nkv: 3, hd: 64, causal: true, cache: { capacity: 512, extra: 0 } },
  { name: "non-causal cross attention", B: 1, T: 19, S: 70, nh: 3, nkv: 1, hd: 16, causal: false, pad: [9] },
  { name: "many heads per kv head (G=32)", B: 1, T: 9, S: 9, nh: 32, nkv: 1, hd: 8, causal: true },
  { name: "hd=128, one kv head (backward key splits)", B: 1, T: 70, S: 70, nh: 2, nkv: 1, hd: 128, causal: true },
  { name: "queries that see no key (T > S, a fully padded batch)", B: 2, T: 6, S: 4, nh: 2, nkv: 1, hd: 5, causal: true, pad: [0, 4] },
  { name: "sliding window with padding (W=7)", B: 2, T: 40, S: 40, nh: 4, nkv: 2, hd: 16, causal: true, pad: [0, 5], window: 7 },
  { name: "window across key blocks and tiles (T=150, W=70)", B: 1, T: 150, S: 150, nh: 2, nkv: 1, hd: 32, causal: true, window: 70 },
  { name: "window wider than the sequence (W=500)", B: 2, T: 33, S: 33, nh: 3, nkv: 3, hd: 8, causal: true, pad: [2, 0], window: 500 },
  { name: "window on a prefill after a cache (T < S), strided", B: 2, T: 37, S: 100, nh: 6, nkv: 2, hd: 17, causal: true, pad: [3, 0], cache: { capacity: 120, extra: 5 }, window: 20 },
  { name: "window on a decode step (T=1, key splits)", B: 2, T: 1, S: 300, nh: 9, nkv: 3, hd: 64, causal: true, cache: { capacity: 512, extra: 0 }, window: 100 },
  { name: "window of two keys (W=2)", B: 1, T: 9, S: 9, nh: 2, nkv: 1, hd: 4, causal: true, pad: [3], window: 2 },
  { name: "soft-capped scores with a window (c=1.5)", B: 2, T: 45, S: 45, nh: 4, nkv: 2, hd: 24, causal: true, pad: [0, 6], window: 16, softcap: 1.5 },
  { name: "soft-capped scores, hd=128 (backward key splits, c=3)", B: 1, T: 70, S: 70, nh: 2, nkv: 1, hd: 128, causal: true, softcap: 3 },
];

export interface AttentionInputs {
  dims: AttentionDims;
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
  dOut: Float32Array;
}

export function attentionInputs(c: AttentionCase): AttentionInputs {
  const rowStride = c.nkv * c.hd + (c.cache?.extra ?? 0);
  const capacity = c.cache?.capacity ?? c.S;
  const kvSize = c.B * capacity * rowStride;
  let keyMask: Uint8Array | null = null;
  if (c.pad) {
    keyMask = new Uint8Array(c.B * c.S).fill(1);
    c.pad.forEach((p, b) => keyMask!.fill(0, b * c.S + c.S - p, (b + 1) * c.S));
  }
  // Cache slots beyond S hold NaN: reading them would show.
  const kv = () => {
    const a = randn(kvSize);
    for (let b = 0; b < c.B; b++) a.fill(NaN, (b * capacity + c.S) * rowStride, (b + 1) * capacity * rowStride);
    for (let r = 0; r < c.B * capacity; r++) a.fill(NaN, r * rowStride + c.nkv * c.hd, (r + 1) * rowStride);
    return a;
  };
  const dims: AttentionDims = {
    B: c.B, T: c.T, S: c.S, nh: c.nh, nkv: c.nkv, hd: c.hd,
    scale: 1 / Math.sqrt(c.hd),
    causal: c.causal,
    keyMask,
    kvRowStride: rowStride,
    kvBatchStride: capacity * rowStride,
    window: c.window ?? null,
    softcap: c.softcap ?? null,
  };
  const qSize = c.B * c.T * c.nh * c.hd;
  return { dims, q: randn(qSize, 2), k: kv(), v: kv(), dOut: randn(qSize) };
}
