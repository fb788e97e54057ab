// The GEMM with bfloat16 operands (computeDtype "bfloat16", torch's CPU autocast) against the js reference,
// which rounds every operand value to bf16 (nearest even) and sums the exact products in float64.
//
// Stated accuracy: the two differ only by the float32 summation of the native kernels (a product of two
// bf16 values is exact in float32), so every element obeys the classic bound for a float32 sum of K terms
// followed by the alpha scaling and the beta add:
//   |C − C_ref| ≤ γ(K + 2) · (|alpha| · Σ_k |ã_ik · b̃_kj| + |beta · C0_ij|),   γ(n) = n·u / (1 − n·u), u = 2⁻²⁴
// (ã, b̃: the operands rounded to bf16). A wrong rounding of an operand breaks the bound by orders of
// magnitude, and the tie cases below, whose sums are exact, must match to the bit. One stated difference:
// AVX512_BF16 counts float32 subnormals (below 2⁻¹²⁶) as zero, as its instructions do. Every layout, sizes
// around the 12×32 tile and the k-pair padding, cache blocks, threads, batches and each B-panel loader;
// then the whole file again with the kernel sets PEFT_TS_ISA selects below this machine's (float32
// kernels on panels rounded to bf16).

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { jsBackend, nativeAvailable, setBackend } from "../../src/backend/index.ts";
import type { GemmArgs, MatrixOperand } from "../../src/backend/kernels.ts";
import { nativeAddon } from "../../src/backend/native/index.ts";
import { dequantizeRowsRef } from "../../src/quant/dequantize.ts";
import { bf16ToF32, f32ToBf16 } from "../../src/tensor/dtype.ts";
import { build, label, makeB, rng, type Case } from "./gemm-cases.ts";

const skip = nativeAvailable() ? false : "the native addon is not built (npm run build:native)";
const U = 2 ** -24;
const gamma = (n: number): number => (n * U) / (1 - n * U);
const toBf16 = (x: number): number => bf16ToF32(f32ToBf16(x));

/** Element (r, c) of the stored B of product `bi`, as float32. */
function storedB(b: MatrixOperand, strideB: number): (bi: number, r: number, c: number) => number {
  if (b.kind === "f32") return (bi, r, c) => b.data[b.offset + bi * strideB + r * b.ld + c]!;
  if (b.kind === "bf16") return (bi, r, c) => bf16ToF32(b.data[b.offset + bi * strideB + r * b.ld + c]!);
  const dense = new Float32Array(b.q.rows * b.q.cols);
  dequantizeRowsRef(b.q, 0, b.q.rows, dense);
  return (_bi, r, c) => dense[r * b.q.cols + c]!;
}

/** Native against the reference, element by element within the stated bound; C outside the products untouched. */
function check(c: Case): void {
  const args = build({ ...c, computeDtype: "bfloat16" });
  const before = Float64Array.from(args.c);
  const expected = Float64Array.from(args.c);
  jsBackend.gemm({ ...args, c: expected as unknown as Float32Array });
  setBackend("native").gemm(args);
  const count = args.batch?.count ?? 1;
  const B = storedB(args.b, args.batch?.strideB ?? 0);
  const inWindow = new Uint8Array(args.c.length);
  for (let bi = 0; bi < count; bi++) {
    const aOff = args.aOffset + bi * (args.batch?.strideA ?? 0), cOff = args.cOffset + bi * (args.batch?.strideC ?? 0);
    for (let i = 0; i < c.M; i++) {
      for (let j = 0; j < c.N; j++) {
        let mass = 0;
        for (let k = 0; k < c.K; k++) {
          const a = args.a[args.transA ? aOff + k * args.lda + i : aOff + i * args.lda + k]!;
          mass += Math.abs(toBf16(a) * toBf16(args.transB ? B(bi, j, k) : B(bi, k, j)));
        }
        const at = cOff + i * args.ldc + j;
        inWindow[at] = 1;
        const bound = gamma(c.K + 2) * (Math.abs(args.alpha) * mass + (args.beta === 0 ? 0 : Math.abs(args.beta * before[at]!)));
        const diff = Math.abs(args.c[at]! - expected[at]!);
        assert.ok(diff <= bound, `${label(c)}: C[${i}, ${j}] of product ${bi} is ${args.c[at]}, reference ${expected[at]} (bound ${bound.toExponential(2)})`);
      }
    }
  }
  for (let k = 0; k < args.c.length; k++) {
    if (!inWindow[k]) assert.ok(Object.is(args.c[k], Math.fround(before[k]!)), `${label(c)}: C[${k}] outside the product was written`);
  }
}

const LAYOUTS = [[false, false], [false, true], [true, false], [true, true]] as const;

describe(`native gemm with bf16 operands against the js reference (${skip ? "skipped" : nativeAddon()!.info().isa})`, { skip }, () => {
  it("runs the kernel set PEFT_TS_ISA asks for", () => {
    if (process.env.PEFT_TS_ISA) assert.equal(nativeAddon()!.info().isa, process.env.PEFT_TS_ISA);
  });

  for (const [transA, transB] of LAYOUTS) {
    it(`${transA ? "T" : "N"}${transB ? "T" : "N"}: edge tiles, odd K (a padded last pair), tiny M`, () => {
      for (const s of [1, 2, 3, 17, 65, 100]) check({ M: s, N: s, K: s, transA, transB });
      for (const [M, N, K] of [[11, 31, 5], [12, 32, 7], [13, 33, 8], [25, 63, 64], [24, 64, 129], [37, 97, 385], [2, 200, 33], [5, 17, 1]])
        check({ M: M!, N: N!, K: K!, transA, transB });
    });
  }

  it("k blocks (K > 1024, odd), column blocks (N > 480), row panels (M > 1536): beta applied once", () => {
    check({ M: 13, N: 33, K: 2051, beta: 0.5 });
    check({ M: 30, N: 1000, K: 20, transB: true, beta: -1 });
    check({ M: 1600, N: 20, K: 10, transA: true, beta: 2 });
    check({ M: 14, N: 35, K: 1100, transA: true, transB: true, alpha: 0.25, beta: 1 });
  });

  it("alpha, beta, offsets, padded leading dimensions and batches", () => {
    for (const [transA, transB] of LAYOUTS) {
      check({ M: 19, N: 45, K: 33, transA, transB, alpha: -0.5, beta: 0.75 });
      check({ M: 27, N: 70, K: 41, transA, transB, pad: 5, offset: 13, beta: 0.5 });
      check({ M: 9, N: 20, K: 13, transA, transB, count: 3, pad: 2, offset: 4 });
    }
    check({ M: 17, N: 40, K: 31, count: 2, b: "bf16", transB: true });
  });

  it("split across threads by rows and by columns (shared A panels)", () => {
    check({ M: 700, N: 30, K: 100, transB: true, b: "nf4" }); // one sliver wide: split by rows
    check({ M: 100, N: 600, K: 100, transA: true });
    check({ M: 150, N: 400, K: 40, transB: true });
  });

  for (const b of ["bf16", "nf4", "nf4-nested", "fp4", "int8"] as const) {
    it(`${b} B stored [N, K] (forward X·Wᵀ) and [K, N] (input gradient dY·W)`, () => {
      for (const transB of [true, false]) {
        for (const [M, N, K] of [[1, 1, 1], [17, 65, 100], [100, 257, 65], [13, 33, 17], [8, 70, 700]])
          check({ M: M!, N: N!, K: K!, transB, b });
        check({ M: 20, N: 50, K: 44, transB, transA: true, b, alpha: 0.5, beta: 1 });
      }
    });
  }
});

/** Round half to even at a spacing of q (a power of two): bf16's rounding of values whose spacing is q. */
function roundHalfEven(x: number, q: number): number {
  const t = x / q, f = Math.floor(t), r = t - f;
  return (r > 0.5 || (r === 0.5 && f % 2 !== 0) ? f + 1 : f) * q;
}

describe("bf16 operands are rounded to nearest, ties to even, on both backends", { skip }, () => {
  // Values in [128, 512), halves and quarters included: bf16 keeps 8 significant bits (spacing 1 below 256,
  // 2 above), so many values are ties. Their rounded products are integers whose sums over K = 48 stay
  // below 2^24: exact in float32 in any order, so each backend must give exactly the integer sum.
  const K = 48;
  const value = () => (rng.next() < 0.5 ? -1 : 1) * (128 + Math.floor(rng.next() * 1536) / 4);
  const rounded = (x: number) => Math.sign(x) * roundHalfEven(Math.abs(x), Math.abs(x) < 256 ? 1 : 2);
  for (const [transA, transB] of LAYOUTS) {
    it(`${transA ? "T" : "N"}${transB ? "T" : "N"}`, () => {
      const M = 13, N = 35;
      const a = Float32Array.from({ length: M * K }, value), b = Float32Array.from({ length: K * N }, value);
      const A = (i: number, k: number) => a[transA ? k * M + i : i * K + k]!;
      const B = (k: number, j: number) => b[transB ? j * K + k : k * N + j]!;
      const args: GemmArgs = {
        M, N, K, transA, transB, a, aOffset: 0, lda: transA ? M : K, b: { kind: "f32", data: b, offset: 0, ld: transB ? K : N },
        c: new Float32Array(M * N).fill(NaN), cOffset: 0, ldc: N, alpha: 1, beta: 0, computeDtype: "bfloat16",
      };
      const reference = new Float32Array(M * N).fill(NaN);
      jsBackend.gemm({ ...args, c: reference });
      setBackend("native").gemm(args);
      for (let i = 0; i < M; i++) {
        for (let j = 0; j < N; j++) {
          let exact = 0;
          for (let k = 0; k < K; k++) exact += rounded(A(i, k)) * rounded(B(k, j));
          assert.equal(reference[i * N + j], exact, `js C[${i}, ${j}]`);
          assert.equal(args.c[i * N + j], exact, `native C[${i}, ${j}]`);
        }
      }
    });
  }

  it("float32 subnormals: zero with AVX512_BF16 (the instructions' rule), kept by the other sets and the reference", () => {
    const b = Float32Array.from([1e-39, -3e-39, 1e-38, 2e-38]);
    const args: GemmArgs = {
      M: 2, N: 2, K: 2, transA: false, transB: false, a: Float32Array.from([1, 0, 0, 1]), aOffset: 0, lda: 2,
      b: { kind: "f32", data: b, offset: 0, ld: 2 }, c: new Float32Array(4), cOffset: 0, ldc: 2, alpha: 1, beta: 0, computeDtype: "bfloat16",
    };
    const reference = new Float32Array(4);
    jsBackend.gemm({ ...args, c: reference });
    assert.deepEqual(Array.from(reference), Array.from(b, toBf16));
    setBackend("native").gemm(args);
    const flushed = nativeAddon()!.info().isa === "avx512bf16";
    assert.deepEqual(Array.from(args.c), flushed ? [0, 0, 0, toBf16(2e-38)] : Array.from(b, toBf16));
  });

  it("B-panel loaders: op(B) through an identity A comes out rounded to bf16, bit for bit", () => {
    for (const type of ["bf16", "nf4", "nf4-nested", "fp4", "int8"] as const) {
      for (const transB of [true, false]) {
        const K = 45, N = 37;
        const [rows, cols] = transB ? [N, K] : [K, N];
        const b = makeB(type, rows, cols, cols, rows * cols, 0, 64);
        const B = storedB(b, 0);
        const eye = new Float32Array(K * K);
        for (let i = 0; i < K; i++) eye[i * K + i] = 1;
        const c = new Float32Array(K * N).fill(NaN);
        setBackend("native").gemm({ M: K, N, K, transA: false, transB, a: eye, aOffset: 0, lda: K, b, c, cOffset: 0, ldc: N, alpha: 1, beta: 0, computeDtype: "bfloat16" });
        for (let k = 0; k < K; k++) {
          for (let j = 0; j < N; j++) {
            const want = toBf16(transB ? B(0, j, k) : B(0, k, j));
            assert.ok(c[k * N + j] === want, `${type}${transB ? " [N, K]" : " [K, N]"}: op(B)[${k}, ${j}] = ${c[k * N + j]}, want ${want}`);
          }
        }
      }
    }
  });
});

// The ISA is chosen once per process: the sets below this machine's (AVX-512 without bf16 dot products, AVX2,
// scalar), which round their float32 panels instead, get this whole file in child processes.
const ORDER = ["scalar", "avx2", "avx512", "avx512bf16"];
const isa = nativeAvailable() ? nativeAddon()!.info().isa : "scalar";
const narrower = process.env.PEFT_TS_ISA ? [] : ORDER.slice(0, ORDER.indexOf(isa)).reverse();
describe("bf16 operands on the narrower kernel sets", { skip: skip || (narrower.length === 0 && `${process.env.PEFT_TS_ISA ? "a child run" : `${isa} is the narrowest set`}`) }, () => {
  for (const lower of narrower) {
    it(`PEFT_TS_ISA=${lower}`, () => {
      const env: NodeJS.ProcessEnv = { ...process.env, PEFT_TS_ISA: lower };
      delete env.NODE_TEST_CONTEXT; // a run of its own, not a subtest stream of this one
      const res = spawnSync(process.execPath, ["--import", "tsx", "--test", fileURLToPath(import.meta.url)], { env, encoding: "utf8" });
      const out = `${res.stdout}${res.stderr}`;
      assert.equal(res.status, 0, `the ${lower} kernel set failed:\n${out.slice(-6000)}`);
      assert.match(out, /# pass (1[0-9]|[2-9][0-9])/, `the ${lower} run passed too few tests:\n${out.slice(-2000)}`);
    });
  }
});
