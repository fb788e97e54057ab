// `peft-ts estimate`: memory of a training step for full fine-tuning, LoRA and QLoRA of a model, from its
// config.json alone (or a named preset), as an aligned table, whether each fits the memory this machine has
// available now (or --memory), and the cheapest training flags that make a method fit (src/memory/fit.ts).
// --json prints one line per method with every figure in MiB.

import { Command, Option, InvalidArgumentError } from "commander";
import { loadConfig } from "../../models/load.ts";
import { presetConfig, presetName, PRESETS } from "../../models/presets.ts";
import { formatBytes } from "../../util/format.ts";
import { fitMemory, formatEstimate, frozenDtype, availableMemoryBytes, METHODS, type EstimateOptimizer, type FitPlan, type MemoryEstimate, type Method } from "../../memory/index.ts";
import { memoryMargin } from "../../train/memory-guard.ts";
import type { ModelConfig } from "../../models/index.ts";
import { DEFAULT_ARGS } from "../../train/args.ts";

interface EstimateCliOptions {
  model?: string;
  preset?: string;
  layers?: number;
  method: Method | "all";
  batch: number;
  seq: number;
  r: number;
  gradientCheckpointing: boolean;
  baseDtype?: "float32" | "bfloat16";
  optimizer: EstimateOptimizer;
  quantizeEmbeddings?: "int8" | "nf4";
  memory?: number;
  json?: boolean;
}

const MiB = 2 ** 20;

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError("expected a positive integer");
  return n;
}

function mib(bytes: number): number {
  return Math.round((bytes / MiB) * 10) / 10;
}

function jsonLine(e: MemoryEstimate, plan: FitPlan, available: number, budget: number): string {
  return JSON.stringify({
    method: e.method,
    params_trainable: e.paramsTrainable,
    params_total: e.paramsTotal,
    weights_mib: mib(e.weights),
    gradients_mib: mib(e.gradients),
    optimizer_mib: mib(e.optimizer),
    activations_mib: mib(e.activations),
    runtime_mib: mib(e.runtime),
    total_mib: mib(e.total),
    available_mib: mib(available),
    budget_mib: mib(budget),
    fits: plan.fits,
    fits_with: plan.fits ? [] : plan.flags,
    fits_with_total_mib: plan.fits || !plan.fitted ? null : mib(plan.fitted.total),
  });
}

/** One line per method that does not fit: the flags that make it fit, or that nothing does. */
function advice(plan: FitPlan): string | null {
  if (plan.fits) return null;
  const m = plan.estimate.method;
  if (!plan.flags) return `${m}: does not fit, even with the memory-saving flags and batch 1 (try --method qlora or a shorter sequence)`;
  return `${m}: does not fit as asked; fits with ${plan.flags.join(" ")} (${formatBytes(plan.fitted!.total)})`;
}

function describe(o: EstimateCliOptions, config: ModelConfig): string {
  const what = o.model ?? `preset ${presetName(o.preset!) ?? o.preset}${o.layers !== undefined ? ` (${o.layers} layers)` : ""}`;
  const frozen = o.baseDtype ?? `float32 (LoRA), ${frozenDtype("qlora", null, config)} (QLoRA's embedding and head)`;
  const ckpt = o.gradientCheckpointing ? ", gradient checkpointing" : "";
  return `${what}: ${config.architecture}, batch ${o.batch} × ${o.seq} tokens, LoRA r=${o.r}, ${o.optimizer}, frozen weights ${frozen}${ckpt}`;
}

function run(o: EstimateCliOptions): void {
  if ((o.model === undefined) === (o.preset === undefined)) throw new Error("estimate: give exactly one of --model or --preset");
  if (o.layers !== undefined && o.preset === undefined) throw new Error("estimate: --layers applies to a --preset");
  const config = o.model !== undefined ? loadConfig(o.model) : presetConfig(o.preset!, { layers: o.layers });
  const methods = o.method === "all" ? METHODS : [o.method];
  const available = o.memory !== undefined ? o.memory * MiB : availableMemoryBytes();
  const budget = available - memoryMargin();
  const plans = methods.map((method) =>
    fitMemory(
      {
        config, method, batch: o.batch, seq: o.seq, r: o.r, gradientCheckpointing: o.gradientCheckpointing,
        baseDtype: frozenDtype(method, o.baseDtype ?? null, config), optimizer: o.optimizer, embeddingQuant: o.quantizeEmbeddings ?? null,
      },
      budget,
    ),
  );
  if (o.json) {
    for (const p of plans) process.stdout.write(`${jsonLine(p.estimate, p, available, budget)}\n`);
    return;
  }
  const notes = plans.map(advice).filter((a): a is string => a !== null);
  process.stdout.write(
    `${describe(o, config)}\n\n` +
      `${formatEstimate(plans.map((p) => p.estimate), plans.map((p) => p.fits))}\n\n` +
      `Activations include transient peaks; runtime is the process without a model (Node, loader, native library).\n` +
      `${o.memory !== undefined ? "Memory planned for" : "Available memory now"}: ${formatBytes(available)}; ` +
      `"fits" leaves a ${formatBytes(memoryMargin())} margin, as training does.\n` +
      (notes.length > 0 ? `\n${notes.join("\n")}\n` : ""),
  );
}

export function register(program: Command): void {
  program
    .command("estimate")
    .description("estimate the memory of a training step (full fine-tuning vs LoRA vs QLoRA) and whether it fits this machine")
    .option("--model <path>", "a Hugging Face model folder or its config.json")
    .option("--preset <name>", `a published model shape, in any case: ${Object.keys(PRESETS).join(", ")}`)
    .option("--layers <n>", "override the preset's number of layers", positiveInt)
    .addOption(new Option("--method <method>", "which method to estimate").choices([...METHODS, "all"]).default("all"))
    .option("--batch <B>", "sequences per step (train's --batch-size)", positiveInt, DEFAULT_ARGS.batchSize)
    .option("--seq <T>", "tokens per sequence (train's --max-seq-len)", positiveInt, DEFAULT_ARGS.maxSeqLen)
    .option("--r <rank>", "LoRA rank (train's --r)", positiveInt, DEFAULT_ARGS.loraR)
    .option("--gradient-checkpointing", "recompute each layer's activations in backward", false)
    .addOption(
      new Option("--base-dtype <dtype>", "how frozen weights are held (default: float32 for LoRA, as stored for QLoRA's embedding and head)").choices([
        "float32",
        "bfloat16",
      ]),
    )
    .addOption(new Option("--optimizer <name>", "optimizer whose state is counted").choices(["adamw", "adamw8bit", "sgd"]).default("adamw"))
    .addOption(new Option("--quantize-embeddings <type>", "LoRA / QLoRA with the embedding and head in int8 or nf4 too").choices(["int8", "nf4"]))
    .option("--memory <MiB>", "plan for this much memory instead of what is available now", positiveInt)
    .option("--json", "one JSON line per method, sizes in MiB")
    .action((opts: EstimateCliOptions) => run(opts));
}
