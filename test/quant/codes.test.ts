// Code decisions against brute force: NF4 and the 8-bit dynamic map as float32 argmin (first index on ties),
// FP4 as bitsandbytes' GPU decision tree; packing, odd lengths, zero blocks; FP4 self-consistency; the
// torch mean emulation's threaded path.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { quantize4bitRef, quantizeBlockwise8bit } from "../../src/quant/quantize4bit.ts";
import { dequantizeRowsRef } from "../../src/quant/dequantize.ts";
import { DYNAMIC_MAP, FP4_CODE, FP4_PIVOTS, NF4_CODE, NF4_THRESHOLDS } from "../../src/quant/codebooks.ts";
import { torchMeanF32, torchSumF32 } from "../../src/quant/torch-mean.ts";
import { isNested } from "../../src/quant/types.ts";
import { Rng } from "../../src/util/random.ts";

const fround = Math.fround;

/** argmin_k fround(|s - code[k]|), first index on ties; NaN → 0 (torch.argmin). */
function argminF32(s: number, code: Float32Array): number {
  if (Number.isNaN(s)) return 0;
  let best = 0;
  let bestD = Infinity;
  for (let k = 0; k < code.length; k++) {
    const d = Math.abs(fround(s - code[k]!));
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  }
  return best;
}

/** bitsandbytes' dQuantizeFP4, transcribed as the decision tree it is. */
function fp4Tree(s: number): number {
  const [p01, p16, p67, p74, p45, p52, p23] = Array.from(FP4_PIVOTS) as number[];
  const sign = s < 0 ? 8 : 0;
  const x = Math.abs(s);
  if (x > p74!) {
    if (x > p52!) return sign + (x > p23! ? 3 : 2);
    return sign + (x > p45! ? 5 : 4);
  }
  if (x > p16!) return sign + (x > p67! ? 7 : 6);
  return sign + (x > p01! ? 1 : 0);
}

function nibble(codes: Uint8Array, i: number): number {
  return i & 1 ? codes[i >> 1]! & 15 : codes[i >> 1]! >> 4;
}

/** Values s as one block with absmax exactly 1 (so the normalised values are s itself). */
function codesOfNormalised(values: number[], type: "nf4" | "fp4"): number[] {
  const out: number[] = [];
  for (let i = 0; i < values.length; i += 63) {
    const chunk = values.slice(i, i + 63);
    const w = Float32Array.from([1, ...chunk]);
    const q = quantize4bitRef(w, 1, w.length, { type, doubleQuant: false });
    assert.equal((q.absmax as Float32Array)[0], 1);
    for (let k = 0; k < chunk.length; k++) out.push(nibble(q.codes, k + 1));
  }
  return out;
}

function neighbours(x: number, ulps: number): number[] {
  const f = new Float32Array(1);
  const u = new Int32Array(f.buffer);
  f[0] = x;
  const base = u[0]!;
  const out: number[] = [];
  for (let d = -ulps; d <= ulps; d++) {
    u[0] = base + (x >= 0 ? d : -d);
    out.push(f[0]!);
  }
  return out;
}

function probeValues(rng: Rng, edges: ArrayLike<number>): number[] {
  const vals: number[] = [-1, 1, 0, -0, ...Array.from(NF4_CODE), ...Array.from(FP4_CODE)];
  for (const t of Array.from(edges)) vals.push(...neighbours(t, 3), ...neighbours(-t, 3));
  for (let i = 0; i < 4000; i++) vals.push(fround(rng.uniform(0, 1) * 2 - 1));
  for (let i = 0; i < 500; i++) vals.push(fround((rng.uniform(0, 1) * 2 - 1) * 0.01));
  return vals.filter((v) => v >= -1 && v <= 1);
}

describe("4-bit code decisions", () => {
  const rng = new Rng(3);

  it("NF4 equals the float32 argmin, thresholds included, to the ulp", () => {
    const vals = probeValues(rng, NF4_THRESHOLDS);
    const got = codesOfNormalised(vals, "nf4");
    vals.forEach((s, i) => assert.equal(got[i], argminF32(s, NF4_CODE), `s = ${s}`));
  });

  it("NF4 thresholds lie between neighbouring codes, near the midpoints", () => {
    for (let k = 0; k < 15; k++) {
      const mid = (NF4_CODE[k]! + NF4_CODE[k + 1]!) / 2;
      assert.ok(Math.abs(NF4_THRESHOLDS[k]! - mid) < 1e-7, `threshold ${k}`);
    }
  });

  it("FP4 equals bitsandbytes' decision tree, pivots and signed zeros included", () => {
    const vals = probeValues(rng, FP4_PIVOTS);
    vals.push(-1e-30, 1e-30, -0.002, 0.002);
    const got = codesOfNormalised(vals, "fp4");
    vals.forEach((s, i) => assert.equal(got[i], fp4Tree(s), `s = ${s}`));
    assert.equal(fp4Tree(-1e-30), 8, "a tiny negative value is -0");
    assert.equal(fp4Tree(-0), 0);
  });

  it("FP4 code values are the E2M1 values / 12, in bitsandbytes' index order", () => {
    const e2m1 = [0, 0.0625, 8, 12, 4, 6, 2, 3];
    for (let k = 0; k < 16; k++) {
      const v = (k & 8 ? -1 : 1) * e2m1[k & 7]!;
      assert.ok(Object.is(FP4_CODE[k], fround(v / 12)), `code ${k}`);
    }
  });

  for (const type of ["nf4", "fp4"] as const) {
    it(`${type}: every exact code value times an absmax comes back as its own code`, () => {
      const table = type === "nf4" ? NF4_CODE : FP4_CODE;
      for (const scale of [1, 0.0371, 3.5]) {
        const w = Float32Array.from(table, (v) => fround(v * scale));
        const q = quantize4bitRef(w, 1, 16, { type, doubleQuant: false });
        for (let k = 0; k < 16; k++) {
          const expected = type === "fp4" && k === 8 ? 0 : k; // -0 is not below 0
          assert.equal(nibble(q.codes, k), expected, `${type} code ${k} at scale ${scale}`);
        }
      }
    });
  }

  it("FP4 round trip error is at most half the largest gap times absmax", () => {
    const sorted = Array.from(FP4_CODE).sort((a, b) => a - b);
    let gap = 0;
    for (let k = 1; k < 16; k++) gap = Math.max(gap, sorted[k]! - sorted[k - 1]!);
    const [rows, cols] = [37, 71];
    const w = Float32Array.from({ length: rows * cols }, () => fround(rng.normal() * 0.05));
    for (const doubleQuant of [false, true]) {
      const q = quantize4bitRef(w, rows, cols, { type: "fp4", doubleQuant });
      const deq = new Float32Array(rows * cols);
      dequantizeRowsRef(q, 0, rows, deq);
      let plain: Float32Array | null = null;
      if (doubleQuant) plain = quantize4bitRef(w, rows, cols, { type: "fp4", doubleQuant: false }).absmax as Float32Array;
      for (let i = 0; i < w.length; i++) {
        const b = Math.floor(i / 64);
        const amax = doubleQuant ? plain![b]! : (q.absmax as Float32Array)[b]!;
        // with double quant the scale itself moves by up to half an 8-bit step of the nested absmax
        const scaleErr = doubleQuant && isNested(q.absmax) ? q.absmax.nestedAbsmax[Math.floor(b / 256)]! * 0.008 : 0;
        const bound = (gap / 2) * amax * (1 + 1e-6) + scaleErr + 1e-9;
        assert.ok(Math.abs(deq[i]! - w[i]!) <= bound, `element ${i}: |${deq[i]} - ${w[i]}| > ${bound}`);
      }
    }
  });
});

describe("4-bit packing", () => {
  it("two codes per byte, first element in the high nibble", () => {
    const w = Float32Array.of(1, -1, 0, 0.5);
    const q = quantize4bitRef(w, 2, 2, { type: "nf4", doubleQuant: false });
    assert.deepEqual(Array.from(q.codes), [(15 << 4) | 0, (7 << 4) | 12]); // 0.5 is nearer 0.4407 than 0.5626
  });

  it("an odd count pads the last low nibble with the code of 0.0", () => {
    const w = Float32Array.of(-1, 0.3, 1, 0.25, -0.5);
    for (const [type, zero] of [["nf4", 7], ["fp4", 0]] as const) {
      const q = quantize4bitRef(w, 1, 5, { type, doubleQuant: false });
      assert.equal(q.codes.length, 3);
      assert.equal(q.codes[2]! & 15, zero, type);
      const deq = new Float32Array(5);
      dequantizeRowsRef(q, 0, 1, deq);
      assert.ok(Math.abs(deq[4]! + 0.5) < 0.1, `${type} last value ${deq[4]}`);
    }
  });

  it("partial last block gets its own absmax", () => {
    const rng = new Rng(9);
    const w = Float32Array.from({ length: 3 * 50 }, () => fround(rng.normal()));
    w[149] = 7; // the only value of block 2 (elements 128..149) that matters
    const q = quantize4bitRef(w, 3, 50, { type: "nf4", doubleQuant: false });
    const a = q.absmax as Float32Array;
    assert.equal(a.length, 3);
    let m0 = 0;
    for (let i = 0; i < 64; i++) m0 = Math.max(m0, Math.abs(w[i]!));
    assert.equal(a[0], m0);
    assert.equal(a[2], 7);
  });

  it("an all-zero block stores absmax 0, code 0 (torch's NaN argmin), and dequantizes to zeros", () => {
    const w = new Float32Array(128);
    for (let i = 64; i < 128; i++) w[i] = (i % 7) - 3;
    for (const type of ["nf4", "fp4"] as const) {
      const q = quantize4bitRef(w, 2, 64, { type, doubleQuant: false });
      assert.equal((q.absmax as Float32Array)[0], 0);
      for (let i = 0; i < 32; i++) assert.equal(q.codes[i], 0);
      const deq = new Float32Array(128);
      dequantizeRowsRef(q, 0, 2, deq);
      for (let i = 0; i < 64; i++) assert.equal(Math.abs(deq[i]!), 0);
      assert.equal(deq[70], -3);
    }
  });

  it("rejects bad shapes and options", () => {
    assert.throws(() => quantize4bitRef(new Float32Array(6), 2, 4, { type: "nf4" }), /6 values for shape \[2, 4\]/);
    assert.throws(() => quantize4bitRef(new Float32Array(8), 2, 4, { type: "nf4", blockSize: 63 }), /blockSize/);
    assert.throws(() => quantize4bitRef(new Float32Array(8), 2, 4, { type: "int4" as "nf4" }), /type must be/);
  });
});

describe("8-bit blockwise quantization of the absmax (double quant)", () => {
  it("codes are the float32 argmin over the dynamic map after the float32 reciprocal", () => {
    const rng = new Rng(5);
    const x = Float32Array.from({ length: 700 }, (_, i) => fround((rng.uniform(0, 1) - 0.4) * (i % 3 === 0 ? 1e-3 : 0.05)));
    x[10] = 0;
    x[11] = -0;
    const { codes, absmax } = quantizeBlockwise8bit(x, 256);
    assert.equal(absmax.length, 3);
    for (let i = 0; i < x.length; i++) {
      const b = Math.floor(i / 256);
      const s = Math.min(1, Math.max(-1, fround(x[i]! * fround(1 / absmax[b]!))));
      assert.equal(codes[i], argminF32(s, DYNAMIC_MAP), `element ${i}`);
    }
  });

  it("map entries and the thresholds between them decide like the argmin", () => {
    const vals: number[] = [];
    for (let k = 0; k < 256; k++) vals.push(...neighbours(DYNAMIC_MAP[k]!, 1));
    for (let k = 0; k < 255; k++) vals.push(fround((DYNAMIC_MAP[k]! + DYNAMIC_MAP[k + 1]!) / 2));
    const x = Float32Array.from([1, ...vals.filter((v) => Math.abs(v) <= 1)]);
    const { codes } = quantizeBlockwise8bit(x, x.length);
    for (let i = 0; i < x.length; i++) assert.equal(codes[i], argminF32(x[i]!, DYNAMIC_MAP), `s = ${x[i]}`);
  });
});

describe("torch mean emulation (threads)", () => {
  it("serial below 32768 values whatever the thread count; chunked per thread above", () => {
    const rng = new Rng(11);
    const small = Float32Array.from({ length: 20000 }, () => fround(rng.uniform(0, 1)));
    assert.equal(torchSumF32(small, 1), torchSumF32(small, 16));
    const big = Float32Array.from({ length: 100000 }, () => fround(rng.uniform(0, 1) * 0.1));
    // 4 chunks of 25000: the result is then the same for every thread count >= 4
    assert.equal(torchSumF32(big, 4), torchSumF32(big, 8));
    assert.equal(torchSumF32(big, 8), torchSumF32(big, 64));
    let exact = 0;
    for (const v of big) exact += v;
    assert.ok(Math.abs(torchSumF32(big, 8) - exact) / exact < 1e-6);
    assert.ok(Math.abs(torchMeanF32(big) - exact / big.length) < 1e-8);
    assert.equal(torchMeanF32(Float32Array.of(1, 2, 4)), fround(7 / 3));
  });
});
