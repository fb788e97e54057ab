// LLM.int8 storage: per-row absmax (SCB), round-half-even codes, the float16 cast, round-trip bounds.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { quantizeInt8Ref, roundHalfEven, roundToFloat16 } from "../../src/quant/int8.ts";
import { dequantizeRowsRef } from "../../src/quant/dequantize.ts";
import { f16ToF32, f32ToF16 } from "../../src/tensor/dtype.ts";
import { Rng } from "../../src/util/random.ts";

const fround = Math.fround;

describe("int8 (LLM.int8 storage)", () => {
  it("torch.round semantics: ties to even", () => {
    const cases: Array<[number, number]> = [[0.5, 0], [1.5, 2], [2.5, 2], [-0.5, -0], [-1.5, -2], [-2.5, -2], [2.4999, 2], [3.5, 4], [-3.5, -4], [126.5, 126]];
    for (const [x, r] of cases) assert.ok(Object.is(roundHalfEven(x), r), `round(${x}) = ${roundHalfEven(x)}, want ${r}`);
  });

  it("codes = round(w · fround(127 / absmax)), SCB = row absmax, scale = SCB / 127", () => {
    const w = Float32Array.of(127, 63.5, -0.5, 1.5, -127, 2.5, 0, 64.5);
    const q = quantizeInt8Ref(w, 2, 4);
    assert.deepEqual(Array.from(q.codes), [127, 64, 0, 2, -127, 2, 0, 64]);
    assert.deepEqual(Array.from(q.rowAbsmax!), [127, 127]);
    assert.deepEqual(Array.from(q.rowScale), [1, 1]);
  });

  it("matches a direct transcription of int8_vectorwise_quant on random rows", () => {
    const rng = new Rng(2);
    const [rows, cols] = [13, 77];
    const w = Float32Array.from({ length: rows * cols }, () => fround(rng.normal() * 0.03));
    const q = quantizeInt8Ref(w, rows, cols);
    for (let r = 0; r < rows; r++) {
      const row = Array.from(w.subarray(r * cols, (r + 1) * cols), (x) => f16ToF32(f32ToF16(x)));
      const scb = Math.max(...row.map(Math.abs));
      assert.equal(q.rowAbsmax![r], scb);
      assert.equal(q.rowScale[r], fround(scb / 127));
      const s = fround(127 / scb);
      for (let c = 0; c < cols; c++) assert.equal(q.codes[r * cols + c], roundHalfEven(fround(row[c]! * s)) || 0);
    }
  });

  it("round trip within half a step of the float16 weight; every nonzero row reaches ±127", () => {
    const rng = new Rng(4);
    const [rows, cols] = [9, 130];
    const w = Float32Array.from({ length: rows * cols }, () => fround(rng.normal() * (rng.uniform(0, 1) < 0.01 ? 1 : 0.02)));
    const q = quantizeInt8Ref(w, rows, cols);
    const deq = new Float32Array(rows * cols);
    dequantizeRowsRef(q, 0, rows, deq);
    for (let r = 0; r < rows; r++) {
      let top = 0;
      for (let c = 0; c < cols; c++) {
        const i = r * cols + c;
        const w16 = f16ToF32(f32ToF16(w[i]!));
        assert.ok(Math.abs(deq[i]! - w16) <= q.rowScale[r]! * 0.5 * (1 + 1e-5), `element ${i}`);
        assert.ok(Math.abs(q.codes[i]!) <= 127);
        top = Math.max(top, Math.abs(q.codes[i]!));
      }
      assert.equal(top, 127, `row ${r}`);
    }
  });

  it("casts to float16 first (as bitsandbytes) unless asked not to", () => {
    const f16 = (x: number) => f16ToF32(f32ToF16(x));
    let x = NaN;
    for (let k = 0; k < 100000 && Number.isNaN(x); k++) {
      const c = fround(0.01 + k * 1e-6);
      if (roundHalfEven(fround(c * 127)) !== roundHalfEven(fround(f16(c) * 127))) x = c;
    }
    assert.ok(!Number.isNaN(x), "found a value whose code the float16 cast changes");
    const w = Float32Array.of(1, x);
    assert.equal(quantizeInt8Ref(w, 1, 2).codes[1], roundHalfEven(fround(f16(x) * 127)));
    assert.equal(quantizeInt8Ref(w, 1, 2, { viaFloat16: false }).codes[1], roundHalfEven(fround(x * 127)));
    const big = Float32Array.of(70000, 1, -2, 3);
    const qb = quantizeInt8Ref(big, 1, 4);
    assert.equal(qb.rowAbsmax![0], Infinity, "70000 overflows float16 as in torch");
    assert.deepEqual(Array.from(qb.codes), [0, 0, 0, 0]);
  });

  it("a zero row stores SCB 0 and zero codes", () => {
    const q = quantizeInt8Ref(new Float32Array(6), 2, 3);
    assert.deepEqual(Array.from(q.codes), [0, 0, 0, 0, 0, 0]);
    assert.deepEqual(Array.from(q.rowAbsmax!), [0, 0]);
  });

  it("the float16 rounding matches the exact converter on a sweep of float32 bit patterns", () => {
    const f = new Float32Array(1);
    const u = new Uint32Array(f.buffer);
    const v = new Float32Array(2048);
    const bits = new Uint32Array(v.buffer);
    let b = 0;
    for (let chunk = 0; chunk < 64; chunk++) {
      for (let i = 0; i < v.length; i++, b = (b + 1048573 * 7) >>> 0) bits[i] = b;
      const before = Float32Array.from(v);
      roundToFloat16(v);
      for (let i = 0; i < v.length; i++) {
        const want = f16ToF32(f32ToF16(before[i]!));
        if (Number.isNaN(want)) assert.ok(Number.isNaN(v[i]!));
        else assert.ok(Object.is(v[i], want), `${before[i]} → ${v[i]}, want ${want}`);
      }
    }
    for (const x of [65504, 65519.99, 65520, 6e-8, 2.98e-8, 2.99e-8, 6.1035e-5]) {
      f[0] = x;
      v[0] = f[0]!;
      roundToFloat16(v.subarray(0, 1));
      assert.ok(Object.is(v[0], f16ToF32(f32ToF16(f[0]!))), `${x}`);
      assert.ok(u[0] !== undefined);
    }
  });
});
