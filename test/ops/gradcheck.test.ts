// Every op's backward against central finite differences, in float64 on the js backend, at odd sizes.

import { describe, it } from "node:test";
import { Tensor } from "../../src/tensor/tensor.ts";
import * as ops from "../../src/ops/index.ts";
import { Rng } from "../../src/util/random.ts";
import { gradCheck, randn } from "../helpers.ts";

const rng = new Rng(1);
const r = (shape: number[], scale = 1) => randn(rng, shape, scale, true);

function ropeTable(maxPos: number, hd: number): ops.RopeTable {
  const cos = new Float32Array(maxPos * (hd / 2));
  const sin = new Float32Array(cos.length);
  for (let p = 0; p < maxPos; p++) {
    for (let i = 0; i < hd / 2; i++) {
      const a = p / 10000 ** ((2 * i) / hd);
      cos[p * (hd / 2) + i] = Math.cos(a);
      sin[p * (hd / 2) + i] = Math.sin(a);
    }
  }
  return { cos, sin, maxPositions: maxPos, hd };
}

describe("finite differences (float64, js backend)", () => {
  for (const [rows, inF, outF] of [[1, 1, 1], [3, 17, 5], [5, 3, 17]] as const) {
    it(`linear [${rows}, ${inF}] → ${outF}, with bias, both layouts`, () => {
      gradCheck("linear", [r([rows, inF]), r([outF, inF]), r([outF])], (x, w, b) => ops.linear(x, w, b));
      gradCheck("linear in_out", [r([rows, inF]), r([inF, outF])], (x, w) => ops.linear(x, w, null, { layout: "in_out" }));
    });
  }

  it("linear with two low-rank adapters (frozen base)", () => {
    const w = randn(rng, [5, 7]);
    gradCheck("lora", [r([3, 7]), r([2, 7]), r([5, 2]), r([3, 7]), r([5, 3])], (x, A, B, A2, B2) =>
      ops.linear(x, w, null, { adapters: [{ A, B, scaling: 1.5 }, { A: A2, B: B2, scaling: 0.5 }] }),
    );
  });

  it("linear with an adapter under dropout (mask regenerated in backward)", () => {
    const w = randn(rng, [4, 9]);
    gradCheck("lora dropout", [r([6, 9]), r([3, 9]), r([4, 3])], (x, A, B) =>
      ops.linear(x, w, null, { adapters: [{ A, B, scaling: 2, dropout: { p: 0.3, seed: 11 } }] }),
    );
  });

  for (const [tA, tB] of [[false, false], [true, false], [false, true], [true, true]] as const) {
    it(`matmul batched transA=${tA} transB=${tB}`, () => {
      const [M, K, N] = [3, 5, 4];
      gradCheck("matmul", [r(tA ? [2, K, M] : [2, M, K]), r(tB ? [2, N, K] : [2, K, N])], (a, b) => ops.matmul(a, b, tA, tB));
    });
  }

  it("add, mul, scale, row-vector ops, sum", () => {
    gradCheck("add", [r([3, 5]), r([3, 5])], (a, b) => ops.add(a, b));
    gradCheck("mul", [r([17]), r([17])], (a, b) => ops.mul(a, b));
    gradCheck("scale", [r([4, 3])], (a) => ops.scale(a, -1.7));
    gradCheck("addRowVector", [r([4, 3]), r([3])], (a, v) => ops.addRowVector(a, v));
    gradCheck("mulRowVector", [r([4, 3]), r([3])], (a, v) => ops.mulRowVector(a, v));
    gradCheck("sum", [r([2, 3])], (a) => ops.sum(a));
    gradCheck("reshape", [r([2, 6])], (a) => ops.mul(ops.reshape(a, [3, 4]), ops.reshape(a, [3, 4])));
  });

  it("rmsNorm with and without weight; layerNorm", () => {
    gradCheck("rmsNorm", [r([3, 17]), r([17])], (x, w) => ops.rmsNorm(x, w, 1e-5));
    gradCheck("rmsNorm no weight", [r([1, 1])], (x) => ops.rmsNorm(x, null, 1e-5));
    gradCheck("rmsNorm (1 + w)", [r([3, 17]), r([17], 0.3)], (x, w) => ops.rmsNorm(x, w, 1e-6, 1));
    gradCheck("layerNorm", [r([5, 3]), r([3]), r([3])], (x, w, b) => ops.layerNorm(x, w, b, 1e-5));
  });

  it("silu, gelu (erf and tanh), swiglu, softmax", () => {
    gradCheck("silu", [r([65], 2)], (x) => ops.silu(x));
    gradCheck("gelu", [r([65], 2)], (x) => ops.gelu(x, "none"));
    gradCheck("gelu tanh", [r([65], 2)], (x) => ops.gelu(x, "tanh"));
    gradCheck("swiglu", [r([17], 2), r([17])], (g, u) => ops.swiglu(g, u));
    gradCheck("swigluHalves", [r([3, 10], 2)], (x) => ops.swigluHalves(x));
    gradCheck("geglu tanh", [r([17], 2), r([17])], (g, u) => ops.geglu(g, u, "tanh"));
    gradCheck("geglu erf", [r([17], 2), r([17])], (g, u) => ops.geglu(g, u, "none"));
    gradCheck("softcap", [r([33], 4)], (x) => ops.softcap(x, 2.5));
    gradCheck("softmax", [r([3, 5])], (x) => ops.softmax(x));
  });

  it("rope (rotate-half) with arbitrary positions, whole and partial heads", () => {
    const table = ropeTable(32, 6);
    const positions = Int32Array.from([0, 5, 31]);
    gradCheck("rope", [r([3, 2 * 6])], (x) => ops.rope(x, table, positions, 2));
    const partial = { ...ropeTable(32, 4), hd: 10, rotary: 4 };
    gradCheck("rope partial", [r([3, 2 * 10])], (x) => ops.rope(x, partial, positions, 2));
  });

  for (const [B, T, nh, nkv, hd, masked] of [[1, 1, 1, 1, 1, false], [2, 5, 4, 2, 3, true], [1, 7, 3, 1, 4, false]] as const) {
    it(`attention B=${B} T=${T} nh=${nh} nkv=${nkv} hd=${hd}${masked ? " with padding" : ""}`, () => {
      const keyMask = masked ? Uint8Array.from({ length: B * T }, (_, i) => (i % T < T - 1 || i < T ? 1 : 0)) : null;
      gradCheck("attention", [r([B * T, nh * hd]), r([B * T, nkv * hd]), r([B * T, nkv * hd])], (q, k, v) =>
        ops.attention(q, k, v, { B, T, nh, nkv, hd, keyMask }),
      );
    });
  }

  for (const [window, softcap] of [[2, null], [3, 1.5], [null, 0.7]] as const) {
    it(`attention with window ${window}, soft cap ${softcap}, padding`, () => {
      const [B, T, nh, nkv, hd] = [2, 6, 2, 1, 3];
      const keyMask = Uint8Array.from({ length: B * T }, (_, i) => (i === 2 || i === B * T - 1 ? 0 : 1));
      gradCheck("attention", [r([B * T, nh * hd], 2), r([B * T, nkv * hd], 2), r([B * T, nkv * hd])], (q, k, v) =>
        ops.attention(q, k, v, { B, T, nh, nkv, hd, keyMask, window, softcap }),
      );
    });
  }

  it("cross-entropy with ignored labels; fused head + cross-entropy, plain and soft-capped", () => {
    const labels = Int32Array.from([2, -100, 0, 6, 3]);
    gradCheck("crossEntropy", [r([5, 7])], (x) => ops.crossEntropy(x, labels));
    gradCheck("linearCrossEntropy", [r([5, 3]), r([7, 3])], (h, w) => ops.linearCrossEntropy(h, w, labels, { chunkRows: 2 }));
    gradCheck("linearCrossEntropy softcap", [r([5, 3], 3), r([7, 3], 3)], (h, w) =>
      ops.linearCrossEntropy(h, w, labels, { chunkRows: 2, softcap: 1.5 }),
    );
  });

  it("embedding (scatter-add backward with repeated ids)", () => {
    const ids = Int32Array.from([3, 0, 3, 1]);
    gradCheck("embedding", [r([5, 3])], (table) => ops.embedding(ids, table));
  });

  it("dropout", () => {
    gradCheck("dropout", [r([65])], (x) => ops.dropout(x, 0.25, 99) as Tensor<"float32">);
  });
});
