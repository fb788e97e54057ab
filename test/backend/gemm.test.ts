// The native packed GEMM against the js reference (float64 sums): every layout, sizes around every tile and
// cache block, alpha/beta, batches, offsets and padded leading dimensions, bf16 and quantized B in both
// orientations, and tiny M. C starts as NaN (beta = 0) or random values, and everything outside the written
// window must come back untouched.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { jsBackend, nativeAvailable, setBackend } from "../../src/backend/index.ts";
import type { Backend } from "../../src/backend/kernels.ts";
import { nativeAddon } from "../../src/backend/native/index.ts";
import { dequantizeRowsRef } from "../../src/quant/dequantize.ts";
import type { QuantizedMatrix } from "../../src/quant/types.ts";
import { build, label, random4bit, random8bit, type Case } from "./gemm-cases.ts";

const skip = nativeAvailable() ? false : "the native addon is not built (npm run build:native)";
const TOL = 1e-5;

function native(): Backend {
  return setBackend("native");
}

/** Runs a case on both backends; checks each C window to TOL of its max |C| and the rest of C untouched. */
function check(c: Case): void {
  const args = build(c);
  const before = Float64Array.from(args.c);
  const expected = Float64Array.from(args.c);
  jsBackend.gemm({ ...args, c: expected as unknown as Float32Array });
  native().gemm(args);
  const inWindow = new Uint8Array(args.c.length);
  const count = args.batch?.count ?? 1;
  for (let bi = 0; bi < count; bi++) {
    const base = args.cOffset + bi * (args.batch?.strideC ?? 0);
    let maxAbs = 1e-30, worst = 0;
    for (let i = 0; i < c.M; i++) {
      for (let j = 0; j < c.N; j++) {
        const k = base + i * args.ldc + j;
        inWindow[k] = 1;
        maxAbs = Math.max(maxAbs, Math.abs(expected[k]!));
        const d = Math.abs(args.c[k]! - expected[k]!);
        worst = d <= worst ? worst : Number.isNaN(d) ? Infinity : d;
      }
    }
    assert.ok(worst / maxAbs <= TOL, `${label(c)}: product ${bi} differs by ${(worst / maxAbs).toExponential(3)} (rel)`);
  }
  for (let k = 0; k < args.c.length; k++) {
    if (!inWindow[k]) assert.ok(Object.is(args.c[k], Math.fround(before[k]!)), `${label(c)}: C[${k}] outside the product was written`);
  }
}

const LAYOUTS = [[false, false], [false, true], [true, false], [true, true]] as const;

describe("native gemm against the js reference", { skip }, () => {
  for (const [transA, transB] of LAYOUTS) {
    it(`${transA ? "T" : "N"}${transB ? "T" : "N"}: sizes 1..257 around the 12×32 tile`, () => {
      for (const s of [1, 3, 17, 65, 100, 257]) check({ M: s, N: s, K: s, transA, transB });
      for (const [M, N, K] of [[11, 31, 5], [12, 32, 7], [13, 33, 9], [25, 63, 64], [24, 64, 129], [37, 97, 385], [2, 200, 33]])
        check({ M: M!, N: N!, K: K!, transA, transB });
    });
  }

  it("k blocks (K > 512), column blocks (N > 480) and row panels (M > 1536) keep beta applied once", () => {
    check({ M: 30, N: 40, K: 800, beta: 0.5 });
    check({ M: 30, N: 1000, K: 20, transB: true, beta: -1 });
    check({ M: 1600, N: 20, K: 10, transA: true, beta: 2 });
    check({ M: 29, N: 45, K: 1000, transA: true, transB: true, alpha: 0.25, beta: 1 });
  });

  it("alpha and beta (beta = 0 never reads the NaN-filled C)", () => {
    for (const [alpha, beta] of [[1, 0], [2.5, 0], [1, 1], [-0.5, 0.75], [0, 1.5]] as const) {
      for (const [transA, transB] of LAYOUTS) check({ M: 19, N: 45, K: 33, transA, transB, alpha, beta });
    }
    for (const beta of [0, 2]) check({ M: 5, N: 7, K: 0, beta, pad: 1 }); // an empty sum: C = beta·C
  });

  it("offsets and leading dimensions wider than the rows", () => {
    for (const [transA, transB] of LAYOUTS) {
      check({ M: 27, N: 70, K: 41, transA, transB, pad: 5, offset: 13, beta: 0.5 });
      check({ M: 5, N: 33, K: 18, transA, transB, pad: 1, offset: 3 });
    }
  });

  it("batched products with strides", () => {
    for (const [transA, transB] of LAYOUTS) {
      check({ M: 9, N: 20, K: 13, transA, transB, count: 3, pad: 2, offset: 4 });
      check({ M: 33, N: 65, K: 40, transA, transB, count: 4, beta: 1 });
      check({ M: 64, N: 64, K: 32, transA, transB, count: 5, pad: 3, beta: 0.5 });
    }
    check({ M: 17, N: 40, K: 30, count: 2, b: "bf16" });
  });

  it("bf16 B in both orientations", () => {
    for (const transB of [false, true]) {
      for (const [M, N, K] of [[1, 1, 1], [17, 65, 100], [100, 257, 65], [3, 40, 129]])
        check({ M: M!, N: N!, K: K!, transB, b: "bf16", pad: 2, offset: 1 });
      check({ M: 13, N: 33, K: 500, transB, transA: true, b: "bf16", beta: 1 });
    }
  });

  for (const b of ["nf4", "nf4-nested", "fp4", "int8"] as const) {
    it(`${b} B, stored [N, K] (forward X·Wᵀ) and [K, N] (input gradient dY·W)`, () => {
      for (const transB of [true, false]) {
        for (const [M, N, K, bs] of [[1, 1, 1, 64], [17, 65, 100, 64], [100, 257, 65, 64], [13, 33, 17, 7], [40, 70, 129, 40], [25, 96, 450, 256], [9, 40, 700, 5]])
          check({ M: M!, N: N!, K: K!, transB, b, blockSize: bs });
        check({ M: 20, N: 50, K: 44, transB, transA: true, b, alpha: 0.5, beta: 1, blockSize: 32 });
      }
    });
  }

  it("tiny M (token-by-token generation), every B kind and layout", () => {
    for (let M = 1; M <= 8; M++) {
      for (const [transA, transB] of LAYOUTS) check({ M, N: 77, K: 45, transA, transB, pad: 1, beta: M % 2 });
      for (const b of ["bf16", "nf4-nested", "int8"] as const) {
        check({ M, N: 130, K: 70, transB: true, b });
        check({ M, N: 70, K: 130, transB: false, b });
      }
    }
    check({ M: 1, N: 1000, K: 600, transB: true });
    check({ M: 4, N: 600, K: 1000, transB: false, beta: 1 });
  });

  it("split across threads by rows and by columns", () => {
    check({ M: 600, N: 40, K: 200, transB: true, b: "nf4" });
    check({ M: 100, N: 600, K: 100, transA: true });
    check({ M: 700, N: 30, K: 120, transA: true, beta: 1 });
  });
});

/**
 * The identity as A turns C into op(B) itself: the loaders' dequantization, bit for bit (compared with ===:
 * a sum turns −0 into +0).
 */
function dequantizedByGemm(q: QuantizedMatrix, transB: boolean): Float32Array {
  const K = transB ? q.cols : q.rows, N = transB ? q.rows : q.cols;
  const eye = new Float32Array(K * K);
  for (let i = 0; i < K; i++) eye[i * K + i] = 1;
  const c = new Float32Array(K * N).fill(NaN);
  native().gemm({ M: K, N, K, transA: false, transB, a: eye, aOffset: 0, lda: K, b: { kind: "quant", q }, c, cOffset: 0, ldc: N, alpha: 1, beta: 0 });
  return c;
}

describe("native B-panel loaders dequantize exactly like src/quant/dequantize.ts", { skip }, () => {
  const matrices: Array<[string, QuantizedMatrix]> = [
    ["nf4", random4bit(37, 70, 64, "nf4", false)],
    ["nf4 nested, block 7", random4bit(45, 33, 7, "nf4", true)],
    ["fp4 nested, odd row length", random4bit(30, 77, 64, "fp4", true)],
    ["int8", random8bit(41, 50)],
  ];
  for (const [name, q] of matrices) {
    it(name, () => {
      const ref = new Float32Array(q.rows * q.cols);
      dequantizeRowsRef(q, 0, q.rows, ref);
      const nn = dequantizedByGemm(q, false);
      const bad = nn.findIndex((v, i) => v !== ref[i]);
      assert.equal(bad, -1, `${name} [K, N]: element ${bad} is ${nn[bad]}, dequantizeRowsRef gives ${ref[bad]}`);
      const nt = dequantizedByGemm(q, true);
      for (let r = 0; r < q.rows; r++) {
        for (let c = 0; c < q.cols; c++) {
          const [got, want] = [nt[c * q.rows + r]!, ref[r * q.cols + c]!];
          assert.ok(got === want, `${name} [N, K] at ${r}, ${c}: ${got}, dequantizeRowsRef gives ${want}`);
        }
      }
    });
  }
});

describe("native gemm determinism and argument checks", { skip }, () => {
  it("the same bits on every run and for any thread count", () => {
    const addon = nativeAddon()!;
    const threads = addon.info().threads;
    for (const c of [{ M: 300, N: 500, K: 700, transB: true }, { M: 3, N: 900, K: 800 }, { M: 500, N: 30, K: 600, transA: true, b: "nf4" as const }]) {
      const args = build(c);
      const outs: Float32Array[] = [];
      for (const t of [threads, threads, 1, 3]) {
        addon.setThreads(t);
        const out = new Float32Array(args.c.length).fill(NaN);
        native().gemm({ ...args, c: out });
        outs.push(out);
      }
      addon.setThreads(threads);
      for (const o of outs.slice(1)) assert.ok(o.every((v, i) => Object.is(v, outs[0]![i])), `${label(c)}: results differ between runs`);
    }
  });

  it("throws on arrays too small for the shapes, instead of reading past them", () => {
    const args = build({ M: 10, N: 12, K: 8 });
    assert.throws(() => native().gemm({ ...args, a: new Float32Array(79) }), /gemm: A/);
    assert.throws(() => native().gemm({ ...args, ldc: 13 }), /gemm: C/);
    assert.throws(() => native().gemm({ ...args, b: { kind: "f32", data: new Float32Array(95), offset: 0, ld: 12 } }), /gemm: B/);
    const q = random4bit(12, 8, 64, "nf4", false);
    assert.throws(() => native().gemm({ ...args, b: { kind: "quant", q } }), /quantized B is \[12, 8\], the product needs \[8, 12\]/);
    assert.throws(() => native().gemm({ ...args, b: { kind: "quant", q: { ...q, absmax: new Float32Array(1), rows: 8, cols: 12 } } }), /absmax/);
  });
});

// The ISA is chosen once per process (PEFT_TS_ISA can only lower it): the narrower kernel sets, which this
// machine would otherwise never run, get the whole file in child processes.
const isa = nativeAvailable() ? nativeAddon()!.info().isa : "scalar";
// avx512bf16 runs the avx512 float32 set (its bf16 products: gemm-bf16.test.ts).
const narrower = process.env.PEFT_TS_ISA ? [] : isa.startsWith("avx512") ? ["avx2", "scalar"] : isa === "avx2" ? ["scalar"] : [];
const why = process.env.PEFT_TS_ISA ? `PEFT_TS_ISA=${process.env.PEFT_TS_ISA} runs one set` : `the ${isa} set is the narrowest here`;
describe("native gemm with the narrower kernel sets", { skip: skip || (narrower.length === 0 && why) }, () => {
  for (const lower of narrower) {
    it(`PEFT_TS_ISA=${lower}`, () => {
      const env: NodeJS.ProcessEnv = { ...process.env, PEFT_TS_ISA: lower };
      delete env.NODE_TEST_CONTEXT; // a plain run of its own, not a subtest stream of this one
      const probe = `import("${fileURLToPath(new URL("../../src/backend/native/index.ts", import.meta.url))}").then((m) => { m.loadNativeBackend(); console.log(m.nativeAddon().info().isa); })`;
      const used = spawnSync(process.execPath, ["--import", "tsx", "-e", probe], { env, encoding: "utf8" });
      assert.equal(used.stdout.trim(), lower, `PEFT_TS_ISA=${lower} did not select that kernel set: ${used.stderr}`);
      const res = spawnSync(process.execPath, ["--import", "tsx", "--test", fileURLToPath(import.meta.url)], { env, encoding: "utf8" });
      const out = `${res.stdout}${res.stderr}`;
      assert.equal(res.status, 0, `the ${lower} kernel set failed:\n${out.slice(-6000)}`);
      assert.match(out, /# pass [1-9]/, `the ${lower} run reported no passing tests:\n${out.slice(-2000)}`);
    });
  }
});
