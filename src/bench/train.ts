// peft-ts bench train: training throughput on random weights and random tokens, with the shapes of the
// PyTorch CPU peer (bench/torch_lora_bench.py): one step = forward + next-token loss + backward + AdamW
// step + zero grads; tokens/s = B·T / median step time after warm-up; peak RSS from the process's high-water mark.
// LoRA: r = 16, α = 32 on every linear of the decoder layers (Llama's seven projections, as the peer; Phi-3's
// four fused ones), AdamW(lr 1e-4, weight decay 0), as the peer.
// --compute-dtype bfloat16 is the peer's --bf16-autocast: bf16 operands in the linear layers' products.
//
// The random model is built directly in the form training holds it (NF4 linears and bf16 embedding/head for
// QLoRA on a bf16 shape, bf16 or float32 for LoRA, float32 for full fine-tuning), so a billion-parameter
// shape never exists in float32. Beside the measurement it reports the memory estimate of the same run and
// the high-water mark after every step (flat from step 2 when nothing grows).

import { Command, Option } from "commander";
import { performance } from "node:perf_hooks";
import { buildModel, RandomWeights, type ModelConfig } from "../models/index.ts";
import { presetConfig, PRESETS } from "../models/presets.ts";
import { backward } from "../autograd/engine.ts";
import { scope } from "../tensor/storage.ts";
import { Tensor } from "../tensor/tensor.ts";
import { AdamW, AdamW8bit } from "../optim/index.ts";
import { estimateMemory, frozenDtype } from "../memory/index.ts";
import { backend, bf16DotProducts } from "../backend/index.ts";
import type { ComputeDtype } from "../backend/kernels.ts";
import { withComputeDtype } from "../ops/index.ts";
import { nativeAddon } from "../backend/native/index.ts";
import { quantizeOnLoad, quantizeOptions } from "../quant/policy.ts";
import { Rng } from "../util/random.ts";
import { adapterModel, fullModel, QLORA_QUANTIZATION, type TrainableModel } from "../train/model.ts";
import { installProfiler, recordPhase } from "../train/profile.ts";
import { median } from "./stats.ts";
import { peakRssBytes } from "../util/memory.ts";

export type BenchPreset = string;
export type BenchMethod = "full" | "lora" | "qlora";
export type BenchOptimizer = "adamw" | "adamw8bit";

export interface BenchTrainOptions {
  preset: BenchPreset;
  layers?: number;
  method: BenchMethod;
  batch: number;
  seq: number;
  steps: number;
  warmup: number;
  threads?: number;
  gradientCheckpointing?: boolean;
  /** How frozen float weights are held (LoRA's base; QLoRA's embedding and head); default as the trainer. */
  baseDtype?: "float32" | "bfloat16";
  optimizer?: BenchOptimizer;
  /** LoRA / QLoRA with the frozen embedding and head quantized too (a departure from QLoRA's recipe). */
  quantizeEmbeddings?: "int8" | "nf4";
  /** Operands of the products (default float32). */
  computeDtype?: ComputeDtype;
  seed?: number;
  onStep?: (step: number, seconds: number, loss: number) => void;
}

export interface BenchTrainResult {
  preset: BenchPreset;
  method: BenchMethod;
  base_dtype: string;
  optimizer: BenchOptimizer;
  gradient_checkpointing: boolean;
  compute_dtype: ComputeDtype;
  /** The native kernels' ISA (avx512bf16: bf16 products on bf16 dot products), or js. */
  kernels: string;
  layers: number;
  batch: number;
  seq: number;
  threads: number | null;
  backend: string;
  tokens_per_second: number;
  step_s_median: number;
  /** Process CPU seconds per step (all threads): with step_s, shows how much a loaded machine slowed the run. */
  cpu_s_median: number;
  fwd_s_median: number;
  bwd_s_median: number;
  opt_s_median: number;
  peak_rss_mb: number;
  /** The high-water mark after each step, warm-up included. */
  peak_rss_mb_steps: number[];
  /** peft-ts estimate for the same run, and estimate / peak − 1. */
  estimate_mb: number;
  estimate_error: number;
  /** Seconds to build the random model in its held form. */
  build_s: number;
  params_total: number;
  params_trainable: number;
  loss_first: number;
  loss_last: number;
}

const LORA = { r: 16, alpha: 32, targets: "all-linear" as const };

async function benchModel(config: ModelConfig, o: BenchTrainOptions, seed: number, frozen: "float32" | "bfloat16"): Promise<TrainableModel> {
  const method = o.method;
  if (method === "full") return fullModel(buildModel(config, new RandomWeights(seed, { weightDtype: "float32", trainable: true }, 0.02, "tiled")));
  const quantizeAs = method === "qlora" ? quantizeOnLoad(QLORA_QUANTIZATION).quantizeAs : null;
  const quantizeEmbeddingsAs = o.quantizeEmbeddings ? quantizeOptions({ ...QLORA_QUANTIZATION, type: o.quantizeEmbeddings }) : null;
  const base = buildModel(config, new RandomWeights(seed, { weightDtype: frozen, trainable: false, quantizeAs, quantizeEmbeddingsAs }, 0.02, "tiled"));
  return adapterModel(
    { model: "(random)", method, baseDtype: frozen, loraR: LORA.r, loraAlpha: LORA.alpha, loraDropout: 0, loraTargetModules: LORA.targets, seed },
    base,
    method,
  );
}

const MiB = 2 ** 20;

export async function runBenchTrain(o: BenchTrainOptions): Promise<BenchTrainResult> {
  if (o.threads !== undefined && backend().name === "native") nativeAddon()!.setThreads(o.threads); // backend() loads the library
  installProfiler();
  const seed = o.seed ?? 0;
  const config = presetConfig(o.preset, { layers: o.layers });
  const frozen = o.method === "full" ? "float32" : frozenDtype(o.method, o.baseDtype ?? null, config);
  const tables = o.quantizeEmbeddings ?? frozen;
  const baseDtype = o.method === "qlora" ? `nf4 (${tables} embedding and head)` : o.quantizeEmbeddings ? `${frozen} (${tables} embedding and head)` : frozen;
  const optimizer = o.optimizer ?? "adamw";
  const gc = o.gradientCheckpointing ?? false;
  const estimate = estimateMemory({
    config, method: o.method, batch: o.batch, seq: o.seq, r: LORA.r, targetModules: LORA.targets, gradientCheckpointing: gc, baseDtype: frozen, optimizer,
    embeddingQuant: o.quantizeEmbeddings ?? null,
  });
  const tb = performance.now();
  const tm = await benchModel(config, o, seed, frozen);
  const buildS = (performance.now() - tb) / 1000;
  tm.base.gradientCheckpointing = gc;
  const computeDtype = o.computeDtype ?? "float32";
  const slowBf16 = computeDtype === "bfloat16" ? bf16DotProducts() : null;
  if (slowBf16) process.stderr.write(`bench train: compute dtype bfloat16 gives no speed here: ${slowBf16}\n`);
  tm.net.train();
  const opt = optimizer === "adamw8bit" ? new AdamW8bit(tm.params, { lr: 1e-4, weightDecay: 0 }) : new AdamW(tm.params, { lr: 1e-4, weightDecay: 0 });
  const peaks: number[] = [];
  const rng = new Rng(seed + 1);
  const batches = Array.from({ length: 4 }, () => Int32Array.from({ length: o.batch * o.seq }, () => rng.int(config.vocabSize)));
  const times = { fwd: [] as number[], bwd: [] as number[], opt: [] as number[], step: [] as number[], cpu: [] as number[] };
  const losses: number[] = [];
  for (let step = 0; step < o.warmup + o.steps; step++) {
    const ids = batches[step % batches.length]!;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    let t1 = t0;
    let t2 = t0;
    withComputeDtype(computeDtype, () => scope(() => {
      const out = tm.net.forward({ ids, B: o.batch, T: o.seq, labels: ids, logits: "none" });
      t1 = performance.now();
      losses.push(out.loss!.item());
      backward(out.loss!, Tensor.scalar(1));
      out.loss!.release();
      t2 = performance.now();
    }));
    opt.step();
    opt.zeroGrad();
    const t3 = performance.now();
    const cpu = process.cpuUsage(cpu0);
    peaks.push(Math.round((peakRssBytes() / MiB) * 10) / 10);
    o.onStep?.(step, (t3 - t0) / 1000, losses[losses.length - 1]!);
    if (step < o.warmup) continue;
    times.fwd.push((t1 - t0) / 1000);
    times.bwd.push((t2 - t1) / 1000);
    times.opt.push((t3 - t2) / 1000);
    times.step.push((t3 - t0) / 1000);
    times.cpu.push((cpu.user + cpu.system) / 1e6);
    recordPhase("forward", t1 - t0);
    recordPhase("backward", t2 - t1);
    recordPhase("optimizer", t3 - t2);
  }
  const med = median(times.step);
  const r4 = (x: number) => Math.round(x * 1e4) / 1e4;
  const peak = peakRssBytes();
  return {
    preset: o.preset,
    method: o.method,
    base_dtype: baseDtype,
    optimizer,
    gradient_checkpointing: gc,
    compute_dtype: computeDtype,
    kernels: backend().name === "native" ? nativeAddon()!.info().isa : "js",
    layers: config.numLayers,
    batch: o.batch,
    seq: o.seq,
    threads: nativeAddon()?.info().threads ?? null,
    backend: backend().name,
    tokens_per_second: Math.round(((o.batch * o.seq) / med) * 100) / 100,
    step_s_median: r4(med),
    cpu_s_median: r4(median(times.cpu)),
    fwd_s_median: r4(median(times.fwd)),
    bwd_s_median: r4(median(times.bwd)),
    opt_s_median: r4(median(times.opt)),
    peak_rss_mb: Math.round((peak / MiB) * 10) / 10,
    peak_rss_mb_steps: peaks,
    estimate_mb: Math.round((estimate.total / MiB) * 10) / 10,
    estimate_error: r4(estimate.total / peak - 1),
    build_s: r4(buildS),
    params_total: tm.paramsTotal,
    params_trainable: tm.paramsTrainable,
    loss_first: r4(losses[0]!),
    loss_last: r4(losses[losses.length - 1]!),
  };
}

function posInt(flag: string, v: string | undefined, fallback?: number): number {
  if (v === undefined && fallback !== undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`bench train: ${flag} must be a positive integer, got "${v}"`);
  return n;
}

/** Adds `train` to a `bench` command group. */
export function registerBenchTrain(bench: Command): void {
  bench
    .command("train")
    .description("training throughput (tokens/s, peak RSS) on random weights with the PyTorch peer's shapes")
    .addOption(new Option("--preset <name>", "model shape").choices(Object.keys(PRESETS)).default("tiny"))
    .option("--layers <n>", "override the number of layers")
    .addOption(new Option("--method <method>", "what is trained").choices(["full", "lora", "qlora"]).default("lora"))
    .option("--batch <n>", "sequences per step", "4")
    .option("--seq <n>", "tokens per sequence", "256")
    .option("--steps <n>", "timed steps", "10")
    .option("--warmup <n>", "untimed steps first", "2")
    .option("--threads <n>", "native kernel threads")
    .option("--gradient-checkpointing", "recompute activations in backward")
    .addOption(new Option("--base-dtype <dtype>", "how frozen float weights are held (default: as the trainer: float32 for LoRA, as the shape's dtype for QLoRA's embedding and head)").choices(["float32", "bfloat16"]))
    .addOption(new Option("--optimizer <name>", "optimizer of the step").choices(["adamw", "adamw8bit"]).default("adamw"))
    .addOption(new Option("--quantize-embeddings <type>", "LoRA / QLoRA: the frozen embedding and head in int8 or nf4 too").choices(["int8", "nf4"]))
    .addOption(new Option("--compute-dtype <dtype>", "operands of the linear layers' products (bfloat16: torch's CPU autocast)").choices(["float32", "bfloat16"]).default("float32"))
    .option("--json", "print one JSON line")
    .action(async (f: Record<string, string | boolean | undefined>) => {
      const warmup = Number(f.warmup);
      if (!Number.isInteger(warmup) || warmup < 0) throw new Error(`bench train: --warmup must be an integer >= 0, got "${f.warmup}"`);
      const r = await runBenchTrain({
        preset: f.preset as BenchPreset,
        layers: f.layers === undefined ? undefined : posInt("--layers", f.layers as string),
        method: f.method as BenchMethod,
        batch: posInt("--batch", f.batch as string),
        seq: posInt("--seq", f.seq as string),
        steps: posInt("--steps", f.steps as string),
        warmup,
        threads: f.threads === undefined ? undefined : posInt("--threads", f.threads as string),
        gradientCheckpointing: f.gradientCheckpointing === true,
        baseDtype: f.baseDtype as "float32" | "bfloat16" | undefined,
        optimizer: f.optimizer as BenchOptimizer,
        quantizeEmbeddings: f.quantizeEmbeddings as "int8" | "nf4" | undefined,
        computeDtype: f.computeDtype as ComputeDtype,
        onStep: f.json ? undefined : (s, sec, loss) => process.stderr.write(`step ${s}${s < warmup ? " (warmup)" : ""} ${sec.toFixed(3)}s loss ${loss.toFixed(4)}\n`),
      });
      process.stdout.write(
        f.json
          ? `${JSON.stringify(r)}\n`
          : `${r.preset} ${r.method} (${r.base_dtype} base, ${r.compute_dtype} compute, ${r.layers} layers, B=${r.batch}, T=${r.seq}, ${r.backend} backend): ${r.tokens_per_second} tokens/s, ` +
              `step ${r.step_s_median}s (fwd ${r.fwd_s_median}, bwd ${r.bwd_s_median}, opt ${r.opt_s_median}), peak RSS ${r.peak_rss_mb} MB ` +
              `(estimate ${r.estimate_mb} MB, ${(100 * r.estimate_error).toFixed(1)}%), ` +
              `params ${r.params_total.toLocaleString("en-US")} (${r.params_trainable.toLocaleString("en-US")} trainable)\n`,
      );
    });
}
