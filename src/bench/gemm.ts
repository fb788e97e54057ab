// GEMM throughput of the native backend: one product timed as the median of repeated runs after a warm-up,
// and the set of products an LLM training step is made of (bench/numpy_gemm.py measures the same set with
// numpy/OpenBLAS for comparison).

import { nativeAvailable, setBackend } from "../backend/index.ts";
import type { ComputeDtype, GemmArgs, MatrixOperand } from "../backend/kernels.ts";
import { nativeAddon } from "../backend/native/index.ts";
import type { Quantized4bit } from "../quant/types.ts";
import { NF4_CODE } from "../quant/codebooks.ts";
import { f32ToBf16 } from "../tensor/dtype.ts";
import { Rng } from "../util/random.ts";
import { median } from "./stats.ts";

/**
 * How op(A) and op(B) are stored, named after the three products of a linear layer:
 * nt = forward X·Wᵀ, nn = input gradient dY·W, tn = weight gradient dYᵀ·X.
 */
export type GemmLayout = "nt" | "nn" | "tn";
export type GemmBType = "f32" | "bf16" | "nf4";

export interface GemmBenchOptions {
  /** C is [m, n], the sum runs over k. */
  m: number;
  n: number;
  k: number;
  layout: GemmLayout;
  b?: GemmBType;
  /** bfloat16: both operands rounded to bf16, float32 sums (torch's CPU autocast). Default float32. */
  computeDtype?: ComputeDtype;
  /** Native pool size for the measurement (default: as configured). */
  threads?: number;
  /** Timed runs (at least 7; more for short products, up to about half a second). */
  minRuns?: number;
  /**
   * "wall" (default), or "cpu": the process's CPU time, which a shared, loaded machine inflates far less
   * (meaningful with one thread only: idle pool threads spin).
   */
  clock?: "wall" | "cpu";
}

export interface GemmBenchResult {
  m: number;
  n: number;
  k: number;
  layout: GemmLayout;
  b: GemmBType;
  computeDtype: ComputeDtype;
  threads: number;
  gflops: number;
  medianMs: number;
  runs: number;
}

function randomF32(rng: Rng, n: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.next() - 0.5;
  return a;
}

/** Random NF4 weight [rows, cols] with blocks of 64 and double-quantized absmax, as QLoRA loads it. */
function randomNf4(rng: Rng, rows: number, cols: number): Quantized4bit {
  const n = rows * cols;
  const blocks = Math.ceil(n / 64);
  const codes = new Uint8Array(Math.ceil(n / 2));
  for (let i = 0; i < codes.length; i++) codes[i] = rng.nextUint32() & 0xff;
  const nestedCodes = new Uint8Array(blocks);
  for (let i = 0; i < blocks; i++) nestedCodes[i] = rng.nextUint32() & 0xff;
  return {
    type: "nf4", rows, cols, blockSize: 64, codes, codebook: NF4_CODE,
    absmax: {
      codes: nestedCodes,
      nestedAbsmax: randomF32(rng, Math.ceil(blocks / 256)),
      nestedMap: randomF32(rng, 256),
      nestedBlockSize: 256,
      nestedOffset: 0.05,
    },
  };
}

function operand(rng: Rng, type: GemmBType, rows: number, cols: number): MatrixOperand {
  if (type === "nf4") return { kind: "quant", q: randomNf4(rng, rows, cols) };
  const data = randomF32(rng, rows * cols);
  if (type === "bf16") return { kind: "bf16", data: Uint16Array.from(data, f32ToBf16), offset: 0, ld: cols };
  return { kind: "f32", data, offset: 0, ld: cols };
}

/** The product's arguments with random operands stored as `layout` says. */
export function gemmBenchArgs(o: GemmBenchOptions, seed = 1): GemmArgs {
  const rng = new Rng(seed);
  const transA = o.layout === "tn", transB = o.layout === "nt";
  const b = o.b ?? "f32";
  if (b !== "f32" && transA) throw new Error(`bench gemm: a ${b} B is a frozen weight, which has no ${o.layout} product`);
  return {
    M: o.m, N: o.n, K: o.k, transA, transB,
    a: randomF32(rng, o.m * o.k), aOffset: 0, lda: transA ? o.m : o.k,
    b: operand(rng, b, transB ? o.n : o.k, transB ? o.k : o.n),
    c: new Float32Array(o.m * o.n), cOffset: 0, ldc: o.n, alpha: 1, beta: 0, computeDtype: o.computeDtype,
  };
}

/** Median time of one product on the native backend, in GFLOP/s (2·m·n·k per product). */
export function benchGemm(o: GemmBenchOptions): GemmBenchResult {
  if (!nativeAvailable()) throw new Error("bench gemm: the native addon is not built (npm run build:native)");
  const native = setBackend("native");
  const addon = nativeAddon()!;
  const previous = addon.info().threads;
  if (o.threads !== undefined) addon.setThreads(o.threads);
  try {
    const args = gemmBenchArgs(o);
    const once = (): number => {
      if (o.clock === "cpu") {
        const t0 = process.cpuUsage();
        native.gemm(args);
        const t = process.cpuUsage(t0);
        return (t.user + t.system) / 1e3;
      }
      const t0 = process.hrtime.bigint();
      native.gemm(args);
      return Number(process.hrtime.bigint() - t0) / 1e6;
    };
    const first = once();
    for (let i = 0, spent = first; i < 2 || spent < 100; i++) spent += once();
    const times: number[] = [];
    const minRuns = Math.max(7, o.minRuns ?? 7);
    for (let spent = 0; times.length < minRuns || (spent < 500 && times.length < 200); ) {
      const t = once();
      times.push(t);
      spent += t;
    }
    const ms = median(times);
    return {
      m: o.m, n: o.n, k: o.k, layout: o.layout, b: o.b ?? "f32", computeDtype: o.computeDtype ?? "float32", threads: addon.info().threads,
      gflops: (2 * o.m * o.n * o.k) / (ms * 1e6), medianMs: ms, runs: times.length,
    };
  } finally {
    addon.setThreads(previous);
  }
}

export interface GemmShape {
  /** The product as a linear layer sees it: tokens × in → out, and which of its three products. */
  name: string;
  options: GemmBenchOptions;
}

/**
 * The products of an LLM training step: for each linear layer tokens × in → out, the forward (nt), input
 * gradient (nn) and weight gradient (tn) as GEMM dimensions; then 1024³, generation (1 and 8 tokens), and
 * the products over NF4 and bf16 weights (compare with their f32 rows).
 */
export function gemmShapes(): GemmShape[] {
  const layers: Array<[number, number, number]> = [
    [1024, 576, 1536], [1024, 1536, 576], [1024, 576, 49152], // SmolLM2-135M: MLP up/down, lm_head
    [1024, 256, 256], [1024, 256, 688], [1024, 256, 8192], // the `tiny` preset
  ];
  const shapes: GemmShape[] = [];
  for (const [t, i, o] of layers) {
    const layer = `${t}×${i}→${o}`;
    shapes.push({ name: `${layer} forward`, options: { m: t, n: o, k: i, layout: "nt" } });
    shapes.push({ name: `${layer} input grad`, options: { m: t, n: i, k: o, layout: "nn" } });
    shapes.push({ name: `${layer} weight grad`, options: { m: o, n: i, k: t, layout: "tn" } });
  }
  shapes.push({ name: "1024³", options: { m: 1024, n: 1024, k: 1024, layout: "nn" } });
  for (const t of [1, 8]) {  // token-by-token generation
    shapes.push({ name: `${t}×576→1536 forward`, options: { m: t, n: 1536, k: 576, layout: "nt" } });
    shapes.push({ name: `${t}×576→1536 forward, nf4 W`, options: { m: t, n: 1536, k: 576, layout: "nt", b: "nf4" } });
  }
  for (const b of ["nf4", "bf16"] as const) {
    shapes.push({ name: `1024×576→1536 forward, ${b} W`, options: { m: 1024, n: 1536, k: 576, layout: "nt", b } });
    shapes.push({ name: `1024×576→1536 input grad, ${b} W`, options: { m: 1024, n: 576, k: 1536, layout: "nn", b } });
  }
  return shapes;
}
