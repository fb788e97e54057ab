// Every native kernel against the TypeScript reference (src/backend/js) on seeded random inputs at odd
// sizes, with NaN-poisoned outputs, accumulate and aliasing semantics, and run-to-run determinism.
// PEFT_TS_ISA=avx2|scalar runs the same checks on the narrower variants (native-isa.test.ts does so).

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Backend } from "../../src/backend/kernels.ts";
import { jsBackend } from "../../src/backend/js/index.ts";
import { loadNativeBackend, nativeAddon } from "../../src/backend/native/index.ts";
import type { Quantized4bit, Quantized8bit } from "../../src/quant/types.ts";
import {
  ATTENTION_CASES, SIZES, attentionInputs, close, closeLse, identical, poisoned, randn, rng, uniform,
} from "./kernel-cases.ts";

const loaded = loadNativeBackend();
const skip = loaded instanceof Error ? `native library unavailable: ${loaded.message}` : false;
const nb = loaded instanceof Error ? jsBackend : loaded;
const js = jsBackend;

describe(`native kernels vs the reference (${skip ? "skipped" : nativeAddon()!.info().isa})`, { skip }, () => {
  it("runs the instruction-set variant PEFT_TS_ISA asks for", () => {
    const want = process.env.PEFT_TS_ISA;
    if (want) assert.equal(nativeAddon()!.info().isa, want);
  });

  it("provides every kernel but gemm natively", () => {
    const fallbacks = (Object.keys(js) as (keyof Backend)[]).filter((k) => k !== "name" && k !== "gemm" && nb[k] === js[k]);
    assert.deepEqual(fallbacks, []);
  });

  describe("elementwise", () => {
    for (const n of SIZES) {
      it(`add, mul (exact), axpy, scale at n=${n}, in place too`, () => {
        const a = randn(n), b = randn(n);
        for (const op of ["add", "mul"] as const) {
          const e = poisoned(n), o = poisoned(n);
          js[op](a, b, e, n);
          nb[op](a, b, o, n);
          identical(o, e, op);
          const inPlace = a.slice();
          nb[op](inPlace, b, inPlace, n);
          identical(inPlace, e, `${op} out = a`);
          const inPlaceB = b.slice();
          nb[op](a, inPlaceB, inPlaceB, n);
          identical(inPlaceB, e, `${op} out = b`);
        }
        const dE = randn(n), dO = dE.slice();
        js.axpy(dE, a, -0.37, n);
        nb.axpy(dO, a, -0.37, n);
        close(dO, dE, "axpy");
        const sE = poisoned(n), sO = poisoned(n);
        js.scale(a, 1 / 3, sE, n);
        nb.scale(a, 1 / 3, sO, n);
        close(sO, sE, "scale");
        const sIn = a.slice();
        nb.scale(sIn, 1 / 3, sIn, n);
        close(sIn, sE, "scale in place");
      });
    }

    for (const [rows, cols] of [[1, 1], [3, 17], [5, 65], [33, 257], [700, 100], [64, 1537]]) {
      it(`row vectors and column sums ${rows}×${cols}`, () => {
        const x = randn(rows * cols), v = randn(cols);
        for (const op of ["addRowVector", "mulRowVector"] as const) {
          const e = poisoned(rows * cols), o = poisoned(rows * cols);
          js[op](x, v, e, rows, cols);
          nb[op](x, v, o, rows, cols);
          identical(o, e, op);
          const inPlace = x.slice();
          nb[op](inPlace, v, inPlace, rows, cols);
          identical(inPlace, e, `${op} in place`);
        }
        // Column sums are float64 in row order, as the reference: identical bits, also when accumulating.
        const e = poisoned(cols), o = poisoned(cols);
        js.sumRows(x, e, rows, cols, false);
        nb.sumRows(x, o, rows, cols, false);
        identical(o, e, "sumRows");
        const init = randn(cols);
        const eA = init.slice(), oA = init.slice();
        js.sumRows(x, eA, rows, cols, true);
        nb.sumRows(x, oA, rows, cols, true);
        identical(oA, eA, "sumRows accumulate");
      });
    }

    for (const n of [0, ...SIZES, 1_000_003]) {
      it(`sumSquares (float64, fixed order) n=${n}`, () => {
        const x = randn(n);
        const e = js.sumSquares(x, n);
        const o = nb.sumSquares(x, n);
        assert.ok(Math.abs(o - e) <= 1e-12 * Math.abs(e), `sumSquares ${o} vs ${e}`);
        assert.equal(nb.sumSquares(x, n), o, "sumSquares is deterministic");
      });
    }

    it("bf16 ↔ f32: exact, round to nearest even, NaN stays NaN", () => {
      const special = [0, -0, 1, -1, Infinity, -Infinity, NaN, 1e-40, -1e-45, 3.4e38, 1.0039062, 65504];
      const bits = new Uint32Array([
        0x3f808000, 0x3f818000, 0x3f80ffff, 0x7f7fffff, 0xff7fffff, 0x7fc00001, 0xffc12345, 0x7f800001, 0x00008000, 0x80018000,
      ]);
      const n = 70001;
      const src = randn(n, 100);
      special.forEach((v, i) => (src[i] = v));
      new Uint32Array(src.buffer).set(bits, special.length);
      for (let i = 1000; i < 2000; i++) new Uint32Array(src.buffer)[i] = rng.nextUint32();
      const e = new Uint16Array(n), o = new Uint16Array(n);
      js.f32ToBf16(src, e, n);
      nb.f32ToBf16(src, o, n);
      identical(o, e, "f32ToBf16");
      const fe = poisoned(n), fo = poisoned(n);
      js.bf16ToF32(e, fe, n);
      nb.bf16ToF32(e, fo, n);
      identical(fo, fe, "bf16ToF32");
    });
  });

  describe("activations", () => {
    for (const n of SIZES) {
      it(`silu, gelu (erf, tanh), swiglu, geglu, softcap and their backward at n=${n}`, () => {
        const x = randn(n, 3), up = randn(n), dy = randn(n);
        x[0] = n > 1 ? 12 : x[0]!; // saturated tails
        if (n > 2) x[1] = -30;
        const unary = (f: (be: Backend, out: Float32Array) => void, what: string) => {
          const e = poisoned(n), o = poisoned(n);
          f(js, e);
          f(nb, o);
          close(o, e, what);
        };
        unary((be, out) => be.silu(x, out, n), "silu");
        unary((be, out) => be.siluBackward(x, dy, out, n), "siluBackward");
        for (const approx of ["none", "tanh"] as const) {
          unary((be, out) => be.gelu(x, out, n, approx), `gelu ${approx}`);
          unary((be, out) => be.geluBackward(x, dy, out, n, approx), `geluBackward ${approx}`);
        }
        unary((be, out) => be.swiglu(x, up, out, n), "swiglu");
        const [gE, uE, gO, uO] = [poisoned(n), poisoned(n), poisoned(n), poisoned(n)];
        js.swigluBackward(x, up, dy, gE, uE, n);
        nb.swigluBackward(x, up, dy, gO, uO, n);
        close(gO, gE, "swigluBackward dGate");
        close(uO, uE, "swigluBackward dUp");
        for (const approx of ["none", "tanh"] as const) {
          unary((be, out) => be.geglu(x, up, out, n, approx), `geglu ${approx}`);
          const [ge, ue, go, uo] = [poisoned(n), poisoned(n), poisoned(n), poisoned(n)];
          js.gegluBackward(x, up, dy, ge, ue, n, approx);
          nb.gegluBackward(x, up, dy, go, uo, n, approx);
          close(go, ge, `gegluBackward ${approx} dGate`);
          close(uo, ue, `gegluBackward ${approx} dUp`);
        }
        const cap = 2.5; // x spans ±12: the tails saturate
        unary((be, out) => be.softcap(x, out, n, cap), "softcap");
        const y = poisoned(n);
        js.softcap(x, y, n, cap);
        unary((be, out) => be.softcapBackward(y, dy, out, n, cap), "softcapBackward");
      });
    }

    it("gelu (erf) across its range, against the float64 reference", () => {
      const n = 20001;
      const x = new Float32Array(n);
      for (let i = 0; i < n; i++) x[i] = -10 + (20 * i) / (n - 1);
      const e = poisoned(n), o = poisoned(n);
      js.gelu(x, e, n, "none");
      nb.gelu(x, o, n, "none");
      for (let i = 0; i < n; i++) {
        // per element, not only relative to the largest output
        assert.ok(Math.abs(o[i]! - e[i]!) <= 1e-6 * Math.abs(x[i]!) + 1e-7, `gelu(${x[i]}) = ${o[i]}, expected ${e[i]}`);
      }
    });

    for (const [rows, cols] of [[1, 1], [3, 17], [7, 65], [5, 1000], [40, 2049]]) {
      it(`softmax and backward ${rows}×${cols}`, () => {
        const x = randn(rows * cols, 4), dy = randn(rows * cols);
        const e = poisoned(rows * cols), o = poisoned(rows * cols);
        js.softmax(x, e, rows, cols);
        nb.softmax(x, o, rows, cols);
        close(o, e, "softmax");
        const dE = poisoned(rows * cols), dO = poisoned(rows * cols);
        js.softmaxBackward(e, dy, dE, rows, cols);
        nb.softmaxBackward(e, dy, dO, rows, cols);
        close(dO, dE, "softmaxBackward");
      });
    }
  });

  describe("normalisation", () => {
    for (const [rows, cols] of [[1, 1], [3, 17], [5, 65], [33, 257], [70, 1000], [300, 576]]) {
      it(`rmsNorm and layerNorm, forward and backward ${rows}×${cols}`, () => {
        const n = rows * cols;
        const x = randn(n, 2), w = randn(cols), b = randn(cols), dy = randn(n);
        for (const weight of [w, null]) {
          const [oE, oO, rE, rO] = [poisoned(n), poisoned(n), poisoned(rows), poisoned(rows)];
          js.rmsNorm(x, weight, oE, rE, rows, cols, 1e-5);
          nb.rmsNorm(x, weight, oO, rO, rows, cols, 1e-5);
          close(oO, oE, "rmsNorm out");
          close(rO, rE, "rmsNorm rstd");
          const dwInit = randn(cols);
          for (const dw of [dwInit, null]) {
            const [dxE, dxO] = [poisoned(n), poisoned(n)];
            const [dwE, dwO] = dw ? [dw.slice(), dw.slice()] : [null, null];
            js.rmsNormBackward(x, weight, rE, dy, dxE, dwE, rows, cols);
            nb.rmsNormBackward(x, weight, rE, dy, dxO, dwO, rows, cols);
            close(dxO, dxE, "rmsNorm dx");
            if (dwE && dwO) close(dwO, dwE, "rmsNorm dw (accumulated)");
          }
        }
        const [oE, oO, mE, mO, rE, rO] = [poisoned(n), poisoned(n), poisoned(rows), poisoned(rows), poisoned(rows), poisoned(rows)];
        js.layerNorm(x, w, b, oE, mE, rE, rows, cols, 1e-5);
        nb.layerNorm(x, w, b, oO, mO, rO, rows, cols, 1e-5);
        close(oO, oE, "layerNorm out");
        close(mO, mE, "layerNorm mean");
        close(rO, rE, "layerNorm rstd");
        const [dwInit, dbInit] = [randn(cols), randn(cols)];
        for (const withParams of [true, false]) {
          const [dxE, dxO] = [poisoned(n), poisoned(n)];
          const [dwE, dwO, dbE, dbO] = withParams ? [dwInit.slice(), dwInit.slice(), dbInit.slice(), dbInit.slice()] : [null, null, null, null];
          js.layerNormBackward(x, w, mE, rE, dy, dxE, dwE, dbE, rows, cols);
          nb.layerNormBackward(x, w, mE, rE, dy, dxO, dwO, dbO, rows, cols);
          close(dxO, dxE, "layerNorm dx");
          if (withParams) {
            close(dwO!, dwE!, "layerNorm dw (accumulated)");
            close(dbO!, dbE!, "layerNorm db (accumulated)");
          }
        }
      });
    }
  });

  describe("rotary embedding", () => {
    // [hd, rotated dims]: whole heads, and partial rotary (Phi-4-mini rotates 96 of 128).
    for (const [hd, rot] of [[2, 2], [6, 6], [34, 34], [64, 64], [130, 130], [128, 96], [10, 4]] as const) {
      it(`rope hd=${hd} (${rot} rotated), forward and inverse, in place too`, () => {
        const rows = 37, heads = 3, maxPos = 300, half = rot / 2;
        const cos = new Float32Array(maxPos * half), sin = new Float32Array(maxPos * half);
        for (let p = 0; p < maxPos; p++) {
          for (let i = 0; i < half; i++) {
            cos[p * half + i] = Math.cos(p / 10000 ** ((2 * i) / rot));
            sin[p * half + i] = Math.sin(p / 10000 ** ((2 * i) / rot));
          }
        }
        const positions = Int32Array.from({ length: rows }, () => rng.int(maxPos));
        const x = randn(rows * heads * hd);
        for (const inverse of [false, true]) {
          const e = poisoned(x.length), o = poisoned(x.length);
          js.rope(x, e, cos, sin, positions, rows, heads, hd, inverse, rot);
          nb.rope(x, o, cos, sin, positions, rows, heads, hd, inverse, rot);
          close(o, e, `rope inverse=${inverse}`);
          const inPlace = x.slice();
          nb.rope(inPlace, inPlace, cos, sin, positions, rows, heads, hd, inverse, rot);
          close(inPlace, e, `rope in place inverse=${inverse}`);
        }
      });
    }
  });

  describe("attention", () => {
    for (const c of ATTENTION_CASES) {
      it(`forward and backward: ${c.name}`, () => {
        const { dims, q, k, v, dOut } = attentionInputs(c);
        const qSize = q.length, kvSize = c.B * c.S * c.nkv * c.hd, lseSize = c.B * c.nh * c.T;
        const [oE, oO, lE, lO] = [poisoned(qSize), poisoned(qSize), poisoned(lseSize), poisoned(lseSize)];
        js.attention(q, k, v, oE, lE, dims);
        nb.attention(q, k, v, oO, lO, dims);
        close(oO, oE, "out");
        closeLse(lO, lE, "lse");
        // Backward on the same (reference) forward results.
        const grads = (be: Backend) => {
          const g = { dq: poisoned(qSize), dk: poisoned(kvSize), dv: poisoned(kvSize) };
          be.attentionBackward(q, k, v, oE, lE, dOut, g.dq, g.dk, g.dv, dims);
          return g;
        };
        const gE = grads(js), gO = grads(nb);
        close(gO.dq, gE.dq, "dq");
        close(gO.dk, gE.dk, "dk");
        close(gO.dv, gE.dv, "dv");
        const again = grads(nb);
        identical(again.dq, gO.dq, "dq twice");
        identical(again.dk, gO.dk, "dk twice");
        identical(again.dv, gO.dv, "dv twice");
      });
    }

    it("rows that see no key: zero output, lse −∞, zero gradients", () => {
      const c = ATTENTION_CASES.find((x) => x.name.startsWith("queries that see no key"))!;
      const { dims, q, k, v, dOut } = attentionInputs(c);
      const out = poisoned(q.length), lse = poisoned(c.B * c.nh * c.T);
      nb.attention(q, k, v, out, lse, dims);
      const dq = poisoned(q.length), dk = poisoned(c.B * c.S * c.nkv * c.hd), dv = poisoned(dk.length);
      nb.attentionBackward(q, k, v, out, lse, dOut, dq, dk, dv, dims);
      // batch 1 is all padding; in batch 0 the first T − S = 2 queries precede every key
      for (let h = 0; h < c.nh; h++) {
        for (let t = 0; t < c.T; t++) {
          const dead = t < 2;
          assert.equal(lse[(0 * c.nh + h) * c.T + t] === -Infinity, dead, `b0 h${h} t${t}`);
          assert.equal(lse[(1 * c.nh + h) * c.T + t], -Infinity, `b1 h${h} t${t}`);
        }
      }
      for (let i = (1 * c.T) * c.nh * c.hd; i < q.length; i++) {
        assert.equal(out[i], 0);
        assert.equal(dq[i], 0);
      }
      for (let i = c.S * c.nkv * c.hd; i < dk.length; i++) {
        assert.equal(dk[i], 0);
        assert.equal(dv[i], 0);
      }
    });
  });

  describe("cross-entropy", () => {
    for (const V of [1, 3, 17, 1000, 50257]) {
      it(`forward and backward, V=${V}, ignored rows, dLogits aliasing logits`, () => {
        const rows = 7;
        const logits = randn(rows * V, 4);
        const labels = Int32Array.from({ length: rows }, (_, r) => (r === 2 || r === 5 ? -100 : rng.int(V)));
        const [lossE, lossO, lseE, lseO] = [poisoned(rows), poisoned(rows), poisoned(rows), poisoned(rows)];
        js.crossEntropy(logits, labels, lossE, lseE, rows, V, -100);
        nb.crossEntropy(logits, labels, lossO, lseO, rows, V, -100);
        close(lossO, lossE, "loss");
        close(lseO, lseE, "lse");
        const dE = poisoned(rows * V), dO = poisoned(rows * V);
        js.crossEntropyBackward(logits, labels, lseE, dE, rows, V, -100, 0.2);
        nb.crossEntropyBackward(logits, labels, lseE, dO, rows, V, -100, 0.2);
        close(dO, dE, "dLogits");
        const inPlace = logits.slice();
        nb.crossEntropyBackward(inPlace, labels, lseE, inPlace, rows, V, -100, 0.2);
        close(inPlace, dE, "dLogits in place");
      });
    }
  });

  describe("embedding, dropout, AdamW, dequantization", () => {
    it("embedding gather (f32 with offset and stride, bf16) and scatter-add with repeated ids", () => {
      for (const [n, dim, vocab] of [[1, 1, 1], [9, 17, 5], [300, 576, 1000], [2048, 64, 50]]) {
        const ids = Int32Array.from({ length: n }, () => rng.int(vocab));
        const ld = dim + 3, offset = 7;
        const f32 = { kind: "f32" as const, data: randn(offset + vocab * ld), offset, ld };
        const bf16 = { kind: "bf16" as const, data: new Uint16Array(offset + vocab * ld), offset, ld };
        js.f32ToBf16(f32.data, bf16.data, bf16.data.length);
        for (const table of [f32, bf16]) {
          const e = poisoned(n * dim), o = poisoned(n * dim);
          js.embedding(ids, table, e, n, dim);
          nb.embedding(ids, table, o, n, dim);
          identical(o, e, `embedding ${table.kind}`);
        }
        const dy = randn(n * dim), init = randn(vocab * dim);
        const dE = init.slice(), dO = init.slice();
        js.embeddingBackward(ids, dy, dE, n, dim);
        nb.embeddingBackward(ids, dy, dO, n, dim);
        identical(dO, dE, "embeddingBackward (adds in the reference's order)");
      }
    });

    it("dropout: the reference's mask and values bit for bit, in place, offsets near 2^32", () => {
      for (const [n, p, seed, offset] of [[1, 0.5, 1, 0], [65, 0.1, 42, 3], [70001, 0.3, -7, 4294967290], [4099, 0.999, 2 ** 31, 12345]]) {
        const x = randn(n);
        const e = poisoned(n), o = poisoned(n);
        js.dropout(x, e, n, p, seed, offset);
        nb.dropout(x, o, n, p, seed, offset);
        identical(o, e, `dropout p=${p}`);
        const inPlace = x.slice();
        nb.dropout(inPlace, inPlace, n, p, seed, offset);
        identical(inPlace, e, "dropout in place");
      }
    });

    it("AdamW: five steps bit for bit", () => {
      for (const n of [1, 17, 70001]) {
        const init = randn(n), pE = init.slice(), pO = init.slice();
        const [mE, mO, vE, vO] = [new Float32Array(n), new Float32Array(n), new Float32Array(n), new Float32Array(n)];
        for (let step = 1; step <= 5; step++) {
          const grad = randn(n, 0.1);
          const hp = { lr: 5e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, step };
          js.adamw(pE, grad, mE, vE, n, hp);
          nb.adamw(pO, grad, mO, vO, n, hp);
        }
        identical(pO, pE, "param");
        identical(mO, mE, "m");
        identical(vO, vE, "v");
      }
    });

    const quant4 = (type: "nf4" | "fp4", rows: number, cols: number, blockSize: number, nested: boolean): Quantized4bit => {
      const blocks = Math.ceil((rows * cols) / blockSize);
      const codes = Uint8Array.from({ length: Math.ceil((rows * cols) / 2) }, () => rng.int(256));
      const codebook = uniform(16, -1, 1);
      if (!nested) return { type, rows, cols, blockSize, codes, codebook, absmax: uniform(blocks, 0.01, 2) };
      const nestedBlockSize = 3;
      return {
        type, rows, cols, blockSize, codes, codebook,
        absmax: {
          codes: Uint8Array.from({ length: blocks }, () => rng.int(256)),
          nestedAbsmax: uniform(Math.ceil(blocks / nestedBlockSize), 0.001, 0.02),
          nestedMap: uniform(256, -1, 1),
          nestedBlockSize,
          nestedOffset: 0.123456789, // not a float32: the reference adds it in float64
        },
      };
    };

    it("dequantizeRows: nf4/fp4 plain and nested (partial last block, odd row starts), int8, bit for bit", () => {
      const cases: [Quantized4bit | Quantized8bit, number, number][] = [];
      for (const nested of [false, true]) {
        const small = quant4("nf4", 7, 51, 64, nested); // 357 values: last block holds 37
        cases.push([small, 0, 7], [small, 1, 3], [small, 6, 1], [small, 3, 0]);
        const big = quant4("fp4", 301, 333, 64, nested);
        cases.push([big, 0, 301], [big, 17, 200]);
      }
      const int8: Quantized8bit = {
        type: "int8", rows: 9, cols: 33,
        codes: Int8Array.from({ length: 9 * 33 }, () => rng.int(256) - 128),
        rowScale: uniform(9, 0.001, 0.1),
      };
      cases.push([int8, 0, 9], [int8, 4, 5]);
      for (const [q, row0, count] of cases) {
        const e = poisoned(count * q.cols), o = poisoned(count * q.cols);
        js.dequantizeRows(q, row0, count, e);
        nb.dequantizeRows(q, row0, count, o);
        identical(o, e, `dequantizeRows ${q.type} ${q.rows}×${q.cols} rows ${row0}+${count}`);
      }
    });
  });

  describe("determinism", () => {
    it("the same bits with 1, 2 and 3 threads", () => {
      const addon = nativeAddon()!;
      const before = addon.info().threads;
      const rows = 300, cols = 576, V = 20000;
      const x = randn(rows * cols), w = randn(cols), dy = randn(rows * cols), logits = randn(8 * V, 3);
      const labels = Int32Array.from({ length: 8 }, (_, i) => i * 7);
      const decode = attentionInputs(ATTENTION_CASES.find((a) => a.name.startsWith("decode"))!);
      const train = attentionInputs(ATTENTION_CASES.find((a) => a.name.startsWith("training"))!);
      const run = () => {
        const out = poisoned(rows * cols), rstd = poisoned(rows), dx = poisoned(rows * cols), dw = new Float32Array(cols);
        nb.rmsNorm(x, w, out, rstd, rows, cols, 1e-5);
        nb.rmsNormBackward(x, w, rstd, dy, dx, dw, rows, cols);
        const lse = poisoned(8), loss = poisoned(8), dLogits = poisoned(8 * V);
        nb.crossEntropy(logits, labels, loss, lse, 8, V, -100);
        nb.crossEntropyBackward(logits, labels, lse, dLogits, 8, V, -100, 0.5);
        const results = [out, rstd, dx, dw, loss, lse, dLogits, new Float32Array([nb.sumSquares(x, x.length)])];
        for (const a of [decode, train]) {
          const d = a.dims, kvSize = d.B * d.S * d.nkv * d.hd;
          const o = poisoned(a.q.length), l = poisoned(d.B * d.nh * d.T);
          const dq = poisoned(a.q.length), dk = poisoned(kvSize), dv = poisoned(kvSize);
          nb.attention(a.q, a.k, a.v, o, l, d);
          nb.attentionBackward(a.q, a.k, a.v, o, l, a.dOut, dq, dk, dv, d);
          results.push(o, l, dq, dk, dv);
        }
        return results;
      };
      try {
        addon.setThreads(2);
        const ref = run();
        for (const t of [1, 3, 2]) {
          addon.setThreads(t);
          run().forEach((a, i) => identical(a, ref[i]!, `output ${i} with ${t} threads`));
        }
      } finally {
        addon.setThreads(before);
      }
    });
  });
});
