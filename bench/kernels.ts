// Micro-benchmark of the native kernels against the TypeScript reference at the shapes training and
// generation use: median wall time of repeated calls, and the process CPU time per call (summed over
// threads: on a shared, oversubscribed machine it shows what the kernel costs when it does get the cores).
// Run: node --import tsx bench/kernels.ts [--quick] [--no-js]   (PEFT_TS_THREADS=n sets the threads)
// --quick: fewer repetitions; --no-js: skip the reference (minutes at the training shapes).

import os from "node:os";
import type { AttentionDims, Backend } from "../src/backend/kernels.ts";
import { jsBackend } from "../src/backend/js/index.ts";
import { loadNativeBackend, nativeAddon } from "../src/backend/native/index.ts";
import { Rng } from "../src/util/random.ts";

const quick = process.argv.includes("--quick");
const noJs = process.argv.includes("--no-js");
const loaded = loadNativeBackend();
if (loaded instanceof Error) {
  console.error(`native library unavailable: ${loaded.message}`);
  process.exit(1);
}
const nb: Backend = loaded;
const rng = new Rng(1);

function randn(n: number, scale = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.normal() * scale;
  return a;
}

/** Median wall milliseconds of `runs` calls after `warmup` calls (stops early after `budgetMs`), and CPU ms per call. */
function time(fn: () => void, runs: number, warmup = 2, budgetMs = 20_000): { wall: number; cpu: number } {
  for (let i = 0; i < warmup; i++) fn();
  const ts: number[] = [];
  const start = performance.now();
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    fn();
    ts.push(performance.now() - t0);
    if (performance.now() - start > budgetMs) break;
  }
  const cpu = process.cpuUsage(cpu0);
  ts.sort((a, b) => a - b);
  return { wall: ts[Math.floor(ts.length / 2)]!, cpu: (cpu.user + cpu.system) / 1000 / ts.length };
}

interface Row {
  kernel: string;
  shape: string;
  nativeMs: number;
  nativeCpuMs: number;
  jsMs: number | null;
  flops: number | null;
}
const rows: Row[] = [];
const gflops = (flops: number, ms: number) => (flops / (ms * 1e6)).toFixed(1);

function bench(kernel: string, shape: string, make: (be: Backend) => () => void, opts: { flops?: number; js?: boolean } = {}): void {
  const native = time(make(nb), quick ? 5 : 21, 3);
  const jsMs = opts.js === false || noJs ? null : time(make(jsBackend), quick ? 1 : 3, quick ? 0 : 1, quick ? 5_000 : 60_000).wall;
  const row: Row = { kernel, shape, nativeMs: native.wall, nativeCpuMs: native.cpu, jsMs, flops: opts.flops ?? null };
  rows.push(row);
  const js = jsMs === null ? "" : `  js ${jsMs.toFixed(1)} ms  (×${(jsMs / native.wall).toFixed(0)})`;
  const rate = row.flops ? `  ${gflops(row.flops, native.wall)} GFLOP/s (${gflops(row.flops, native.cpu)} per CPU-s)` : "";
  console.error(`${kernel.padEnd(18)} ${shape.padEnd(48)} native ${native.wall.toFixed(3)} ms, cpu ${native.cpu.toFixed(3)} ms${rate}${js}`);
}

function attentionCase(name: string, B: number, T: number, S: number, nh: number, nkv: number, hd: number, jsToo: boolean, backward = true): void {
  const dims: AttentionDims = {
    B, T, S, nh, nkv, hd, scale: 1 / Math.sqrt(hd), causal: true, keyMask: null,
    kvRowStride: nkv * hd, kvBatchStride: S * nkv * hd,
  };
  const q = randn(B * T * nh * hd), k = randn(B * S * nkv * hd), v = randn(k.length), dOut = randn(q.length);
  const out = new Float32Array(q.length), lse = new Float32Array(B * nh * T);
  nb.attention(q, k, v, out, lse, dims);
  const dq = new Float32Array(q.length), dk = new Float32Array(k.length), dv = new Float32Array(k.length);
  // Causal flops: the visible (query, key) pairs, 2 flops per multiply-add, 2 products forward and 5 backward.
  let pairs = 0;
  for (let t = 0; t < T; t++) pairs += Math.min(S, S - T + t + 1);
  const fwd = 4 * B * nh * pairs * hd;
  const shape = `${name} B=${B} T=${T} S=${S} nh=${nh} nkv=${nkv} hd=${hd}`;
  bench("attention fwd", shape, (be) => () => be.attention(q, k, v, out, lse, dims), { flops: fwd, js: jsToo });
  if (!backward) return;
  bench("attention bwd", shape, (be) => () => be.attentionBackward(q, k, v, out, lse, dOut, dq, dk, dv, dims), {
    flops: 2.5 * fwd,
    js: jsToo,
  });
}

const info = nativeAddon()!.info();
console.error(
  `native: ${info.isa}, ${info.threads} threads (PEFT_TS_THREADS); ${os.cpus()[0]?.model} × ${os.cpus().length}; ` +
    `load average ${os.loadavg().map((l) => l.toFixed(1)).join(" ")}; ${new Date().toISOString()}`,
);

attentionCase("SmolLM2-135M", 4, 256, 256, 9, 3, 64, !quick);
attentionCase("tiny preset", 4, 256, 256, 8, 4, 32, !quick);
attentionCase("SmolLM2 decode", 1, 1, 1024, 9, 3, 64, true, false);
attentionCase("tiny decode", 1, 1, 1024, 8, 4, 32, true, false);

{
  const [r, c] = [1024, 576];
  const x = randn(r * c), w = randn(c), dy = randn(r * c), out = new Float32Array(r * c), rstd = new Float32Array(r);
  const dx = new Float32Array(r * c), dw = new Float32Array(c);
  nb.rmsNorm(x, w, out, rstd, r, c, 1e-5);
  bench("rmsNorm fwd", `${r}×${c}`, (be) => () => be.rmsNorm(x, w, out, rstd, r, c, 1e-5));
  bench("rmsNorm bwd", `${r}×${c}`, (be) => () => be.rmsNormBackward(x, w, rstd, dy, dx, dw, r, c));
}

for (const [r, V] of [[170, 49152], [55, 151936]] as const) {
  const logits = randn(r * V, 3), labels = Int32Array.from({ length: r }, (_, i) => (i * 7919) % V);
  const loss = new Float32Array(r), lse = new Float32Array(r), d = new Float32Array(r * V);
  nb.crossEntropy(logits, labels, loss, lse, r, V, -100);
  bench("crossEntropy fwd", `${r}×${V}`, (be) => () => be.crossEntropy(logits, labels, loss, lse, r, V, -100));
  bench("crossEntropy bwd", `${r}×${V}`, (be) => () => be.crossEntropyBackward(logits, labels, lse, d, r, V, -100, 1 / r));
}

{
  const n = 1024 * 1536;
  const g = randn(n), u = randn(n), dy = randn(n), out = new Float32Array(n), dg = new Float32Array(n), du = new Float32Array(n);
  bench("swiglu fwd", `${n}`, (be) => () => be.swiglu(g, u, out, n));
  bench("swiglu bwd", `${n}`, (be) => () => be.swigluBackward(g, u, dy, dg, du, n));
  bench("gelu (erf) fwd", `${n}`, (be) => () => be.gelu(g, out, n, "none"));
}

{
  const n = 4_000_000;
  const p = randn(n), g = randn(n, 0.01), m = new Float32Array(n), v = new Float32Array(n);
  const hp = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, step: 3 };
  bench("adamw", `${n}`, (be) => () => be.adamw(p, g, m, v, n, hp));
}

console.log(`load average after: ${os.loadavg().map((l) => l.toFixed(1)).join(" ")}`);
console.log(`| kernel | shape | native wall (ms) | native CPU (ms) | js wall (ms) | speed-up | GFLOP/s wall | GFLOP/s per CPU-s |`);
console.log(`| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |`);
for (const r of rows) {
  const js = r.jsMs === null ? "–" : r.jsMs.toFixed(1);
  const up = r.jsMs === null ? "–" : `${(r.jsMs / r.nativeMs).toFixed(0)}×`;
  const [gw, gc] = r.flops ? [gflops(r.flops, r.nativeMs), gflops(r.flops, r.nativeCpuMs)] : ["–", "–"];
  console.log(`| ${r.kernel} | ${r.shape} | ${r.nativeMs.toFixed(3)} | ${r.nativeCpuMs.toFixed(3)} | ${js} | ${up} | ${gw} | ${gc} |`);
}
