// NF4 against the bitsandbytes reference fixture: packed codes, absmax (plain and double-quantized), the
// mean offset, de-nested absmax and dequantized values, through the reference and the js backend.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { quantize4bitRef } from "../../src/quant/quantize4bit.ts";
import { blockAbsmax, dequantizeRowsRef } from "../../src/quant/dequantize.ts";
import { DYNAMIC_MAP, NF4_CODE } from "../../src/quant/codebooks.ts";
import { torchMeanF32 } from "../../src/quant/torch-mean.ts";
import { isNested, type Quantized4bit } from "../../src/quant/types.ts";
import { jsBackend } from "../../src/backend/index.ts";
import { assertClose } from "../helpers.ts";
import { fixtureF32, fixtureU8, nf4Json } from "./fixture.ts";

function firstDiff(a: ArrayLike<number>, b: ArrayLike<number>): string {
  if (a.length !== b.length) return `lengths ${a.length} vs ${b.length}`;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return `first difference at ${i}: ${a[i]} vs ${b[i]}`;
  return "";
}

function assertSame(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  const d = firstDiff(actual, expected);
  assert.equal(d, "", `${what}: ${d}`);
}

const cases = Object.entries(nf4Json.cases);

describe("NF4 tables", () => {
  it("NF4 code values are bitsandbytes' quant_map", () => {
    assertSame(NF4_CODE, Float32Array.from(nf4Json.nf4_code), "nf4 code");
  });

  it("the embedded dynamic map is the fixture's nested_quant_map", () => {
    for (const [name, c] of cases) if (c.double_quant) assertSame(DYNAMIC_MAP, fixtureF32(`${name}.nested_quant_map`), `${name} map`);
  });

  it("the fixture covers a partial block and both double-quant settings", () => {
    assert.equal(nf4Json.blocksize, 64);
    assert.equal(nf4Json.nested_blocksize, 256);
    assert.deepEqual(nf4Json.cases.w3x50!.shape, [3, 50]);
    assert.ok(cases.some(([, c]) => c.double_quant) && cases.some(([, c]) => !c.double_quant));
  });
});

for (const [name, c] of cases) {
  describe(`NF4 fixture ${name} [${c.shape.join(", ")}]${c.double_quant ? ", double quant" : ""}`, () => {
    const [rows, cols] = c.shape;
    const q: Quantized4bit = quantize4bitRef(fixtureF32(`${name}.weight`), rows, cols, { type: "nf4", doubleQuant: c.double_quant });

    it("packed codes are identical", () => {
      assert.equal(q.codes.length, Math.ceil((rows * cols) / 2));
      assertSame(q.codes, fixtureU8(`${name}.packed`), "packed");
    });

    it("absmax is identical", () => {
      const expected = fixtureF32(`${name}.absmax`);
      assert.equal(expected.length, Math.ceil((rows * cols) / 64));
      if (!isNested(q.absmax)) {
        assert.equal(c.double_quant, false);
        assertSame(q.absmax, expected, "absmax");
        return;
      }
      // double quant: the first-level absmax is recomputed by the same encoder without nesting
      const plain = quantize4bitRef(fixtureF32(`${name}.weight`), rows, cols, { type: "nf4", doubleQuant: false });
      assertSame(plain.absmax as Float32Array, expected, "absmax before nesting");
    });

    if (c.double_quant) {
      it("offset is torch's float32 mean; 8-bit codes, nested absmax and de-nested absmax match", () => {
        assert.ok(isNested(q.absmax));
        const a = q.absmax;
        assert.equal(a.nestedOffset, c.nested_offset);
        assert.equal(torchMeanF32(fixtureF32(`${name}.absmax`)), c.nested_offset);
        assert.equal(a.nestedBlockSize, 256);
        assertSame(a.nestedAbsmax, fixtureF32(`${name}.nested_absmax`), "nested_absmax");
        // the README allows codes to differ where the mean differs in its last bit; ours does not differ
        assertSame(a.codes, fixtureU8(`${name}.absmax_q8`), "absmax_q8");
        const used = fixtureF32(`${name}.absmax_used`);
        const ours = Float32Array.from(used, (_, b) => blockAbsmax(q, b));
        assertClose(ours, used, 1e-7, "absmax through de-nesting", "abs");
        assertSame(ours, used, "absmax_used");
      });
    }

    it("dequantized values match (reference and js backend)", () => {
      const expected = fixtureF32(`${name}.dequantized`);
      const ref = new Float32Array(rows * cols);
      dequantizeRowsRef(q, 0, rows, ref);
      assertClose(ref, expected, 1e-7, "dequantizeRowsRef", "abs");
      const js = new Float32Array(rows * cols);
      jsBackend.dequantizeRows(q, 0, rows, js);
      assertClose(js, expected, 1e-7, "js dequantizeRows", "abs");
      assertSame(js, expected, "dequantized");
    });

    it("dequantizeRows of a row range matches the same rows of the fixture", () => {
      const expected = fixtureF32(`${name}.dequantized`);
      const row0 = Math.floor(rows / 3);
      const count = Math.max(1, rows - row0 - 1);
      const out = new Float32Array(count * cols);
      jsBackend.dequantizeRows(q, row0, count, out);
      assertSame(out, expected.subarray(row0 * cols, (row0 + count) * cols), `rows ${row0}..${row0 + count}`);
    });
  });
}

describe("torch mean emulation", () => {
  it("differs from a float64 mean where torch's cascade sum does (w256x160)", () => {
    const absmax = fixtureF32("w256x160.absmax");
    let s = 0;
    for (const v of absmax) s += v;
    assert.notEqual(Math.fround(s / absmax.length), nf4Json.cases.w256x160!.nested_offset);
    assert.equal(torchMeanF32(absmax), nf4Json.cases.w256x160!.nested_offset);
  });
});
