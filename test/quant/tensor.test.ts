// quantizeTensor / dequantizeTensor, the traits table, held bytes and bits per parameter.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { bitsPerParameter, dequantizeTensor, heldBytes, QUANT_TYPES, quantizeTensor } from "../../src/quant/index.ts";
import { quantize4bitRef } from "../../src/quant/quantize4bit.ts";
import { quantizeInt8Ref } from "../../src/quant/int8.ts";
import { dequantizeRowsRef } from "../../src/quant/dequantize.ts";
import { QuantizedTensor } from "../../src/quant/types.ts";
import { setBackend } from "../../src/backend/index.ts";
import { bf16ArrayToF32, f16ArrayToF32, f32ArrayToBf16, f32ArrayToF16 } from "../../src/tensor/dtype.ts";
import { Tensor } from "../../src/tensor/tensor.ts";
import { Rng } from "../../src/util/random.ts";
import { backendsUnderTest } from "../helpers.ts";
import { fixtureF32 } from "./fixture.ts";

const rng = new Rng(8);
// 210 000 elements: more than one conversion chunk, 700 columns (blocks straddle rows)
const [rows, cols] = [300, 700];
const w32 = Float32Array.from({ length: rows * cols }, () => Math.fround(rng.normal() * 0.04));

describe("quantizeTensor", () => {
  for (const type of ["nf4", "fp4", "int8"] as const) {
    it(`${type}: a bf16 / f16 weight quantizes as its float32 upcast, chunk by chunk`, () => {
      const bits16 = f32ArrayToBf16(w32);
      const bf = Tensor.from("bfloat16", bits16, [rows, cols]);
      const q = quantizeTensor(bf, { type });
      assert.ok(q instanceof QuantizedTensor);
      assert.deepEqual(q.shape, [rows, cols]);
      const up = bf16ArrayToF32(bits16);
      assert.deepEqual(q.q, QUANT_TYPES[type].quantizeRef(up, rows, cols, { type }));
      const half = f32ArrayToF16(w32);
      assert.deepEqual(quantizeTensor(Tensor.from("float16", half, [rows, cols]), { type }).q, QUANT_TYPES[type].quantizeRef(f16ArrayToF32(half), rows, cols, { type }));
    });
  }

  it("float32 input and options pass through", () => {
    const t = Tensor.from("float32", w32, [rows, cols]);
    const q = quantizeTensor(t, { type: "nf4", doubleQuant: false, blockSize: 128 });
    assert.deepEqual(q.q, quantize4bitRef(w32, rows, cols, { type: "nf4", doubleQuant: false, blockSize: 128 }));
  });

  it("rejects non-matrices and non-float dtypes", () => {
    assert.throws(() => quantizeTensor(Tensor.from("float32", new Float32Array(8), [2, 2, 2]), { type: "nf4" }), /expected a 2-D weight \[out, in\], got \[2, 2, 2\]/);
    assert.throws(() => quantizeTensor(Tensor.from("int32", new Int32Array(4), [2, 2]), { type: "nf4" }), /cannot quantize a int32 tensor/);
  });
});

describe("dequantizeTensor", () => {
  for (const name of backendsUnderTest) {
    it(`through the ${name} backend equals the reference and the fixture`, () => {
      setBackend(name);
      const q = quantize4bitRef(fixtureF32("w256x160.weight"), 256, 160, { type: "nf4" });
      const out = dequantizeTensor(new QuantizedTensor(q));
      assert.deepEqual(out.shape, [256, 160]);
      assert.deepEqual(out.data, fixtureF32("w256x160.dequantized"));
      const q8 = quantizeInt8Ref(w32, rows, cols);
      const ref = new Float32Array(rows * cols);
      dequantizeRowsRef(q8, 0, rows, ref);
      assert.deepEqual(dequantizeTensor(q8).data, ref);
      setBackend("js");
    });
  }
});

describe("sizes", () => {
  it("the traits table names every type", () => {
    assert.deepEqual(Object.keys(QUANT_TYPES).sort(), ["fp4", "int8", "nf4"]);
    for (const [k, t] of Object.entries(QUANT_TYPES)) assert.equal(t.name, k);
    assert.equal(QUANT_TYPES.nf4.bits, 4);
    assert.equal(QUANT_TYPES.nf4.blockSize, 64);
    assert.equal(QUANT_TYPES.int8.bits, 8);
  });

  it("NF4 + double quant holds 4 + 8/64 + 32/(64·256) bits per parameter", () => {
    const w = Float32Array.from({ length: 256 * 256 }, () => rng.normal());
    const q = quantize4bitRef(w, 256, 256, { type: "nf4" });
    assert.equal(heldBytes(q), 32768 + 1024 + 4 * 4);
    assert.equal(bitsPerParameter(new QuantizedTensor(q)), 4 + 8 / 64 + 32 / (64 * 256));
    assert.ok(Math.abs(bitsPerParameter(q) - 4.127) < 1e-3);
    const plain = quantize4bitRef(w, 256, 256, { type: "nf4", doubleQuant: false });
    assert.equal(bitsPerParameter(plain), 4 + 32 / 64);
    const q8 = quantizeInt8Ref(w, 256, 256);
    assert.equal(heldBytes(q8), 65536 + 2 * 4 * 256);
  });
});
