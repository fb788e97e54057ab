// peft-ts bench lora-overhead: what LoRA adds to a training step. Three runs of the same model (SmolLM2-135M
// shape: vocab 49152, hidden 576, intermediate 1536, 30 layers, 9 heads, 3 KV heads, tied embeddings; random
// weights from RandomWeights) on the same random batch (default 4 × 256):
//   frozen  no adapters, the base frozen; forward + loss + backward down to the input embeddings (the
//           embedding output is made a leaf that requires grad, so every layer computes dX and no dW)
//   lora    r = 16, α = 32 on the seven projections; forward + loss + backward, then an AdamW step
//   full    every weight trainable; forward + loss + backward, then an AdamW step
// The LoRA overhead is lora's forward+backward over frozen's; full fine-tuning is compared step for step.
// Steps run round-robin across the variants; medians over the timed steps, after warm-up.

import { Command, Option } from "commander";
import { performance } from "node:perf_hooks";
import { buildModel, RandomWeights, type CausalLM, type ModelConfig } from "../models/index.ts";
import { Module, type Embedding } from "../nn/index.ts";
import { Tensor } from "../tensor/tensor.ts";
import { scope } from "../tensor/storage.ts";
import { backward } from "../autograd/engine.ts";
import { AdamW } from "../optim/index.ts";
import { backend, setBackend, type BackendName } from "../backend/index.ts";
import { Rng } from "../util/random.ts";
import { getPeftModel } from "../peft/index.ts";
import { median } from "./stats.ts";
import { presetConfig } from "../models/presets.ts";

export const LORA_SETTINGS = { r: 16, lora_alpha: 32, target_modules: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"] };

export type Variant = "frozen" | "lora" | "full";
export const VARIANTS: readonly Variant[] = ["frozen", "lora", "full"];

export interface LoraOverheadOptions {
  layers: number;
  batch: number;
  seq: number;
  steps: number;
  warmup: number;
  backend?: BackendName;
  variants?: readonly Variant[];
  seed?: number;
  onStep?: (variant: Variant, step: number, seconds: number) => void;
}

export interface VariantResult {
  variant: Variant;
  fwd_bwd_s_median: number;
  opt_s_median: number;
  step_s_median: number;
  /** Process CPU seconds (all threads). */
  fwd_bwd_cpu_s_median: number;
  step_cpu_s_median: number;
  params_trainable: number;
}

export interface LoraOverheadResult {
  backend: string;
  layers: number;
  batch: number;
  seq: number;
  steps: number;
  results: VariantResult[];
  /** (lora fwd+bwd) / (frozen fwd+bwd) − 1, in percent (wall time); null when either was not run. */
  lora_overhead_pct: number | null;
  /** The same from process CPU time. */
  lora_overhead_cpu_pct: number | null;
  /** full step / lora step; null when either was not run. */
  full_over_lora: number | null;
}

/** The embedding output as a leaf that requires grad: backward runs through every layer down to it. */
class InputLeaf extends Module {
  constructor(public inner: Embedding) {
    super();
  }

  forward(ids: Int32Array, shape: readonly number[]): Tensor {
    const h = this.inner.forward(ids, shape);
    h.requiresGrad = true;
    return h;
  }
}

interface Built {
  net: { forward: CausalLM["forward"] };
  params: [string, Tensor][];
  opt: AdamW | null;
}

function buildVariant(config: ModelConfig, variant: Variant, seed: number): Built {
  const model = buildModel(config, new RandomWeights(seed, { weightDtype: "float32", trainable: variant === "full" }));
  model.train();
  const withOpt = (net: Built["net"], params: [string, Tensor][]): Built => ({ net, params, opt: params.length ? new AdamW(params, { lr: 1e-4, weightDecay: 0 }) : null });
  if (variant === "full") return withOpt(model, model.trainableParameters());
  if (variant === "lora") {
    const peft = getPeftModel(model, LORA_SETTINGS, { seed });
    return withOpt(peft, peft.trainableParameters());
  }
  model.setModule("model.embed_tokens", new InputLeaf(model.getModule("model.embed_tokens") as Embedding));
  return withOpt(model, []);
}

interface Timed {
  wall: number;
  cpu: number;
}

/** One training step; wall and process CPU seconds of forward+backward and of the optimizer step. */
function timedStep(v: ReturnType<typeof buildVariant>, o: LoraOverheadOptions, ids: Int32Array): { fb: Timed; opt: Timed } {
  const cpu = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  };
  const w0 = performance.now();
  const c0 = cpu();
  scope(() => {
    const out = v.net.forward({ ids, B: o.batch, T: o.seq, labels: ids, logits: "none" });
    backward(out.loss!, Tensor.scalar(1));
    out.loss!.release();
  });
  const w1 = performance.now();
  const c1 = cpu();
  v.opt?.step();
  v.opt?.zeroGrad();
  const w2 = performance.now();
  const c2 = cpu();
  return { fb: { wall: (w1 - w0) / 1000, cpu: c1 - c0 }, opt: { wall: (w2 - w1) / 1000, cpu: c2 - c1 } };
}

/**
 * Runs the variants' steps round-robin (frozen, lora, full, frozen, ...) so that load from other processes
 * falls on all of them alike; wall time and process CPU time are both kept (with the single-threaded js
 * backend, CPU time is the steadier measure on a shared machine).
 */
export function runLoraOverhead(o: LoraOverheadOptions): LoraOverheadResult {
  if (o.backend) setBackend(o.backend);
  const seed = o.seed ?? 0;
  const config = presetConfig("smollm2-135m", { layers: o.layers });
  const rng = new Rng(seed + 1);
  const ids = Int32Array.from({ length: o.batch * o.seq }, () => rng.int(config.vocabSize));
  const variants = o.variants ?? VARIANTS;
  const built = variants.map((v) => buildVariant(config, v, seed));
  const samples = variants.map(() => ({ fb: [] as Timed[], opt: [] as Timed[] }));
  for (let step = 0; step < o.warmup + o.steps; step++) {
    built.forEach((b, i) => {
      const t = timedStep(b, o, ids);
      o.onStep?.(variants[i]!, step, t.fb.wall + t.opt.wall);
      if (step < o.warmup) return;
      samples[i]!.fb.push(t.fb);
      samples[i]!.opt.push(t.opt);
    });
  }
  const r4 = (x: number) => Math.round(x * 1e4) / 1e4;
  const results: VariantResult[] = variants.map((variant, i) => {
    const { fb, opt } = samples[i]!;
    return {
      variant,
      fwd_bwd_s_median: r4(median(fb.map((t) => t.wall))),
      opt_s_median: r4(median(opt.map((t) => t.wall))),
      step_s_median: r4(median(fb.map((t, k) => t.wall + opt[k]!.wall))),
      fwd_bwd_cpu_s_median: r4(median(fb.map((t) => t.cpu))),
      step_cpu_s_median: r4(median(fb.map((t, k) => t.cpu + opt[k]!.cpu))),
      params_trainable: built[i]!.params.reduce((s, [, t]) => s + t.size, 0),
    };
  });
  const get = (v: Variant) => results.find((r) => r.variant === v);
  const frozen = get("frozen");
  const lora = get("lora");
  const full = get("full");
  const pct = (a: number, b: number) => Math.round((a / b - 1) * 1000) / 10;
  return {
    backend: backend().name,
    layers: o.layers,
    batch: o.batch,
    seq: o.seq,
    steps: o.steps,
    results,
    lora_overhead_pct: frozen && lora ? pct(lora.fwd_bwd_s_median, frozen.fwd_bwd_s_median) : null,
    lora_overhead_cpu_pct: frozen && lora ? pct(lora.fwd_bwd_cpu_s_median, frozen.fwd_bwd_cpu_s_median) : null,
    full_over_lora: full && lora ? Math.round((full.step_s_median / lora.step_s_median) * 100) / 100 : null,
  };
}

export function formatLoraOverhead(r: LoraOverheadResult): string {
  const rows = r.results.map(
    (v) =>
      `  ${v.variant.padEnd(7)} fwd+bwd ${v.fwd_bwd_s_median.toFixed(3)} s   opt ${v.opt_s_median.toFixed(3)} s   step ${v.step_s_median.toFixed(3)} s` +
      `   (CPU: fwd+bwd ${v.fwd_bwd_cpu_s_median.toFixed(3)} s, step ${v.step_cpu_s_median.toFixed(3)} s)   trainable ${v.params_trainable.toLocaleString("en-US")}`,
  );
  return [
    `LoRA overhead, SmolLM2-135M shape (${r.layers} layers), batch ${r.batch} × ${r.seq}, ${r.backend} backend, median of ${r.steps} steps:`,
    ...rows,
    r.lora_overhead_pct !== null ? `  LoRA forward+backward vs frozen: ${sign(r.lora_overhead_pct)}% wall, ${sign(r.lora_overhead_cpu_pct!)}% CPU` : "",
    r.full_over_lora !== null ? `  full fine-tuning step / LoRA step: ${r.full_over_lora}×` : "",
  ]
    .filter((l) => l !== "")
    .join("\n");
}

const sign = (x: number): string => `${x >= 0 ? "+" : ""}${x}`;

function count(flag: string, v: string, min: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new Error(`bench lora-overhead: ${flag} must be an integer ≥ ${min}, got "${v}"`);
  return n;
}

/** Adds `lora-overhead` to a `bench` command group. */
export function registerBenchLoraOverhead(bench: Command): void {
  bench
    .command("lora-overhead")
    .description("LoRA (r=16, α=32, 7 projections) vs a frozen base vs full fine-tuning: step times on the SmolLM2-135M shape")
    .option("--layers <n>", "decoder layers (30 = the real model)", "30")
    .option("--batch <n>", "sequences per step", "4")
    .option("--seq <n>", "tokens per sequence", "256")
    .option("--steps <n>", "timed steps per variant", "5")
    .option("--warmup <n>", "untimed steps first", "1")
    .addOption(new Option("--backend <name>", "kernels").choices(["native", "js"]))
    .addOption(new Option("--variants <list>", "comma-separated subset of frozen,lora,full").default(VARIANTS.join(",")))
    .option("--json", "print one JSON line")
    .action((f: Record<string, string | boolean | undefined>) => {
      const variants = String(f.variants).split(",").map((s) => s.trim()) as Variant[];
      for (const v of variants) if (!VARIANTS.includes(v)) throw new Error(`bench lora-overhead: unknown variant "${v}" (frozen, lora, full)`);
      const r = runLoraOverhead({
        layers: count("--layers", f.layers as string, 1),
        batch: count("--batch", f.batch as string, 1),
        seq: count("--seq", f.seq as string, 1),
        steps: count("--steps", f.steps as string, 1),
        warmup: count("--warmup", f.warmup as string, 0),
        backend: f.backend as BackendName | undefined,
        variants,
        onStep: f.json ? undefined : (v, s, sec) => process.stderr.write(`${v} step ${s} ${sec.toFixed(3)} s\n`),
      });
      process.stdout.write(f.json ? `${JSON.stringify(r)}\n` : `${formatLoraOverhead(r)}\n`);
    });
}
